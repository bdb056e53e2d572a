// The delivery pipeline every consumer feeds: decode a message, drop duplicates and report gaps by publisher and
// sequence, hand the event to the listeners, and ack it once they are done with it. The live queue and the catch-up
// listener (the history stream) both feed it.
import createDebug from 'debug';
import { describeError } from '../errors.js';
import type { Report } from '../events.js';
import type { AmqpMessage } from '../rascal.js';
import type { Stats } from '../stats.js';
import { decodeMessage, type EventData, type EventMeta, type LevelSet } from '../wire-format.js';
import type { Acks } from './acks.js';
import { liveSequence, type SequenceCheck } from './sequence.js';
import { settleWithin } from '../deadline.js';
import { Fifo } from './fifo.js';
import { noop } from '../noop.js';

const debug = createDebug('event-bus-logger:delivery');

export interface DeliveryParts<L extends string> {
  /** The levels this logger listens to (every one with `levels: '*'`): a message with another routing key is 'invalid'. */
  levels: LevelSet;
  maxMessageBytes: number;
  stats: Stats;
  report: Report;
  /** Hands one event to its listeners. Returns a promise while they run; it must not reject. */
  handle: (level: L, data: EventData, meta: EventMeta<L>) => void | Promise<unknown>;
  /**
   * The duplicate check by publisher and sequence. Default: a live queue's ({@link liveSequence}); a history reader
   * passes a wider {@link SequenceWindow}. Both let a late re-sent event through once.
   */
  sequence?: { check(publisher: string, level: string, seq: number): SequenceCheck };
}

export class Delivery<L extends string> {
  readonly #parts: DeliveryParts<L>;
  readonly #sequence: NonNullable<DeliveryParts<L>['sequence']>;
  // Events whose listeners are still running.
  readonly #running = new Set<Promise<unknown>>();

  constructor(parts: DeliveryParts<L>) {
    this.#parts = parts;
    this.#sequence = parts.sequence ?? liveSequence();
  }

  /**
   * The message callback of one consumer: every message is delivered, then acked once handled, whatever becomes of
   * it: an event is never requeued, so a poison message cannot loop. Until then it counts against the prefetch,
   * which bounds how many are handled at once. `null` (the broker cancelled the consumer) calls `onCancel`.
   */
  consumer(acks: Acks, onCancel: () => void): (message: AmqpMessage | null) => void {
    return consumerCallback((message) => void deliverThenAck(this, message, acks), onCancel);
  }

  /** Delivers one message. Returns a promise (that never rejects) while its listeners run. */
  deliver(message: AmqpMessage): Promise<unknown> | undefined {
    const { stats, report } = this.#parts;
    const decoded = decodeMessage<L>(message, this.#parts.levels, this.#parts.maxMessageBytes);
    if (!decoded.ok) {
      stats.invalid++;
      debug('invalid message: %s', decoded.reason);
      const properties = message.properties;
      report('invalid', {
        reason: decoded.reason,
        content: message.content,
        routingKey: message.fields.routingKey,
        messageId: typeof properties.messageId === 'string' ? properties.messageId : undefined,
        appId: typeof properties.appId === 'string' ? properties.appId : undefined,
      });
      return;
    }
    const { level, data, meta } = decoded;
    if (meta.publisher !== undefined && meta.seq !== undefined) {
      const check = this.#sequence.check(meta.publisher, level, meta.seq);
      if (check.kind === 'duplicate') {
        stats.duplicates++;
        debug('duplicate %s #%d dropped', level, meta.seq);
        return;
      }
      if (check.kind === 'gap') {
        stats.missed += check.missed;
        report('gap', { publisher: meta.publisher, level, expected: check.expected, received: meta.seq, missed: check.missed });
      }
    }
    stats.received[level] = (stats.received[level] ?? 0) + 1;
    let result: void | Promise<unknown>;
    try {
      result = this.#parts.handle(level, data, meta);
    } catch (error) {
      // handle() reports its listeners' failures itself; this is a last line of defence.
      debug('delivering %s failed: %s', level, describeError(error));
      return;
    }
    if (!result) return;
    const running: Promise<unknown> = result.catch(noop).finally(() => this.#running.delete(running));
    this.#running.add(running);
    return running;
  }

  /** Resolves once every running listener has finished, or after `timeout` ms. */
  async settled(timeout: number): Promise<void> {
    if (this.#running.size === 0) return;
    await settleWithin(Promise.allSettled(this.#running), timeout);
  }
}

// The callback a consumer hands amqplib: `null` (the broker cancelled the consumer) calls `onCancel`; a message goes
// to `take`.
function consumerCallback(take: (message: AmqpMessage) => void, onCancel: () => void): (message: AmqpMessage | null) => void {
  return (message) => {
    if (message !== null) return take(message);
    debug('consumer cancelled by the broker');
    onCancel();
  };
}

// Delivers one message and acks it once its listeners are done: at once when none is asynchronous (or delivering
// threw). Returns the promise of its listeners while they run.
function deliverThenAck(delivery: Pick<Delivery<string>, 'deliver'>, message: AmqpMessage, acks: Acks): Promise<unknown> | undefined {
  const tag = message.fields.deliveryTag;
  let running: Promise<unknown> | undefined;
  try {
    running = delivery.deliver(message);
  } finally {
    if (running) {
      acks.start(tag);
      const done = (): void => acks.done(tag);
      void running.then(done, done);
    } else {
      acks.done(tag);
    }
  }
  return running;
}

/**
 * A consumer that reads further ahead than it handles at once: the catch-up listener's stream consumer has a
 * prefetch of thousands (a stream's credit: read ahead as `history()` does), but no more than `limit` events (the
 * logger's `prefetch`) are being handled at once by asynchronous listeners, as on the live queue. The events beyond
 * wait here, in the stream's order, whatever channel brought them (a channel reopened after a lost connection reads
 * on after the last event received, so what waits here is still to be delivered, before anything the new channel
 * brings). Each is acked on its own channel once handled. Bounded by the prefetch: unacked events are its credit.
 * Synchronous listeners never wait: each event is delivered as it arrives.
 */
export class DeliveryGate {
  readonly #delivery: Delivery<string>;
  readonly #limit: number;
  // Events whose listeners are still running.
  #running = 0;
  // Events waiting for a slot, oldest first from #head.
  readonly #waiting = new Fifo<{ message: AmqpMessage; acks: Acks }>();
  #closed = false;

  constructor(delivery: Delivery<string>, limit: number) {
    this.#delivery = delivery;
    this.#limit = Math.max(1, limit);
  }

  /** The message callback of one consumer channel (see {@link Delivery.consumer}). */
  consumer(acks: Acks, onCancel: () => void): (message: AmqpMessage | null) => void {
    return consumerCallback((message) => {
      if (this.#closed) return;
      if (this.#running < this.#limit && this.#waiting.size === 0) this.#deliver(message, acks);
      else this.#waiting.push({ message, acks });
    }, onCancel);
  }

  /** The logger is stopping: nothing more is delivered; what waits here is left in the stream. */
  close(): void {
    this.#closed = true;
    this.#waiting.clear();
  }

  #deliver(message: AmqpMessage, acks: Acks): void {
    const running = deliverThenAck(this.#delivery, message, acks);
    if (running) {
      this.#running++;
      const done = (): void => {
        this.#running--;
        this.#next();
      };
      void running.then(done, done);
    }
  }

  // Delivers waiting events while there is a slot.
  #next(): void {
    while (!this.#closed && this.#running < this.#limit) {
      const next = this.#waiting.shift();
      if (next === undefined) return;
      this.#deliver(next.message, next.acks);
    }
  }
}
