// `npm run check:faults -- [--cluster] [--runs N] [--seed S] [--minutes M] [--path P] [--steps K] [--shrinks K]`:
// drives the real library through generated schedules of operations and faults (schedule.ts), on the real broker
// behind fault proxies (proxy.ts), and checks the guarantees after each (invariants.ts). With --cluster, on the
// 3-node cluster of .ci/cluster instead, with node faults too (nodes.ts). Prints its seed first; a failure
// prints the shrunk schedule, what it violated, and the commands that replay it. docs/faults.md has the figures.
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { awaited, eventsChecked, violations, type RunEnd } from './invariants.js';
import { clusterAnswers } from './nodes.js';
import { initialModel, schedules } from './schedule.js';
import { World } from './world.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string' }, seed: { type: 'string' }, minutes: { type: 'string' }, path: { type: 'string' },
    steps: { type: 'string', default: '12' }, 'replay-path': { type: 'string' }, shrinks: { type: 'string', default: '20' }, verbose: { type: 'boolean', default: false }, 'keep-going': { type: 'boolean', default: false },
    cluster: { type: 'boolean', default: false },
  },
});
function count(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`check:faults: expected --${name} to be a whole number, got ${JSON.stringify(value)}`);
    process.exit(2);
  }
  return n;
}
const minutes = values.minutes === undefined ? undefined : Number(values.minutes);
if (minutes !== undefined && !(minutes > 0)) {
  console.error(`check:faults: expected --minutes to be a positive number, got ${JSON.stringify(values.minutes)}`);
  process.exit(2);
}
const runs = count('runs', values.runs, minutes ? 1_000_000 : 30);
const seed = values.seed === undefined ? (Date.now() ^ Math.floor(Math.random() * 2 ** 31)) | 0 : count('seed', values.seed.replace(/^-/, ''), 0) * (values.seed.startsWith('-') ? -1 : 1);
const steps = count('steps', values.steps, 12);
const shrinks = count('shrinks', values.shrinks, 20);

const onCluster = values.cluster;
if (onCluster) {
  const silent = await clusterAnswers();
  if (silent) {
    console.error(`check:faults: --cluster needs the 3-node cluster up (.ci/cluster up, or .ci/cluster heal after an interrupted run; docs/cluster.md): ${silent}`);
    process.exit(2);
  }
}

console.log(`check:faults: ${onCluster ? 'on the 3-node cluster, ' : ''}seed ${seed}, ${minutes ? `for ${minutes} min` : `${runs} run(s)`}, up to ${steps} steps per schedule${values.path ? `, path ${values.path}` : ''}`);

// What the process reports during a run: the library must never leave an unhandled rejection or an uncaught exception.
let current: RunEnd | undefined;
const describe = (e: unknown): string => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));
// Outside a run, one is the checker's own failure: say so and stop.
function report(what: string, error: unknown): void {
  // Where it was thrown: the first frames of its stack.
  const where = error instanceof Error ? (error.stack ?? '').split('\n').slice(1, 4).map((line) => line.trim()).join(' < ') : '';
  if (current) return void current.unhandled.push(`${what} (${describe(error)})${where ? ` at ${where}` : ''}`);
  console.error(`check:faults: ${what} outside a schedule:`, error);
  process.exit(1);
}
process.on('unhandledRejection', (reason) => report('an unhandled rejection', reason));
process.on('uncaughtException', (error) => report('an uncaught exception', error));

// On a cluster: the publishes that did not resolve, by their outcome (a code, or 'unsettled').
const rejected = new Map<string, number>();
const totals = { schedules: 0, steps: 0, faults: 0, kills: 0, stopApps: 0, brokerNacks: 0, published: 0, confirmed: 0, events: 0, reads: 0, maxHeapMB: 0, stalledMs: 0 };
let baselineHeap: number | undefined;
// With --keep-going: each kind of violation (its words, numbers and names left out) and the schedules that showed it.
const kinds = new Map<string, number[]>();
const shapeOf = (violation: string): string =>
  violation.replace(/\b(other|chain|pub)\d+(\.\d+)?/g, '$1N').replace(/event\(s\): .*$/, 'event(s)').replace(/\) at .*$/, ')').replace(/\d(?:[\d,]*\d)?/g, 'N');
const started = performance.now();

// The worlds of the schedules under way: --minutes ends the search in the middle of one, and a node it took down
// must be back before the process exits (the next run needs three nodes).
const underWay = new Set<World>();
const property = fc.asyncProperty(fc.limitShrink(schedules(steps, values['replay-path'], onCluster), shrinks), async (commands) => {
  const world = await World.create(onCluster);
  underWay.add(world);
  const end: RunEnd = { quiescedAt: 0, unhandled: [] };
  current = end;
  try {
    let n = 0;
    await fc.asyncModelRun(() => ({ model: initialModel(), real: world }), [...commands].map((c) => (n++, c)));
    end.quiescedAt = performance.now();
    await world.quiesce(() => awaited(world, end).length === 0);
    // The cluster harness failing (a node that did not come back) is no finding on the library: stop plainly.
    if (world.nodeFaults?.failure) {
      console.error(`check:faults: the cluster harness failed: ${world.nodeFaults.failure}; the run cannot go on`);
      process.exit(2);
    }
    const found = violations(world, end);
    globalThis.gc?.();
    const heap = process.memoryUsage().heapUsed / 2 ** 20;
    baselineHeap ??= heap;
    // Memory stays bounded: what a run leaves behind is its own (proxies, loggers, records) and goes with it.
    if (heap > baselineHeap + 256) found.push(`the heap grew to ${Math.round(heap)} MB (${Math.round(baselineHeap)} MB after the first run)`);
    Object.assign(totals, {
      schedules: totals.schedules + 1, steps: totals.steps + n, faults: totals.faults + world.faultCount,
      kills: totals.kills + (world.nodeFaults?.done.filter((f) => f.kind === 'kill').length ?? 0),
      stopApps: totals.stopApps + (world.nodeFaults?.done.filter((f) => f.kind === 'stop_app').length ?? 0),
      brokerNacks: totals.brokerNacks + world.actors.reduce((sum, a) => sum + (a.proxy.brokerNacked?.length ?? 0), 0), published: totals.published + world.publishes.length,
      confirmed: totals.confirmed + world.publishes.filter((p) => p.outcome === 'ok').length, events: totals.events + eventsChecked(world),
      reads: totals.reads + world.reads.length, maxHeapMB: Math.max(totals.maxHeapMB, Math.round(heap)),
      stalledMs: totals.stalledMs + world.lag.during(0, Infinity),
    });
    if (onCluster) for (const p of world.publishes) if (p.outcome !== 'ok') rejected.set(p.outcome ?? 'unsettled', (rejected.get(p.outcome ?? 'unsettled') ?? 0) + 1);
    if (values.verbose) console.log(`run ${totals.schedules}: ${[...commands].join('; ')}\n  ${world.publishes.length} publishes, ${world.faultCount} faults, ${eventsChecked(world)} events, ${found.length} violation(s)`);
    const ms = (t: number | undefined): string => (t === undefined ? '-' : String(Math.round(t - world.startedAt)));
    if (values.verbose) for (const f of world.nodeFaults?.done ?? []) console.log(`  node ${f.node} ${f.kind} for ${f.downMs} ms: called ${ms(f.calledAt)} ms, down ${ms(f.downAt)} ms, back ${ms(f.upAt)} ms into the schedule; connected to it: ${f.hit?.join(', ') || 'none'}`);
    if (values.verbose && world.nodeFaults) for (const a of [world.live, ...world.chains.flatMap((c) => c.incarnations)]) console.log(`  ${a.name}: ${a.lifecycle.join(',')}; ${a.dispatches.length} events, ${a.gaps.length} gap(s)`);
    if (values.verbose) for (const a of world.others) console.log(`  ${a.name}: start ${JSON.stringify(a.startCall)} stop ${JSON.stringify(a.stopCall)} ${a.lifecycle.join(',')}`);
    if (found.length && values['keep-going']) {
      for (const shape of new Set(found.map(shapeOf))) kinds.set(shape, [...(kinds.get(shape) ?? []), totals.schedules]);
      console.log(`run ${totals.schedules}: ${found.length} violation(s):\n- ${found.join('\n- ')}\n  schedule: ${[...commands].join('; ')}`);
      return;
    }
    if (found.length) throw new Error(`${found.length} violation(s):\n- ${found.join('\n- ')}`);
  } finally {
    current = undefined;
    await world.teardown().catch((error: unknown) => console.error(`check:faults: tearing down ${world.name}: ${describe(error)}`));
    underWay.delete(world);
  }
});

const details = await fc.check(property, {
  numRuns: runs, seed, path: values.path, endOnFailure: shrinks === 0,
  ...(minutes ? { interruptAfterTimeLimit: minutes * 60_000 } : {}),
});
await Promise.all([...underWay].map((world) => world.nodeFaults?.settled()));
const seconds = Math.round((performance.now() - started) / 1000);
const figures = `${totals.schedules} schedule(s) run (${totals.steps} steps), ${totals.faults} fault(s) injected${onCluster ? ` (${totals.kills} node(s) killed, ${totals.stopApps} node app(s) stopped, the rest by the proxies)` : ' by the proxies'}, ${totals.published} publishes (${totals.confirmed} confirmed${onCluster ? `, ${totals.brokerNacks} nacked by the broker and sent again${rejected.size ? `; not confirmed: ${[...rejected].map(([why, n]) => `${n} ${why}`).join(', ')}` : ''}` : ''}), ${totals.reads} history() reads, ${totals.events} events checked, heap at most ${totals.maxHeapMB} MB, in ${seconds} s (the event loop stalled ${(totals.stalledMs / 1000).toFixed(1)} s in all)`;
if (details.failed) {
  console.log(fc.defaultReportMessage(details) ?? '');
  console.log(`check:faults: what it violated: ${describe(details.errorInstance)}`);
  console.log(`check:faults: FAILED after ${figures}`);
  // fast-check's commands need their own replay path (which steps ran) beside the run's path.
  const replayPath = /replayPath="([^"]*)"/.exec(fc.stringify(details.counterexample))?.[1];
  const replay = `${onCluster ? '--cluster ' : ''}--seed ${seed} --path ${details.counterexamplePath ?? ''}${replayPath ? ` --replay-path '${replayPath}'` : ''} --steps ${steps} --shrinks ${shrinks}`;
  console.log(`check:faults: replay the shrunk schedule: npm run check:faults -- ${replay}`);
  console.log(`check:faults: replay the whole search:    npm run check:faults -- ${onCluster ? '--cluster ' : ''}--seed ${seed} --runs ${runs} --steps ${steps}`);
  process.exit(1);
}
if (kinds.size > 0) {
  for (const [kind, at] of kinds) console.log(`check:faults: ${at.length} schedule(s), first the ${at[0]}.: ${kind}`);
  console.log(`check:faults: FAILED: ${new Set([...kinds.values()].flat()).size} schedule(s) violated an invariant; ${figures}`);
  process.exit(1);
}
console.log(`check:faults: passed: ${figures}`);
process.exit(0);
