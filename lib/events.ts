// The logger's events: the one event map, with the payload of each and its documentation, and the names no level
// may take. Every other file takes its event types from here.
import { EventEmitter } from 'node:events';
import type * as TypedEmitter from 'typed-emitter';
import type { EventData, EventMeta } from './wire-format.js';

/**
 * Node's EventEmitter typed with an event map (`{ name: (payload) => void }`): the one way every emitter of this
 * library is typed. typed-emitter is types only; its namespace import resolves alike under nodenext, node16 and
 * bundler.
 */
export const TypedEventEmitter = EventEmitter as unknown as new <E extends TypedEmitter.EventMap>() => TypedEmitter.default<E>;

/** A listener of one level. It may return a promise; a rejection is reported like a throw. */
export type LevelListener<L extends string = string> = (data: EventData, meta: EventMeta<L>) => unknown;

/** One event as {@link EventBusLogger.subscribe} hands it over: its level, data and meta. */
export interface BusEvent<L extends string = string> {
  level: L;
  data: EventData;
  meta: EventMeta<L>;
}

/**
 * A handler of every event a logger receives, whatever its level (see `subscribe()`). Like a level listener it may
 * return a promise: the event is acked once it settles, and a throw or rejection is reported like a listener's.
 */
export type EventHandler<L extends string = string> = (event: BusEvent<L>) => unknown;

/**
 * Payload of `'ready'`: the queue consumed and the levels bound at that moment (none, and no queue, while nothing
 * listens: see the `listen` option), and the broker's URL with its password masked.
 */
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
/**
 * Payload of `'gap'`: events of one publisher and level that never reached this logger; or, with `reason:
 * 'retention'`, history that retention deleted before a catch-up listener read it: the offsets `from` to `to` of
 * `stream` (`expected` is then `from`, `received` the offset it could resume at, `publisher` and `level` are '');
 * or, with `reason: 'out-of-range'`, a catch-up listener's offset (`expected`) that `stream` does not reach (beyond
 * its end: a `since` offset too far, or a stream deleted and declared anew, whose offsets start again at 0): it
 * goes on from the stream's end (`received`); `from` and `to` are the stream's first and last offsets (absent when
 * it is empty), `missed` is 0 (what the offsets between stood for is unknown).
 */
export type GapInfo = {
  publisher: string;
  level: string;
  expected: number;
  received: number;
  missed: number;
  /** Why: a publisher's sequence jumped (`'sequence'`, the default when absent), retention deleted history, or a catch-up listener's offset does not exist in the stream. */
  reason?: 'sequence' | 'retention' | 'out-of-range';
  /** With `reason: 'retention'`: the history stream, and the first and last offsets it skipped; with `'out-of-range'`: the stream and its first and last offsets. */
  stream?: string;
  from?: number;
  to?: number;
};

/**
 * The logger's own events, beside one event per level. The connection's, in order: each outage begins with one
 * `'disconnected'` and ends with `'ready'` (after `'reconnected'` when a connection had been up before); there is no
 * `'disconnected'` before a first `'ready'` except the outage at start, when the broker could not be reached (or
 * the connection was lost during the set-up) and the logger goes on in the background (the default, not
 * `failFast`). That one is emitted a turn after `start()` resolved, so a listener added right after
 * `await EventBusLogger.create()` hears it. A fail-fast start that fails emits neither. A listener of any of these
 * events that throws or rejects is reported as a level listener's failure is (counted, `'error'` or a warning).
 */
export type LifecycleEvents = {
  /** Connected, and consuming what is listened to: at start, at the end of an outage at start, after every reconnect. */
  ready: (info: ReadyInfo) => void;
  /**
   * An outage begins: the connection or a channel was lost, or (by default) the broker could not be reached at
   * start. The logger keeps trying, with backoff, and buffers publishes; `reason` says why (password masked).
   */
  disconnected: (info: DisconnectedInfo) => void;
  /** Back after losing a connection it had: a new queue is bound and consuming, buffered publishes are going out. */
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
  /**
   * A publisher's sequence jumped: `missed` events of that publisher and level were not received; or, with
   * `reason: 'retention'`, retention deleted history a catch-up listener had not read.
   */
  gap: (info: GapInfo) => void;
  /**
   * A listener threw or rejected (code `LISTENER`), or, while connecting in the background, the broker refused this
   * logger for good (code `ACCESS`, or `CONNECT` for a certificate that fails verification; the logger goes on
   * trying). Emitted only when an 'error' listener exists; else the first of each kind is a process warning.
   */
  error: (error: Error) => void;
  /** stop() finished. */
  stopped: () => void;
};

/** Every event of a logger listening to levels `L`. */
export type EventBusLoggerEvents<L extends string> = LifecycleEvents & { [K in L]: LevelListener<K> };

// A record keyed by every event of LifecycleEvents (and Node's emitter's own two): the compiler then requires each
// one, so an event added to LifecycleEvents and not here fails to compile.
const RESERVED: Record<keyof LifecycleEvents | 'newListener' | 'removeListener', true> = {
  ready: true,
  disconnected: true,
  reconnected: true,
  blocked: true,
  unblocked: true,
  invalid: true,
  gap: true,
  error: true,
  stopped: true,
  newListener: true,
  removeListener: true,
};

/** Event names the logger emits itself (and Node's emitter's own): no level may take one. */
export const LIFECYCLE_EVENTS = Object.keys(RESERVED) as ReadonlyArray<keyof typeof RESERVED>;

/** Reports one of the logger's own events; the parts of the logger call it rather than holding the emitter. */
export type Report = <E extends keyof LifecycleEvents>(event: E, ...args: Parameters<LifecycleEvents[E]>) => void;
