// A catch-up listener: a second consumer kind feeding the delivery pipeline, like the live queue. It reads the
// history stream from `since`, then follows it live, and resumes after its last offset when a channel is lost.
import createDebug from 'debug';
import type { Bus } from '../bus/connection.js';
import type { SetupContext } from '../bus/session.js';
import type { Report } from '../events.js';
import { call, type AmqpChannel } from '../rascal.js';
import { streamOffsetArgument, type StreamStart } from '../since.js';
import { Acks, ackBatch } from './acks.js';
import type { Delivery } from './delivery.js';
import type { SequenceWindow } from './sequence.js';
import { closeQuietly, offsetOf, probeOffset } from './stream.js';

const debug = createDebug('event-bus-logger:history');

/** Payload of a retention `'gap'`. */
export interface RetentionGap {
  from: number;
  to: number;
}

export interface HistoryListenerParts {
  bus: Pick<Bus, 'channel'>;
  stream: string;
  since: StreamStart;
  prefetch: number;
  /** Configured levels this listener does not listen to: skipped quietly (the stream holds every level). */
  skip: ReadonlySet<string>;
  delivery: Delivery<string>;
  /** The delivery's duplicate check: cleared after a retention gap, which says what was lost once. */
  sequence: Pick<SequenceWindow, 'clear'>;
  report: Report;
  stats: { missed: number };
}

/**
 * A catch-up listener's consumer: reads the history stream from `since`, then follows it live, feeding the delivery
 * pipeline. After any reopen it resumes right after the last event it dispatched; when retention deleted events it
 * had not read, it says so with a `'gap'`.
 */
export class HistoryListener {
  readonly #parts: HistoryListenerParts;
  // The offset of the last record handed to the pipeline (or skipped as older than a `since` time).
  #last: number | undefined;

  constructor(parts: HistoryListenerParts) {
    this.#parts = parts;
  }

  /** The offset of the last event dispatched, once there is one. */
  get lastOffset(): number | undefined {
    return this.#last !== undefined && this.#last >= 0 ? this.#last : undefined;
  }

  readonly setup = async ({ channels: { consumer }, isCurrent, lost }: SetupContext): Promise<void> => {
    const { bus, stream, since, prefetch, skip, delivery, sequence, report, stats } = this.#parts;
    let justProbed = false;
    if (since.kind === 'now' && this.#last === undefined) {
      // 'now' as an offset, so that a reconnect before the first event resumes from here, not from a later 'now'.
      this.#last = (await probeOffset(bus, stream, 'last')) ?? -1;
      justProbed = true;
    }
    const start: StreamStart = this.#last === undefined ? since : { kind: 'offset', offset: this.#last + 1 };
    if (start.kind === 'offset' && !justProbed) {
      // Retention may have deleted what comes next: then the stream's first record is beyond it.
      const first = await probeOffset(bus, stream, 'first');
      if (first !== undefined && first > start.offset) {
        const gap = { from: start.offset, to: first - 1 };
        const missed = gap.to - gap.from + 1;
        stats.missed += missed;
        sequence.clear();
        debug('retention deleted offsets %d..%d', gap.from, gap.to);
        report('gap', { reason: 'retention', stream, from: gap.from, to: gap.to, missed, publisher: '', level: '', expected: gap.from, received: gap.to + 1 });
      }
    }
    // Records before a `since` time that share the broker's first chunk: dropped by their own timestamp.
    let before = start.kind === 'time' ? Math.floor(start.time.getTime() / 1000) : undefined;
    await call<unknown>((cb) => consumer.prefetch(prefetch, false, cb));
    if (!isCurrent()) throw new Error('superseded');
    const acks = new Acks(consumer, ackBatch(prefetch));
    const onMessage = delivery.consumer(acks, () => lost('the broker cancelled the history consumer (stream deleted?)'));
    await call<unknown>((cb) =>
      consumer.consume(
        stream,
        (message) => {
          if (message === null) return onMessage(null);
          const offset = offsetOf(message);
          if (offset !== undefined) {
            if (this.#last !== undefined && offset <= this.#last) return acks.done(message.fields.deliveryTag);
            if (before !== undefined) {
              const timestamp = message.properties.timestamp;
              if (typeof timestamp === 'number' && timestamp < before) {
                this.#last = offset;
                return acks.done(message.fields.deliveryTag);
              }
              before = undefined;
            }
            this.#last = offset;
          }
          if (skip.has(message.fields.routingKey)) return acks.done(message.fields.deliveryTag);
          onMessage(message);
        },
        { noAck: false, arguments: { 'x-stream-offset': streamOffsetArgument(start) } },
        cb,
      ),
    );
    debug('reading %s from %o', stream, start);
  };

  /** Stops consuming by closing the consumer channel. Resolves when done or after `timeout` ms. */
  async stop(consumer: AmqpChannel, timeout: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([closeQuietly(consumer), new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, timeout))))]);
    clearTimeout(timer);
  }
}
