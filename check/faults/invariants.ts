// The guarantees, checked on what one schedule's World saw once it quiesced. Each check returns the violations it
// found, as sentences naming the call or listener and the events concerned.
import { BOUNDS, isBeyond, type Actor, type Call, type Chain, type Dispatch, type Publish, type Read, type World } from './world.js';

const PUBLISH_OUTCOMES = new Set(['ok', 'PUBLISH_TIMEOUT', 'NACKED', 'BUFFER_FULL', 'BUFFER_TIMEOUT', 'STOPPED']);
const START_OUTCOMES = new Set(['ok', 'CONNECT', 'STOPPED']);
const READ_OUTCOMES = new Set(['ok', 'CONNECT', 'STOPPED']);
// A read from an offset beyond the stream's end: OUT_OF_RANGE (or, in a fault, CONNECT, STOPPED); never an end.
const BEYOND_READ_OUTCOMES = new Set(['OUT_OF_RANGE', 'CONNECT', 'STOPPED']);

const key = (e: { p: number; k: number }): string => `${e.p}:${e.k}`;
const list = (keys: string[]): string => (keys.length > 8 ? `${keys.slice(0, 8).join(', ')} and ${keys.length - 8} more` : keys.join(', '));

/** What the checks need from a run beyond the World: when it began to quiesce, and what the process reported. */
export interface RunEnd { quiescedAt: number; unhandled: string[] }

/** Every violation of the guarantees in one run; empty when the run kept them all. */
export function violations(world: World, end: RunEnd): string[] {
  const confirmed = world.publishes.filter((p) => p.outcome === 'ok');
  // Events the proxy unrouted and nacked, and on a cluster those the broker nacked (a queue on a dying node, docs/
  // cluster.md): their retries may come after later events (the documented exception).
  const late = new Set(world.actors.flatMap((a) => [...a.proxy.unrouted, ...(a.proxy.brokerNacked ?? [])]).map((body) => { try { return key(JSON.parse(body) as Dispatch); } catch { return ''; } }));
  return [
    ...end.unhandled.map((what) => `the process saw ${what}`),
    ...bounds(world),
    ...outcomes(world),
    ...world.actors.flatMap((actor) => lifecycle(actor, end)),
    ...world.chains.flatMap((chain, c) => catchUp(chain, c, confirmed, late, end)),
    ...live(world.live, confirmed, end),
    ...world.reads.flatMap((read) => (read.outcome === 'ok' && read.since === 'start' ? readHolds(read.what, read.events, confirmed.filter((p) => p.settledAt! < read.calledAt), late) : [])),
    ...gaveUpEarly(world.reads, BOUNDS.resumeTimeout),
  ];
}

/**
 * A read may fail with CONNECT only once its connection stayed away for `resumeTimeout` (or the broker did not answer
 * for that long): one that fails sooner gave up on a connection that might have come back (no fault here deletes
 * the stream, the one reason to fail at once).
 */
export function gaveUpEarly(reads: Call[], resumeTimeout: number): string[] {
  // A timer may fire a millisecond or so before performance.now() says its delay is over (libuv's clock is cached,
  // in whole ms): a read failed at 999 ms ran its bound out; one failed 50 ms early did not.
  return reads
    .filter((read) => read.outcome === 'CONNECT' && read.settledAt !== undefined && read.settledAt - read.calledAt < resumeTimeout - 50)
    .map((read) => `${read.what} failed with CONNECT ${Math.round(read.settledAt! - read.calledAt)} ms after it was called, before its resumeTimeout of ${resumeTimeout} ms ran out`);
}

// Every call settled within its documented bound (plus the time this process's event loop stalled meanwhile: the
// machine's load, not the library); a read's bound grows by the holds the proxy put on its link.
function bounds(world: World): string[] {
  const calls: Call[] = [...world.publishes, ...world.actors.flatMap((a) => [a.startCall, a.stopCall].filter((c): c is Call => c !== undefined))];
  const found = calls.flatMap((call) => late(world, call, call.bound));
  for (const read of world.reads) {
    const stalled = world.reader.stalls.filter((s) => s.at >= read.calledAt - 100 && s.at <= (read.settledAt ?? Infinity)).reduce((sum, s) => sum + s.ms, 0);
    found.push(...late(world, read, BOUNDS.resumeTimeout + BOUNDS.slack + stalled));
  }
  return found;
}

function late(world: World, call: Call, bound: number): string[] {
  if (call.settledAt === undefined) return [`${call.what}, called ${Math.round(call.calledAt - world.startedAt)} ms into the schedule, never settled (bound ${bound} ms)`];
  const took = call.settledAt - call.calledAt;
  const lag = world.lag.during(call.calledAt, call.settledAt);
  if (took <= bound + lag) return [];
  return [`${call.what}, called ${Math.round(call.calledAt - world.startedAt)} ms into the schedule, settled after ${Math.round(took)} ms, over its bound of ${bound} ms${lag ? ` (+${Math.round(lag)} ms the event loop stalled)` : ''} (${call.outcome})`];
}

// Only the documented errors: a start that rejects says why with a code (CONNECT, STOPPED), never a bare Error.
function outcomes(world: World): string[] {
  const found: string[] = [];
  const odd = (calls: Call[], allowed: Set<string>): void => {
    for (const call of calls) if (call.outcome !== undefined && !allowed.has(call.outcome)) found.push(`${call.what} settled with ${call.outcome}`);
  };
  odd(world.publishes, PUBLISH_OUTCOMES);
  odd(world.actors.flatMap((a) => (a.startCall ? [a.startCall] : [])), START_OUTCOMES);
  odd(world.reads.filter((read) => read.since === 'start'), READ_OUTCOMES);
  const beyond = world.reads.filter((read: Read) => read.since !== 'start');
  for (const read of beyond) {
    if (read.outcome === 'ok') found.push(`${read.what} ended (with ${read.events.length} event(s)) instead of rejecting OUT_OF_RANGE: the offset does not exist yet`);
  }
  odd(beyond.filter((read) => read.outcome !== 'ok'), BEYOND_READ_OUTCOMES);
  odd(world.actors.flatMap((a) => (a.stopCall ? [a.stopCall] : [])), new Set(['ok']));
  return found;
}

// The order of a start's events (docs/errors.md): 'disconnected' never before start() settled (an outage at start is
// told a turn after it resolved); a failFast start that rejected emits no 'disconnected' at all; and a logger that
// started, was not stopped and can reach its broker is 'ready' by the end (an outage at start ends).
function lifecycle(actor: Actor, end: RunEnd): string[] {
  const found: string[] = [];
  const order = `(${actor.lifecycle.join(', ')})`;
  const disconnected = actor.lifecycle.indexOf('disconnected');
  const settled = actor.lifecycle.indexOf('start settled');
  if (disconnected !== -1 && (settled === -1 || disconnected < settled)) found.push(`${actor.name} emitted 'disconnected' before its start() settled ${order}`);
  const outcome = actor.startCall?.outcome;
  if (actor.failFast && outcome !== undefined && outcome !== 'ok' && disconnected !== -1) found.push(`${actor.name}'s failFast start() rejected (${outcome}) and it emitted 'disconnected' ${order}`);
  const stoppedEarly = (actor.stopCall?.calledAt ?? Infinity) < end.quiescedAt;
  if (outcome === 'ok' && !stoppedEarly && !actor.proxy.isUnreachable && !actor.lifecycle.includes('ready')) found.push(`${actor.name} started and never became 'ready' ${order}`);
  return found;
}

// Within one listener: each event once, and each publisher's events in the order published (but for late retries).
function onceInOrder(who: string, events: Dispatch[], late: Set<string>): string[] {
  const found: string[] = [];
  const seen = new Set<string>();
  const twice: string[] = [];
  const last = new Map<string, number>();
  const outOfOrder: string[] = [];
  for (const event of events) {
    const id = key(event);
    if (seen.has(id)) twice.push(id);
    seen.add(id);
    if (late.has(id)) continue;
    const stream = `${event.p}/${event.level}`;
    if ((last.get(stream) ?? 0) > event.k) outOfOrder.push(`${id} after ${event.p}:${last.get(stream)}`);
    last.set(stream, Math.max(last.get(stream) ?? 0, event.k));
  }
  if (twice.length) found.push(`${who} got events twice: ${list(twice)}`);
  if (outOfOrder.length) found.push(`${who} got events out of their publisher's order: ${list(outOfOrder)}`);
  return found;
}

function missing(who: string, events: Dispatch[], expected: Publish[]): string[] {
  const got = new Set(events.map(key));
  const lost = expected.filter((p) => !got.has(key(p))).map(key);
  return lost.length ? [`${who} never got ${lost.length} confirmed event(s): ${list(lost)}`] : [];
}

function readHolds(who: string, events: Dispatch[], expected: Publish[], late: Set<string>): string[] {
  return [...onceInOrder(who, events, late), ...missing(who, events, expected)];
}

// A catch-up chain: each listener once and in order, from its saved offset on; "now" (and an offset beyond the
// stream's end, said by an 'out-of-range' gap) replays nothing confirmed before its start; a chain still running at
// the end got every confirmed event it covers.
function catchUp(chain: Chain, c: number, confirmed: Publish[], late: Set<string>, end: RunEnd): string[] {
  const found: string[] = [];
  let coverFrom = chain.since === 'start' ? -Infinity : undefined;
  for (const actor of chain.incarnations) {
    const who = `catch-up listener ${actor.name} (since ${JSON.stringify(actor.since)})`;
    found.push(...onceInOrder(who, actor.dispatches, late));
    if (typeof actor.since === 'number' && !isBeyond(actor.since)) {
      const early = actor.dispatches.filter((d) => d.offset === undefined || d.offset < (actor.since as number)).map(key);
      if (early.length) found.push(`${who} got events from before its offset: ${list(early)}`);
    }
    if (isBeyond(actor.since) && actor.startCall?.outcome === 'ok' && !actor.gaps.some((g) => g.reason === 'out-of-range')) {
      found.push(`${who} started from an offset beyond the stream's end without an 'out-of-range' gap`);
    }
    if ((actor.since === 'now' || isBeyond(actor.since)) && actor.startCall) {
      const replayed = actor.dispatches.filter((d) => (confirmed.find((p) => key(p) === key(d))?.settledAt ?? Infinity) < actor.startCall!.calledAt).map(key);
      if (replayed.length) found.push(`${who} replayed ${replayed.length} event(s) confirmed before its start(): ${list(replayed)}`);
      if (actor.startCall.outcome === 'ok') coverFrom = actor.startCall.settledAt;
    }
  }
  const last = chain.incarnations.at(-1);
  const ran = last?.startCall?.outcome === 'ok' && (last.stopCall?.calledAt ?? Infinity) >= end.quiescedAt;
  if (ran && coverFrom !== undefined) {
    const got = chain.incarnations.flatMap((a) => a.dispatches);
    found.push(...missing(`catch-up chain${c} (since ${JSON.stringify(chain.since)}, ${chain.incarnations.length} listener(s))`, got, confirmed.filter((p) => p.calledAt > coverFrom!)));
  }
  return found;
}

// The live listener: each event at most once; every event it missed between two it got is counted by a 'gap'; and
// it gets every event confirmed while nothing could lose its queue: published after its first 'ready' that followed
// the last lossy fault on its link and its last 'disconnected' (or, with no 'ready' since, 5 s after them: a
// listener a fault left deaf, without a word, gets nothing more).
function live(actor: Actor, confirmed: Publish[], end: RunEnd): string[] {
  const found: string[] = [];
  const bySeq = new Map<string, Set<number>>();
  const twice: string[] = [];
  for (const d of actor.dispatches) {
    const stream = `${d.publisher}/${d.level}`;
    const seqs = bySeq.get(stream) ?? new Set();
    if (seqs.has(d.seq)) twice.push(`${stream}.${d.seq}`);
    seqs.add(d.seq);
    bySeq.set(stream, seqs);
  }
  if (twice.length) found.push(`live listener got events twice: ${list(twice)}`);
  const uncounted: string[] = [];
  for (const [stream, seqs] of bySeq) {
    const [publisher, level] = stream.split('/');
    const gaps = actor.gaps.filter((g) => g.publisher === publisher && g.level === level);
    for (let seq = Math.min(...seqs) + 1; seq < Math.max(...seqs); seq++) {
      if (!seqs.has(seq) && !gaps.some((g) => g.expected <= seq && seq < g.received)) uncounted.push(`${stream}.${seq}`);
    }
  }
  if (uncounted.length) found.push(`live listener missed events no 'gap' counted: ${list(uncounted)}`);
  const stoppedEarly = (actor.stopCall?.calledAt ?? Infinity) < end.quiescedAt;
  if (actor.startCall?.outcome !== 'ok' || stoppedEarly) return found;
  const lastLoss = Math.max(actor.proxy.lastFaultEnds, ...actor.disconnectedAt);
  const from = actor.readyAt.find((at) => at > lastLoss) ?? lastLoss + 5000;
  const since = lastLoss === -Infinity ? 'its start' : `${Math.round(from - lastLoss)} ms after the last fault or disconnect`;
  found.push(...missing(`live listener (since ${since})`, actor.dispatches, confirmed.filter((p) => p.calledAt > from)));
  return found;
}

/** How many events the checks looked at (every event every listener and read got). */
export function eventsChecked(world: World): number {
  return world.actors.reduce((sum, a) => sum + a.dispatches.length, 0) + world.reads.reduce((sum, r) => sum + r.events.length, 0);
}

/** The events still awaited by a listener that should get them (quiesce waits until there are none). */
export function awaited(world: World, end: RunEnd): string[] {
  return violations(world, { ...end, unhandled: [] }).filter((v) => v.includes(' never got '));
}
