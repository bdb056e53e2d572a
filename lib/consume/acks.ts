// Acknowledgements of one consumer channel. An event is acked once it is handled: at once when every listener
// returned, when its promise settles when one returned a promise (whatever the outcome: an event is never
// requeued, so a poison message cannot loop). Unacked events count against the channel's prefetch, so at most
// `prefetch` events are being handled at once and the broker keeps the rest in the queue: a slow asynchronous
// listener slows delivery down instead of piling up promises in memory.
//
// Acks go out in a microtask, once amqplib has handed over every message of the socket read it is processing, and
// as few as possible: one `allUpTo` ack covers every handled event below the oldest one still being handled; the
// handled events above it are acked one by one (an `allUpTo` ack would cover the unfinished one too).
import createDebug from 'debug';
import { describeError } from '../errors.js';
import type { AmqpChannel, AmqpMessage } from '../rascal.js';

const debug = createDebug('event-bus-logger:acks');

export class Acks {
  // Delivery tags being handled (asynchronously), in delivery order: the first is the oldest.
  readonly #handling = new Set<number>();
  // The highest handled tag below every tag still being handled, not yet acked: one allUpTo ack covers it.
  #upTo = 0;
  // Handled tags above one still being handled, not yet acked: each needs an ack of its own.
  #oneByOne: number[] | undefined;
  #scheduled = false;
  // One function for every flush: this runs for every event.
  readonly #flushLater = (): void => this.#flush();

  constructor(private readonly channel: AmqpChannel) {}

  /** The event with `tag` is being handled asynchronously: it is acked at {@link done}. */
  start(tag: number): void {
    this.#handling.add(tag);
  }

  /** The event with `tag` is handled (or was dropped): ack it. */
  done(tag: number): void {
    // Tags start in delivery order and only the older ones can finish meanwhile: a tag below every tag being
    // handled now stays below them until the flush.
    if (this.#handling.size === 0 || (this.#handling.delete(tag) && this.#isOldest(tag))) {
      if (tag > this.#upTo) this.#upTo = tag;
    } else (this.#oneByOne ??= []).push(tag);
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(this.#flushLater);
  }

  #isOldest(tag: number): boolean {
    return this.#handling.size === 0 || tag < (this.#handling.values().next().value as number);
  }

  #flush(): void {
    this.#scheduled = false;
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
