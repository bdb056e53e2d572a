// A catch-up listener: a second consumer kind feeding the delivery pipeline, like the live queue. It reads the
// history stream from `since`, then follows it live, and resumes after its last offset when a channel is lost.
import createDebug from 'debug';
import type { Bus } from '../bus/connection.js';
import type { SetupContext } from '../bus/session.js';
import type { Report } from '../events.js';
import { call, type AmqpChannel } from '../rascal.js';
import { streamOffsetArgument, type StreamStart } from '../since.js';
import { Acks, ackBatch } from './acks.js';
import type { Delivery, DeliveryGate } from './delivery.js';
import type { SequenceWindow } from './sequence.js';
import { closeQuietly, offsetOf, probeStream, type StreamEnds } from './stream.js';
import { publishedAt } from '../wire-format.js';
import { settleWithin } from '../deadline.js';

const debug = createDebug('event-bus-logger:history');

/** How long a catch-up listener's probe waits for the broker to answer before this setup fails (and is tried again). */
export const PROBE_ANSWER_WAIT = 30_000;

export interface HistoryListenerParts {
  bus: Pick<Bus, 'channel'>;
  stream: string;
  since: StreamStart;
  /** The stream consumer's prefetch: how far it reads ahead (its acks are the stream's credit). */
  prefetch: number;
  /** Configured levels this listener does not listen to: skipped quietly (the stream holds every level). */
  skip: ReadonlySet<string>;
  /** The pipeline, through a gate that bounds the events handled at once when it reads ahead further. */
  delivery: Pick<Delivery<string> | DeliveryGate, 'consumer'>;
  /** The delivery's duplicate check: cleared after a retention gap, which says what was lost once. */
  sequence: Pick<SequenceWindow, 'clear'>;
  report: Report;
  stats: { missed: number };
  /** How long a probe waits for the broker to answer. @default PROBE_ANSWER_WAIT */
  probeAnswerWait?: number;
}

/**
 * A catch-up listener's consumer: reads the history stream from `since`, then follows it live, feeding the delivery
 * pipeline. After any reopen it resumes right after the last event it dispatched; when retention deleted events it
 * had not read, it says so with a `'gap'`.
 */
export class HistoryListener {
  readonly #parts: HistoryListenerParts;
  // The offset of the last record handed to the pipeline (or skipped as older than a `since` time). The pipeline's
  // gate may still hold it, waiting for asynchronous listeners: a reopened channel reads on after it all the same,
  // and the gate delivers what it holds first.
  #last: number | undefined;
  // When start() built this listener: what `since: 'now'` means, however late its first set-up runs.
  readonly #startedAt = Date.now();

  constructor(parts: HistoryListenerParts) {
    this.#parts = parts;
  }

  /** The offset of the last event handed to the pipeline (dispatched, or waiting in its gate), once there is one. */
  get lastOffset(): number | undefined {
    return this.#last !== undefined && this.#last >= 0 ? this.#last : undefined;
  }

  readonly setup = async ({ channels: { consumer }, isCurrent, lost }: SetupContext): Promise<void> => {
    const { bus, stream, since, prefetch, skip, delivery } = this.#parts;
    let start: StreamStart = this.#last === undefined ? since : { kind: 'offset', offset: this.#last + 1 };
    // The stream's ends: for 'now' (as an offset, so that a reconnect before the first event resumes from here, not
    // from a later 'now'), and for an offset (retention may have deleted what comes next; or the stream, declared
    // anew, may not reach it yet). A broker that does not answer fails this setup: the session tries again.
    if (start.kind === 'now' || start.kind === 'offset') {
      const ends = await probeStream(bus, stream, { answerWait: this.#parts.probeAnswerWait ?? PROBE_ANSWER_WAIT });
      if (!isCurrent()) throw new Error('superseded');
      if (start.kind === 'now' && ends?.lastPublishedAt !== undefined && ends.lastPublishedAt >= this.#startedAt) {
        // 'now' is when start() was called. A set-up that runs later (a background start, a first set-up cut by a
        // lost connection) finds records published since: read from that time, so none of them is missed.
        start = { kind: 'time', time: new Date(this.#startedAt) };
      } else if (start.kind === 'now') {
        // Never offset 0 for 'now': a stream that looks empty is read from its next record.
        if (ends) start = { kind: 'offset', offset: ends.last + 1 };
        this.#last = ends?.last;
      } else if (ends && ends.first > start.offset) {
        this.#retentionGap(start.offset, ends.first);
        start = { kind: 'offset', offset: ends.first };
      } else if (ends ? start.offset > ends.last + 1 : start.offset > 0) {
        start = this.#outOfRange(start.offset, ends);
      }
    }
    // A record after the one asked for, first of all: retention deleted the ones between since the probe.
    let expected = start.kind === 'offset' ? start.offset : undefined;
    // Records before a `since` time that share the broker's first chunk: dropped by their own timestamp.
    let before = start.kind === 'time' ? start.time.getTime() : undefined;
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
            if (expected !== undefined && offset > expected) this.#retentionGap(expected, offset);
            expected = undefined;
            if (before !== undefined) {
              const published = publishedAt(message.properties);
              if (published !== undefined && published < before) {
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

  // Retention deleted the offsets `from` up to (not including) `next`: said once, with the duplicate check cleared.
  #retentionGap(from: number, next: number): void {
    const { stream, sequence, report, stats } = this.#parts;
    const missed = next - from;
    stats.missed += missed;
    sequence.clear();
    debug('retention deleted offsets %d..%d', from, next - 1);
    report('gap', { reason: 'retention', stream, from, to: next - 1, missed, publisher: '', level: '', expected: from, received: next });
  }

  // An offset the stream does not reach (a `since` offset beyond its end, or a stream deleted and declared anew,
  // whose offsets start again at 0): said with a 'gap', and the listener goes on from the stream's end, as Kafka's
  // auto.offset.reset=latest does.
  #outOfRange(offset: number, ends: StreamEnds | undefined): StreamStart {
    const { stream, report } = this.#parts;
    const next = ends ? ends.last + 1 : undefined;
    debug('offset %d is beyond the end of %s (%o): going on from its end', offset, stream, ends);
    report('gap', {
      reason: 'out-of-range',
      stream,
      ...(ends ? { from: ends.first, to: ends.last } : {}),
      missed: 0,
      publisher: '',
      level: '',
      expected: offset,
      received: next ?? 0,
    });
    this.#last = ends?.last;
    return next === undefined ? { kind: 'now' } : { kind: 'offset', offset: next };
  }

  /** Stops consuming by closing the consumer channel. Resolves when done or after `timeout` ms. */
  async stop(consumer: AmqpChannel, timeout: number): Promise<void> {
    await settleWithin(closeQuietly(consumer), timeout);
  }
}
