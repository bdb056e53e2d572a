// The chaos soak: `npm run soak -- --minutes N`. Publisher, plain listener and catch-up (history) listener processes
// on the 3-node cluster (.ci/cluster), on a bus with history (config/rascal-with-history.json: its stream has a
// replica on each node), while random faults hit it: a node killed (-9) and started again, stop_app/start_app,
// close_all_connections on a node, a frozen TCP link (spec/tcp-proxy.ts) under three of the processes. Then a
// checker proves what the README promises and prints a summary table; the exit code is 1 when a check fails.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { uniqueName } from '../helpers.js';
import { TcpProxy } from '../tcp-proxy.js';
import { cluster, NODES, PORTS, url, type ClusterNode } from './harness.js';

function parseMinutes(argv: string[]): number {
  const at = argv.indexOf('--minutes');
  const raw = at >= 0 ? argv[at + 1] : (argv.find((arg) => arg.startsWith('--minutes='))?.slice(10) ?? '2');
  const minutes = Number(raw);
  if (!Number.isFinite(minutes) || minutes <= 0 || minutes > 24 * 60) {
    console.error(`soak: expected --minutes to be a number of minutes above 0 (e.g. --minutes 30), got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return minutes;
}

const minutes = parseMinutes(process.argv.slice(2));
const WORKER = fileURLToPath(new URL('./soak-worker.ts', import.meta.url));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)] as T;

interface PublisherReport { role: 'publisher'; id: string; sent: number; unsettled: number; outcomes: Array<[number, number, number, string]>; disconnects: number[]; heap: Array<[number, number]> }
interface ListenerReport { role: 'listener' | 'catchup'; id: string; received: Record<string, number[]>; gaps: Record<string, Array<[number, number]>>; heap: Array<[number, number]>; stats: { duplicates: number } }
type Report = PublisherReport | ListenerReport;

const bootStarted = Date.now();
await cluster.up();
console.log(`soak: cluster up in ${((Date.now() - bootStarted) / 1000).toFixed(1)} s; running ${minutes} min of faults`);
const proxy = await TcpProxy.start({ host: '127.0.0.1', port: PORTS.a }); // in front of node a: the frozen link
const name = uniqueName('soak');
const plans: Array<[string, string, string[]]> = [
  ['listener', 'L1', [url('b'), url('c'), url('a')]],
  ['listener', 'L2', [proxy.url(), url('c'), url('b')]],
  ['listener', 'L3', [url('c'), url('a'), url('b')]],
  ['catchup', 'C1', [url('c'), url('b'), url('a')]],
  ['catchup', 'C2', [proxy.url(), url('b'), url('c')]],
  ['publisher', 'P1', [url('a'), url('b'), url('c')]],
  ['publisher', 'P2', [proxy.url(), url('b'), url('c')]],
];
const crashes: string[] = [];
const reports = new Map<string, Report>();
const workers: Array<{ id: string; child: ChildProcess }> = [];
for (const [role, id, urls] of plans) {
  const child = fork(WORKER, [role, id, urls.join(','), name], { execArgv: ['--import', 'tsx', '--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  child.on('message', (message: { kind: string } & Report) => {
    if (message.kind === 'report') reports.set(id, message);
  });
  child.on('exit', (code, signal) => {
    if (code !== 0) crashes.push(`${id} exited with ${signal ?? code}`);
  });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', () => reject(new Error(`soak: ${id} exited before it was ready`)));
  });
  workers.push({ id, child });
}

// Faults, one at a time, each followed by a heal; the last 20 s (and at least a tenth) stay quiet so that everyone
// is back and the checker can tell a loss from a listener still catching up.
const faults: Array<{ kind: string; node?: string; start: number; end: number }> = [];
const end = Date.now() + minutes * 60_000;
const quietFrom = end - Math.max(20_000, minutes * 6_000);
while (Date.now() < quietFrom) {
  await sleep(3000 + Math.random() * 5000);
  if (Date.now() >= quietFrom) break;
  const kind = pick(['kill -9 + restart', 'stop_app/start_app', 'close_all_connections', 'frozen TCP link'] as const);
  const node: ClusterNode = pick(NODES);
  const start = Date.now();
  if (kind === 'kill -9 + restart') {
    await cluster.kill(node);
    await sleep(2000 + Math.random() * 3000);
    await cluster.startNode(node);
  } else if (kind === 'stop_app/start_app') {
    await cluster.stopApp(node);
    await sleep(2000 + Math.random() * 3000);
    await cluster.startApp(node);
  } else if (kind === 'close_all_connections') {
    await cluster.closeConnections(node);
  } else {
    proxy.freeze(); // the processes behind it notice by the missed heartbeats (2 s)
    await sleep(8000);
  }
  await cluster.heal();
  faults.push({ kind, node: kind === 'frozen TCP link' ? 'a (proxy)' : node, start, end: Date.now() });
  console.log(`soak: ${new Date(start).toISOString().slice(11, 19)} ${kind} on ${faults.at(-1)?.node} (${((Date.now() - start) / 1000).toFixed(1)} s)`);
}
while (Date.now() < end) await sleep(500);

// Finish: publishers first (each reports once its last publish settled), then the listeners drain and report.
async function finish(ids: string[]): Promise<void> {
  for (const { child } of workers.filter((w) => ids.includes(w.id))) child.send({ kind: 'finish' });
  const deadline = Date.now() + 90_000;
  while (ids.some((id) => !reports.has(id)) && Date.now() < deadline) await sleep(200);
}
await finish(plans.filter(([role]) => role === 'publisher').map(([, id]) => id));
await finish(plans.filter(([role]) => role !== 'publisher').map(([, id]) => id));
await sleep(1500);
for (const { child } of workers) if (child.exitCode === null) child.kill('SIGKILL');
await proxy.close();

// The checker.
const failures: string[] = [...crashes];
const publishers = [...reports.values()].filter((r): r is PublisherReport => r.role === 'publisher');
const listeners = [...reports.values()].filter((r): r is ListenerReport => r.role === 'listener');
const catchups = [...reports.values()].filter((r): r is ListenerReport => r.role === 'catchup');
for (const [, id] of plans) if (!reports.has(id)) failures.push(`${id} never reported`);
let lost = 0;
let reportedMissed = 0;
let duplicates = 0;
let outOfOrder = 0;
for (const p of publishers) {
  if (p.unsettled !== 0 || p.outcomes.length !== p.sent) failures.push(`${p.id}: ${p.sent - p.outcomes.length} publish promises never settled`);
  const confirmed = p.outcomes.filter((o) => o[3] === '').map((o) => o[0]);
  for (const l of listeners) {
    const got = l.received[p.id] ?? [];
    for (let i = 1; i < got.length; i++) if ((got[i] as number) <= (got[i - 1] as number)) outOfOrder++;
    duplicates += got.length - new Set(got).size;
    const have = new Set(got);
    const gaps = l.gaps[p.id] ?? [];
    for (const n of confirmed) {
      if (have.has(n)) continue;
      if (gaps.some(([from, to]) => n >= from && n < to)) reportedMissed++;
      else lost++;
    }
  }
}
// Catch-up listeners: every confirmed event of every publisher exactly once, gap or not, in the publisher's order
// except an event that may have been sent twice (its publish spanned a lost connection of its publisher): its
// first copy may never have reached the stream, so the one that did can come after later events.
let catchupReceived = 0;
let catchupLost = 0;
let catchupDuplicates = 0;
let catchupOutOfOrder = 0;
let catchupResentLate = 0;
let catchupGaps = 0;
for (const c of catchups) {
  catchupGaps += Object.values(c.gaps).reduce((sum, gaps) => sum + gaps.length, 0);
  for (const p of publishers) {
    const got = c.received[p.id] ?? [];
    catchupReceived += got.length;
    catchupDuplicates += got.length - new Set(got).size;
    const have = new Set(got);
    catchupLost += p.outcomes.filter((o) => o[3] === '' && !have.has(o[0])).length;
    const outcomeOf = new Map(p.outcomes.map((o) => [o[0], o]));
    const mayBeResent = (n: number): boolean => {
      const o = outcomeOf.get(n);
      return o !== undefined && p.disconnects.some((d) => d >= o[1] && d <= o[1] + o[2]);
    };
    let highest = 0;
    for (const n of got) {
      if (n > highest) highest = n;
      else if (mayBeResent(n)) catchupResentLate++;
      else catchupOutOfOrder++;
    }
  }
}
if (catchupLost > 0) failures.push(`${catchupLost} confirmed events never reached a catch-up listener`);
if (catchupDuplicates > 0) failures.push(`${catchupDuplicates} events delivered twice to a catch-up listener`);
if (catchupOutOfOrder > 0) failures.push(`${catchupOutOfOrder} events out of their publisher's order at a catch-up listener (not re-sent after a failure)`);
if (lost > 0) failures.push(`${lost} confirmed events missed by a plain listener without a 'gap' report`);
if (duplicates > 0) failures.push(`${duplicates} events delivered twice to a listener`);
if (outOfOrder > 0) failures.push(`${outOfOrder} events out of their publisher's order at a listener`);
// Memory: retained heap (after a GC) in the last third within 8 MB of the first third, per process.
const memory: string[] = [];
for (const r of reports.values()) {
  const third = Math.floor(r.heap.length / 3);
  if (third < 1) continue;
  const mean = (xs: Array<[number, number]>): number => xs.reduce((s, [, v]) => s + v, 0) / xs.length;
  const growth = (mean(r.heap.slice(-third)) - mean(r.heap.slice(0, third))) / 1024 / 1024;
  memory.push(`${r.id} ${growth >= 0 ? '+' : ''}${growth.toFixed(1)}`);
  if (growth > 8) failures.push(`${r.id}: retained heap grew by ${growth.toFixed(1)} MB from the first third to the last`);
}

const outcomes = publishers.flatMap((p) => p.outcomes);
const duringFault = outcomes.filter(([, at, latency]) => faults.some((f) => at + latency >= f.start && at <= f.end));
const p99 = (xs: number[]): string => {
  if (xs.length === 0) return '-';
  const sorted = [...xs].sort((x, y) => x - y);
  return `${(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] as number).toFixed(0)} ms`;
};
const byKind = new Map<string, number>();
for (const f of faults) byKind.set(f.kind, (byKind.get(f.kind) ?? 0) + 1);
const rejected = new Map<string, number>();
for (const [, , , code] of outcomes) if (code) rejected.set(code, (rejected.get(code) ?? 0) + 1);
const rows: Array<[string, string]> = [
  ['duration', `${minutes} min (${publishers.length} publishers, ${listeners.length} plain listeners, ${catchups.length} catch-up listeners, 3 nodes)`],
  ['events published', String(outcomes.length)],
  ['confirmed', String(outcomes.filter((o) => o[3] === '').length)],
  ['rejected', rejected.size === 0 ? '0' : [...rejected].map(([code, count]) => `${count} ${code}`).join(', ')],
  ['unsettled publishes', String(publishers.reduce((s, p) => s + p.unsettled + p.sent - p.outcomes.length, 0))],
  ['faults', `${faults.length}: ${[...byKind].map(([kind, count]) => `${count} ${kind}`).join(', ') || 'none'}`],
  ['missed by plain listeners, reported by gap', String(reportedMissed)],
  ['losses (missed, not reported)', String(lost)],
  ['duplicates delivered', `${duplicates} (dropped by the listeners: ${listeners.reduce((s, l) => s + (l.stats.duplicates ?? 0), 0)})`],
  ['out of order', String(outOfOrder)],
  ['catch-up listeners: events received', String(catchupReceived)],
  ['catch-up listeners: confirmed events lost', String(catchupLost)],
  ['catch-up listeners: duplicates delivered', `${catchupDuplicates} (dropped by them: ${catchups.reduce((s, c) => s + (c.stats.duplicates ?? 0), 0)})`],
  ['catch-up listeners: out of order', `${catchupOutOfOrder} (re-sent after a failure, allowed: ${catchupResentLate})`],
  ["catch-up listeners: 'gap' reports", String(catchupGaps)],
  ['p99 publish latency, all', p99(outcomes.map((o) => o[2]))],
  ['p99 publish latency, during faults', p99(duringFault.map((o) => o[2]))],
  ['retained heap, last third - first third (MB)', memory.join(', ')],
  ['crashed processes', String(crashes.length)],
];
const width = Math.max(...rows.map(([k]) => k.length));
console.log(`\n${'-'.repeat(width + 40)}`);
for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
console.log('-'.repeat(width + 40));
if (failures.length > 0) {
  console.log(`soak: FAILED\n  ${failures.join('\n  ')}`);
  process.exitCode = 1;
} else console.log('soak: passed: every publish settled, no crash, every event a plain listener missed was reported by gap, every confirmed event reached every catch-up listener once, memory bounded');
await cluster.down();
