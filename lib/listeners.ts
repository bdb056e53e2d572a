// Who listens to a logger, and calling them: the listeners of a level, the subscribers of every event and the
// listeners of the logger's own events ('ready', 'gap', 'disconnected', ...), each called in turn. One that throws
// or whose promise rejects is never a crash and never silence: it is counted, emitted as 'error' when the logger has
// an 'error' listener, and otherwise the first one is a process warning. Alike for a failure no retry cures (a
// refused login or permission) met while connecting in the background, when start() could no longer say it.
import type { EventEmitter } from 'node:events';
import createDebug from 'debug';
import { EventBusLoggerError, describeError } from './errors.js';
import type { EventHandler, LifecycleEvents } from './events.js';
import type { Stats } from './stats.js';
import type { Topology } from './topology.js';
import type { EventData, EventMeta } from './wire-format.js';
import { noop } from './noop.js';

const debug = createDebug('event-bus-logger:listeners');

type Listener = (...args: never[]) => unknown;
type Pending = Array<Promise<unknown>> | undefined;

/** The subclass hooks a logger overrides (the original task's style: handleInfo and handleCritical). */
export interface Hooks {
  /** handle() or dispatch(): every level goes through the subclass. */
  every: boolean;
  info: boolean;
  critical: boolean;
}

/** What the listeners need of their logger. */
export interface ListenersParts {
  /** The logger itself: its listeners are called on it. */
  emitter: EventEmitter;
  stats: Stats;
  /** The config read at start; undefined before. */
  topology: () => Topology | undefined;
  /** Something began or stopped listening to a level; `added`: the levels a listener was added to. */
  changed: (added?: readonly string[]) => void;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === 'function';
}

export class Listeners<L extends string> {
  readonly #parts: ListenersParts;
  readonly #subscribers = new Set<EventHandler<L>>();
  // Set once this logger has warned of a listener error nobody listened for: later ones are only counted.
  #warned = false;
  #refusedWarned = false;

  constructor(parts: ListenersParts) {
    this.#parts = parts;
    this.watch();
  }

  /**
   * Follows the level listeners as they come and go (the live queue binds a level once something listens to it).
   * Again after `removeAllListeners()`, which removes this watch too.
   */
  watch(): void {
    this.#parts.emitter.on('newListener', this.#onAdded);
    this.#parts.emitter.on('removeListener', this.#onRemoved);
  }

  readonly #onAdded = (event: string | symbol): void => {
    if (typeof event === 'string' && this.#parts.topology()?.listenLevels.includes(event)) this.#parts.changed([event]);
  };

  readonly #onRemoved = (event: string | symbol): void => {
    if (typeof event === 'string' && this.#parts.topology()?.listenLevels.includes(event)) this.#parts.changed();
  };

  /** Adds a handler of every event (`levels`: those it adds a listener to); returns the function that removes it. */
  subscribe(handler: EventHandler<L>, levels: readonly string[]): () => void {
    // A wrapper per call: subscribing the same function twice calls it twice, and each unsubscribe removes one.
    const entry: EventHandler<L> = (event) => handler(event);
    this.#subscribers.add(entry);
    this.#parts.changed(levels);
    return () => {
      if (this.#subscribers.delete(entry)) this.#parts.changed();
    };
  }

  /**
   * The levels something listens to now: a level listener, a subscriber, or a subclass that overrides a hook. With
   * `listen: true`, every level it may listen to.
   */
  wanted(hooks: Hooks): ReadonlySet<string> {
    const topology = this.#parts.topology();
    const levels = topology?.listenLevels ?? [];
    // levels: '*': a subscriber (or a hook for every level) also gets the levels this config does not name: `#`.
    if (topology?.listenAlways || this.#subscribers.size > 0 || hooks.every) return new Set(topology?.listenAny ? [...levels, '#'] : levels);
    const wanted = new Set<string>();
    for (const level of levels) {
      const hooked = (level === 'info' && hooks.info) || (level === 'critical' && hooks.critical);
      if (hooked || this.#parts.emitter.listenerCount(level) > 0) wanted.add(level);
    }
    return wanted;
  }

  /**
   * One received event: `handle` (the logger's hook: the level's listeners by default), then the subscribers.
   * Returns a promise that never rejects while any of them runs.
   */
  receive(level: L, data: EventData, meta: EventMeta<L>, handle: (level: L, data: EventData, meta: EventMeta<L>) => unknown): void | Promise<unknown> {
    let pending: Pending;
    // With levels: '*', an event of a level this config does not name goes to the subscribers only: its name may be
    // any routing key ('error', 'ready'...), never an event of this emitter.
    const topology = this.#parts.topology();
    if (!topology?.listenAny || topology.levels.includes(level)) pending = this.#call(level, handle, this.#parts.emitter, [level, data, meta], pending);
    if (this.#subscribers.size > 0) {
      for (const subscriber of this.#subscribers) pending = this.#call(level, subscriber, undefined, [{ level, data, meta }], pending);
    }
    if (pending) return Promise.all(pending);
  }

  /**
   * Calls each listener of `event` on the logger with `args`, in turn; one that throws or rejects is reported and
   * does not keep the others from running. Returns a promise, which never rejects, when a listener returned one.
   */
  emit(event: string, args: readonly unknown[]): void | Promise<void> {
    let pending: Pending;
    for (const listener of this.#parts.emitter.rawListeners(event) as Listener[]) pending = this.#call(event, listener, this.#parts.emitter, args, pending);
    if (pending) return Promise.all(pending).then(noop);
  }

  /** Emits one of the logger's own events; the parts of the logger call it rather than holding the emitter. */
  readonly report = <E extends keyof LifecycleEvents>(event: E, ...args: Parameters<LifecycleEvents[E]>): void => {
    void this.emit(event, args);
  };

  // Calls one listener: a throw is reported; a promise is followed (its rejection reported) and added to `pending`.
  #call(event: string, listener: Listener, self: unknown, args: readonly unknown[], pending: Pending): Pending {
    try {
      const result: unknown = Reflect.apply(listener, self, args);
      if (isPromiseLike(result)) (pending ??= []).push(Promise.resolve(result).catch((error: unknown) => this.failed(event, error, true)));
    } catch (error) {
      this.failed(event, error, false);
    }
    return pending;
  }

  /**
   * A listener of `event` (a level or a lifecycle event) failed: `rejected` when its promise rejected ("failed"),
   * else it threw ("threw"). An `'error'` listener's own failure is counted and warned of, never emitted as `'error'`
   * again.
   */
  failed(event: string, error: unknown, rejected: boolean): void {
    const { stats } = this.#parts;
    stats.listenerErrors++;
    const message = `A listener of "${event}" ${rejected ? 'failed' : 'threw'}: ${describeError(error)}`;
    stats.lastError = message;
    if (event !== 'error' && this.#hasErrorListener()) {
      this.report('error', new EventBusLoggerError('LISTENER', message, { cause: error }));
      return;
    }
    debug('%s', message);
    // The first one is a process warning (printed on standard error by default).
    if (!this.#warned) {
      this.#warned = true;
      process.emitWarning(`${message}. Later listener errors of this logger are counted in stats().listenerErrors, and emitted as 'error' when the logger has an 'error' listener.`, {
        type: 'EventBusLoggerWarning',
        code: 'EVENT_BUS_LOGGER_LISTENER',
      });
    }
  }

  /**
   * While connecting in the background, the broker refused this logger for good (a login, a vhost, a permission):
   * emitted as `'error'` when the logger has an `'error'` listener, else a process warning, once per logger. The
   * logger goes on trying, with the reconnect backoff: an operator may fix the broker's side.
   */
  refused(error: Error): void {
    this.#parts.stats.lastError = describeError(error);
    const message = `The event bus refused this logger: ${describeError(error)}; it goes on trying, and publishes wait in the outage buffer`;
    if (this.#hasErrorListener()) {
      this.report('error', error instanceof EventBusLoggerError ? error : new EventBusLoggerError('ACCESS', message, { cause: error }));
      return;
    }
    debug('%s', message);
    if (this.#refusedWarned) return;
    this.#refusedWarned = true;
    process.emitWarning(message, { type: 'EventBusLoggerWarning', code: 'EVENT_BUS_LOGGER_REFUSED' });
  }

  #hasErrorListener(): boolean {
    return this.#parts.emitter.listenerCount('error') > 0;
  }
}
