// The publish path: confirm-channel publishing with our own bookkeeping (no per-publish listeners, no pool),
// the bounded buffer that holds events while the broker is unreachable or blocks publishing, and the publish timeout.
// Over 300 lines because the buffer, the nack retries and the timeout sweep share one set of entries and must
// agree on every one of them (each settles exactly once); splitting them would spread that bookkeeping out.
import createDebug from 'debug';
import { coalesceWrites, type ConnectionWrites } from './coalesce-writes.js';
import { EventBusLoggerError, accessError } from './errors.js';
import type { AmqpConfirmChannel, AmqpMessage } from './rascal.js';
import type { PublishProperties } from './wire-format.js';

const debug = createDebug('event-bus-logger:publisher');
const noop = (): void => undefined;

/**
 * A publish refused before it was sent: a rejected promise that never becomes an unhandled rejection if nobody
 * awaits it, as every publish promise of the library.
 */
export function refusedPublish(error: unknown): Promise<never> {
  const promise = Promise.reject(error);
  promise.catch(noop);
  return promise;
}

interface Entry {
  level: string;
  body: Buffer;
  properties: PublishProperties;
  deadline: number;
  resolve: () => void;
  reject: (error: Error) => void;
  /** The promise publish() returned: marked handled when it rejects, so nobody has to await it. */
  promise: Promise<void>;
  /** Set when the broker returned it as unroutable (only with `mandatory`). */
  returned: boolean;
  settled: boolean;
  /** Nacks so far: each one is retried after a short delay, until `publishTimeout`. */
  nacks: number;
  /** The broker's reason of the last nack, while the entry waits for its retry. */
  nackedWith?: string;
}

// The delays between a nack and the retry: 25 ms, doubling, up to 1 s.
const NACK_RETRY_MIN = 25;
const NACK_RETRY_MAX = 1000;

export interface PublisherLimits {
  exchange: string;
  publishTimeout: number;
  bufferMaxEvents: number;
  bufferMaxBytes: number;
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
  // Events not yet handed to a channel, oldest first.
  private buffer: Entry[] = [];
  private bufferedBytes = 0;
  // Events handed to the channel and not yet confirmed, oldest first.
  private inflight = new Set<Entry>();
  private byMessageId = new Map<string, Entry>();
  // Nacked events waiting for their retry, with its timer.
  private retrying = new Map<Entry, NodeJS.Timeout>();
  // Set once a retried event went back in flight: then `inflight` is no longer in deadline order.
  private outOfOrder = false;
  private sweeper: NodeJS.Timeout | undefined;
  private idleWaiters: Array<() => void> = [];
  private closedWith: Error | undefined;
  // Set while the broker blocks publishing on this connection (a memory or disk alarm), to its reason: events then
  // wait in the bounded buffer rather than pile up, unbounded, in a socket the broker has stopped reading.
  private held: string | undefined;
  readonly counters: PublisherCounters = { published: 0, confirmed: 0, rejected: 0, dropped: 0, republished: 0 };

  constructor(private readonly limits: PublisherLimits) {}

  /** Events waiting for a connection. */
  get buffered(): number {
    return this.buffer.length;
  }

  /** Publishes one event; the promise settles on the broker's confirm, a rejection, or the timeout. */
  publish(level: string, body: Buffer, properties: PublishProperties): Promise<void> {
    if (this.closedWith) return refusedPublish(this.closedWith);
    let resolve!: () => void;
    let reject!: (error: Error) => void;
    const promise = new Promise<void>((onConfirmed, onFailed) => {
      resolve = onConfirmed;
      reject = onFailed;
    });
    const entry: Entry = { level, body, properties, deadline: performance.now() + this.limits.publishTimeout, resolve, reject, promise, returned: false, settled: false, nacks: 0 };
    this.counters.published++;
    if (this.channel && this.held === undefined && this.buffer.length === 0) {
      this.send(entry);
    } else if (this.buffer.length >= this.limits.bufferMaxEvents || this.bufferedBytes + body.length > this.limits.bufferMaxBytes) {
      this.counters.dropped++;
      const why = this.held === undefined ? 'the broker is unreachable' : `the broker is blocking publishers (${this.held})`;
      this.fail(entry, new EventBusLoggerError('BUFFER_FULL', `Event not sent: ${why} and the outage buffer is full (${this.buffer.length} events, ${this.bufferedBytes} bytes; limits bufferMaxEvents=${this.limits.bufferMaxEvents}, bufferMaxBytes=${this.limits.bufferMaxBytes})`));
      return promise;
    } else {
      this.buffer.push(entry);
      this.bufferedBytes += body.length;
    }
    this.ensureSweeper();
    return promise;
  }

  /** Starts sending on a (new) confirm channel: first everything buffered, in order (unless held). */
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
    this.flush();
  }

  /** The broker blocks publishing (`reason`, e.g. "low on memory"): new events wait in the buffer. */
  hold(reason: string): void {
    this.held = reason;
  }

  /** The broker accepts publishes again: send what waited, in order. */
  release(): void {
    if (this.held === undefined) return;
    this.held = undefined;
    this.flush();
  }

  private flush(): void {
    const channel = this.channel;
    if (!channel || this.held !== undefined) return;
    const waiting = this.buffer;
    this.buffer = [];
    this.bufferedBytes = 0;
    for (const entry of waiting) {
      if (entry.settled) continue;
      if (this.channel !== channel) {
        // The channel died while flushing: keep the rest, in order.
        this.buffer.push(entry);
        this.bufferedBytes += entry.body.length;
      } else this.send(entry);
    }
    debug('flushed %d buffered events', waiting.length);
  }

  /**
   * The channel is gone. Events it had not confirmed go back to the front of the buffer and are sent again on the
   * next channel: a confirm that was lost with the connection may hide a delivered event, so this is
   * at-least-once; listeners drop the duplicates by publisher sequence number.
   */
  detach(): void {
    if (!this.channel) return;
    this.channel = undefined;
    const unconfirmed = [...this.inflight].filter((entry) => !entry.settled);
    this.inflight.clear();
    this.byMessageId.clear();
    if (unconfirmed.length > 0) debug('detached with %d unconfirmed events; they will be sent again', unconfirmed.length);
    this.counters.republished += unconfirmed.length;
    this.buffer = unconfirmed.concat(this.buffer);
    this.bufferedBytes = this.buffer.reduce((sum, entry) => sum + entry.body.length, 0);
  }

  /** Resolves when nothing is buffered or in flight, or after `timeout` ms. */
  async idle(timeout: number): Promise<boolean> {
    if (this.isIdle()) return true;
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      new Promise<boolean>((resolve) => this.idleWaiters.push(() => resolve(true))),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeout);
      }),
    ]);
    clearTimeout(timer);
    return drained;
  }

  /** Rejects everything still buffered or in flight with `error`, and every later publish too. */
  close(error: Error): void {
    this.closedWith = error;
    this.channel = undefined;
    for (const timer of this.retrying.values()) clearTimeout(timer);
    for (const entry of [...this.buffer, ...this.inflight, ...this.retrying.keys()]) this.fail(entry, error);
    this.retrying.clear();
    this.buffer = [];
    this.bufferedBytes = 0;
    this.inflight.clear();
    this.byMessageId.clear();
    this.stopSweeper();
  }

  private refuse(error: EventBusLoggerError): void {
    const entries = [...this.inflight, ...this.buffer];
    this.inflight.clear();
    this.byMessageId.clear();
    this.buffer = [];
    this.bufferedBytes = 0;
    debug('publishing refused: %s (%d events fail)', error.message, entries.length);
    for (const entry of entries) this.fail(entry, error);
  }

  private send(entry: Entry): void {
    const channel = this.channel as AmqpConfirmChannel;
    const { properties } = entry;
    this.inflight.add(entry);
    if (properties.mandatory) this.byMessageId.set(properties.messageId, entry);
    try {
      channel.publish(this.limits.exchange, entry.level, entry.body, properties, (error) => this.onConfirm(entry, channel, error));
      this.writes?.writeSoon();
    } catch (error) {
      // amqplib throws synchronously once the channel is closed: treat it as a lost channel.
      debug('publish threw (%s); buffering', (error as Error).message);
      this.inflight.delete(entry);
      this.byMessageId.delete(properties.messageId);
      if (this.channel === channel) this.detach();
      this.buffer.push(entry);
      this.bufferedBytes += entry.body.length;
    }
  }

  private onConfirm(entry: Entry, channel: AmqpConfirmChannel, error: Error | null): void {
    // A confirm from a channel we have detached from: the entry is already queued again (or settled).
    if (this.channel !== channel || entry.settled) return;
    this.inflight.delete(entry);
    if (entry.properties.mandatory) this.byMessageId.delete(entry.properties.messageId);
    if (error && /channel closed/i.test(error.message)) {
      // The first of the channel's unconfirmed events to hear of it: the others follow it back into the buffer.
      this.detach();
      this.counters.republished++;
      this.buffer.unshift(entry);
      this.bufferedBytes += entry.body.length;
      return;
    }
    if (error) {
      this.onNack(entry, error);
    } else if (entry.returned) {
      this.fail(entry, new EventBusLoggerError('UNROUTABLE', `Event not delivered: no queue is bound to exchange "${this.limits.exchange}" for level "${entry.level}" (nobody listens to it)`));
    } else {
      entry.settled = true;
      this.counters.confirmed++;
      entry.resolve();
      this.checkIdle();
    }
  }

  /**
   * amqplib does not say why the broker nacked, and the usual reason is passing: a queue the event was routed to
   * lived on a cluster node that just died, and the broker nacks until it has cleaned that queue up (the other
   * queues did get the event). So a nack is retried, after a short growing delay, until `publishTimeout`; it
   * rejects with `NACKED` only when the last attempt was nacked. At-least-once: listeners drop the copies, and let
   * through, late, a retry whose first copy they never got.
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
    const timer = setTimeout(() => {
      this.retrying.delete(entry);
      if (entry.settled) return;
      entry.nackedWith = undefined;
      this.counters.republished++;
      this.outOfOrder = true;
      if (this.channel && this.held === undefined) this.send(entry);
      else {
        this.buffer.unshift(entry);
        this.bufferedBytes += entry.body.length;
      }
    }, delay);
    timer.unref();
    this.retrying.set(entry, timer);
    this.ensureSweeper();
  }

  private onReturn(message: AmqpMessage): void {
    const id = message.properties.messageId;
    const entry = typeof id === 'string' ? this.byMessageId.get(id) : undefined;
    if (entry) entry.returned = true;
  }

  private fail(entry: Entry, error: Error): void {
    if (entry.settled) return;
    entry.settled = true;
    this.counters.rejected++;
    // Nobody has to await a publish: its rejection is never reported as unhandled.
    entry.promise.catch(noop);
    entry.reject(error);
    this.checkIdle();
  }

  private isIdle(): boolean {
    return this.inflight.size === 0 && this.buffer.length === 0 && this.retrying.size === 0;
  }

  private checkIdle(): void {
    // Runs on every confirm: a sequential publisher is idle after each one, and usually nobody waits.
    if (this.idleWaiters.length === 0 || !this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }

  // One timer for all pending publishes, rather than one per publish, armed for the oldest deadline: entries
  // are kept in publish order, so the oldest deadline is the first entry in flight or in the buffer. It is not
  // cleared when everything is confirmed (a sequential publisher would create and clear one per event): when it
  // fires with nothing due it re-arms for what is pending then, or stays off.
  private ensureSweeper(): void {
    if (this.sweeper) return;
    let oldest = Math.min(this.inflight.values().next().value?.deadline ?? Infinity, this.buffer[0]?.deadline ?? Infinity);
    // Retried events (nacked ones) are not in deadline order: look at each of them.
    for (const entry of this.retrying.keys()) oldest = Math.min(oldest, entry.deadline);
    if (this.outOfOrder) for (const entry of this.inflight) oldest = Math.min(oldest, entry.deadline);
    if (oldest === Infinity) return;
    this.sweeper = setTimeout(() => {
      this.sweeper = undefined;
      this.sweep();
      this.ensureSweeper();
    }, Math.max(0, Math.ceil(oldest - performance.now())));
    this.sweeper.unref();
  }

  private stopSweeper(): void {
    clearTimeout(this.sweeper);
    this.sweeper = undefined;
  }

  private sweep(): void {
    const now = performance.now();
    const timeout = this.limits.publishTimeout;
    for (const entry of this.inflight) {
      if (entry.deadline > now) {
        if (this.outOfOrder) continue;
        break;
      }
      this.inflight.delete(entry);
      this.byMessageId.delete(entry.properties.messageId);
      this.fail(entry, new EventBusLoggerError('PUBLISH_TIMEOUT', `Event not confirmed by the broker within publishTimeout (${timeout} ms); it was sent and may or may not have reached the bus`));
    }
    if (this.outOfOrder && this.inflight.size === 0) this.outOfOrder = false;
    for (const [entry, timer] of this.retrying) {
      if (entry.deadline > now) continue;
      clearTimeout(timer);
      this.retrying.delete(entry);
      this.fail(entry, new EventBusLoggerError('NACKED', `Event not accepted: the broker refused it (${entry.nackedWith ?? 'nacked'}), ${entry.nacks} times within publishTimeout (${timeout} ms)`));
    }
    if (this.buffer.some((entry) => entry.deadline <= now)) {
      const keep: Entry[] = [];
      for (const entry of this.buffer) {
        if (entry.deadline > now) keep.push(entry);
        else this.fail(entry, new EventBusLoggerError('PUBLISH_TIMEOUT', `Event not sent: ${this.held === undefined ? 'the broker stayed unreachable' : `the broker kept blocking publishers (${this.held})`} for publishTimeout (${timeout} ms)`));
      }
      this.buffer = keep;
      this.bufferedBytes = keep.reduce((sum, entry) => sum + entry.body.length, 0);
    }
    this.checkIdle();
  }
}
