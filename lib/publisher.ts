// The publish path: confirm-channel publishing with our own bookkeeping (no per-publish listeners, no pool), a
// window of events sent and not yet settled, the bounded buffer where the rest wait (during an outage, while the
// broker blocks publishing, or behind a burst), and the two timeouts: `bufferMaxWait` in the buffer, `publishTimeout`
// from the first write to the broker.
// Over 300 lines because the buffer, the window, the nack retries and the timeout sweep share one set of entries and
// must agree on every one of them (each settles exactly once); splitting them would spread that bookkeeping out.
import createDebug from 'debug';
import { coalesceWrites, type ConnectionWrites } from './coalesce-writes.js';
import { EventBusLoggerError, accessError } from './errors.js';
import { EventQueue } from './event-queue.js';
import type { AmqpConfirmChannel, AmqpMessage } from './rascal.js';
import { REORDER_SPAN, type PublishProperties } from './wire-format.js';
import { settleWithin } from './deadline.js';
import { noop } from './noop.js';

const debug = createDebug('event-bus-logger:publisher');

/**
 * A publish refused before it was sent: a rejected promise that never becomes an unhandled rejection if nobody
 * awaits it, as every publish promise of the library.
 */
export function refusedPublish(error: unknown): Promise<never> {
  const promise = Promise.reject(error);
  promise.catch(noop);
  return promise;
}

/**
 * Where an event is: `buffered` (never sent), `inflight` (sent on the current channel, its confirm awaited),
 * `retrying` (nacked, its retry timer running), `resend` (sent once, waiting for a channel to be sent again on),
 * `settled` (resolved or rejected).
 */
type State = 'buffered' | 'inflight' | 'retrying' | 'resend' | 'settled';

interface Entry {
  level: string;
  body: Buffer;
  properties: PublishProperties;
  /** Its place in publish order: the window is counted in it. */
  order: number;
  state: State;
  /** Never sent: the end of its `bufferMaxWait`. Sent: its first write plus `publishTimeout`. */
  deadline: number;
  sent: boolean;
  resolve: () => void;
  reject: (error: Error) => void;
  /** The promise publish() returned: marked handled when it rejects, so nobody has to await it. */
  promise: Promise<void>;
  /** Set when the broker returned it as unroutable (only with `mandatory`). */
  returned: boolean;
  /** Nacks so far: each one is retried after a short delay, until `publishTimeout`. */
  nacks: number;
  /** The broker's reason of the last nack, while the entry waits for its retry. */
  nackedWith: string | undefined;
  retryTimer: NodeJS.Timeout | undefined;
}

// The delays between a nack and the retry: 25 ms, doubling, up to 1 s.
const NACK_RETRY_MIN = 25;
const NACK_RETRY_MAX = 1000;
// What a buffered event costs beside its body (the entry, its promise and callbacks, its properties), measured with
// Node 20: bufferMaxBytes counts it, so that cap bounds the buffer's memory, not only its bodies'.
export const BUFFERED_EVENT_OVERHEAD = 640;
// The window also stops at this many bytes of bodies sent and unsettled (but always lets one event through).
const WINDOW_MAX_BYTES = 8 * 1024 * 1024;

export interface PublisherLimits {
  exchange: string;
  publishTimeout: number;
  bufferMaxEvents: number;
  bufferMaxBytes: number;
  /** How long an event may wait in the buffer before it is sent. */
  bufferMaxWait: number;
  /** How far (in publish order) an event may be sent ahead of the oldest unsettled one. @default REORDER_SPAN */
  window?: number;
}

/** Counters the publisher keeps for `stats()`. */
export interface PublisherCounters {
  published: number;
  confirmed: number;
  rejected: number;
  dropped: number;
  republished: number;
}

export class Publisher {
  private channel: AmqpConfirmChannel | undefined;
  // The channel's connection, to send each publish at the end of the tick (undefined: amqplib sends it).
  private writes: ConnectionWrites | undefined;
  // Events never sent, in publish order (so in deadline order).
  private readonly buffer = new EventQueue<Entry>();
  // The window: events sent at least once and not settled, in publish order (so in deadline order). Settled ones
  // are taken off its front lazily (by prune()); it never spans more than `window` events of publish order.
  private readonly window = new EventQueue<Entry>();
  private readonly windowSize: number;
  // Set when an event of the window waits to be sent again (state 'resend').
  private resendPending = false;
  private byMessageId = new Map<string, Entry>();
  private lastOrder = 0;
  private sweeper: NodeJS.Timeout | undefined;
  private sweeperAt = Infinity;
  private idleWaiters: Array<() => void> = [];
  private closedWith: Error | undefined;
  private lastBufferFull: EventBusLoggerError | undefined;
  // Events written for the first time in this turn, whose publishTimeout starts once the turn's writes go out.
  private unstamped: Entry[] = [];
  // Set while the broker blocks publishing on this connection (a memory or disk alarm), to its reason: events then
  // wait in the bounded buffer rather than pile up, unbounded, in a socket the broker has stopped reading.
  private held: string | undefined;
  readonly counters: PublisherCounters = { published: 0, confirmed: 0, rejected: 0, dropped: 0, republished: 0 };

  constructor(private readonly limits: PublisherLimits) {
    this.windowSize = limits.window ?? REORDER_SPAN;
  }

  /** Events waiting to be sent: never sent, or to be sent again on the next channel. */
  get buffered(): number {
    let resend = 0;
    if (this.resendPending) for (const entry of this.window) if (entry.state === 'resend') resend++;
    return this.buffer.length + resend;
  }

  /** Publishes one event; the promise settles on the broker's confirm, a rejection, or a timeout. */
  publish(level: string, body: Buffer, properties: PublishProperties): Promise<void> {
    if (this.closedWith) return refusedPublish(this.closedWith);
    this.counters.published++;
    const direct = this.buffer.length === 0 && this.channel !== undefined && this.held === undefined && this.hasRoom(this.lastOrder + 1);
    if (!direct && (this.buffer.length >= this.limits.bufferMaxEvents || this.bufferBytes() + body.length + BUFFERED_EVENT_OVERHEAD > this.limits.bufferMaxBytes)) {
      // Refused before anything is made for it: a burst far past the caps costs little more than its calls.
      this.counters.dropped++;
      this.counters.rejected++;
      return refusedPublish(this.bufferFull());
    }
    let resolve!: () => void;
    let reject!: (error: Error) => void;
    const promise = new Promise<void>((onConfirmed, onFailed) => {
      resolve = onConfirmed;
      reject = onFailed;
    });
    const entry: Entry = { level, body, properties, order: ++this.lastOrder, state: 'buffered', deadline: performance.now() + this.limits.bufferMaxWait, sent: false, resolve, reject, promise, returned: false, nacks: 0, nackedWith: undefined, retryTimer: undefined };
    if (direct) this.send(entry);
    else this.buffer.push(entry);
    this.ensureSweeper();
    return promise;
  }

  // The refusals of one full buffer share one error while its message stays the same (a burst far past the caps
  // would otherwise make, and keep, an Error with its stack per refused call): its stack is the first one's.
  private bufferFull(): EventBusLoggerError {
    const message = `Event not sent: ${this.why('is')} and the ${this.channel && this.held === undefined ? '' : 'outage '}buffer is full (${this.buffer.length} events, ${this.bufferBytes()} bytes; limits bufferMaxEvents=${this.limits.bufferMaxEvents}, bufferMaxBytes=${this.limits.bufferMaxBytes})`;
    if (this.lastBufferFull?.message !== message) this.lastBufferFull = new EventBusLoggerError('BUFFER_FULL', message);
    return this.lastBufferFull;
  }

  /** Starts sending on a (new) confirm channel: first what was sent and not confirmed, then the buffer, in order. */
  attach(channel: AmqpConfirmChannel): void {
    this.channel = channel;
    this.writes = coalesceWrites(channel);
    channel.on('return', (message) => this.onReturn(message));
    // The broker refused a publish (403: no write permission on the exchange) and closes the channel: what was
    // sent on it, and what waits, would be refused alike, so they fail with ACCESS rather than being re-sent on
    // every new channel.
    channel.on('error', (error) => {
      const refused = accessError(error);
      if (refused && this.channel === channel) this.refuse(refused);
    });
    this.pump();
  }

  /** The broker blocks publishing (`reason`, e.g. "low on memory"): new events wait in the buffer. */
  hold(reason: string): void {
    this.held = reason;
  }

  /** The broker accepts publishes again: send what waited, in order. */
  release(): void {
    if (this.held === undefined) return;
    this.held = undefined;
    this.pump();
  }

  /**
   * The channel is gone. Events it had not confirmed are sent again, first, on the next channel: a confirm that
   * was lost with the connection may hide a delivered event, so this is at-least-once; listeners drop the
   * duplicates by publisher sequence number.
   */
  detach(): void {
    if (!this.channel) return;
    this.channel = undefined;
    let unconfirmed = 0;
    for (const entry of this.window) {
      if (entry.state !== 'inflight') continue;
      entry.state = 'resend';
      unconfirmed++;
    }
    this.byMessageId.clear();
    if (unconfirmed === 0) return;
    debug('detached with %d unconfirmed events; they will be sent again', unconfirmed);
    this.counters.republished += unconfirmed;
    this.resendPending = true;
  }

  /** Resolves when nothing is buffered or in flight, or after `timeout` ms. */
  async idle(timeout: number): Promise<boolean> {
    if (this.isIdle()) return true;
    return settleWithin(new Promise<void>((resolve) => this.idleWaiters.push(resolve)), timeout);
  }

  /** Rejects everything still buffered or in flight with `error`, and every later publish too. */
  close(error: Error): void {
    this.closedWith = error;
    this.channel = undefined;
    this.failAll(error);
    this.stopSweeper();
  }

  private refuse(error: EventBusLoggerError): void {
    debug('publishing refused: %s (%d events fail)', error.message, this.window.length + this.buffer.length);
    this.failAll(error);
  }

  private failAll(error: Error): void {
    for (const entry of [...this.window.takeAll(), ...this.buffer.takeAll()]) {
      clearTimeout(entry.retryTimer);
      this.fail(entry, error);
    }
    this.byMessageId.clear();
    this.resendPending = false;
  }

  /** The buffer's bytes as bufferMaxBytes counts them. */
  private bufferBytes(): number {
    return this.buffer.bytes + this.buffer.length * BUFFERED_EVENT_OVERHEAD;
  }

  /** Why events wait: for the messages of BUFFER_FULL and BUFFER_TIMEOUT. */
  private why(tense: 'is' | 'was'): string {
    if (!this.channel) return `the broker ${tense} unreachable`;
    if (this.held !== undefined) return `the broker ${tense === 'is' ? 'is blocking' : 'kept blocking'} publishers (${this.held})`;
    return `events ${tense === 'is' ? 'are' : 'were'} published faster than the broker confirms them (${this.window.length} awaiting confirms)`;
  }

  /** Whether the event of publish order `order` (the next to go) may be sent now: the window has room for it. */
  private hasRoom(order: number): boolean {
    const oldest = this.prune();
    return oldest === undefined || (order - oldest.order < this.windowSize && this.window.bytes < WINDOW_MAX_BYTES);
  }

  /** Takes settled events off the window's front; returns the oldest unsettled one. */
  private prune(): Entry | undefined {
    let oldest = this.window.peek();
    while (oldest !== undefined && oldest.state === 'settled') {
      this.window.shift();
      oldest = this.window.peek();
    }
    return oldest;
  }

  /** Sends what may be sent: events to be sent again, then the buffer's while the window has room. */
  private pump(): void {
    const channel = this.channel;
    if (!channel || this.held !== undefined) return;
    if (this.resendPending) {
      this.resendPending = false;
      for (const entry of this.window) {
        if (entry.state !== 'resend') continue;
        this.send(entry);
        if (this.channel !== channel) return;
      }
    }
    let sent = 0;
    for (let next = this.buffer.peek(); next !== undefined && this.hasRoom(next.order); next = this.buffer.peek()) {
      this.buffer.shift();
      this.send(next);
      sent++;
      if (this.channel !== channel) break;
    }
    if (sent > 1) debug('sent %d buffered events', sent);
    if (sent > 0) this.ensureSweeper();
  }

  private send(entry: Entry): void {
    const channel = this.channel as AmqpConfirmChannel;
    const { properties } = entry;
    // Booked before the call: a confirm may never come synchronously from amqplib, but nothing else relies on that.
    const firstWrite = !entry.sent;
    const bufferDeadline = entry.deadline;
    if (firstWrite) {
      entry.sent = true;
      this.stampLater(entry);
      this.window.push(entry);
    }
    entry.state = 'inflight';
    if (properties.mandatory) this.byMessageId.set(properties.messageId, entry);
    try {
      channel.publish(this.limits.exchange, entry.level, entry.body, properties, (error) => this.onConfirm(entry, channel, error));
      this.writes?.writeSoon();
    } catch (error) {
      // amqplib throws synchronously once the channel is closed: treat it as a lost channel.
      debug('publish threw (%s); buffering', (error as Error).message);
      this.byMessageId.delete(properties.messageId);
      if (firstWrite) {
        // It never left: back to the buffer's front, with the deadline of its wait there.
        this.window.pop();
        this.unstamped.pop();
        entry.sent = false;
        entry.state = 'buffered';
        entry.deadline = bufferDeadline;
        this.buffer.unshift(entry);
      } else {
        entry.state = 'resend';
        this.resendPending = true;
      }
      if (this.channel === channel) this.detach();
    }
  }

  /**
   * Starts `entry`'s publishTimeout when this turn's writes leave for the socket, at the end of the turn (see
   * coalesce-writes.ts), not at the call: an application's loop of 100,000 un-awaited calls holds every write back
   * until it returns, and that wait is not the broker's.
   */
  private stampLater(entry: Entry): void {
    entry.deadline = Infinity;
    if (this.unstamped.push(entry) === 1) queueMicrotask(this.stamp);
  }

  private readonly stamp = (): void => {
    const deadline = performance.now() + this.limits.publishTimeout;
    for (const entry of this.unstamped) entry.deadline = deadline;
    this.unstamped = [];
    this.ensureSweeper();
  };

  private onConfirm(entry: Entry, channel: AmqpConfirmChannel, error: Error | null): void {
    // A confirm from a channel we have detached from: the entry waits to be sent again (or is settled).
    if (this.channel !== channel || entry.state !== 'inflight') return;
    if (entry.properties.mandatory) this.byMessageId.delete(entry.properties.messageId);
    if (error && /channel closed/i.test(error.message)) {
      // The first of the channel's unconfirmed events to hear of it: it and the others are sent again.
      this.detach();
      return;
    }
    if (error) {
      this.onNack(entry, error);
    } else if (entry.returned) {
      this.fail(entry, new EventBusLoggerError('UNROUTABLE', `Event not delivered: no queue is bound to exchange "${this.limits.exchange}" for level "${entry.level}" (nobody listens to it)`));
    } else {
      entry.state = 'settled';
      this.counters.confirmed++;
      entry.resolve();
      this.checkIdle();
    }
    if (this.buffer.length > 0) this.pump();
  }

  /**
   * amqplib does not say why the broker nacked, and the usual reason is passing: a queue the event was routed to
   * lived on a cluster node that just died, and the broker nacks until it has cleaned that queue up (the other
   * queues did get the event). So a nack is retried, after a short growing delay, until `publishTimeout`; it
   * rejects with `NACKED` only when the last attempt was nacked. At-least-once: listeners drop the copies, and let
   * through, late, a retry whose first copy they never got. While it waits, the window does not move past it, so
   * the retry is never more than the window behind the newest event sent.
   */
  private onNack(entry: Entry, error: Error): void {
    entry.nacks++;
    const delay = Math.min(NACK_RETRY_MIN * 2 ** (entry.nacks - 1), NACK_RETRY_MAX);
    if (performance.now() + delay >= entry.deadline) {
      this.fail(entry, new EventBusLoggerError('NACKED', `Event not accepted: the broker refused it (${error.message}), ${entry.nacks === 1 ? 'once' : `${entry.nacks} times`} within publishTimeout (${this.limits.publishTimeout} ms)`));
      return;
    }
    debug('%s %s nacked (%s); retry %d in %d ms', entry.level, entry.properties.messageId, error.message, entry.nacks, delay);
    entry.nackedWith = error.message;
    entry.state = 'retrying';
    entry.retryTimer = setTimeout(() => {
      entry.retryTimer = undefined;
      if (entry.state !== 'retrying') return;
      entry.nackedWith = undefined;
      this.counters.republished++;
      if (this.channel && this.held === undefined) this.send(entry);
      else {
        entry.state = 'resend';
        this.resendPending = true;
      }
    }, delay);
    entry.retryTimer.unref();
  }

  private onReturn(message: AmqpMessage): void {
    const id = message.properties.messageId;
    const entry = typeof id === 'string' ? this.byMessageId.get(id) : undefined;
    if (entry) entry.returned = true;
  }

  private fail(entry: Entry, error: Error): void {
    if (entry.state === 'settled') return;
    entry.state = 'settled';
    this.counters.rejected++;
    // Nobody has to await a publish: its rejection is never reported as unhandled.
    entry.promise.catch(noop);
    entry.reject(error);
    this.checkIdle();
  }

  private isIdle(): boolean {
    return this.buffer.length === 0 && this.prune() === undefined;
  }

  private checkIdle(): void {
    // Runs on every confirm: a sequential publisher is idle after each one, and usually nobody waits.
    if (this.idleWaiters.length === 0 || !this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }

  // One timer for all pending publishes, rather than one per publish, armed for the oldest deadline: the window and
  // the buffer are each in deadline order, so it is the first unsettled entry of one of them. It is not cleared when
  // everything is confirmed (a sequential publisher would create and clear one per event): when it fires with
  // nothing due it re-arms for what is pending then, or stays off. It is armed again earlier when an earlier deadline
  // comes (an event waiting in the buffer with a shorter bufferMaxWait, or one sent with a shorter publishTimeout).
  private ensureSweeper(): void {
    const oldest = Math.min(this.prune()?.deadline ?? Infinity, this.buffer.peek()?.deadline ?? Infinity);
    if (oldest >= this.sweeperAt) return;
    clearTimeout(this.sweeper);
    this.sweeperAt = oldest;
    this.sweeper = setTimeout(() => {
      this.sweeper = undefined;
      this.sweeperAt = Infinity;
      this.sweep();
      this.ensureSweeper();
    }, Math.max(0, Math.ceil(oldest - performance.now())));
    this.sweeper.unref();
  }

  private stopSweeper(): void {
    clearTimeout(this.sweeper);
    this.sweeper = undefined;
    this.sweeperAt = Infinity;
  }

  private sweep(): void {
    const now = performance.now();
    const timeout = this.limits.publishTimeout;
    for (let entry = this.prune(); entry !== undefined && entry.deadline <= now; entry = this.prune()) {
      this.window.shift();
      this.byMessageId.delete(entry.properties.messageId);
      if (entry.state === 'retrying') {
        clearTimeout(entry.retryTimer);
        this.fail(entry, new EventBusLoggerError('NACKED', `Event not accepted: the broker refused it (${entry.nackedWith ?? 'nacked'}), ${entry.nacks} times within publishTimeout (${timeout} ms)`));
      } else {
        const where = entry.state === 'resend' ? `; it waits to be sent again: ${this.why('is')}` : '';
        this.fail(entry, new EventBusLoggerError('PUBLISH_TIMEOUT', `Event not confirmed by the broker within publishTimeout (${timeout} ms) of being sent; it may or may not have reached the bus${where}`));
      }
    }
    for (let entry = this.buffer.peek(); entry !== undefined && entry.deadline <= now; entry = this.buffer.peek()) {
      this.buffer.shift();
      this.fail(entry, new EventBusLoggerError('BUFFER_TIMEOUT', `Event not sent: it waited bufferMaxWait (${this.limits.bufferMaxWait} ms) in the buffer while ${this.why('was')}; it never reached the bus`));
    }
    // A window that emptied lets the buffer's next events go.
    this.pump();
    this.checkIdle();
  }
}
