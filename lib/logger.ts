// EventBusLogger: a thin typed EventEmitter over Rascal. Publishes events to the bus with info()/critical()/
// publish() and re-emits every event of the bus as a typed event named by its level.
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import createDebug from 'debug';
import type * as TypedEmitter from 'typed-emitter';
import { DEFAULTS, LIFECYCLE_EVENTS, loadTopology, resolveOptions, type DefaultLevel, type EventBusLoggerOptions, type ResolvedOptions, type Topology } from './config.js';
import { Acks } from './acks.js';
import { EventBusLoggerError, describeError } from './errors.js';
import { Publisher } from './publisher.js';
import type { AmqpChannel, AmqpConfirmChannel, AmqpMessage } from './rascal.js';
import { BusConnection, type Bus, type OpenBus } from './recovery.js';
import { decodeMessage, encodeData, publishProperties, type EventData, type EventMeta } from './wire-format.js';

const debug = createDebug('event-bus-logger:logger');

/** A listener of one level. It may return a promise; a rejection is reported like a throw. */
export type LevelListener<L extends string = string> = (data: EventData, meta: EventMeta<L>) => unknown;

/** Payload of `'ready'`. */
export type ReadyInfo = { queue: string | undefined; levels: string[]; url: string };
/**
 * Payload of `'disconnected'`, emitted once per outage, when it begins: `attempt` and `downtime` are then always 0.
 * How many attempts the outage took and how long it lasted come with `'reconnected'`.
 */
export type DisconnectedInfo = { reason: string; attempt: number; downtime: number };
/** Payload of `'reconnected'`: `attempt` counts the tries to open a fresh queue and consumer; `downtime` is in ms. */
export type ReconnectedInfo = { reason: string; attempt: number; downtime: number; url: string };
/** Payload of `'blocked'`: the broker's reason, e.g. "low on memory" or "low on disk". */
export type BlockedInfo = { reason: string };
/** Payload of `'unblocked'`: how long publishing was blocked, in ms. */
export type UnblockedInfo = { duration: number };
/** Payload of `'invalid'`: a message on the bus that is not an event this logger can deliver. */
export type InvalidInfo = { reason: string; content: Buffer; routingKey: string; messageId: string | undefined; appId: string | undefined };
/** Payload of `'gap'`: events of one publisher and level that never reached this logger. */
export type GapInfo = { publisher: string; level: string; expected: number; received: number; missed: number };

/** The logger's own events, beside one event per level. */
export type LifecycleEvents = {
  /** Consuming: at start, and again after every reconnect. */
  ready: (info: ReadyInfo) => void;
  /** The connection or a channel was lost; the logger is reconnecting and buffering publishes. */
  disconnected: (info: DisconnectedInfo) => void;
  /** Back after an outage: a new queue is bound and consuming, buffered publishes are going out. */
  reconnected: (info: ReconnectedInfo) => void;
  /**
   * The broker blocks publishing on the connection (its memory or disk alarm): publishes wait in the outage buffer,
   * bounded and timed out as during an outage, until `'unblocked'` (or, if the connection is lost first, until
   * the reconnect: a new connection starts unblocked).
   */
  blocked: (info: BlockedInfo) => void;
  /** The broker accepts publishes again: what waited goes out, in order. */
  unblocked: (info: UnblockedInfo) => void;
  /** A message that could not be delivered (bad JSON, too large, unknown level...). It was acked and dropped. */
  invalid: (info: InvalidInfo) => void;
  /** A publisher's sequence jumped: `missed` events of that publisher and level were not received. */
  gap: (info: GapInfo) => void;
  /** A listener threw or rejected. Emitted only when an 'error' listener exists; else the first is a process warning. */
  error: (error: Error) => void;
  /** stop() finished. */
  stopped: () => void;
};

// A level named like a lifecycle event would shadow it: config.ts rejects those names. This fails to compile when an
// event is added here and not there.
type UnreservedEvent = Exclude<keyof LifecycleEvents, (typeof LIFECYCLE_EVENTS)[number]>;
const everyEventReserved: [UnreservedEvent] extends [never] ? true : UnreservedEvent = true;
void everyEventReserved;

/** Every event of a logger listening to levels `L`. */
export type EventBusLoggerEvents<L extends string> = LifecycleEvents & { [K in L]: LevelListener<K> };

/** Counters of {@link EventBusLogger.stats}. */
export interface EventBusLoggerStats {
  /** publish() calls that passed validation. */
  published: number;
  /** Publishes the broker confirmed. */
  confirmed: number;
  /** Publishes that rejected (timeout, buffer full, nacked, unroutable, stopped). */
  rejected: number;
  /** Events waiting for a connection now. */
  buffered: number;
  /** Publishes rejected because the outage buffer was full. */
  dropped: number;
  /** Events sent again after a connection loss hid their confirm. */
  republished: number;
  /** Events delivered to listeners, per level. */
  received: Record<string, number>;
  /** Messages reported as 'invalid'. */
  invalid: number;
  /** Events dropped as duplicates of ones already delivered (same publisher, level and sequence). */
  duplicates: number;
  /** Events reported missing through 'gap'. */
  missed: number;
  /** Listener throws and rejections. */
  listenerErrors: number;
  /** Completed reconnects. */
  reconnects: number;
  /** Times the broker blocked publishing (resource alarms). */
  blocks: number;
  /** The last transport or listener error, credentials masked. */
  lastError: string | undefined;
}

/** The levels of a logger type. */
export type LevelOf<T> = T extends EventBusLogger<infer L> ? L : never;

type State = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

interface Channels {
  consumer: AmqpChannel;
  confirm: AmqpConfirmChannel;
  /** Undefined for a logger with `listen: false`. */
  queue: string | undefined;
  onLost: () => void;
}

// typed-emitter is types only: the class extends Node's EventEmitter typed with the event map.
const TypedEventEmitter = EventEmitter as unknown as new <E extends TypedEmitter.EventMap>() => TypedEmitter.default<E>;

const noop = (): void => undefined;
const MAX_TRACKED_PUBLISHERS = 10_000;

// Closes channels we are done with, without reacting to their 'close' and whether or not they are still open.
function closeQuietly({ consumer, confirm, onLost }: Pick<Channels, 'consumer' | 'confirm' | 'onLost'>): void {
  for (const channel of [consumer, confirm]) {
    channel.removeListener('close', onLost);
    channel.on('error', noop);
    try {
      channel.close(noop);
    } catch {
      // Already closed with its connection.
    }
  }
}

// Runs one amqplib callback-API operation as a promise.
function call<T>(operation: (callback: (error: Error | null, result: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => operation((error, result) => (error ? reject(error) : resolve(result))));
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === 'function';
}

/**
 * A logger on a shared RabbitMQ event bus. Every logger connected to the same bus (`name`) receives every event
 * published by any of them, on its own queue, and re-emits it as an event named by its level.
 *
 * Events:
 * - `<level>` `(data, meta)`: an event of that level, e.g. `'info'`, `'critical'`
 * - `'ready'` `({ queue, levels, url })`: consuming
 * - `'disconnected'` `({ reason, attempt, downtime })`: connection lost, reconnecting
 * - `'reconnected'` `({ reason, attempt, downtime, url })`: back, with a fresh queue
 * - `'blocked'` `({ reason })` / `'unblocked'` `({ duration })`: the broker blocks publishing (a resource alarm)
 * - `'invalid'` `({ reason, content, routingKey, messageId, appId })`: undeliverable message, dropped
 * - `'gap'` `({ publisher, level, expected, received, missed })`: events of a publisher were missed
 * - `'error'` `(error)`: a listener threw (only emitted when listened to)
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
  static create<L extends string = DefaultLevel>(this: typeof EventBusLogger, options?: EventBusLoggerOptions<L>): Promise<EventBusLogger<L>>;
  // A subclass gets its own type and levels. EventBusLogger itself, whose options the overload above refused, is
  // held to its default levels here (its generic constructor would otherwise make it an EventBusLogger<string>).
  static create<C extends new (options?: EventBusLoggerOptions<any>) => EventBusLogger<any>>(this: C, options?: EventBusLoggerOptions<C extends typeof EventBusLogger ? DefaultLevel : LevelOf<InstanceType<C>>>): Promise<InstanceType<C>>;
  static async create(this: new (options?: EventBusLoggerOptions<any>) => EventBusLogger<any>, options?: EventBusLoggerOptions<any>): Promise<EventBusLogger<any>> {
    const logger = new this(options);
    await logger.start();
    return logger;
  }

  readonly #options: EventBusLoggerOptions<L>;
  readonly #openBus: OpenBus;
  readonly #instanceId = randomUUID();
  #state: State = 'new';
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #settings: ResolvedOptions | undefined;
  #topology: Topology | undefined;
  #exchange = '';
  #levels = new Set<string>();
  #listenLevels = new Set<string>();
  #bus: Bus | undefined;
  #publisher: Publisher | undefined;
  #channels: Channels | undefined;
  #generation = 0;
  #reopenTimer: NodeJS.Timeout | undefined;
  #reopenDelay = 0;
  #abandonedQueue: string | undefined;
  #outage: { since: number; reason: string; attempts: number } | undefined;
  // Since when the broker blocks publishing, while it does.
  #blockedSince: number | undefined;
  #running = new Set<Promise<unknown>>();
  #seq = new Map<string, number>();
  #lastSeen = new Map<string, number>();
  #counters = { invalid: 0, duplicates: 0, missed: 0, listenerErrors: 0, reconnects: 0, blocks: 0, received: {} as Record<string, number> };
  #lastError: string | undefined;

  /**
   * A logger that is not connected yet: call {@link start}. Prefer {@link EventBusLogger.create}.
   * @param openBus how to connect; unit specs pass a stub, everyone else leaves the default (Rascal).
   */
  constructor(options: EventBusLoggerOptions<L> = {}, openBus: OpenBus = BusConnection.open) {
    super();
    this.#options = options;
    this.#openBus = openBus;
  }

  /** Every level configured on the bus (known after start). */
  get levels(): L[] {
    return [...this.#levels] as L[];
  }

  /** The name of this logger's queue (known once ready). */
  get queue(): string | undefined {
    return this.#channels?.queue;
  }

  /** True while connected and consuming. */
  get isReady(): boolean {
    return this.#state === 'running' && this.#channels !== undefined && this.#outage === undefined;
  }

  /**
   * Connects, declares this logger's queue, binds it once per level and starts consuming. Rejects with an
   * `EventBusLoggerError`: code `CONFIG` for bad options or config, `CONNECT` when the broker cannot be reached
   * (its message names the URL with the password masked). Calling it again while started does nothing.
   */
  start(): Promise<void> {
    if (this.#state === 'running') return Promise.resolve();
    if (this.#state === 'stopping' || this.#state === 'stopped') {
      return Promise.reject(new EventBusLoggerError('STOPPED', 'This logger was stopped; create a new one to start again'));
    }
    if (!this.#starting) {
      this.#state = 'starting';
      this.#starting = this.#start().catch(async (error: unknown) => {
        this.#state = 'stopped';
        this.#publisher?.close(new EventBusLoggerError('STOPPED', `The logger failed to start: ${describeError(error)}`));
        await this.#bus?.close();
        throw error;
      });
      this.#starting.catch(noop);
    }
    return this.#starting;
  }

  async #start(): Promise<void> {
    const settings = resolveOptions(this.#options);
    const topology = await loadTopology(this.#options, settings);
    this.#settings = settings;
    this.#topology = topology;
    this.#levels = new Set(topology.levels);
    this.#listenLevels = new Set(topology.listenLevels);
    for (const level of topology.levels) this.#counters.received[level] = 0;
    const bus = await this.#openBus(topology.rascalConfig, topology.vhost, topology.loggableUrls, settings);
    this.#bus = bus;
    this.#exchange = bus.exchangeName(topology.exchange);
    this.#publisher = new Publisher({
      exchange: this.#exchange,
      publishTimeout: settings.publishTimeout,
      bufferMaxEvents: settings.bufferMaxEvents,
      bufferMaxBytes: settings.bufferMaxBytes,
    });
    bus.on('down', ({ reason }) => this.#onDown(reason));
    bus.on('up', () => this.#reopen());
    bus.on('blocked', ({ reason }) => this.#onBlocked(reason));
    bus.on('unblocked', () => this.#onUnblocked());
    if (this.#state !== 'starting') return;
    await this.#openChannels(this.#generation);
    this.#state = 'running';
    debug('ready: queue %s, levels %o', this.#channels?.queue, topology.listenLevels);
    this.#emitSafely('ready', { queue: this.#channels?.queue, levels: topology.listenLevels, url: bus.url });
  }

  /**
   * Publishes an event of `level` to the bus. Resolves once the broker has confirmed it; rejects with a TypeError
   * for an unknown level or data that is not a plain object (or holds a Map, a Set, a cycle or a BigInt; an Error in
   * it is sent as its name, message, stack, cause and own fields), a RangeError for data over `maxMessageBytes`, or an
   * `EventBusLoggerError` (`PUBLISH_TIMEOUT`, `BUFFER_FULL`, `STOPPED`, `NACKED`, `UNROUTABLE`, `NOT_STARTED`).
   * The promise never becomes an unhandled rejection if nobody awaits it.
   */
  publish(level: L, data: EventData): Promise<void> {
    const result = this.#publish(level, data);
    result.catch(noop);
    return result;
  }

  /** Publishes an `info` event; see {@link publish}. */
  info(data: EventData): Promise<void> {
    return this.publish('info' as L, data);
  }

  /** Publishes a `critical` event; see {@link publish}. */
  critical(data: EventData): Promise<void> {
    return this.publish('critical' as L, data);
  }

  #publish(level: string, data: EventData): Promise<void> {
    const publisher = this.#publisher;
    if (this.#state === 'stopping' || this.#state === 'stopped') {
      return Promise.reject(new EventBusLoggerError('STOPPED', `Event not sent: the logger is ${this.#state === 'stopping' ? 'stopping' : 'stopped'}`));
    }
    if (this.#state !== 'running' || !publisher || !this.#settings) {
      return Promise.reject(new EventBusLoggerError('NOT_STARTED', 'Event not sent: the logger is not started; await logger.start() or use EventBusLogger.create()'));
    }
    if (!this.#levels.has(level)) {
      return Promise.reject(new TypeError(`Unknown level ${JSON.stringify(level)}; expected one of the configured levels: ${[...this.#levels].join(', ')}`));
    }
    let body: Buffer;
    try {
      body = encodeData(data);
    } catch (error) {
      return Promise.reject(error);
    }
    if (body.length > this.#settings.maxMessageBytes) {
      return Promise.reject(new RangeError(`Event data is ${body.length} bytes of JSON, over maxMessageBytes (${this.#settings.maxMessageBytes})`));
    }
    const seq = (this.#seq.get(level) ?? 0) + 1;
    this.#seq.set(level, seq);
    return publisher.publish(level, body, publishProperties(this.#settings.appId, this.#instanceId, seq, this.#settings.mandatory));
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
    const listeners = this.rawListeners(level) as unknown as Array<(...args: unknown[]) => unknown>;
    let pending: Array<Promise<unknown>> | undefined;
    for (const listener of listeners) {
      try {
        const result = listener.call(this, data, meta);
        if (isPromiseLike(result)) {
          (pending ??= []).push(Promise.resolve(result).catch((error: unknown) => this.#reportListenerError(level, error, true)));
        }
      } catch (error) {
        this.#reportListenerError(level, error, false);
      }
    }
    if (pending) return Promise.all(pending).then(noop);
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
    if (this.#state === 'starting') await this.#starting?.catch(noop);
    if (this.#state === 'stopped') return;
    this.#state = 'stopping';
    clearTimeout(this.#reopenTimer);
    const settings = this.#settings;
    const timeout = settings?.stopTimeout ?? DEFAULTS.stopTimeout;
    const deadline = performance.now() + timeout;
    const channels = this.#channels;
    if (channels && this.#bus?.isUp) {
      // Stop consuming (and delete a resumable queue: nobody will resume it) before waiting for the rest.
      const resumable = settings?.resumable !== undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, deadline - performance.now()));
        const close = (): void =>
          channels.consumer.close(() => {
            clearTimeout(timer);
            resolve();
          });
        if (resumable && channels.queue) channels.consumer.deleteQueue(channels.queue, {}, close);
        else close();
      });
    }
    if (this.#publisher && !(await this.#publisher.idle(Math.max(0, deadline - performance.now())))) {
      debug('stop: publishes still unconfirmed after stopTimeout');
    }
    if (this.#running.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled(this.#running),
        new Promise((resolve) => {
          timer = setTimeout(resolve, Math.max(0, deadline - performance.now()));
        }),
      ]);
      clearTimeout(timer);
    }
    this.#publisher?.close(new EventBusLoggerError('STOPPED', `Event not confirmed: the logger stopped (stopTimeout ${timeout} ms) before the broker confirmed it`));
    this.#generation++;
    this.#channels = undefined;
    // stopTimeout bounds the close too: a broker that does not answer it (a link that stopped carrying bytes) gets
    // what is left of stopTimeout, at least a second, then the socket is destroyed.
    const dropped = await this.#bus?.close(Math.max(deadline - performance.now(), 1000));
    if (dropped) this.#lastError = dropped;
    this.#state = 'stopped';
    this.#emitSafely('stopped');
  }

  /** Stops the logger at the end of an `await using` block. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** Counters since start; see {@link EventBusLoggerStats}. */
  stats(): EventBusLoggerStats {
    const publisher = this.#publisher?.counters;
    return {
      published: publisher?.published ?? 0,
      confirmed: publisher?.confirmed ?? 0,
      rejected: publisher?.rejected ?? 0,
      buffered: this.#publisher?.buffered ?? 0,
      dropped: publisher?.dropped ?? 0,
      republished: publisher?.republished ?? 0,
      received: { ...this.#counters.received },
      invalid: this.#counters.invalid,
      duplicates: this.#counters.duplicates,
      missed: this.#counters.missed,
      listenerErrors: this.#counters.listenerErrors,
      reconnects: this.#counters.reconnects,
      blocks: this.#counters.blocks,
      lastError: this.#lastError ?? this.#bus?.lastError,
    };
  }

  // Opens the consumer and confirm channels on Rascal's connection, declares the queue, binds it, consumes.
  async #openChannels(generation: number): Promise<void> {
    const bus = this.#bus as Bus;
    const topology = this.#topology as Topology;
    const consumer = await bus.channel();
    const confirm = await bus.confirmChannel().catch((error: unknown) => {
      consumer.close(noop);
      throw error;
    });
    const stale = (): boolean => generation !== this.#generation || this.#state === 'stopping' || this.#state === 'stopped';
    const onLost = (): void => this.#onChannelLost(generation);
    const onError = (error: Error): void => {
      this.#lastError = describeError(error);
      debug('channel error: %s', this.#lastError);
    };
    for (const channel of [consumer, confirm]) channel.on('error', onError).on('close', onLost);
    try {
      if (stale()) throw new Error('superseded');
      const abandoned = this.#abandonedQueue;
      if (abandoned) {
        // Deleting a queue that is already gone succeeds, so this is safe after a lost connection too.
        await call((cb) => consumer.deleteQueue(abandoned, {}, cb));
        this.#abandonedQueue = undefined;
      }
      await call((cb) => consumer.assertExchange(this.#exchange, 'topic', topology.exchangeOptions, cb));
      const queue = topology.listenLevels.length === 0 ? undefined : await this.#consume(consumer, generation);
      if (stale()) throw new Error('superseded');
      this.#channels = { consumer, confirm, queue, onLost };
      this.#publisher?.attach(confirm);
      this.#reopenDelay = 0;
    } catch (error) {
      closeQuietly({ consumer, confirm, onLost });
      throw error;
    }
  }

  // Declares this logger's queue, binds it once per level it listens to, and consumes from it.
  async #consume(consumer: AmqpChannel, generation: number): Promise<string> {
    const topology = this.#topology as Topology;
    const settings = this.#settings as ResolvedOptions;
    const resumable = settings.resumable;
    const { queue } = resumable
      ? await call<{ queue: string }>((cb) =>
          consumer.assertQueue(resumable.queueName ?? `${this.#exchange}.listener.${this.#instanceId}`, {
            ...topology.queueOptions,
            exclusive: false,
            arguments: { ...(topology.queueOptions.arguments as object | undefined), 'x-expires': resumable.grace },
          }, cb),
        )
      : await call<{ queue: string }>((cb) => consumer.assertQueue('', topology.queueOptions, cb));
    for (const level of topology.listenLevels) await call((cb) => consumer.bindQueue(queue, this.#exchange, level, {}, cb));
    await call((cb) => consumer.prefetch(settings.prefetch, false, cb));
    if (generation !== this.#generation) throw new Error('superseded');
    const acks = new Acks(consumer);
    await call((cb) => consumer.consume(queue, (message) => this.#onMessage(acks, generation, message), { noAck: false }, cb));
    return queue;
  }

  #onMessage(acks: Acks, generation: number, message: AmqpMessage | null): void {
    if (message === null) {
      // The broker cancelled the consumer: the queue was deleted. Declare a new one.
      debug('consumer cancelled by the broker');
      this.#onChannelLost(generation, 'the broker cancelled the consumer (queue deleted?)');
      return;
    }
    // Every message is acked once handled, whatever becomes of it: an event is never requeued, so a poison message
    // cannot loop. Until then it counts against the prefetch, which bounds how many are handled at once.
    const tag = message.fields.deliveryTag;
    let running: Promise<unknown> | undefined;
    try {
      running = this.#deliver(message);
    } finally {
      if (running) {
        acks.start(tag);
        const done = (): void => acks.done(tag);
        void running.then(done, done);
      } else {
        acks.done(tag);
      }
    }
  }

  // Decodes a message and hands it to handle(). Returns a promise (that never rejects) while a listener's runs.
  #deliver(message: AmqpMessage): Promise<unknown> | undefined {
    const settings = this.#settings as ResolvedOptions;
    const decoded = decodeMessage<L>(message, this.#listenLevels, settings.maxMessageBytes);
    if (!decoded.ok) {
      this.#counters.invalid++;
      debug('invalid message: %s', decoded.reason);
      const properties = message.properties;
      this.#emitSafely('invalid', {
        reason: decoded.reason,
        content: message.content,
        routingKey: message.fields.routingKey,
        messageId: typeof properties.messageId === 'string' ? properties.messageId : undefined,
        appId: typeof properties.appId === 'string' ? properties.appId : undefined,
      });
      return;
    }
    const { level, data, meta } = decoded;
    if (meta.publisher !== undefined && meta.seq !== undefined && !this.#checkSequence(meta.publisher, level, meta.seq)) return;
    this.#counters.received[level] = (this.#counters.received[level] ?? 0) + 1;
    let result: void | Promise<void>;
    try {
      result = this.handle(level, data, meta);
    } catch (error) {
      this.#reportListenerError(level, error, false);
      return;
    }
    if (!isPromiseLike(result)) return;
    const running: Promise<unknown> = Promise.resolve(result)
      .catch((error: unknown) => this.#reportListenerError(level, error, true))
      .finally(() => this.#running.delete(running));
    this.#running.add(running);
    return running;
  }

  // False for a duplicate (already delivered); emits 'gap' when events of this publisher and level were missed.
  #checkSequence(publisher: string, level: string, seq: number): boolean {
    const key = `${publisher}\u0000${level}`;
    const last = this.#lastSeen.get(key);
    if (last !== undefined && seq <= last) {
      this.#counters.duplicates++;
      debug('duplicate %s #%d dropped', level, seq);
      return false;
    }
    if (last === undefined && this.#lastSeen.size >= MAX_TRACKED_PUBLISHERS) {
      // Forget the publisher first seen longest ago (Map keeps insertion order; set() of a known key keeps it).
      const oldest = this.#lastSeen.keys().next().value as string;
      this.#lastSeen.delete(oldest);
    }
    this.#lastSeen.set(key, seq);
    if (last !== undefined && seq > last + 1) {
      const missed = seq - last - 1;
      this.#counters.missed += missed;
      this.#emitSafely('gap', { publisher, level, expected: last + 1, received: seq, missed });
    }
    return true;
  }

  #onDown(reason: string): void {
    if (this.#state !== 'running' && this.#state !== 'starting') return;
    this.#generation++;
    // When only one channel failed, the other is still open: close it. The old queue belongs to the connection,
    // not the channel, so while the connection lives it stays: the next #openChannels deletes it.
    if (this.#channels) {
      closeQuietly(this.#channels);
      if (!this.#settings?.resumable && this.#channels.queue) this.#abandonedQueue = this.#channels.queue;
    }
    this.#channels = undefined;
    this.#publisher?.detach();
    // A block belongs to the connection: when that is gone, the next one starts unblocked. When only a channel
    // was lost, the connection is still blocked and the hold stays.
    if (this.#bus?.blocked === undefined) {
      this.#publisher?.release();
      this.#blockedSince = undefined;
    }
    clearTimeout(this.#reopenTimer);
    if (!this.#outage) {
      this.#outage = { since: performance.now(), reason, attempts: 0 };
      this.#lastError = reason;
      this.#emitSafely('disconnected', { reason, attempt: 0, downtime: 0 });
    }
  }

  #onBlocked(reason: string): void {
    if (this.#state !== 'running' && this.#state !== 'starting') return;
    this.#publisher?.hold(reason);
    this.#blockedSince ??= performance.now();
    this.#counters.blocks++;
    this.#lastError = `the broker blocks publishing: ${reason}`;
    this.#emitSafely('blocked', { reason });
  }

  #onUnblocked(): void {
    const since = this.#blockedSince;
    this.#blockedSince = undefined;
    this.#publisher?.release();
    if (since !== undefined && (this.#state === 'running' || this.#state === 'stopping')) {
      this.#emitSafely('unblocked', { duration: Math.round(performance.now() - since) });
    }
  }

  // A channel closed. When the whole connection went, Rascal reports it a moment later and 'up' reopens
  // everything; when the connection stayed up (a broker-side channel error, a deleted queue), reopen here.
  #onChannelLost(generation: number, why?: string): void {
    if (generation !== this.#generation || this.#state !== 'running') return;
    setTimeout(() => {
      if (generation !== this.#generation || this.#state !== 'running' || !this.#bus?.isUp) return;
      this.#onDown(why ?? `channel closed: ${this.#lastError ?? 'by the broker'}`);
      this.#scheduleReopen();
    }, 50);
  }

  #scheduleReopen(): void {
    clearTimeout(this.#reopenTimer);
    this.#reopenDelay = Math.min(Math.max(this.#reopenDelay * 2, 100), 5000);
    this.#reopenTimer = setTimeout(() => this.#reopen(), this.#reopenDelay);
  }

  // The connection is back (or a lost channel can be replaced): declare a fresh queue and consume again.
  #reopen(): void {
    if (this.#state !== 'running') return;
    const generation = ++this.#generation;
    if (this.#outage) this.#outage.attempts++;
    this.#openChannels(generation).then(
      () => {
        const outage = this.#outage;
        this.#outage = undefined;
        this.#counters.reconnects++;
        const url = this.#bus?.url ?? '';
        if (outage) {
          this.#emitSafely('reconnected', { reason: outage.reason, attempt: outage.attempts, downtime: Math.round(performance.now() - outage.since), url });
        }
        this.#emitSafely('ready', { queue: this.#channels?.queue, levels: [...this.#listenLevels], url });
      },
      (error: unknown) => {
        if (generation !== this.#generation || this.#state !== 'running') return;
        this.#lastError = describeError(error);
        debug('reopening channels failed: %s', this.#lastError);
        if (this.#bus?.isUp) this.#scheduleReopen();
      },
    );
  }

  // Set once this logger has warned of a listener error nobody listened for: later ones are only counted.
  #warnedOfListenerError = false;

  // `rejected`: the listener returned a promise that rejected ("failed"), rather than throwing ("threw").
  #reportListenerError(level: string, error: unknown, rejected: boolean): void {
    this.#counters.listenerErrors++;
    const message = `A listener of "${level}" ${rejected ? 'failed' : 'threw'}: ${describeError(error)}`;
    this.#lastError = message;
    if (this.listenerCount('error') === 0) {
      debug('%s', message);
      // Never a crash, never silent: the first one is a process warning (printed on standard error by default).
      if (!this.#warnedOfListenerError) {
        this.#warnedOfListenerError = true;
        process.emitWarning(`${message}. Later listener errors of this logger are counted in stats().listenerErrors, and emitted as 'error' when the logger has an 'error' listener.`, {
          type: 'EventBusLoggerWarning',
          code: 'EVENT_BUS_LOGGER_LISTENER',
        });
      }
      return;
    }
    this.#emitSafely('error', new EventBusLoggerError('LISTENER', message, { cause: error }));
  }

  // Emits a lifecycle event; a throwing listener is traced and never breaks the logger.
  #emitSafely<E extends keyof LifecycleEvents>(event: E, ...args: Parameters<LifecycleEvents[E]>): void {
    try {
      (this.emit as (event: string, ...rest: unknown[]) => boolean)(event, ...args);
    } catch (error) {
      debug('a listener of %s threw: %s', event, describeError(error));
    }
  }
}
