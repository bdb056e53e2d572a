import { now, type ClientName } from './clients/common.js';
import { loadAdapter } from './clients/registry.js';
const client = process.argv[2] as ClientName;
const warm = Number(process.argv[3]); const count = Number(process.argv[4]);
const url = 'amqp://guest:guest@127.0.0.1:5672';
const endpoint = await (await loadAdapter(client)).connect({ url, brokerUrl: url, exchange: `bench_x_${client}_${process.pid}` });
endpoint.onEvent(() => {});
for (let n = 0; n < warm; n++) await endpoint.publish({ n, t: now(), msg: 'benchmark event' });
const out: string[] = [];
for (let k = 0; k < 4; k++) {
  const start = performance.now();
  for (let n = 0; n < count; n++) await endpoint.publish({ n, t: now(), msg: 'benchmark event' });
  out.push(String(Math.round(count / ((performance.now() - start) / 1000))));
}
console.log(client.padEnd(16), out.join(' '));
await endpoint.close({ deleteExchange: true });
