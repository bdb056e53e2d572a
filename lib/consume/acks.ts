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
  // Handled and not yet acked.
  #handled: number[] = [];
  #scheduled = false;

  constructor(private readonly channel: AmqpChannel) {}

  /** The event with `tag` is being handled asynchronously: it is acked at {@link done}. */
  start(tag: number): void {
    this.#handling.add(tag);
  }

  /** The event with `tag` is handled (or was dropped): ack it. */
  done(tag: number): void {
    this.#handling.delete(tag);
    this.#handled.push(tag);
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    this.#scheduled = false;
    const handled = this.#handled;
    this.#handled = [];
    const oldest = this.#handling.values().next().value ?? Infinity;
    let upTo = 0;
    const oneByOne: number[] = [];
    for (const tag of handled) {
      if (tag < oldest) upTo = Math.max(upTo, tag);
      else oneByOne.push(tag);
    }
    try {
      if (upTo > 0) this.channel.ack(delivery(upTo), true);
      for (const tag of oneByOne) this.channel.ack(delivery(tag), false);
    } catch (error) {
      // The channel closed meanwhile: its unacked events are gone with it (or redelivered to a resumable queue,
      // where the sequence check drops what was handled already).
      debug('ack failed: %s', describeError(error));
    }
  }
}

// amqplib's ack reads only the delivery tag of the message.
const delivery = (deliveryTag: number): AmqpMessage => ({ fields: { deliveryTag } }) as AmqpMessage;
