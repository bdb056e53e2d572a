// The measurements. Each in-process workload runs in a fresh child process (bench/worker.ts) so that heap, JIT and
// RSS figures of one client never leak into another's; fan-out and the outage are orchestrated from the parent.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { now, type BenchEvent, type ClientAdapter, type ClientName, type ConnectOptions, type Endpoint } from './clients/common.js';
import { Child, type Message } from './ipc.js';

export interface Params {
  warmup: number;
  sequential: number;
  burst: number;
  latencyRate: number;
  latencySeconds: number;
  fanout: number;
  listeners: number;
  outageSeconds: number;
  outageRate: number;
  recoverySeconds: number;
}

export type Result = Record<string, number | string | boolean | null | Record<string, number>>;

export interface WorkloadContext {
  adapter: ClientAdapter;
  connect: ConnectOptions;
  params: Params;
  /** Messages from the parent (the outage workload waits for 'outage-start' / 'outage-end'). */
  receive(type: string): Promise<Message>;
  send(message: Message): Promise<void>;
}

const MSG = 'benchmark event';
const event = (n: number): BenchEvent => ({ n, t: now(), msg: MSG });
const rssMB = (): number => process.memoryUsage.rss() / 2 ** 20;
/** Heap still in use after a full GC (the outage worker runs with --expose-gc): memory retained, not garbage. */
const retainedHeapMB = (): number | null => {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return null;
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
};
const peakRssMB = (): number => process.resourceUsage().maxRSS / 1024;

/** Counts distinct event numbers 0..n-1; `all` resolves when every one arrived, or false after `timeoutMs`. */
class Tally {
  readonly #seen: Uint8Array;
  #resolve: (() => void) | undefined;
  distinct = 0;
  duplicates = 0;
  last = 0;
  constructor(readonly expected: number) {
    this.#seen = new Uint8Array(expected);
  }
  add(n: number): void {
    if (n < 0 || n >= this.expected) return;
    if (this.#seen[n]) this.duplicates++;
    else {
      this.#seen[n] = 1;
      this.last = now();
      if (++this.distinct === this.expected) this.#resolve?.();
    }
  }
  all(timeoutMs: number): Promise<boolean> {
    if (this.distinct === this.expected) return Promise.resolve(true);
    return within(new Promise<boolean>((resolve) => (this.#resolve = () => resolve(true))), timeoutMs, false);
  }
}

/** `promise`, or `fallback` after `ms`; leaves no timer behind either way. */
async function within<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<T>((resolve) => (timer = setTimeout(() => resolve(fallback), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

const percentile = (sorted: readonly number[], p: number): number => sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] ?? NaN;
const median = (values: readonly number[]): number => percentile([...values].sort((a, b) => a - b), 0.5);

/** Publishes `count` events numbered from `first`, 100 at a time: JIT warm-up, not measured. */
export async function warmUp(endpoint: Endpoint, count: number, first = 0): Promise<void> {
  for (let i = 0; i < count; i += 100) {
    await Promise.all(Array.from({ length: Math.min(100, count - i) }, (_, k) => endpoint.publish(event(first + i + k))));
  }
}

/** Connects, warms up until the warm-up events came back, runs `body`, cleans up. */
async function withEndpoint(ctx: WorkloadContext, body: (endpoint: Endpoint) => Promise<Result>): Promise<Result> {
  const endpoint = await ctx.adapter.connect(ctx.connect);
  try {
    const warm = new Tally(ctx.params.warmup);
    endpoint.onEvent((e) => warm.add(e.n));
    await warmUp(endpoint, ctx.params.warmup);
    if (!(await warm.all(30_000))) throw new Error('warm-up events did not come back');
    return await body(endpoint);
  } finally {
    await endpoint.close({ deleteExchange: true });
  }
}

/**
 * `await publish()` in a loop, twice: the first `count` events right after the warm-up (`coldPerSec`: the code is
 * still being compiled by V8's JIT, a one-off cost per process that weighs more on the client with more code), then
 * `count` more (`eventsPerSec`: the steady rate, the figure the targets apply to).
 */
export function sequential(ctx: WorkloadContext): Promise<Result> {
  return withEndpoint(ctx, async (endpoint) => {
    endpoint.onEvent(() => {});
    const count = ctx.params.sequential;
    const timed = async (first: number): Promise<number> => {
      const start = performance.now();
      for (let n = first; n < first + count; n++) await endpoint.publish(event(n));
      return count / ((performance.now() - start) / 1000);
    };
    const coldPerSec = await timed(0);
    const cpu = process.cpuUsage();
    const eventsPerSec = await timed(count);
    const used = process.cpuUsage(cpu);
    // CPU time of this process per event of the steady block: far steadier than the rate on a shared machine.
    return { eventsPerSec, coldPerSec, cpuMicrosPerEvent: (used.user + used.system) / count };
  });
}

/** Every publish started at once, then awaited; end-to-end until this process's own listener has them all. */
export function burst(ctx: WorkloadContext): Promise<Result> {
  return withEndpoint(ctx, async (endpoint) => {
    const count = ctx.params.burst;
    const tally = new Tally(count);
    endpoint.onEvent((e) => tally.add(e.n));
    let sampledPeak = rssMB();
    const baseRssMB = sampledPeak;
    const sampler = setInterval(() => (sampledPeak = Math.max(sampledPeak, rssMB())), 10);
    const start = now();
    try {
      await Promise.all(Array.from({ length: count }, (_, n) => endpoint.publish(event(n))));
      const published = now();
      const complete = await tally.all(60_000);
      return {
        publishPerSec: count / ((published - start) / 1000),
        e2ePerSec: complete ? count / ((tally.last - start) / 1000) : null,
        lost: count - tally.distinct,
        baseRssMB,
        peakRssMB: Math.max(sampledPeak, peakRssMB()),
      };
    } finally {
      clearInterval(sampler);
    }
  });
}

/** Calls `publishOne` `rate` times a second (1 ms timer ticks, catching up on what is due) until `shouldStop`. */
function paced(rate: number, publishOne: () => void, shouldStop: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const start = performance.now();
    let sent = 0;
    const tick = (): void => {
      if (shouldStop()) return resolve();
      const due = Math.floor(((performance.now() - start) * rate) / 1000);
      for (; sent < due && !shouldStop(); sent++) publishOne();
      setTimeout(tick, 1);
    };
    tick();
  });
}

/** A steady rate; latency from the publish call to the listener in the same process. */
export function latency(ctx: WorkloadContext): Promise<Result> {
  return withEndpoint(ctx, async (endpoint) => {
    const { latencyRate: rate, latencySeconds: seconds } = ctx.params;
    const total = Math.round(rate * seconds);
    const tally = new Tally(total);
    const latencies: number[] = [];
    endpoint.onEvent((e) => {
      latencies.push(now() - e.t);
      tally.add(e.n);
    });
    const confirms: Promise<void>[] = [];
    let n = 0;
    await paced(rate, () => confirms.push(endpoint.publish(event(n++))), () => n >= total);
    await Promise.all(confirms);
    const complete = await tally.all(30_000);
    latencies.sort((a, b) => a - b);
    return { p50Ms: percentile(latencies, 0.5), p99Ms: percentile(latencies, 0.99), maxMs: latencies.at(-1) ?? NaN, complete, lost: total - tally.distinct };
  });
}

type Phase = 'before' | 'outage' | 'after';
interface PhaseStats {
  started: number;
  confirmed: number;
  rejected: number;
  reasons: Record<string, number>;
  rejectMs: number[];
}

/** Publishes at a steady rate through a broker outage that the parent starts and ends; samples RSS throughout. */
export async function outage(ctx: WorkloadContext): Promise<Result> {
  const endpoint = await ctx.adapter.connect(ctx.connect);
  endpoint.onEvent(() => {});
  const stats: Record<Phase, PhaseStats> = {
    before: { started: 0, confirmed: 0, rejected: 0, reasons: {}, rejectMs: [] },
    outage: { started: 0, confirmed: 0, rejected: 0, reasons: {}, rejectMs: [] },
    after: { started: 0, confirmed: 0, rejected: 0, reasons: {}, rejectMs: [] },
  };
  let phase: Phase = 'before';
  let stop = false;
  let outageStart = 0;
  let outageEnd = 0;
  let recoveredAt = 0;
  const samples: { at: number; rss: number; phase: Phase }[] = [];
  const sampler = setInterval(() => samples.push({ at: performance.now(), rss: rssMB(), phase }), 250);
  const settled: Promise<void>[] = [];
  let n = 0;
  const publishOne = (): void => {
    const stat = stats[phase];
    const calledAt = performance.now();
    stat.started++;
    const publishing = endpoint.publish(event(n++)).then(
      () => {
        stat.confirmed++;
        if (stat === stats.after && !recoveredAt) recoveredAt = performance.now();
      },
      (error: unknown) => {
        stat.rejected++;
        stat.rejectMs.push(performance.now() - calledAt);
        const reason = error instanceof Error ? ((error as { code?: unknown }).code ?? error.message).toString().slice(0, 60) : String(error);
        stat.reasons[reason] = (stat.reasons[reason] ?? 0) + 1;
      },
    );
    if (phase !== 'before') settled.push(publishing);
  };
  const publishing = paced(ctx.params.outageRate, publishOne, () => stop);
  let rssBeforeMB: number, rssEndOutageMB: number, rssAfterMB: number, drained: boolean;
  let heapBeforeMB: number | null, heapMidMB: number | null = null, heapEndMB: number | null;
  let midway: NodeJS.Timeout | undefined;
  try {
    await ctx.send({ type: 'ready' });
    await ctx.receive('outage-start');
    rssBeforeMB = rssMB();
    heapBeforeMB = retainedHeapMB();
    outageStart = performance.now();
    phase = 'outage';
    midway = setTimeout(() => (heapMidMB = retainedHeapMB()), (ctx.params.outageSeconds * 1000) / 2);
    await ctx.receive('outage-end');
    rssEndOutageMB = rssMB();
    heapEndMB = retainedHeapMB();
    outageEnd = performance.now();
    phase = 'after';
    const deadline = outageEnd + ctx.params.recoverySeconds * 1000;
    while (!recoveredAt && performance.now() < deadline) await sleep(100);
    if (recoveredAt) await sleep(3000); // publish a little longer once back, so the backlog drains
    stop = true;
    await publishing;
    drained = await within(Promise.all(settled).then(() => true), ctx.params.recoverySeconds * 1000, false);
    rssAfterMB = rssMB();
  } finally {
    stop = true;
    clearInterval(sampler);
    clearTimeout(midway);
    await endpoint.close({ deleteExchange: true });
  }

  const during = samples.filter((s) => s.phase === 'outage');
  const mid = (outageStart + outageEnd) / 2;
  const rssMidOutageMB = during.find((s) => s.at >= mid)?.rss ?? rssBeforeMB;
  const summary = (s: PhaseStats): Record<string, number> => ({
    started: s.started,
    confirmed: s.confirmed,
    rejected: s.rejected,
    pending: s.started - s.confirmed - s.rejected,
    rejectP50Ms: s.rejectMs.length ? median(s.rejectMs) : NaN,
  });
  return {
    outageSeconds: (outageEnd - outageStart) / 1000,
    rssBeforeMB,
    rssMidOutageMB,
    rssEndOutageMB,
    rssPeakOutageMB: Math.max(rssBeforeMB, ...during.map((s) => s.rss)),
    rssAfterMB,
    growthMB: rssEndOutageMB - rssBeforeMB,
    secondHalfGrowthMB: rssEndOutageMB - rssMidOutageMB,
    heapBeforeMB,
    heapMidOutageMB: heapMidMB,
    heapEndOutageMB: heapEndMB,
    heapSecondHalfGrowthMB: heapMidMB !== null && heapEndMB !== null ? heapEndMB - heapMidMB : null,
    recovered: recoveredAt > 0,
    recoveryMs: recoveredAt ? recoveredAt - outageEnd : null,
    drained,
    beforeOutage: summary(stats.before),
    duringOutage: summary(stats.outage),
    outageReasons: stats.outage.reasons,
    afterOutage: summary(stats.after),
    afterReasons: stats.after.reasons,
  };
}

export const IN_PROCESS = { sequential, burst, latency, outage } as const;
export type InProcessWorkload = keyof typeof IN_PROCESS;

// ---- parent side ----

export interface ChildRun {
  result: Result;
  /** Every child exited by itself (closed all of its connections). */
  exitedAlone: boolean;
}

const WORKER = new URL('./worker.ts', import.meta.url).pathname;
const FANOUT_CHILD = new URL('./fanout-child.ts', import.meta.url).pathname;

export interface WorkerArgs {
  client: ClientName;
  workload: InProcessWorkload;
  connect: ConnectOptions;
  params: Params;
}

/** Node options of a child, by a label naming it (e.g. for its CPU profile). */
export type NodeOptions = (label: string) => string[];

/** Starts one in-process workload in a fresh child; returns the child so the caller may drive it (outage). */
export function startWorker(args: WorkerArgs, nodeOptions: NodeOptions): Child {
  return new Child(WORKER, args, nodeOptions(`${args.client}-${args.workload}`));
}

export async function finishWorker(child: Child, timeoutMs: number): Promise<ChildRun> {
  try {
    const { result } = await child.next('result', timeoutMs);
    return { result: result as Result, exitedAlone: await child.settle() };
  } catch (error) {
    await child.settle();
    throw error;
  }
}

export interface FanoutArgs {
  client: ClientName;
  role: 'listener' | 'publisher';
  connect: ConnectOptions;
  count: number;
  warmup: number;
}

/** Four (or `listeners`) listener processes and one publisher process: delivered events/s across all listeners. */
export async function fanout(client: ClientName, connect: ConnectOptions, params: Params, nodeOptions: NodeOptions): Promise<ChildRun> {
  const { fanout: count, warmup } = params;
  const listeners = Array.from({ length: params.listeners }, (_, i) =>
    new Child(FANOUT_CHILD, { client, role: 'listener', connect, count, warmup } satisfies FanoutArgs, nodeOptions(`${client}-fanout-listener${i}`)));
  const children = [...listeners];
  try {
    await Promise.all(listeners.map((child) => child.next('ready', 30_000)));
    const publisher = new Child(FANOUT_CHILD, { client, role: 'publisher', connect, count, warmup } satisfies FanoutArgs, nodeOptions(`${client}-fanout-publisher`));
    children.push(publisher);
    await publisher.next('ready', 30_000);
    publisher.send({ type: 'go' });
    const published = await publisher.next('published', 120_000);
    const done = await Promise.allSettled(listeners.map((child) => child.next('done', 60_000)));
    for (const child of listeners) child.send({ type: 'close' });
    const closed = await Promise.all(listeners.map((child) => child.next('closed', 30_000)));
    publisher.send({ type: 'close', deleteExchange: true });
    await publisher.next('closed', 30_000);
    const exited = await Promise.all(children.map((child) => child.settle()));
    const received = closed.reduce((sum, m) => sum + Number(m.distinct), 0);
    const lastAt = Math.max(...closed.map((m) => Number(m.last)));
    const start = Number(published.start);
    return {
      result: {
        deliveredPerSec: received / ((lastAt - start) / 1000),
        publishPerSec: count / ((Number(published.end) - start) / 1000),
        expected: count * params.listeners,
        received,
        lost: count * params.listeners - received,
        duplicates: closed.reduce((sum, m) => sum + Number(m.duplicates), 0),
        allListenersComplete: done.every((d) => d.status === 'fulfilled'),
      },
      exitedAlone: exited.every(Boolean),
    };
  } catch (error) {
    for (const child of children) child.send({ type: 'close', deleteExchange: true });
    await Promise.all(children.map((child) => child.settle()));
    throw error;
  }
}

export { Tally, event };
