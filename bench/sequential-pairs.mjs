// Sequential publishing, paired in one process: the minimal raw amqplib client (contentType only, a confirm channel,
// one ack per message) and one or more builds of the library take turns, block by block, on one broker; each
// block's rate is divided by the minimal client's block of the same round. The machine's load drifts between runs
// far more than between two blocks a few hundred milliseconds apart, so the median of these paired ratios tells
// two versions of the hot path apart where `npm run bench` (one process per client and run) needs dozens of runs.
// It answers "which build is faster", not the ratios: those come from `npm run bench`, which runs each
// client in a fresh process as a user would.
//
// Usage (after `npm run build`; BUILDS are directories holding a build's lib/, relative to the project):
//   node bench/sequential-pairs.mjs                                   # dist against the minimal client
//   BUILDS=dist,.dist-old ROUNDS=60 BLOCK=1000 node bench/sequential-pairs.mjs
//   RAW=1 node bench/sequential-pairs.mjs                             # adds raw amqplib with the library's message
import { connectRaw, deleteExchange, libraryMessage, minimalMessage } from './raw-client.mjs';

const url = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const rounds = Number(process.env.ROUNDS ?? 40);
const block = Number(process.env.BLOCK ?? 1000);
const builds = (process.env.BUILDS ?? 'dist').split(',');
if (!(rounds > 0 && block > 0)) throw new Error(`ROUNDS and BLOCK must be positive numbers, got ${process.env.ROUNDS}, ${process.env.BLOCK}`);

/** A raw amqplib client publishing to its own exchange and listening to its own events. */
async function raw(name, properties) {
  const exchange = `bench_pairs_${name}_${process.pid}`;
  const client = await connectRaw(url, exchange, properties);
  return {
    name,
    publish: client.publish,
    async close() {
      await client.close();
      await deleteExchange(url, exchange);
    },
  };
}

/** The library from the build in `dir`, listening to its own events as the bench's library client does. */
async function library(dir) {
  const { EventBusLogger } = await import(new URL(`../${dir}/lib/index.js`, import.meta.url).href);
  const exchange = `bench_pairs_${dir.replace(/\W/g, '')}_${process.pid}`;
  const logger = await EventBusLogger.create({ url, name: exchange, appId: 'worker' });
  logger.on('info', () => {});
  return {
    name: dir,
    publish: (event) => logger.info(event),
    async close() {
      await logger.stop();
      await deleteExchange(url, exchange);
    },
  };
}

const clients = [await raw('minimal', minimalMessage())];
if (process.env.RAW) clients.push(await raw('amqplib', libraryMessage()));
for (const dir of builds) clients.push(await library(dir));

// CPU time of the process per event, by client: the blocks take turns, so each block's CPU time is its client's.
const cpuPerEvent = new Map(clients.map((client) => [client.name, []]));
const timeBlock = async (client) => {
  const start = performance.now();
  const cpu = process.cpuUsage();
  for (let n = 0; n < block; n++) await client.publish({ n, t: performance.now(), msg: 'benchmark event' });
  const used = process.cpuUsage(cpu);
  cpuPerEvent.get(client.name).push((used.user + used.system) / block);
  return block / ((performance.now() - start) / 1000);
};
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
const quartile = (values, q) => [...values].sort((a, b) => a - b)[Math.floor(q * (values.length - 1))];

try {
  for (const client of clients) for (let warm = 0; warm < 3; warm++) await timeBlock(client);
  for (const list of cpuPerEvent.values()) list.length = 0;
  const rates = new Map(clients.map((client) => [client.name, []]));
  for (let round = 0; round < rounds; round++) {
    // The order rotates each round: no client always follows the same one.
    for (let i = 0; i < clients.length; i++) {
      const client = clients[(i + round) % clients.length];
      rates.get(client.name).push(await timeBlock(client));
    }
  }
  console.log(`sequential pairs: ${rounds} rounds of ${block} awaited publishes per client, ${new Date().toISOString()}`);
  for (const client of clients) {
    const ratios = rates.get(client.name).map((rate, round) => rate / rates.get('minimal')[round]);
    const cpuRatios = cpuPerEvent.get(client.name).map((cpu, round) => cpu / cpuPerEvent.get('minimal')[round]);
    console.log(
      `${client.name.padEnd(12)} median ${Math.round(median(rates.get(client.name)))} events/s, ` +
        `ratio to minimal ${median(ratios).toFixed(3)} (quartiles ${quartile(ratios, 0.25).toFixed(2)}-${quartile(ratios, 0.75).toFixed(2)}), ` +
        `CPU ${median(cpuPerEvent.get(client.name)).toFixed(1)} µs per event, ratio ${median(cpuRatios).toFixed(2)}`,
    );
  }
} finally {
  for (const client of clients) await client.close();
}
