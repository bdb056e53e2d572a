// One process of the chaos soak (spec/cluster/soak.ts), run with --expose-gc: a publisher sending numbered events
// one at a time, a plain listener recording what it received, or a catch-up listener (role 'catchup') doing the
// same from the bus's history stream, from its start. Every process uses config/rascal-with-history.json (the bus
// has history). It reports to the soak over IPC when told to finish, and samples its retained heap (after a GC)
// every few seconds.
import { readFile } from 'node:fs/promises';
import { EventBusLogger } from '../../lib/index.js';

const [role, id, urlList, name] = process.argv.slice(2) as [string, string, string, string];
// resolves once the message is handed over: a process that disconnects before that loses a big report
const send = (message: unknown): Promise<void> => new Promise((resolve) => (process.send ? process.send(message, undefined, {}, () => resolve()) : resolve()));
let finishing = false;
const finished = new Promise<void>((resolve) =>
  process.on('message', (message: { kind: string }) => {
    if (message.kind !== 'finish') return;
    finishing = true;
    resolve();
  }),
);
const heap: Array<[number, number]> = [];
const gc = (globalThis as { gc?: () => void }).gc;
const sampler = setInterval(() => {
  gc?.();
  heap.push([Date.now(), process.memoryUsage().heapUsed]);
}, 3000);

const config = JSON.parse(await readFile(new URL('../../config/rascal-with-history.json', import.meta.url), 'utf8'));
config.vhosts['/'].connection.options.heartbeat = 2; // a frozen link is noticed in 4 to 6 s
const logger = new EventBusLogger({
  url: urlList.split(','),
  name,
  config,
  appId: id,
  publishTimeout: 30_000,
  waitForBroker: true,
  startTimeout: 60_000,
  listen: role !== 'publisher',
  ...(role === 'catchup' ? { history: { since: 'start' as const } } : {}),
});
// when this process lost its connection: a publish in flight then may be sent twice, and out of order
const disconnects: number[] = [];
logger.on('disconnected', () => void disconnects.push(Date.now()));

if (role === 'publisher') {
  await logger.start();
  // n, sent at (epoch ms), latency ms, '' or error code: kept in Float64Array chunks, outside the JS heap the soak
  // measures (as JS arrays, a 20-minute run's outcomes alone grew a publisher's retained heap by over 8 MB)
  const columns: Float64Array[] = [];
  const codes = new Map<number, string>();
  let count = 0;
  const record = (seq: number, at: number, latency: number, code: string): void => {
    const chunk = Math.floor(count / 65_536);
    columns[chunk] ??= new Float64Array(65_536 * 3);
    (columns[chunk] as Float64Array).set([seq, at, latency], (count % 65_536) * 3);
    if (code !== '') codes.set(count, code);
    count++;
  };
  let unsettled = 0;
  let n = 0;
  send({ kind: 'ready' });
  const loop = (async () => {
    while (!finishing) {
      const at = Date.now();
      const started = performance.now();
      const seq = ++n;
      unsettled++;
      try {
        await logger.info({ p: id, n: seq });
        record(seq, at, performance.now() - started, '');
      } catch (error) {
        record(seq, at, performance.now() - started, (error as { code?: string }).code ?? 'ERROR');
      }
      unsettled--;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  await finished;
  // the publish in flight settles within publishTimeout (30 s); one that does not is reported as unsettled
  await Promise.race([loop, new Promise((resolve) => setTimeout(resolve, 40_000))]);
  clearInterval(sampler);
  const outcomes: Array<[number, number, number, string]> = [];
  for (let i = 0; i < count; i++) {
    const column = columns[Math.floor(i / 65_536)] as Float64Array;
    const at = (i % 65_536) * 3;
    outcomes.push([column[at] as number, column[at + 1] as number, column[at + 2] as number, codes.get(i) ?? '']);
  }
  await send({ kind: 'report', role, id, sent: n, unsettled, outcomes, disconnects, heap, stats: logger.stats() });
} else {
  // what arrived, per publisher (its soak id, in the data): the n of each event in order; its 'gap' reports (from
  // a catch-up listener, one with reason 'retention' has no publisher: it is kept under '')
  const received: Record<string, number[]> = {};
  const gaps: Record<string, Array<[number, number]>> = {};
  const idOf = new Map<string, string>(); // publisher instance id -> soak id
  let last = Date.now();
  logger.on('info', (data, meta) => {
    const p = String(data.p);
    idOf.set(meta.publisher as string, p);
    (received[p] ??= []).push(data.n as number);
    last = Date.now();
  });
  logger.on('gap', (gap) => {
    const p = gap.publisher === '' ? '' : (idOf.get(gap.publisher) ?? gap.publisher);
    (gaps[p] ??= []).push([gap.expected, gap.received]);
  });
  await logger.start();
  send({ kind: 'ready' });
  await finished;
  // the publishers have stopped: take what is still on its way
  while (Date.now() - last < 3000) await new Promise((resolve) => setTimeout(resolve, 200));
  clearInterval(sampler);
  await send({ kind: 'report', role, id, received, gaps, heap, stats: logger.stats() });
}
await logger.stop();
process.disconnect?.();
