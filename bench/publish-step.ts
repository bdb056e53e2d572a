// One publishing case of bench/history.ts, in a process of its own:
//   npx tsx bench/publish-step.ts <exchange> amqplib|library history|plain <sequential> <burst>
// declares the exchange (and with `history` its stream <exchange>.history, bound with #, as the history config
// does), then publishes: 300 awaited events untimed, <sequential> awaited ones timed, then a burst of <burst> started
// at once; prints `RESULT {"sequential":…,"burst":…}` (events/s) on standard error. Raw amqplib publishes the
// library's message on a confirm channel with noDelay. The caller deletes the exchange and the stream.
import { performance } from 'node:perf_hooks';
import amqplib from 'amqplib';
import { EventBusLogger } from '../lib/index.js';
import { encodeData } from '../lib/event-data.js';
import { newPublisherId, publishProperties } from '../lib/wire-format.js';
import { STREAM_ARGS } from './raw-reader.js';

const URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const HISTORY_CONFIG = new globalThis.URL('../config/rascal-with-history.json', import.meta.url).pathname;
const WARMUP = 300;
const [bus, client, mode, sequentialText, burstText] = process.argv.slice(2) as [string, string, string, string, string];
const SEQUENTIAL = Number(sequentialText);
const BURST = Number(burstText);
const body = (n: number): Buffer => encodeData({ n, msg: 'benchmark event' });

// Raw amqplib: the topology (exchange, and the stream bound with # when `history`), then publishes.
export async function rawPublish(bus: string, history: boolean): Promise<{ sequential: number; burst: number }> {
  const connection = await amqplib.connect(URL, { noDelay: true });
  const channel = await connection.createConfirmChannel();
  await channel.assertExchange(bus, 'topic', { durable: false, autoDelete: false });
  if (history) {
    await channel.assertQueue(`${bus}.history`, { durable: true, arguments: STREAM_ARGS });
    await channel.bindQueue(`${bus}.history`, bus, '#');
  }
  const publisher = newPublisherId();
  let seq = 0;
  const publish = (): Promise<void> =>
    new Promise((resolve, reject) => {
      seq++;
      channel.publish(bus, 'info', body(seq), publishProperties('bench', publisher, 0, seq, false), (error) => (error ? reject(error) : resolve()));
    });
  for (let i = 0; i < WARMUP; i++) await publish();
  let start = performance.now();
  for (let i = 0; i < SEQUENTIAL; i++) await publish();
  const sequential = SEQUENTIAL / ((performance.now() - start) / 1000);
  start = performance.now();
  await Promise.all(Array.from({ length: BURST }, publish));
  const burst = BURST / ((performance.now() - start) / 1000);
  await connection.close();
  return { sequential, burst };
}

export async function libraryPublish(bus: string, history: boolean): Promise<{ sequential: number; burst: number }> {
  const logger = await EventBusLogger.create({ url: URL, name: bus, listen: false, appId: 'bench', ...(history ? { config: HISTORY_CONFIG } : {}) });
  let n = 0;
  for (let i = 0; i < WARMUP; i++) await logger.info({ n: ++n, msg: 'benchmark event' });
  let start = performance.now();
  for (let i = 0; i < SEQUENTIAL; i++) await logger.info({ n: ++n, msg: 'benchmark event' });
  const sequential = SEQUENTIAL / ((performance.now() - start) / 1000);
  start = performance.now();
  await Promise.all(Array.from({ length: BURST }, () => logger.info({ n: ++n, msg: 'benchmark event' })));
  const burst = BURST / ((performance.now() - start) / 1000);
  await logger.stop();
  return { sequential, burst };
}

const result = client === 'library' ? await libraryPublish(bus, mode === 'history') : await rawPublish(bus, mode === 'history');
process.stderr.write(`RESULT ${JSON.stringify(result)}\n`);
