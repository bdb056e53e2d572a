// Connecting to the broker at start, and the Bus the logger holds from then on. By default a broker that cannot be
// reached is an outage, not an error: start() goes on, and the link keeps trying in the background, with the
// reconnect backoff, until the broker answers or the logger stops. With `failFast` the first failed try (or, with
// `waitForBroker`, `startTimeout`) fails the start. A failure that no try would cure (isPermanent: a refused login,
// vhost or permission, a certificate that fails verification) fails the start at once either way.
import createDebug from 'debug';
import { EventBusLoggerError, describeError } from '../errors.js';
import { TypedEventEmitter } from '../events.js';
import { pause, within } from '../deadline.js';
import type { AmqpChannel, AmqpConfirmChannel } from '../rascal.js';
import { Backoff } from './backoff.js';
import { connectFailure, isPermanent } from './connect-failures.js';
import type { Bus, BusConnectionEvents, OpenBus } from './connection.js';

const debug = createDebug('event-bus-logger:connect');

export interface ConnectPlan {
  open: OpenBus;
  config: unknown;
  vhost: string;
  /** The broker URLs with their passwords masked, for messages. */
  loggableUrls: string[];
  /** The exchange's name on the broker, for `exchangeName()` before the first connection. */
  exchangeName: (key: string) => string;
  startTimeout: number;
  waitForBroker: boolean;
  failFast: boolean;
  /** The delays between tries in the background: the config's reconnect backoff. */
  retry: { min: number; max: number };
}

/** The events of a {@link BusLink}: its connection's, and a permanent failure met in the background. */
export type BusLinkEvents = BusConnectionEvents & {
  /** A try in the background failed for a reason no further try will cure (the link goes on trying, slowly). */
  refused: (error: EventBusLoggerError) => void;
};

/** What {@link BusLink.start} resolves with: connected, or trying again in the background. */
export type StartOutcome = 'connected' | 'connecting';

/**
 * The logger's Bus: the connection once there is one, and until then a bus that is down (`lastError` says why),
 * whose `channel()` waits for it. Emits the connection's events, and `'up'` when the first connection comes in the
 * background.
 */
export class BusLink extends TypedEventEmitter<BusLinkEvents> implements Bus {
  readonly #plan: ConnectPlan;
  readonly #abort = new AbortController();
  #bus: Bus | undefined;
  #lastError: string | undefined;
  #connected: Promise<Bus>;
  #resolveConnected!: (bus: Bus) => void;
  #rejectConnected!: (error: unknown) => void;

  constructor(plan: ConnectPlan) {
    super();
    this.#plan = plan;
    this.#connected = new Promise<Bus>((resolve, reject) => {
      this.#resolveConnected = resolve;
      this.#rejectConnected = reject;
    });
    this.#connected.catch(() => undefined);
  }

  /**
   * Connects. Fail-fast: resolves `'connected'` or rejects with `CONNECT` (or a permanent failure's code).
   * Otherwise resolves `'connected'`, or `'connecting'` once the first try failed for a passing reason (the tries
   * go on in the background; `lastError` says why it failed); rejects only for a permanent failure of the first try.
   * `signal` (the logger stopping) cancels the tries, their pauses included, and rejects with its reason.
   * `mayReject()` false (the caller stopped waiting): a permanent failure of the first try is only reported then.
   */
  start(signal: AbortSignal, mayReject: () => boolean = () => true): Promise<StartOutcome> {
    const abort = (): void => this.#abort.abort(signal.reason);
    if (signal.aborted) abort();
    else signal.addEventListener('abort', abort, { once: true });
    return new Promise<StartOutcome>((resolve, reject) => {
      this.#loop(resolve, mayReject).catch((error: unknown) => {
        this.#rejectConnected(error);
        reject(error);
      });
    });
  }

  async #loop(resolve: (outcome: StartOutcome) => void, mayReject: () => boolean): Promise<void> {
    const plan = this.#plan;
    const signal = this.#abort.signal;
    const started = performance.now();
    const waiting = plan.failFast && plan.waitForBroker;
    // waitForBroker tries often, within startTimeout; the background, with the reconnect backoff, for ever.
    const backoff = plan.failFast ? new Backoff(100, 2000) : new Backoff(plan.retry.min, plan.retry.max);
    let delay = backoff.next();
    let starting = true;
    let refusedReported = false;
    for (let attempt = 1; ; attempt++) {
      const remaining = plan.startTimeout - (performance.now() - started);
      const attemptTimeout = starting && plan.failFast ? remaining : plan.startTimeout;
      const opening = plan.open(plan.config, plan.vhost, plan.loggableUrls, { attemptTimeout, signal });
      // An injected OpenBus may ignore the signal: a bus it opens after the cancel is closed here.
      opening.then((late) => (late !== this.#bus && signal.aborted ? late.close(1000) : undefined)).catch(() => undefined);
      try {
        const bus = await within(opening, Infinity, () => new Error('unreachable'), signal);
        debug('connected (attempt %d)', attempt);
        this.#attach(bus);
        // Whoever stopped waiting for start() (or was told 'connecting') hears of the connection as a reconnect.
        if (starting && mayReject()) resolve('connected');
        else this.emit('up');
        return;
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        const elapsed = performance.now() - started;
        if (isPermanent(error)) {
          if (starting && mayReject()) throw error;
          this.#lastError = describeError(error);
          if (!refusedReported) this.emit('refused', error as EventBusLoggerError);
          refusedReported = true;
        } else {
          const reason = connectFailure(error, plan.loggableUrls.length);
          const where = plan.loggableUrls.join(', ');
          this.#lastError = `Cannot connect to the event bus at ${where}: ${reason}`;
          refusedReported = false;
          if (starting && plan.failFast && (!waiting || elapsed + delay >= plan.startTimeout)) {
            throw new EventBusLoggerError('CONNECT', `Cannot connect to the event bus at ${where} (${attempt} attempt${attempt > 1 ? 's' : ''} in ${Math.round(elapsed)} ms): ${reason}`);
          }
        }
        debug('connect attempt %d failed: %s', attempt, this.#lastError);
        if (starting && !plan.failFast) {
          starting = false;
          resolve('connecting');
        }
        await pause(delay, signal);
        delay = backoff.next();
      }
    }
  }

  #attach(bus: Bus): void {
    this.#bus = bus;
    this.#lastError = undefined;
    for (const event of ['down', 'up', 'blocked', 'unblocked'] as const) {
      bus.on(event, (...args: unknown[]) => (this.emit as (event: string, ...rest: unknown[]) => boolean)(event, ...args));
    }
    this.#resolveConnected(bus);
  }

  /** True while connected. */
  get isUp(): boolean {
    return this.#bus?.isUp === true;
  }

  /** The broker URL in use (before the first connection, the first one configured), password masked. */
  get url(): string {
    return this.#bus?.url ?? this.#plan.loggableUrls[0] ?? '';
  }

  get lastError(): string | undefined {
    return this.#bus ? this.#bus.lastError : this.#lastError;
  }

  get checksExchange(): boolean | undefined {
    return this.#bus?.checksExchange;
  }

  exchangeName(key: string): string {
    return this.#bus ? this.#bus.exchangeName(key) : this.#plan.exchangeName(key);
  }

  /** A channel; before the first connection, waits for it (rejects if the link is closed first). */
  async channel(): Promise<AmqpChannel> {
    return (this.#bus ?? (await this.#connected)).channel();
  }

  async confirmChannel(): Promise<AmqpConfirmChannel> {
    return (this.#bus ?? (await this.#connected)).confirmChannel();
  }

  /** Stops trying and closes the connection, if there is one (see {@link Bus.close}). */
  async close(timeout?: number): Promise<string | void> {
    if (!this.#abort.signal.aborted) this.#abort.abort(new EventBusLoggerError('STOPPED', 'The logger stopped before it connected'));
    this.#rejectConnected(this.#abort.signal.reason);
    return this.#bus?.close(timeout);
  }
}

type VhostConfig = { namespace?: unknown };
type RascalConfigShape = { vhosts?: Record<string, VhostConfig>; defaults?: { vhosts?: { connection?: { retry?: unknown } } } };

/**
 * The name Rascal gives an exchange of `vhost` on the broker, read from the config as Rascal does: the key, after the
 * vhost's namespace when it has one (a `namespace: true`, which Rascal draws anew for each connection, is not known
 * before one: the key is used until then).
 */
export function exchangeNameIn(config: unknown, vhost: string): (key: string) => string {
  const namespace = (config as RascalConfigShape).vhosts?.[vhost]?.namespace;
  return (key) => (typeof namespace === 'string' && namespace !== '' ? `${namespace}:${key}` : key);
}

/**
 * The reconnect backoff: the config's `defaults.vhosts.connection.retry` (its `min` and `max`, or a linear `delay`, in
 * ms; Rascal reads it there, not in a connection), else Rascal's own (1 s doubling up to 60 s). The background
 * connect at start waits between tries as a reconnect does.
 */
export function reconnectBackoff(config: unknown): { min: number; max: number } {
  const retry = (config as RascalConfigShape).defaults?.vhosts?.connection?.retry as { min?: unknown; max?: unknown; delay?: unknown } | undefined;
  const number = (value: unknown): number | undefined => (typeof value === 'number' && value > 0 ? value : undefined);
  const min = number(retry?.delay) ?? number(retry?.min) ?? 1000;
  return { min, max: Math.max(min, number(retry?.delay) ?? number(retry?.max) ?? 60_000) };
}
