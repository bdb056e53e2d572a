// The schedule model: the operations and faults a generated schedule is made of, as fast-check commands run
// against a World (world.ts). The model only says what may come next (no publish from a stopped publisher, at most
// four catch-up chains); every step prints itself, so a failing schedule reads as a list of steps.
import fc from 'fast-check';
import { Method } from './frames.js';
import { nodeAt, type NodeFaultKind } from './nodes.js';
import { BEYOND, BOUNDS, LEVELS, PUBLISH_BOUND, sleep, type Actor, type Level, type World } from './world.js';

export interface Model { stopped: Set<string>; chains: number; others: number; nodeFaults: number }
type Step = fc.AsyncCommand<Model, World>;

/** Who a fault or a stop acts on: a publisher, the live listener, the reader, or a catch-up chain's current listener. */
type Target = 'pub0' | 'pub1' | 'live' | 'reader' | `chain${number}`;
const targets = fc.constantFrom<Target>('pub0', 'pub1', 'live', 'reader', 'chain0', 'chain1', 'chain2', 'chain3');

function resolve(world: World, target: Target): Actor | undefined {
  if (target === 'pub0' || target === 'pub1') return world.publishers[Number(target.slice(3))];
  if (target === 'live') return world.live;
  if (target === 'reader') return world.reader;
  return world.chains[Number(target.slice(5))]?.incarnations.at(-1);
}
const exists = (model: Model, target: Target): boolean => !target.startsWith('chain') || Number(target.slice(5)) < model.chains;
const running = (model: Model, target: Target): boolean => exists(model, target) && !model.stopped.has(target);

// Waits for `promise`, at most `ms`: a call that never settles is the invariants' to report, not a hung schedule.
const atMost = (promise: Promise<unknown>, ms: number): Promise<unknown> => Promise.race([promise, sleep(ms)]);

const step = (show: string, check: (m: Model) => boolean, run: (m: Model, w: World) => Promise<void>): Step => ({ check, run, toString: () => show });

// --- operations ---------------------------------------------------------------------------------------------------

// A batch of publishes; `nacked`: its n-th publish never reaches the broker and is nacked (a queue that did not
// take it), so its retry goes out after the events behind it.
const publish = fc.record({
  p: fc.integer({ min: 0, max: 1 }), level: fc.constantFrom<Level>(...LEVELS), count: fc.integer({ min: 1, max: 30 }), awaited: fc.boolean(),
  nacked: fc.option(fc.integer({ min: 1, max: 3 }), { freq: 3 }),
}).map(({ p, level, count, awaited, nacked }) =>
  step(`publish(pub${p}, ${level} x${count}${awaited ? ', awaited' : ''}${nacked ? `, its ${nacked}. nacked` : ''})`, (m) => !m.stopped.has(`pub${p}`), async (_m, w) => {
    if (nacked && nacked <= count) w.publishers[p]!.proxy.unrouteNext(1, nacked - 1);
    const settled = w.publish(p, level, count);
    if (awaited) await atMost(Promise.all(settled), PUBLISH_BOUND + BOUNDS.slack);
  }));

const wait = fc.integer({ min: 0, max: 1500 }).map((ms) => step(`wait(${ms} ms)`, () => true, () => sleep(ms)));

// A history() read, alone or with a fault on the reader's link: its probe answered slowly, its consumer cancelled
// by the broker at its k-th event, its connection dropped at its k-th event, or called 300 ms into an outage. One
// in four reads from an offset beyond the stream's end (it must reject OUT_OF_RANGE).
type ReadFault = { kind: 'none' } | { kind: 'slow probe'; ms: number } | { kind: 'cancelled' | 'dropped'; at: number } | { kind: 'outage'; ms: number };
// Each kind as likely as the others (a cancel was the rarest: one read in eight, and CI's seed ran none that fired).
const readFault: fc.Arbitrary<ReadFault> = fc.oneof(
  fc.constant({ kind: 'none' as const }),
  fc.record({ kind: fc.constant('slow probe' as const), ms: fc.constantFrom(2200, 3000) }),
  fc.record({ kind: fc.constant('cancelled' as const), at: fc.integer({ min: 1, max: 5 }) }),
  fc.record({ kind: fc.constant('dropped' as const), at: fc.integer({ min: 1, max: 5 }) }),
  fc.record({ kind: fc.constant('outage' as const), ms: fc.constantFrom(3000, 6000) }),
);
// The cluster mode's reads, as they were when its CI seed was chosen: a cancel or a drop one read in four together.
const clusterReadFault: fc.Arbitrary<ReadFault> = fc.oneof(
  fc.constant({ kind: 'none' as const }),
  fc.record({ kind: fc.constant('slow probe' as const), ms: fc.constantFrom(2200, 3000) }),
  fc.record({ kind: fc.constantFrom('cancelled' as const, 'dropped' as const), at: fc.integer({ min: 1, max: 5 }) }),
  fc.record({ kind: fc.constant('outage' as const), ms: fc.constantFrom(3000, 6000) }),
);
const readStep = ({ f, since }: { f: ReadFault; since: 'start' | typeof BEYOND }): Step =>
  step(`history({ since: ${JSON.stringify(since)} })${f.kind === 'none' ? '' : `, ${f.kind}${'ms' in f ? ` ${f.ms} ms` : ` at its ${f.at}. event`}`}`, (m) => !m.stopped.has('reader'), async (_m, w) => {
    const { proxy } = w.reader;
    if (f.kind === 'slow probe') (w.reader.stall(f.ms), proxy.holdNext(Method.BasicDeliver, f.ms));
    if (f.kind === 'cancelled') proxy.cancelAtDelivery(f.at, true);
    if (f.kind === 'dropped') proxy.cutAtDelivery(f.at);
    // Called once the outage began: the logger heard of it and is reconnecting.
    if (f.kind === 'outage') (proxy.down(f.ms), await sleep(300));
    w.read(since);
  });
const read = fc.record({ f: readFault, since: fc.constantFrom<'start' | typeof BEYOND>('start', 'start', 'start', BEYOND) }).map(readStep);
const clusterRead = clusterReadFault.map((f) => readStep({ f, since: 'start' }));

// A listener beside the recording one: it throws, or never settles for its next three events (then returns).
const addListener = fc.record({ target: fc.constantFrom<Target>('live', 'chain0', 'chain1'), kind: fc.constantFrom('throws', 'never settles') }).map(({ target, kind }) =>
  step(`${target}: add a listener that ${kind}`, (m) => running(m, target), async (_m, w) => {
    const actor = resolve(w, target);
    if (!actor) return;
    let stuck = 3;
    const listener = kind === 'throws' ? () => { throw new Error('a listener fault'); } : () => (stuck-- > 0 ? new Promise(() => undefined) : undefined);
    actor.extraListeners.push(listener);
    for (const level of LEVELS) actor.logger.on(level, listener);
  }));

const removeListener = targets.filter((t) => t === 'live' || t === 'chain0').map((target) =>
  step(`${target}: remove the last listener added`, (m) => running(m, target), async (_m, w) => {
    const actor = resolve(w, target);
    const listener = actor?.extraListeners.pop();
    if (actor && listener) for (const level of LEVELS) actor.logger.off(level, listener);
  }));

// Probes wait 1.5 s for an answer: the longer holds leave room for a loaded machine's late timers.
const slowProbe = fc.constantFrom(0, 0, 2200, 3000);

// From the stream's start, from 'now', or from an offset beyond its end (an 'out-of-range' gap, then on from the end).
const startChainStep = ({ since, slow }: { since: 'start' | 'now' | typeof BEYOND; slow: number }): Step =>
  step(`start a catch-up listener (since ${JSON.stringify(since)}${slow ? `, its probe answered after ${slow} ms` : ''})`, (m) => m.chains < 4, async (m, w) => {
    m.chains += 1;
    w.chains.push({ since, incarnations: [] });
    await atMost(w.startIncarnation(w.chains.length - 1, since, slow), BOUNDS.startTimeout + BOUNDS.slack);
  });
const startChain = fc.record({ since: fc.constantFrom<'start' | 'now' | typeof BEYOND>('start', 'now', BEYOND), slow: slowProbe }).map(startChainStep);
// The cluster mode's, as they were when its CI seed was chosen: from 'start' or 'now'.
const clusterStartChain = fc.record({ since: fc.constantFrom<'start' | 'now'>('start', 'now'), slow: slowProbe }).map(startChainStep);

const restartChain = fc.record({ c: fc.integer({ min: 0, max: 3 }), slow: slowProbe }).map(({ c, slow }) =>
  step(`restart chain${c} from its saved offset${slow ? ` (probe answered after ${slow} ms)` : ''}`, (m) => running(m, `chain${c}`), async (_m, w) => {
    const chain = w.chains[c]!;
    const current = chain.incarnations.at(-1)!;
    await atMost(current.stop(), BOUNDS.stopTimeout + 1000 + BOUNDS.slack);
    const last = current.lastOffset;
    // Nothing dispatched yet: start where the chain started ("now" again only if it started at "now").
    const since = last !== undefined ? last + 1 : typeof current.since === 'number' ? current.since : chain.since;
    await atMost(w.startIncarnation(c, since, slow), BOUNDS.startTimeout + BOUNDS.slack);
  }));

// --- faults -------------------------------------------------------------------------------------------------------

type Fault =
  | { kind: 'drop' } | { kind: 'outage'; ms: number } | { kind: 'freeze'; ms: number } | { kind: 'confirm delayed'; ms: number }
  | { kind: 'nack'; count: number } | { kind: 'slow delivery'; ms: number } | { kind: 'consumer cancelled'; at: number }
  | { kind: 'channel error'; at: number };

const fault: fc.Arbitrary<Fault> = fc.oneof(
  fc.constant({ kind: 'drop' as const }),
  fc.record({ kind: fc.constant('outage' as const), ms: fc.constantFrom(500, 2000, 6000) }),
  fc.record({ kind: fc.constant('freeze' as const), ms: fc.constantFrom(300, 1500, 5000) }),
  fc.record({ kind: fc.constant('confirm delayed' as const), ms: fc.constantFrom(300, 2000) }),
  fc.record({ kind: fc.constant('nack' as const), count: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ kind: fc.constant('slow delivery' as const), ms: fc.constantFrom(500, 1700, 2500) }),
  fc.record({ kind: fc.constant('consumer cancelled' as const), at: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ kind: fc.constant('channel error' as const), at: fc.integer({ min: 1, max: 6 }) }),
);

function describe(f: Fault): string {
  if ('ms' in f) return `${f.kind} ${f.ms} ms`;
  if (f.kind === 'nack') return `next ${f.count} publish(es) unrouted and nacked`;
  if ('at' in f) return `${f.kind} at its ${f.at}. delivery from now`;
  return f.kind;
}

function inject(actor: Actor, f: Fault): void {
  const { proxy } = actor;
  switch (f.kind) {
    case 'drop': return proxy.cut();
    case 'outage': return proxy.down(f.ms);
    case 'freeze': return (actor.stall(f.ms), proxy.freeze(f.ms));
    case 'confirm delayed': return (actor.stall(f.ms), proxy.holdNext(Method.BasicAck, f.ms));
    case 'slow delivery': return (actor.stall(f.ms), proxy.holdNext(Method.BasicDeliver, f.ms));
    case 'nack': return proxy.unrouteNext(f.count);
    case 'consumer cancelled': return proxy.cancelAtDelivery(f.at);
    case 'channel error': return proxy.channelErrorAtDelivery(f.at);
  }
}

const faultStep = fc.record({ target: targets, fault }).map(({ target, fault: f }) =>
  step(`fault ${target}: ${describe(f)}`, (m) => running(m, target), async (_m, w) => {
    const actor = resolve(w, target);
    if (actor && !actor.stopped) inject(actor, f);
  }));

const stop = fc.record({ target: targets, awaited: fc.boolean() }).map(({ target, awaited }) =>
  step(`stop ${target}${awaited ? '' : ' (not awaited)'}`, (m) => running(m, target), async (m, w) => {
    m.stopped.add(target);
    const stopping = w.track(resolve(w, target)!.stop());
    if (awaited) await atMost(stopping, BOUNDS.stopTimeout + 1000 + BOUNDS.slack);
  }));

// A logger started while its broker is unreachable, stopped `after` ms into its start: with failFast and
// waitForBroker it is still trying; by default its start resolved and it goes on trying in the background.
const stopDuringStart = fc.record({ after: fc.integer({ min: 50, max: 1500 }), failFast: fc.boolean() }).map(({ after, failFast }) =>
  step(`a new logger${failFast ? ' (failFast, waitForBroker)' : ''} starts during an outage and is stopped after ${after} ms`, (m) => m.others < 2, async (m, w) => {
    m.others += 1;
    const actor = await w.actor(`other${w.others.length}`, { failFast, waitForBroker: failFast, startTimeout: 9000 });
    w.others.push(actor);
    actor.proxy.unreachable();
    w.track(actor.start(9000));
    await sleep(after);
    w.track(actor.stop());
  }));

// A logger whose connection drops when its client sends one method of the set-up (once; the next connection works).
const dropDuringStart = fc.record({
  method: fc.constantFrom(['queue.declare', Method.QueueDeclare], ['queue.bind', Method.QueueBind], ['basic.qos', Method.BasicQos], ['basic.consume', Method.BasicConsume], ['confirm.select', Method.ConfirmSelect]),
  failFast: fc.boolean(),
}).map(({ method: [name, method], failFast }) =>
  step(`a new logger's${failFast ? ' (failFast)' : ''} connection drops at its first ${name}`, (m) => m.others < 2, async (m, w) => {
    m.others += 1;
    const actor = await w.actor(`other${w.others.length}`, { failFast });
    w.others.push(actor);
    actor.proxy.cutOnClientMethod(method as number);
    await atMost(w.track(actor.start()), BOUNDS.startTimeout + BOUNDS.slack);
  }));

// --- node faults (check:faults --cluster) -------------------------------------------------------------------------

// The node a target is connected to now is taken down (killed, or its app stopped) for 2 to 6 s, then brought back;
// the schedule goes on meanwhile. A target with no connection (in an outage, stopped) names the node it prefers.
// At most two per schedule, one node down at a time (NodeFaults serialises them): each costs seconds of node start.
const nodeFault = fc.record({ target: fc.constantFrom<Target>('pub0', 'pub1', 'live', 'reader', 'chain0'), kind: fc.constantFrom<NodeFaultKind>('kill', 'stop_app'), downMs: fc.constantFrom(2000, 4000, 6000) }).map(({ target, kind, downMs }) =>
  step(`node of ${target}: ${kind === 'kill' ? 'killed (kill -9)' : 'app stopped (stop_app)'}, started again after ${downMs} ms`, (m) => exists(m, target) && m.nodeFaults < 2, async (m, w) => {
    m.nodeFaults += 1;
    const actor = resolve(w, target);
    const node = actor?.proxy.reached.map(nodeAt).find((n) => n !== undefined) ?? actor?.nodes[0] ?? 'a';
    const connected = (on: string): string[] => w.actors.filter((a) => !a.stopped && a.proxy.reached.some((port) => nodeAt(port) === on)).map((a) => a.name);
    w.track(w.nodeFaults!.hit(kind, node, downMs, connected));
  }));

/**
 * Schedules: up to `size` steps, publishes and faults most often; `replayPath` replays the steps a failure ran.
 * With `cluster`, node faults too (the single broker's schedules stay as they were: same seed, same schedules).
 */
export function schedules(size: number, replayPath?: string, cluster = false): fc.Arbitrary<Iterable<Step>> {
  // The cluster mode keeps its reads and catch-up listeners as they were when its CI seed was chosen (same seed, same
  // schedules): the reads and listeners from beyond the stream's end, and the reads' even faults, are the single broker's.
  const [reads, chains] = cluster ? [clusterRead, clusterStartChain] : [read, startChain];
  return fc.commands([
    publish, publish, publish, wait, wait, reads, reads, addListener, removeListener, chains, restartChain,
    faultStep, faultStep, faultStep, faultStep, stop, stopDuringStart, dropDuringStart,
    ...(cluster ? [nodeFault, nodeFault, nodeFault] : []),
  ], { maxCommands: size, ...(replayPath ? { replayPath } : {}) });
}

export const initialModel = (): Model => ({ stopped: new Set(), chains: 1, others: 0, nodeFaults: 0 });
