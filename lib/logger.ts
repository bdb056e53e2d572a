// EventBusLogger: a thin typed EventEmitter over Rascal. Publishes events to the bus with info()/critical()/
// publish() and re-emits every event of the bus as a typed event named by its level. It wires the rooms that do
// the work: the bus session (bus/), the publisher, the live queue and the delivery pipeline (consume/).
// Longer than 300 lines because most of it is the public API's documentation; the work is in the rooms it wires
// (a publish is made into a message in outgoing.ts and sent by publisher.ts).
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import createDebug from 'debug';
import { BusConnection, type OpenBus } from './bus/connection.js';
import { BusLink, exchangeNameIn, reconnectBackoff } from './bus/connect.js';
import { ensureExchange } from './bus/exchange.js';
import { BusSession } from './bus/session.js';
import { processBindGate } from './consume/bind-gate.js';
import { wireConsumers, type Consumers } from './consume/consumers.js';
import { readHistoryInfo, type HistoryInfo } from './consume/history-info.js';
import { readHistory, type HistoryOptions } from './consume/history-options.js';
import type { HistoryReader } from './consume/history-event.js';
import { EventBusLoggerError, accessError, describeError } from './errors.js';
import { within } from './deadline.js';
import { Listeners } from './listeners.js';
import { TypedEventEmitter, type EventBusLoggerEvents, type EventHandler } from './events.js';
import { DEFAULTS, planBus, type BusPlan, type EventBusLoggerOptions, type ResolvedOptions } from './options.js';
import { Outgoing, type OutgoingMessage } from './outgoing.js';
import { Publisher, refusedPublish } from './publisher.js';
import { Stats, type EventBusLoggerStats } from './stats.js';
import type { DefaultLevel, Topology } from './topology.js';
import { logData, type LogArguments } from './event-data.js';
import type { LevelMethods } from './level-methods.js';
import type { EventData, EventMeta } from './wire-format.js';
import { noop } from './noop.js';

const debug = createDebug('event-bus-logger:logger');

/** The levels of a logger type. */
export type LevelOf<T> = T extends EventBusLogger<infer L> ? L : never;

type State = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

/** What a started logger is made of. */
interface Parts {
  settings: ResolvedOptions;
  topology: Topology;
  bus: BusLink;
  publisher: Publisher;
  outgoing: Outgoing;
  session: BusSession;
  consumers: Consumers;
  exchange: string;
}

/**
 * A logger on a shared RabbitMQ event bus. Every logger connected to the same bus (`name`) receives the events of
 * the levels it listens to, published by any of them, on its own queue, and re-emits each as an event named by its
 * level. A logger that only publishes has no queue.
 *
 * Events (lib/events.ts has each payload's type and documentation):
 * - `<level>` `(data, meta)`: an event of that level, e.g. `'info'`, `'critical'`
 * - `'ready'` `({ queue, levels, url })`: connected and consuming: at start, after an outage at start (the broker
 *   could not be reached yet), and after every reconnect
 * - `'disconnected'` `({ reason, attempt, downtime })`: an outage begins: the connection was lost, or (by default) the
 *   broker could not be reached at start; the logger keeps trying. Never before a first `'ready'` otherwise
 * - `'reconnected'` `({ reason, attempt, downtime, url })`: back after losing a connection it had, with a fresh queue
 * - `'blocked'` `({ reason })` / `'unblocked'` `({ duration })`: the broker blocks publishing (a resource alarm)
 * - `'invalid'` `({ reason, content, routingKey, messageId, appId })`: undeliverable message, dropped
 * - `'gap'` `({ publisher, level, expected, received, missed })`: events of a publisher were missed; from a
 *   catch-up listener also `({ reason: 'retention', stream, from, to, missed })`: retention deleted them
 * - `'error'` `(error)`: a listener (of a level or of any event above) threw or failed, or the broker refused this
 *   logger for good while it connected in the background (only emitted when listened to)
 * - `'stopped'` `()`: stop() finished
 *
 * @example
 * const logger = await EventBusLogger.create({ url: 'amqp://guest:guest@localhost:5672', name: 'logger_metaclass' });
 * logger.on('critical', (data, meta) => console.error(meta.host, data));
 * await logger.info({ info: true });
 * await logger.stop();
 */
export class EventBusLogger<L extends string = DefaultLevel> extends TypedEventEmitter<EventBusLoggerEvents<L>> {
  /**
   * Creates a logger and starts it: resolves once it is connected and consuming, so a half-connected logger never
   * escapes. On a subclass it returns an instance of the subclass.
   * @example
   * await using logger = await EventBusLogger.create({ name: 'logger_metaclass' });
   */
  static create<L extends string = DefaultLevel>(this: typeof EventBusLogger, options?: EventBusLoggerOptions<L>): Promise<EventBusLogger<L> & LevelMethods<L>>;
  // A subclass gets its own type and levels. EventBusLogger itself, whose options the overload above refused, is
  // held to its default levels here (its generic constructor would otherwise make it an EventBusLogger<string>).
  static create<C extends new (options?: EventBusLoggerOptions<any>) => EventBusLogger<any>>(this: C, options?: EventBusLoggerOptions<C extends typeof EventBusLogger ? DefaultLevel : LevelOf<InstanceType<C>>>): Promise<InstanceType<C> & LevelMethods<LevelOf<InstanceType<C>>>>;
  static async create(this: new (options?: EventBusLoggerOptions<any>) => EventBusLogger<any>, options?: EventBusLoggerOptions<any>): Promise<EventBusLogger<any>> {
    const logger = new this(options);
    await logger.start();
    return logger;
  }

  readonly #options: EventBusLoggerOptions<L>;
  readonly #openBus: OpenBus;
  readonly #plan: BusPlan | undefined;
  readonly #instanceId = randomUUID();
  readonly #stats = new Stats();
  readonly #listeners: Listeners<L>;
  #state: State = 'new';
  #starting: Promise<void> | undefined;
  // Aborted by stop() during start(): cancels the tries to connect and the waits of the set-up.
  readonly #startAbort = new AbortController();
  // Set once start() stopped waiting for the first set-up (startTimeout, in the background): it may no longer fail.
  #startGaveUp = false;
  #stopping: Promise<void> | undefined;
  #parts: Partial<Parts> = {};

  /**
   * A logger that is not connected yet: call {@link start}. Prefer {@link EventBusLogger.create}.
   * @param openBus how to connect; unit specs pass a stub, everyone else leaves the default (Rascal).
   * @param plan the options and config already read by {@link planBus} (the CLI and the pino transport do).
   */
  constructor(options: EventBusLoggerOptions<L> = {}, openBus: OpenBus = BusConnection.open, plan?: BusPlan) {
    super();
    this.#options = options;
    this.#openBus = openBus;
    this.#plan = plan;
    this.#listeners = new Listeners<L>({
      emitter: this as unknown as EventEmitter,
      stats: this.#stats,
      topology: () => this.#parts.topology,
      changed: (added) => this.#listenersChanged(added),
    });
  }

  // Something began or stopped listening: bring the bindings in line. After a listener was added, the publishes of
  // this process wait for its bind, so the next event reaches it.
  // `added`: the levels a listener was added to (asked again if the broker refused them before).
  #listenersChanged(added?: readonly string[]): void {
    const { consumers, topology } = this.#parts;
    if (!consumers || topology?.listenAlways) return;
    const update = consumers.update(added);
    update.catch(noop);
    if (added && this.#state === 'running') processBindGate.hold(update, this.#parts.settings?.publishTimeout ?? DEFAULTS.publishTimeout);
  }

  // The levels something listens to now, with the hooks this logger's class overrides.
  readonly #wanted = (): ReadonlySet<string> => {
    const base = EventBusLogger.prototype;
    return this.#listeners.wanted({
      every: this.handle !== base.handle || this.dispatch !== base.dispatch,
      info: this.handleInfo !== base.handleInfo,
      critical: this.handleCritical !== base.handleCritical,
    });
  };

  /**
   * Removes listeners, as EventEmitter's does; the levels left without a listener are unbound.
   */
  override removeAllListeners<E extends keyof EventBusLoggerEvents<L>>(event?: E): this {
    const emitter = EventEmitter.prototype as unknown as { removeAllListeners(this: unknown, ...event: unknown[]): unknown };
    if (event === undefined) {
      emitter.removeAllListeners.call(this);
      // That removed this logger's own watch too.
      this.#listeners.watch();
      this.#listenersChanged();
    } else emitter.removeAllListeners.call(this, event);
    return this;
  }

  /**
   * Resolves once every bind asked for so far is done: a listener added after `create()` resolved is bound a round
   * trip later, and events other processes publish before that do not reach it (the publishes of this process wait
   * for the bind). During an outage it resolves once reconnected; before `start()`, at once (start binds). Rejects
   * with code `ACCESS` when the broker refused a bind asked for since the last call (the user may not bind that
   * level): the level is left unbound, the logger goes on with the others, and a listener added to it asks again.
   * @example
   * logger.on('critical', alert);
   * await logger.listening(); // from here on, every critical event of the bus reaches alert
   */
  async listening(): Promise<void> {
    if (this.#state === 'starting') await this.#starting?.catch(noop);
    if (this.#state !== 'running') return;
    await this.#parts.consumers?.listening();
  }

  // Stopping or stopped: publishes, history reads and new starts are refused.
  get #stopped(): boolean {
    return this.#state === 'stopping' || this.#state === 'stopped';
  }

  /** Every level configured on the bus (known after start). */
  get levels(): L[] {
    return [...(this.#parts.topology?.levels ?? [])] as L[];
  }

  /** The name of this logger's queue, while it has one (while something listens: see the `listen` option). */
  get queue(): string | undefined {
    const { session, consumers } = this.#parts;
    return session?.channels ? consumers?.queue : undefined;
  }

  /** True while connected and consuming. */
  get isReady(): boolean {
    return this.#state === 'running' && this.#parts.session?.isUp === true;
  }

  /**
   * Connects and, when something listens already (see the `listen` option), declares this logger's queue, binds it
   * once per level listened to and starts consuming. Calling it again while started does nothing.
   *
   * When the broker cannot be reached, by default (`failFast: false`) that is an outage, not an error: it resolves
   * once the first try failed (at the latest after `startTimeout`), emits `'disconnected'` with the reason, and keeps
   * trying in the background, with the reconnect backoff, until the broker answers (`'ready'`) or `stop()`.
   * Publishes wait in the outage buffer meanwhile; listeners receive once it is connected. With `failFast: true` it
   * rejects with code `CONNECT` instead (its message names the URL with the password masked).
   *
   * Either way it rejects at once with an `EventBusLoggerError` for what no retry cures: code `CONFIG` for bad
   * options or config, `ACCESS` when the broker refuses the login, a vhost or an operation (it names which), and
   * `CONNECT` for a TLS certificate that fails verification (it says why); `STOPPED` when `stop()` was called first.
   */
  start(): Promise<void> {
    if (this.#state === 'running') return Promise.resolve();
    if (this.#stopped) {
      return Promise.reject(new EventBusLoggerError('STOPPED', 'This logger was stopped; create a new one to start again'));
    }
    if (!this.#starting) {
      this.#state = 'starting';
      this.#starting = this.#start(this.#startAbort.signal).catch(async (error: unknown) => {
        this.#state = 'stopped';
        const failure = this.#startAbort.signal.aborted ? new EventBusLoggerError('STOPPED', 'The logger was stopped before it started') : startError(error, this.#parts.bus?.url);
        this.#parts.publisher?.close(new EventBusLoggerError('STOPPED', `The logger failed to start: ${describeError(failure)}`));
        // Bounded as stop() is: a broker that stopped answering mid-start does not hold the rejection up.
        const { session, bus, settings } = this.#parts;
        const timeout = Math.max(settings?.stopTimeout ?? DEFAULTS.stopTimeout, 1000);
        await (session ? session.close(timeout) : bus?.close(timeout));
        throw failure;
      });
      this.#starting.catch(noop);
    }
    return this.#starting;
  }

  async #start(signal: AbortSignal): Promise<void> {
    const started = performance.now();
    const { settings, topology } = this.#plan ?? (await planBus(this.#options));
    signal.throwIfAborted();
    this.#addLevelMethods(topology.levels);
    this.#stats.levels(topology.levels);
    const bus = new BusLink({
      open: this.#openBus,
      config: topology.rascalConfig,
      vhost: topology.vhost,
      loggableUrls: topology.loggableUrls,
      exchangeName: exchangeNameIn(topology.rascalConfig, topology.vhost),
      startTimeout: settings.startTimeout,
      waitForBroker: settings.waitForBroker,
      failFast: settings.failFast,
      retry: reconnectBackoff(topology.rascalConfig),
    });
    bus.on('refused', (error) => this.#listeners.refused(error));
    const exchange = bus.exchangeName(topology.exchange);
    const report = this.#listeners.report;
    const stats = this.#stats;
    const publisher = new Publisher({ exchange, publishTimeout: settings.publishTimeout, bufferMaxEvents: settings.bufferMaxEvents, bufferMaxBytes: settings.bufferMaxBytes, bufferMaxWait: settings.bufferMaxWait });
    const session = new BusSession({ bus, publisher, stats, report, onReopened: () => this.#ready(), onRefused: (error) => this.#listeners.refused(error) });
    session.addSetup(({ channels }) => ensureExchange(channels.consumer, exchange, topology.exchangeOptions, topology.vhost, bus.checksExchange !== true));
    const handle = (level: string, data: EventData, meta: EventMeta<string>): void | Promise<unknown> => this.#listeners.receive(level as L, data, meta as EventMeta<L>, this.handle);
    const consumers = wireConsumers({ bus, session, exchange, topology, settings, instanceId: this.#instanceId, stats, report, handle, wanted: this.#wanted });
    const outgoing = new Outgoing(topology.levels, settings);
    this.#parts = { settings, topology, bus, publisher, outgoing, session, consumers, exchange };
    const left = (): number => settings.startTimeout - (performance.now() - started);
    // startTimeout bounds the whole start: a broker that accepted the connection and then stopped answering (a link
    // that froze) fails it too (fail-fast), or leaves it to the background, instead of leaving create() pending until
    // the connection's heartbeat gives up.
    const setupTimedOut = (): EventBusLoggerError =>
      new EventBusLoggerError('CONNECT', `Connected to the event bus at ${bus.url}, but setting up this logger (channels, exchange, queue) did not finish within startTimeout (${settings.startTimeout} ms): the broker stopped answering`);
    if (settings.failFast) {
      await bus.start(signal);
      const opening = session.open();
      opening.catch(noop);
      await within(opening, left(), setupTimedOut, signal);
    } else {
      // The first try, bounded by startTimeout; then the set-up, in what is left of it. Past startTimeout the start
      // resolves and both go on in the background.
      const gaveUp = (): EventBusLoggerError => {
        this.#startGaveUp = true;
        return setupTimedOut();
      };
      const connecting = bus.start(signal, () => !this.#startGaveUp);
      connecting.catch(noop);
      const first = await within(connecting, left(), gaveUp, signal).catch((error: unknown) => {
        if (!this.#startGaveUp) throw error;
      });
      debug('first try to connect: %s', first ?? 'no answer within startTimeout');
      const opening = session.open(true, () => !this.#startGaveUp);
      opening.catch(noop);
      await within(opening, this.#startGaveUp ? 0 : left(), gaveUp, signal).catch((error: unknown) => {
        if (!this.#startGaveUp) throw error;
      });
    }
    this.#state = 'running';
    if (session.isUp) this.#ready();
  }

  #ready(): void {
    const { session, topology, bus } = this.#parts;
    if (!session?.channels || !topology || !bus) return;
    const levels = this.#parts.consumers?.levels ?? [];
    debug('ready: queue %s, levels %o', this.queue, levels);
    this.#listeners.report('ready', { queue: this.queue, levels, url: bus.url });
  }

  /**
   * Publishes an event of `level` to the bus. Takes what pino's methods take (see {@link LogArguments}):
   * `(data)`; `(data, message)`, sent as `{ ...data, msg: message }`; `(message)`, sent as `{ msg: message }`;
   * `(error, message?)`, sent as `{ err: error, msg: message ?? error.message }`. Resolves once the broker has
   * confirmed it; rejects with a TypeError for an unknown level, another form of arguments, or data that is not a
   * plain object (or holds a Map, a Set, a cycle or a BigInt; an Error in it is sent as its name, message, stack,
   * cause and own fields), a RangeError for data over `maxMessageBytes`, or an `EventBusLoggerError`
   * (`PUBLISH_TIMEOUT`, `BUFFER_FULL`, `BUFFER_TIMEOUT`, `STOPPED`, `NACKED`, `UNROUTABLE`, `NOT_STARTED`). The promise never
   * becomes an unhandled rejection if nobody awaits it.
   */
  publish(level: L, ...args: LogArguments): Promise<void>;
  publish(level: L, data: unknown, message?: unknown): Promise<void> {
    return this.#publish(level, data, message, arguments.length - 1);
  }

  /**
   * Publishes an `info` event; see {@link publish} for the forms it takes. Compiles only on a logger that has the
   * level `info`.
   * @example
   * await logger.info({ user: 'ann' }, 'signed in');
   */
  info(...args: 'info' extends L ? LogArguments : never): Promise<void>;
  info(data: unknown, message?: unknown): Promise<void> {
    return this.#publish('info', data, message, arguments.length);
  }

  /**
   * Publishes a `critical` event; see {@link publish} for the forms it takes. Compiles only on a logger that has
   * the level `critical`.
   * @example
   * await logger.critical(error, 'payment failed');
   */
  critical(...args: 'critical' extends L ? LogArguments : never): Promise<void>;
  critical(data: unknown, message?: unknown): Promise<void> {
    return this.#publish('critical', data, message, arguments.length);
  }

  // Gives each configured level that has no method yet (info and critical have theirs) its own, on this instance:
  // `logger.warning(...)`. A subclass's own member of that name is left as it is; the config check refuses a level
  // named like one of this class's members (lib/level-methods.ts).
  #addLevelMethods(levels: readonly string[]): void {
    for (const level of levels) {
      if (level in this) continue;
      const method = function (this: EventBusLogger<L>, data: unknown, message?: unknown): Promise<void> {
        return this.#publish(level, data, message, arguments.length);
      };
      Object.defineProperty(this, level, { value: method, writable: true, configurable: true, enumerable: false });
    }
  }

  // The publish front door: every publish method comes here with its arguments after the level, and how many.
  #publish(level: string, data: unknown, text: unknown, count: number): Promise<void> {
    const { publisher, outgoing } = this.#parts;
    if (this.#stopped) {
      return refusedPublish(new EventBusLoggerError('STOPPED', `Event not sent: the logger is ${this.#state === 'stopping' ? 'stopping' : 'stopped'}`));
    }
    if (this.#state !== 'running' || !publisher || !outgoing) {
      return refusedPublish(new EventBusLoggerError('NOT_STARTED', 'Event not sent: the logger is not started; await logger.start() or use EventBusLogger.create()'));
    }
    let message: OutgoingMessage;
    try {
      message = outgoing.message(level, logData(data, text, count));
    } catch (error) {
      return refusedPublish(error);
    }
    // A bind asked for by a new listener in this process is in flight: the event waits for it, so that listener
    // gets it.
    if (processBindGate.holding) return processBindGate.after(() => publisher.publish(level, message.body, message.properties));
    // The publisher's promise is marked handled when it rejects (not here: a second promise per event).
    return publisher.publish(level, message.body, message.properties);
  }

  /**
   * Calls `handler` with every event this logger receives, whatever its level, after the level's listeners; returns
   * the function that unsubscribes it. Like a listener, it may return a promise (the event is acked once it
   * settles) and a throw or rejection is reported as `'error'`.
   * @example
   * const unsubscribe = logger.subscribe(({ level, data, meta }) => console.log(meta.timestamp, level, data));
   */
  subscribe(handler: EventHandler<L>): () => void {
    if (typeof handler !== 'function') throw new TypeError(`Expected the handler to be a function, got ${typeof handler}`);
    return this.#listeners.subscribe(handler, this.levels);
  }

  /**
   * Called for every event received. The default calls {@link handleInfo} or {@link handleCritical} for those
   * levels and emits the level's event for the others. Override it to handle every level in one place.
   */
  protected handle(level: L, data: EventData, meta: EventMeta<L>): void | Promise<void> {
    if (level === 'info') return this.handleInfo(data, meta);
    if (level === 'critical') return this.handleCritical(data, meta);
    return this.dispatch(level, data, meta);
  }

  /** Called for every `info` event (the original task's `handle_info`). The default emits `'info'`. */
  protected handleInfo(data: EventData, meta: EventMeta<L>): void | Promise<void> {
    return this.dispatch(meta.level, data, meta);
  }

  /** Called for every `critical` event (the original task's `handle_critical`). The default emits `'critical'`. */
  protected handleCritical(data: EventData, meta: EventMeta<L>): void | Promise<void> {
    return this.dispatch(meta.level, data, meta);
  }

  /**
   * Emits the level's event: calls each listener in turn; one that throws or rejects is reported and does not
   * keep the others from running. Returns a promise when a listener returned one.
   */
  protected dispatch(level: L, data: EventData, meta: EventMeta<L>): void | Promise<void> {
    return this.#listeners.emit(level, [data, meta]);
  }

  /**
   * Stops consuming, waits up to `stopTimeout` for in-flight publishes and running listeners, then closes the
   * connection; the queue goes with it. Publishes still unconfirmed then reject with code `STOPPED`, and so does
   * every later publish. Idempotent: calling it again returns the same promise. Always resolves, within
   * `stopTimeout` plus about a second: a connection the broker does not close in that time (a link that stopped
   * carrying bytes) is dropped, and `stats().lastError` then says so.
   */
  stop(): Promise<void> {
    if (this.#state === 'new') {
      this.#state = 'stopped';
      return Promise.resolve();
    }
    if (!this.#stopping) {
      this.#stopping = this.#stop();
      this.#stopping.catch(noop);
    }
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    if (this.#state === 'starting') {
      // Cancels the tries to connect and the set-up: the start rejects with STOPPED and closes what it opened.
      this.#startAbort.abort(new EventBusLoggerError('STOPPED', 'The logger was stopped before it started'));
      await this.#starting?.catch(noop);
    }
    if (this.#state === 'stopped') {
      this.#listeners.report('stopped');
      return;
    }
    this.#state = 'stopping';
    const { settings, session, consumers, publisher, bus } = this.#parts;
    session?.closing();
    // What a catch-up listener read ahead and has not delivered stays in the stream.
    consumers?.close();
    const timeout = settings?.stopTimeout ?? DEFAULTS.stopTimeout;
    const deadline = performance.now() + timeout;
    const left = (): number => Math.max(0, deadline - performance.now());
    const channels = session?.channels;
    if (channels && consumers && bus?.isUp) await consumers.stop(channels.consumer, left());
    if (publisher && !(await publisher.idle(left()))) debug('stop: publishes still unconfirmed after stopTimeout');
    await consumers?.delivery.settled(left());
    publisher?.close(new EventBusLoggerError('STOPPED', `Event not confirmed: the logger stopped (stopTimeout ${timeout} ms) before the broker confirmed it`));
    // stopTimeout bounds the close too: a broker that does not answer it (a link that stopped carrying bytes) gets
    // what is left of stopTimeout, at least a second, then the socket is destroyed.
    const dropped = await session?.close(Math.max(deadline - performance.now(), 1000));
    if (dropped) this.#stats.lastError = dropped;
    this.#state = 'stopped';
    this.#listeners.report('stopped');
  }

  /**
   * Reads the bus's history: the events its history stream holds from `since`, up to its last offset when the call
   * began, then ends. Works on any started logger whose config has history (`listen: false` included). Each event
   * comes once (duplicates by publisher and sequence are dropped), in the stream's order, with `meta.offset`.
   * Breaking out of the loop releases its consumer. A lost connection is waited for (up to `resumeTimeout`) and
   * the read goes on after the last event read; past that the loop throws `CONNECT`, naming the offset to read
   * again from. `where` and `grep` search the events: the reader filters them (RabbitMQ 3.10 has no server-side
   * stream filter), and `progress` says how far it is (offset, end, scanned, matched).
   * Throws a `TypeError` for a malformed `since`/`until`/`levels`/`where`/`grep`/`resumeTimeout`, an
   * `EventBusLoggerError` `CONFIG` when the config has no history, `NOT_STARTED`/`STOPPED` when not running.
   * @example
   * for await (const { level, data, meta } of logger.history({ since: '1h', levels: ['critical'] })) console.log(meta.offset, level, data);
   */
  history(options: HistoryOptions<L>): HistoryReader<L> {
    const { bus, topology, settings } = this.#parts;
    if (this.#stopped) throw new EventBusLoggerError('STOPPED', 'Cannot read history: the logger is stopped');
    if (this.#state !== 'running' || !bus || !topology || !settings) throw new EventBusLoggerError('NOT_STARTED', 'Cannot read history: the logger is not started; await logger.start() or use EventBusLogger.create()');
    return readHistory<L>(options, { bus, topology, settings, stopping: () => this.#stopped });
  }

  /**
   * What the bus's history stream holds: its first and last offsets and when they were published, and the retention
   * its config declares, so a reader knows how far back `since` can go. Rejects with `CONFIG` when the config has no
   * history, `NOT_STARTED`/`STOPPED` when not running.
   */
  async historyInfo(): Promise<HistoryInfo> {
    const { bus, topology, settings } = this.#parts;
    if (this.#stopped) throw new EventBusLoggerError('STOPPED', 'Cannot read the history stream: the logger is stopped');
    if (this.#state !== 'running' || !bus || !topology || !settings) throw new EventBusLoggerError('NOT_STARTED', 'Cannot read the history stream: the logger is not started; await logger.start() or use EventBusLogger.create()');
    return readHistoryInfo(bus, topology, settings.startTimeout);
  }

  /** Stops the logger at the end of an `await using` block. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** Counters since start; see {@link EventBusLoggerStats}. */
  stats(): EventBusLoggerStats {
    const { publisher, bus } = this.#parts;
    const snapshot = this.#stats.snapshot(publisher?.counters, publisher?.buffered ?? 0, this.isReady);
    snapshot.lastError ??= bus?.lastError;
    // While Rascal reconnects, its latest failure says why better than the loss that began the outage.
    if (this.#state === 'running' && bus && !bus.isUp && bus.lastError) snapshot.lastError = bus.lastError;
    return snapshot;
  }
}

/**
 * What start() rejects with: an `EventBusLoggerError`, or the `TypeError` of a malformed option (bad input, as the
 * README documents it: `history.since`). A refusal by the broker's access control is `ACCESS`; any other untyped
 * failure (the connection lost during the set-up, a broker error) is `CONNECT`, saying so.
 */
function startError(error: unknown, url: string | undefined): EventBusLoggerError | TypeError {
  if (error instanceof EventBusLoggerError || error instanceof TypeError) return error;
  return accessError(error) ?? new EventBusLoggerError('CONNECT', `Cannot start the event bus logger${url ? ` at ${url}` : ''}: ${describeError(error)}`);
}
