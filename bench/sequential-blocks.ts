// Sequential publishing in consecutive blocks, in one process: `npx tsx bench/sequential-blocks.ts <client> [warm-up]
// [block] [blocks]` (defaults 300, 3000, 4). Prints the events/s of each block of `block` awaited publishes, each
// received by the client's own listener, after `warm-up` untimed ones. The first block after connecting carries V8's
// compilation of the client's code (the bench's "cold" row); the later ones are the steady rate. Run it for two
// clients, alternating, a few times each.
import { CLIENT_NAMES, now, type ClientName } from './clients/common.js';
import { loadAdapter } from './clients/registry.js';

const client = (process.argv[2] ?? 'library') as ClientName;
if (!CLIENT_NAMES.includes(client)) throw new Error(`Unknown client "${client}"; expected one of ${CLIENT_NAMES.join(', ')}`);
const count = (index: number, fallback: number): number => {
  const value = Number(process.argv[index] ?? fallback);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`Expected a whole number of events, got "${process.argv[index]}"`);
  return value;
};
const [warmUp, block, blocks] = [count(3, 300), count(4, 3000), count(5, 4)];
const url = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

const endpoint = await (await loadAdapter(client)).connect({ url, brokerUrl: url, exchange: `bench_blocks_${client}_${process.pid}` });
try {
  endpoint.onEvent(() => {});
  for (let n = 0; n < warmUp; n++) await endpoint.publish({ n, t: now(), msg: 'benchmark event' });
  const rates: number[] = [];
  for (let b = 0; b < blocks; b++) {
    const start = performance.now();
    for (let n = 0; n < block; n++) await endpoint.publish({ n, t: now(), msg: 'benchmark event' });
    rates.push(Math.round(block / ((performance.now() - start) / 1000)));
  }
  console.log(`${client.padEnd(16)} events/s per block of ${block}: ${rates.join(' ')}`);
} finally {
  await endpoint.close({ deleteExchange: true });
}
