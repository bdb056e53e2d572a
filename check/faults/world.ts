// The real system one schedule drives: loggers of the real library on a bus of their own (a unique exchange and
// history stream per run, from the shipped config/rascal-with-history.json), each behind a FaultProxy of its own,
// and what each was seen to do (publishes and their outcomes, events dispatched, gaps, lifecycle calls and their times).
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import amqp from 'amqplib';
import { EventBusLogger, type EventMeta, type HistorySince } from '../../lib/index.js';
import { Method } from './frames.js';
import { NodeFaults, NODES, orderFrom, PORTS, url, type ClusterNode } from './nodes.js';
import { FaultProxy } from './proxy.js';

export const LEVELS = ['info', 'critical'] as const;
export type Level = (typeof LEVELS)[number];

/** The checker's own settings for every logger: short, so a schedule runs in seconds. */
export const BOUNDS = { publishTimeout: 4000, bufferMaxWait: 2000, startTimeout: 6000, stopTimeout: 1000, resumeTimeout: 1000, slack: 3000 };
/**
 * An offset beyond the end of any schedule's history stream (a schedule publishes a few hundred events): a read
 * from it must reject OUT_OF_RANGE, a catch-up listener from it says so with an 'out-of-range' gap and goes on from
 * the stream's end.
 */
export const BEYOND = 1_000_000;
export const isBeyond = (since: HistorySince | undefined): boolean => typeof since === 'number' && since >= BEYOND;

/** A publish settles within its wait in the buffer plus its publishTimeout from when it was sent. */
export const PUBLISH_BOUND = BOUNDS.bufferMaxWait + BOUNDS.publishTimeout;

const now = (): number => performance.now();

/** One call whose settling is bounded: when made, when (and how) it settled, and its bound. */
export interface Call {
  what: string;
  calledAt: number;
  bound: number;
  settledAt?: number;
  /** 'ok', or the error's code (or its class and message). */
  outcome?: string;
}

export interface Publish extends Call { p: number; k: number; level: Level }
export interface Dispatch { p: number; k: number; level: string; publisher: string; seq: number; offset: number | undefined; at: number }
export interface Gap { publisher: string; level: string; expected: number; received: number; reason: string | undefined }

function outcomeOf(error: unknown): string {
  const e = error as { code?: unknown; name?: string; message?: string };
  return typeof e?.code === 'string' ? e.code : `${e?.name ?? typeof error}: ${e?.message ?? String(error)}`;
}

/** Follows `promise` into `call`; resolves when it settles, never rejects. */
export function follow(call: Call, promise: Promise<unknown>): Promise<void> {
  // The first settlement is the call's: the end of a schedule stops every actor again (stop() is idempotent, and
  // its promise long settled), which must not move an earlier stop's time to the end of the schedule.
  const settle = (outcome: string): void => {
    if (call.settledAt !== undefined) return;
    call.settledAt = now();
    call.outcome = outcome;
  };
  return promise.then(
    () => settle('ok'),
    (error: unknown) => settle(outcomeOf(error)),
  );
}

/** One logger and its proxy, with everything it was seen to do. */
export class Actor {
  readonly dispatches: Dispatch[] = [];
  readonly gaps: Gap[] = [];
  /** Lifecycle events in order ('ready', 'disconnected', and 'start settled' when start() did), for the order checks. */
  readonly lifecycle: string[] = [];
  readonly extraListeners: Array<(...args: unknown[]) => unknown> = [];
  startCall: Call | undefined;
  stopCall: Call | undefined;
  /** When it emitted 'ready' and 'disconnected' (performance.now()). */
  readonly readyAt: number[] = [];
  readonly disconnectedAt: number[] = [];
  listenerErrors = 0;
  /** When a fault held this actor's link, and for how long (a read's bound grows by the holds during it). */
  readonly stalls: Array<{ at: number; ms: number }> = [];

  /** On a cluster: the nodes its URLs name, in its order (it prefers the first). */
  nodes: ClusterNode[] = [];

  constructor(readonly name: string, readonly logger: EventBusLogger, readonly proxy: FaultProxy, readonly since?: HistorySince, readonly failFast = false) {
    for (const level of LEVELS) logger.on(level, (data: Record<string, unknown>, meta: EventMeta) => this.#record(data, meta));
    logger.on('gap', (gap) => this.gaps.push({ publisher: gap.publisher, level: gap.level, expected: gap.expected, received: gap.received, reason: gap.reason }));
    logger.on('ready', () => (this.lifecycle.push('ready'), this.readyAt.push(now())));
    logger.on('disconnected', () => (this.lifecycle.push('disconnected'), this.disconnectedAt.push(now())));
    logger.on('error', () => (this.listenerErrors += 1));
  }

  #record(data: Record<string, unknown>, meta: EventMeta): void {
    this.dispatches.push({ p: Number(data.p), k: Number(data.k), level: meta.level, publisher: meta.publisher ?? '', seq: meta.seq ?? -1, offset: meta.offset, at: now() });
  }

  stall(ms: number): void {
    this.stalls.push({ at: now(), ms });
  }

  get lastOffset(): number | undefined {
    let last: number | undefined;
    for (const { offset } of this.dispatches) if (offset !== undefined && (last === undefined || offset > last)) last = offset;
    return last;
  }

  start(startTimeout = BOUNDS.startTimeout): Promise<void> {
    this.startCall = { what: `${this.name}.start()`, calledAt: now(), bound: startTimeout + BOUNDS.slack };
    return follow(this.startCall, this.logger.start()).then(() => void this.lifecycle.push('start settled'));
  }

  stop(): Promise<void> {
    this.stopCall ??= { what: `${this.name}.stop()`, calledAt: now(), bound: BOUNDS.stopTimeout + 1000 + BOUNDS.slack };
    return follow(this.stopCall, this.logger.stop());
  }

  get stopped(): boolean {
    return this.stopCall !== undefined;
  }
}

/**
 * How late this process's timers fired: on a loaded machine a timer set for 1 s can fire seconds late, and no
 * library settles a call before its own timers fire. Samples every 50 ms; keeps the stalls over 100 ms.
 */
export class EventLoopLag {
  readonly stalls: Array<{ at: number; ms: number }> = [];
  #last = now();
  readonly #timer = setInterval(() => {
    const lag = now() - this.#last - 50;
    if (lag > 100) this.stalls.push({ at: now(), ms: lag });
    this.#last = now();
  }, 50);

  /** The time the process stalled between `from` and `to`. */
  during(from: number, to: number): number {
    return this.stalls.filter((s) => s.at >= from && s.at - s.ms <= to).reduce((sum, s) => sum + s.ms, 0);
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/** A catch-up listener and the ones restarted from its saved offsets, in order. */
export interface Chain { since: 'start' | 'now' | typeof BEYOND; incarnations: Actor[] }

/** A `history()` read: its call, where it read from, and what it gave. */
export interface Read extends Call { since: 'start' | typeof BEYOND; events: Dispatch[]; iterator: AsyncIterator<unknown> | undefined }

export class World {
  readonly id = randomUUID().slice(0, 8);
  readonly name = `faults-${this.id}`;
  readonly publishes: Publish[] = [];
  readonly reads: Read[] = [];
  readonly chains: Chain[] = [];
  /** Loggers started for one fault and stopped (start/stop bounds, 'disconnected' before 'ready'). */
  readonly others: Actor[] = [];
  readonly pending = new Set<Promise<void>>();
  readonly lag = new EventLoopLag();
  readonly startedAt = now();
  publishers: Actor[] = [];
  live!: Actor;
  reader!: Actor;
  /** On a cluster (check:faults --cluster): the node faults of this run; undefined on the single broker. */
  readonly nodeFaults: NodeFaults | undefined;
  #k = 0;
  #placed = 0;
  readonly #config: Record<string, unknown>;

  private constructor(cluster: boolean) {
    this.nodeFaults = cluster ? new NodeFaults() : undefined;
    this.#config = JSON.parse(readFileSync(new URL('../../config/rascal-with-history.json', import.meta.url), 'utf8'));
    const vhosts = (this.#config as { defaults: { vhosts: { connection: Record<string, unknown> } } }).defaults.vhosts;
    // Quick reconnects and a heartbeat that notices a frozen link within seconds: schedules run in seconds.
    vhosts.connection.retry = { min: 50, max: 1000, factor: 2, strategy: 'exponential' };
    const connection = (this.#config as { vhosts: Record<string, { connection: { options: Record<string, unknown> } }> }).vhosts['/']!.connection;
    connection.options.heartbeat = 2;
  }

  /** With `cluster`, every logger reaches the 3-node cluster of .ci/cluster through its proxy, one port per node. */
  static async create(cluster = false): Promise<World> {
    const world = new World(cluster);
    world.publishers = await Promise.all([0, 1].map((p) => world.actor(`pub${p}`, { listen: false })));
    world.live = await world.actor('live', {});
    // The reader reads ahead 2 events, not 5,000: a broker cancel at a read's k-th event then cuts it short (with the
    // default read-ahead the broker has sent every record of a short stream before the cancel lands, and a read that
    // ignored the cancel would still end).
    world.reader = await world.actor('reader', { listen: false, ...(world.nodeFaults ? {} : { prefetch: 2 }) });
    await Promise.all([...world.publishers, world.live, world.reader].map((actor) => actor.start()));
    const failed = [...world.publishers, world.live, world.reader].find((actor) => actor.startCall?.outcome !== 'ok');
    if (failed) throw new Error(`set-up: ${failed.name} did not start: ${failed.startCall?.outcome}`);
    // A few events before anything else, so that every read and every catch-up listener has history to get.
    await Promise.all([...world.publish(0, 'info', 3), ...world.publish(1, 'critical', 2)]);
    world.chains.push({ since: 'start', incarnations: [] });
    await world.startIncarnation(0, 'start', 0);
    return world;
  }

  /** A logger of this run's bus behind a proxy of its own (not started). */
  async actor(name: string, options: { listen?: boolean; history?: { since: HistorySince }; failFast?: boolean; waitForBroker?: boolean; startTimeout?: number; prefetch?: number }): Promise<Actor> {
    // On a cluster, the loggers are spread over the nodes: each prefers the next node in turn, then the others.
    const nodes = this.nodeFaults ? orderFrom(this.#placed++ % NODES.length) : [];
    const proxy = this.nodeFaults ? await FaultProxy.start(nodes.map((node) => ({ host: '127.0.0.1', port: PORTS[node] }))) : await FaultProxy.start();
    const { publishTimeout, bufferMaxWait, startTimeout, stopTimeout } = BOUNDS;
    const logger = new EventBusLogger({ config: this.#config as never, name: this.name, url: this.nodeFaults ? proxy.urls() : proxy.url(), appId: 'check-faults', publishTimeout, bufferMaxWait, startTimeout, stopTimeout, ...options });
    if (this.nodeFaults) proxy.brokerNacked = [];
    const actor = new Actor(name, logger, proxy, options.history?.since, options.failFast);
    actor.nodes = nodes;
    return actor;
  }

  /** Starts a catch-up listener of chain `c` from `since`; `slowProbe` ms holds its first delivery (the probe's). */
  async startIncarnation(c: number, since: HistorySince, slowProbe: number): Promise<Actor> {
    const chain = this.chains[c]!;
    const actor = await this.actor(`chain${c}.${chain.incarnations.length}`, { history: { since } });
    chain.incarnations.push(actor);
    if (slowProbe > 0) actor.proxy.holdNext(Method.BasicDeliver, slowProbe), actor.stall(slowProbe);
    await actor.start();
    return actor;
  }

  publish(p: number, level: Level, count: number): Promise<void>[] {
    const actor = this.publishers[p]!;
    const settled: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      const k = ++this.#k;
      const call: Publish = { what: `pub${p}.${level}(#${k})`, calledAt: now(), bound: PUBLISH_BOUND + BOUNDS.slack, p, k, level };
      this.publishes.push(call);
      settled.push(this.track(follow(call, actor.logger.publish(level, { p, k }))));
    }
    return settled;
  }

  /** Starts a `history()` read on the reader (from 'start', or from an offset beyond the end); it runs on while the schedule goes on. */
  read(since: Read['since'] = 'start'): Read {
    const read: Read = { what: `history() #${this.reads.length}${since === 'start' ? '' : ` (since offset ${since})`}`, calledAt: now(), bound: BOUNDS.resumeTimeout + BOUNDS.publishTimeout + BOUNDS.slack, since, events: [], iterator: undefined };
    this.reads.push(read);
    const run = async (): Promise<void> => {
      const iterator = this.reader.logger.history({ since, resumeTimeout: BOUNDS.resumeTimeout });
      read.iterator = iterator;
      for await (const { level, data, meta } of iterator) {
        read.events.push({ p: Number(data.p), k: Number(data.k), level, publisher: meta.publisher ?? '', seq: meta.seq ?? -1, offset: meta.offset, at: now() });
      }
    };
    this.track(follow(read, run()));
    return read;
  }

  track(promise: Promise<void>): Promise<void> {
    this.pending.add(promise);
    void promise.finally(() => this.pending.delete(promise));
    return promise;
  }

  /** Every logger of the run, started for a role or for one fault. */
  get actors(): Actor[] {
    return [...this.publishers, this.live, this.reader, ...this.chains.flatMap((chain) => chain.incarnations), ...this.others];
  }

  /** Faults the proxies injected, and on a cluster the node faults. */
  get faultCount(): number {
    return this.actors.reduce((sum, actor) => sum + actor.proxy.faults.length, 0) + (this.nodeFaults?.done.length ?? 0);
  }

  /**
   * The end of a schedule: faults disarmed, every call given its bound to settle, then time for the events in
   * flight to arrive (`arrived` says when nothing is missing), then every logger stopped.
   */
  async quiesce(arrived: () => boolean): Promise<void> {
    // On a cluster: every node back first (a node fault lasts seconds; the next schedule needs every node).
    await this.nodeFaults?.settled();
    for (const actor of this.actors) actor.proxy.calm();
    const longest = Math.max(PUBLISH_BOUND, BOUNDS.startTimeout, BOUNDS.stopTimeout + 1000) + BOUNDS.slack;
    await Promise.race([Promise.all([...this.pending]), sleep(longest)]);
    // A logger in an outage that began at its start is 'ready' once its (now reachable) broker answers: wait for it too.
    const ready = (): boolean => this.actors.every((a) => a.startCall?.outcome !== 'ok' || a.stopped || a.proxy.isUnreachable || a.lifecycle.includes('ready'));
    for (let waited = 0; waited < 10_000 && !(arrived() && ready()); waited += 100) await sleep(100);
    await Promise.all(this.actors.map((actor) => actor.stop()));
    for (const read of this.reads) if (read.settledAt === undefined) void read.iterator?.return?.().catch(() => undefined);
  }

  async teardown(): Promise<void> {
    this.lag.stop();
    await Promise.all(this.actors.map((actor) => actor.proxy.close()));
    const connection = await amqp.connect(this.nodeFaults ? url('a') : 'amqp://guest:guest@127.0.0.1:5672');
    try {
      const channel = await connection.createChannel();
      await channel.deleteQueue(`${this.name}.history`);
      await channel.deleteExchange(this.name);
    } finally {
      await connection.close();
    }
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
