// Acknowledgements of one consumer channel. An event is acked once it is handled: at once when every listener
// returned, when its promise settles when one returned a promise (whatever the outcome: an event is never
// requeued, so a poison message cannot loop). Unacked events count against the channel's prefetch, so at most
// `prefetch` events are being handled at once and the broker keeps the rest in the queue: a slow asynchronous
// listener slows delivery down instead of piling up promises in memory.
//
// Acks go out in batches, as few as possible: once `batch` events were handled since the last ack (half the
// prefetch: the broker still has the other half of its window to send more), or ACK_DELAY ms after the first of
// them, whichever comes first. Every ack the broker gets costs it work on the path of the next publish; a
// sequential publisher that listens to itself would otherwise send one per event. One `allUpTo` ack covers every
// handled event below the oldest one still being handled; the handled events above it are acked one by one (an
// `allUpTo` ack would cover the unfinished one too). A handled event whose ack was lost with the connection is
// redelivered only by a resumable queue, where the sequence check drops it as a duplicate if it has a publisher and
// sequence (every event of this library). An event of another client (no messageId of ours) has neither: it is
// delivered again, flagged `redelivered`. Batching widens that window from one event to a batch (half the prefetch,
// or ACK_DELAY ms of events): documented in docs/errors.md, not worth an ack per event on every logger's hot path.
import createDebug from 'debug';
import { describeError } from '../errors.js';
import type { AmqpChannel, AmqpMessage } from '../rascal.js';

const debug = createDebug('event-bus-logger:acks');

/** The longest a handled event waits for its ack, in ms, when fewer than a batch were handled. */
export const ACK_DELAY = 20;

/** Handled events acked together for a consumer with `prefetch`: half of it, at least 1. */
export function ackBatch(prefetch: number): number {
  return Math.max(1, Math.floor(prefetch / 2));
}

export class Acks {
  // Delivery tags being handled (asynchronously), in delivery order: the first is the oldest.
  readonly #handling = new Set<number>();
  // The highest handled tag below every tag still being handled, not yet acked: one allUpTo ack covers it.
  #upTo = 0;
  // Handled tags above one still being handled, not yet acked: each needs an ack of its own.
  #oneByOne: number[] | undefined;
  // Events handled since the last ack.
  #pending = 0;
  // A microtask is due to send the acks (a full batch was handled).
  #scheduled = false;
  // The ACK_DELAY timer, armed by the first handled event after an ack.
  #timer: NodeJS.Timeout | undefined;
  // One function for every flush: this runs for every batch.
  readonly #flushNow = (): void => this.#flush();

  /** `batch`: handled events acked together (1: each at the end of the turn it was handled in). */
  constructor(
    private readonly channel: AmqpChannel,
    private readonly batch = 1,
  ) {}

  /** The event with `tag` is being handled asynchronously: it is acked at {@link done}. */
  start(tag: number): void {
    this.#handling.add(tag);
  }

  /** The event with `tag` is handled (or was dropped): ack it, with its batch. */
  done(tag: number): void {
    // Tags start in delivery order and only the older ones can finish meanwhile: a tag below every tag being
    // handled now stays below them until the flush.
    if (this.#handling.size === 0 || (this.#handling.delete(tag) && this.#isOldest(tag))) {
      if (tag > this.#upTo) this.#upTo = tag;
    } else (this.#oneByOne ??= []).push(tag);
    if (this.#scheduled) return;
    if (++this.#pending < this.batch) {
      if (this.#timer === undefined) {
        this.#timer = setTimeout(this.#flushNow, ACK_DELAY);
        this.#timer.unref();
      }
      return;
    }
    // A full batch: once amqplib has handed over every message of the socket read it is processing.
    this.#scheduled = true;
    queueMicrotask(this.#flushNow);
  }

  #isOldest(tag: number): boolean {
    return this.#handling.size === 0 || tag < (this.#handling.values().next().value as number);
  }

  #flush(): void {
    this.#scheduled = false;
    this.#pending = 0;
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const upTo = this.#upTo;
    const oneByOne = this.#oneByOne;
    this.#upTo = 0;
    this.#oneByOne = undefined;
    try {
      if (upTo > 0) this.channel.ack(delivery(upTo), true);
      if (oneByOne) for (const tag of oneByOne) if (tag > upTo) this.channel.ack(delivery(tag), false);
    } catch (error) {
      // The channel closed meanwhile: its unacked events are gone with it (or redelivered to a resumable queue,
      // where the sequence check drops what was handled already).
      debug('ack failed: %s', describeError(error));
    }
  }
}

// amqplib's ack reads only the delivery tag of the message.
const delivery = (deliveryTag: number): AmqpMessage => ({ fields: { deliveryTag } }) as AmqpMessage;
