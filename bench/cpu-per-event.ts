// CPU time per event of one client, in-process: `npx tsx bench/cpu-per-event.ts [library|amqplib|rascal] [count]`.
// Awaits `count` publishes (default 20,000) one after another, after 3,000 untimed ones, with the client's own
// listener receiving each, and prints events/s and the process's CPU microseconds per event. CPU time varies far
// less than wall time on a shared machine, so it tells whether a change to the library's hot path costs anything:
// run it on both versions, a few times each, alternating.
import { CLIENT_NAMES, now, type ClientName } from './clients/common.js';
import { loadAdapter } from './clients/registry.js';

const client = (process.argv[2] ?? 'library') as ClientName;
if (!CLIENT_NAMES.includes(client)) throw new Error(`Unknown client "${client}"; expected one of ${CLIENT_NAMES.join(', ')}`);
const count = Number(process.argv[3] ?? 20_000);
if (!Number.isSafeInteger(count) || count <= 0) throw new Error(`Expected a positive event count, got "${process.argv[3]}"`);
const url = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

const endpoint = await (await loadAdapter(client)).connect({ url, brokerUrl: url, exchange: `bench_cpu_${client}_${process.pid}` });
try {
  endpoint.onEvent(() => {});
  for (let n = 0; n < 3_000; n++) await endpoint.publish({ n, t: now(), msg: 'benchmark event' });
  const cpu = process.cpuUsage();
  const start = performance.now();
  for (let n = 0; n < count; n++) await endpoint.publish({ n, t: now(), msg: 'benchmark event' });
  const seconds = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  console.log(`${client}: ${Math.round(count / seconds)} events/s, ${((used.user + used.system) / count).toFixed(1)} µs CPU per event (${count} awaited publishes)`);
} finally {
  await endpoint.close({ deleteExchange: true });
}
