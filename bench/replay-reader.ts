// One step of the replay benchmark, in a process of its own (bench/history.ts runs each reader in a fresh child, so
// that each has its own peak RSS and none warms the JIT for the next; run it alone to profile one reader):
//   npx tsx bench/replay-reader.ts fill <bus> <count> [--trickle]   a stream <bus>.history bound to <bus>, filled raw
//   npx tsx bench/replay-reader.ts read <bus> <count> <reader>      reader: raw | tuned | history | listener | tail
//   npx tsx bench/replay-reader.ts delete <bus>
//   node --cpu-prof --cpu-prof-dir bench/results/profiles --import tsx bench/replay-reader.ts read <bus> <count> history
// `read` prints one JSON line on standard error, `RESULT {"rate":…,"rssMB":…,"beforeMB":…}`: events/s from the
// consume (raw), the history() call, start() (listener) or the command's start (tail, connection included) to the
// last event; the process's peak RSS, its RSS before reading, and its CPU time per event while reading (the
// connection and the logger's start included: steadier than a rate on a loaded machine). `tail` is `tail --since start --no-follow --json`
// run in-process with standard output wherever the parent sent it (/dev/null from bench/history.ts).
// It uses the broker at AMQP_URL (default 127.0.0.1:5672).
import { performance } from 'node:perf_hooks';
import { EventBusLogger } from '../lib/index.js';
import { TUNED, deleteBus, fillStream, rawRead } from './raw-reader.js';

const URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const HISTORY_CONFIG = new globalThis.URL('../config/rascal-with-history.json', import.meta.url).pathname;
const READERS = ['raw', 'tuned', 'history', 'listener', 'tail'] as const;
type Reader = (typeof READERS)[number];

async function history(bus: string, count: number): Promise<number> {
  const logger = await EventBusLogger.create({ url: URL, name: bus, listen: false, config: HISTORY_CONFIG });
  const start = performance.now();
  let received = 0;
  for await (const event of logger.history({ since: 'start' })) if (event) received++;
  const rate = received / ((performance.now() - start) / 1000);
  await logger.stop();
  if (received !== count) throw new Error(`history() gave ${received} events of ${count}`);
  return rate;
}

// A catch-up listener from the stream's start, timed from start() until its listener has every event.
async function listener(bus: string, count: number): Promise<number> {
  const logger = new EventBusLogger({ url: URL, name: bus, config: HISTORY_CONFIG, history: { since: 'start' } });
  let received = 0;
  let done!: () => void;
  const all = new Promise<void>((resolve) => (done = resolve));
  logger.on('info', () => void (++received === count && done()));
  const start = performance.now();
  await logger.start();
  await all;
  const rate = count / ((performance.now() - start) / 1000);
  await logger.stop();
  return rate;
}

// `tail --since start --no-follow --json`, the command's own code in this process.
async function tail(bus: string, count: number): Promise<number> {
  const { tail: run } = await import('../lib/cli/tail.js');
  // tail says on standard error how many it printed.
  let said = '';
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    said += String(chunk);
    return write(chunk, ...rest);
  }) as typeof process.stderr.write;
  const start = performance.now();
  const code = await run({ command: 'tail', args: [], values: { url: URL, name: bus, config: HISTORY_CONFIG, since: 'start', 'no-follow': true, json: true } });
  const rate = count / ((performance.now() - start) / 1000);
  process.stderr.write = write;
  if (code !== 0 || !said.includes(`${count} event(s) of the history`)) throw new Error(`tail exited ${code}, saying: ${said}`);
  return rate;
}

const [command, bus, countText, reader] = process.argv.slice(2);
const count = Number(countText);
if (command === 'fill' && bus) await fillStream(URL, bus, count, process.argv.includes('--trickle'));
else if (command === 'delete' && bus) await deleteBus(URL, bus);
else if (command === 'read' && bus && READERS.includes(reader as Reader)) {
  const beforeMB = process.memoryUsage().rss / 1e6;
  const cpu = process.cpuUsage();
  const stream = `${bus}.history`;
  const rate =
    reader === 'raw' ? await rawRead(URL, stream, count, { prefetch: 100, ackEvery: 1 })
    : reader === 'tuned' ? await rawRead(URL, stream, count, TUNED)
    : reader === 'history' ? await history(bus, count)
    : reader === 'listener' ? await listener(bus, count)
    : await tail(bus, count);
  const { user, system } = process.cpuUsage(cpu);
  process.stderr.write(`RESULT ${JSON.stringify({ rate, rssMB: process.resourceUsage().maxRSS / 1000, beforeMB, cpuUsPerEvent: (user + system) / count })}\n`);
} else {
  process.stderr.write('usage: replay-reader.ts fill <bus> <count> [--trickle] | read <bus> <count> raw|tuned|history|listener|tail | delete <bus>\n');
  process.exitCode = 2;
}
