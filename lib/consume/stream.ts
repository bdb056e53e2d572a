// The history stream as the readers see it: a scratch channel of its own for a step that may fail on the broker, a
// record's offset, and the probes for a stream's first and last offsets. Shared by the catch-up listener
// (history-listener.ts) and `history()` (history-read.ts).
//
// On RabbitMQ 3.10 several mistakes on a stream close the whole connection, publishers included: noAck, nack or
// reject, a global prefetch, basic.get, a malformed `x-stream-offset`. Nothing here does any of those: every consumer
// has its own per-consumer prefetch, acks (a stream's credit) and never nacks, and offsets come from `since.ts`.
import type { Bus } from '../bus/connection.js';
import { Backoff } from '../bus/backoff.js';
import { pause, settleWithin, within } from '../deadline.js';
import { EventBusLoggerError, describeError } from '../errors.js';
import { call, type AmqpChannel, type AmqpMessage } from '../rascal.js';
import { publishedAt } from '../wire-format.js';
import type { StreamStart } from '../since.js';
import { noop } from '../noop.js';

/**
 * Records a stream reader (`history()`, a catch-up listener) may have ahead of its handling, unless the logger's
 * `prefetch` was set: acked with one `multiple` ack per half (a stream's acks are its credit).
 */
export const READ_PREFETCH = 5000;

/** How long a probe waits for a stream's first record, once the broker answered, before it takes the stream for empty. */
export const EMPTY_STREAM_WAIT = 1500;

// A channel of its own for a step that may fail on the broker (a 406 closes the channel it happened on).
export async function scratchChannel(bus: Pick<Bus, 'channel'>): Promise<AmqpChannel> {
  const channel = await bus.channel();
  channel.on('error', noop);
  return channel;
}

/**
 * Closes a channel; resolves once it is closed, never rejects. amqplib calls a close's callback only when the broker
 * answers it: a connection lost meanwhile closes the channel ('close') without calling it, and that ends the wait too.
 */
export function closeQuietly(channel: AmqpChannel): Promise<void> {
  return new Promise((resolve) => {
    channel.on('close', () => resolve());
    try {
      channel.close(() => resolve());
    } catch {
      resolve();
    }
  });
}

export const offsetOf = (message: AmqpMessage): number | undefined => {
  const offset = message.properties.headers?.['x-stream-offset'];
  return typeof offset === 'number' ? offset : undefined;
};

/** A probe the broker did not answer in time: never taken for an empty stream. */
export class ProbeUnanswered extends Error {}

/**
 * A probe whose channel the broker closed with a reason. `permanent` for a 404 (the stream deleted, or never declared)
 * and a 403 (no permission): probing again would not help. Any other (a 406, an internal error) may pass.
 */
export class ProbeRefused extends Error {
  readonly permanent: boolean;
  constructor(message: string, code: unknown) {
    super(message);
    this.permanent = code === 404 || code === 403;
  }
}

/** What a probe found in a stream that holds records. */
export interface StreamEnds {
  /** The offset of its first record. */
  first: number;
  /** The offset of its last record. */
  last: number;
  /** When its last record was published, in ms (see publishedAt), when it has a timestamp. */
  lastPublishedAt: number | undefined;
  /** When its first record was published, in ms, when it has a timestamp. */
  firstPublishedAt?: number | undefined;
}

/**
 * The first and last offsets of a stream, read by two short-lived consumers (at `first` and at `last`) on a channel
 * of its own; undefined when the stream is empty. `last` reads the stream's last chunk (RabbitMQ 3.10 delivers a
 * chunk whole, whatever the prefetch), then one round trip on the same channel: the broker has sent the whole chunk
 * before it answers.
 *
 * "Empty" and "no answer" are told apart: the stream is empty only when the broker answered both consumes and a
 * round trip after them, and then sent no record to either for `emptyWait` ms. Once either consumer has a record,
 * the stream is not empty, however long the other takes: the probe waits for both. Whatever the broker does not
 * answer within `answerWait` ms (the channel, a consume, a round trip, the records of a stream known not to be
 * empty) rejects with an Error saying what it waited for: never taken for an empty stream.
 */
export async function probeStream(
  bus: Pick<Bus, 'channel'>,
  stream: string,
  { answerWait, emptyWait = EMPTY_STREAM_WAIT }: { answerWait: number; emptyWait?: number },
): Promise<StreamEnds | undefined> {
  const deadline = performance.now() + answerWait;
  const answered = <T>(promise: Promise<T>, what: string): Promise<T> =>
    within(promise, deadline - performance.now(), () => new ProbeUnanswered(`the broker did not answer ${what} on "${stream}" within ${Math.round(answerWait)} ms`));
  let timedOut = false;
  const opening = scratchChannel(bus);
  // A channel that arrives after the deadline is closed.
  opening.then((late) => void (timedOut && closeQuietly(late)), noop);
  let channel: AmqpChannel;
  try {
    channel = await answered(opening, 'with a channel');
  } catch (error) {
    timedOut = true;
    throw error;
  }
  // The broker's reason when it closes the channel: amqplib rejects a queued call only with 'Channel ended'. A
  // channel that ends with no reason of its own went with its connection.
  let refused: Error | undefined;
  channel.on('error', (error: Error) => (refused = error));
  try {
    let first: number | undefined;
    let last: number | undefined;
    let lastPublishedAt: number | undefined;
    let firstPublishedAt: number | undefined;
    let some!: () => void;
    let both!: () => void;
    const someRecord = new Promise<void>((resolve) => (some = resolve));
    const bothRecords = new Promise<void>((resolve) => (both = resolve));
    const seen = (): void => {
      some();
      if (first !== undefined && last !== undefined) both();
    };
    const consume = (where: 'first' | 'last', onRecord: (offset: number, message: AmqpMessage) => void): Promise<unknown> =>
      call<unknown>((cb) =>
        channel.consume(
          stream,
          (message) => {
            const offset = message ? offsetOf(message) : undefined;
            if (!message || offset === undefined) return;
            onRecord(offset, message);
            seen();
          },
          { noAck: false, arguments: { 'x-stream-offset': where } },
          cb,
        ),
      );
    const roundTrip = (): Promise<unknown> => answered(call<unknown>((cb) => channel.prefetch(1, false, cb)), 'a round trip (basic.qos)');
    await roundTrip();
    await answered(
      Promise.all([
        consume('first', (offset, message) => {
          if (first !== undefined && offset >= first) return;
          first = offset;
          firstPublishedAt = publishedAt(message.properties);
        }),
        consume('last', (offset, message) => {
          if (last !== undefined && offset <= last) return;
          last = offset;
          lastPublishedAt = publishedAt(message.properties);
        }),
      ]),
      'the probe consumers (basic.consume)',
    );
    await roundTrip();
    if (!(await settleWithin(someRecord, emptyWait))) {
      await closeQuietly(channel);
      return undefined;
    }
    await answered(bothRecords, 'with the first and last records of a stream that holds records');
    // The rest of the last chunk: sent before the broker answers this.
    await roundTrip();
    const ends = { first: first as number, last: last as number, lastPublishedAt, firstPublishedAt };
    await closeQuietly(channel);
    return ends;
  } catch (error) {
    // A probe the broker did not answer in time is not held by its channel's close, which waits for the same broker.
    void closeQuietly(channel);
    if (refused && !(error instanceof ProbeUnanswered)) throw new ProbeRefused(describeError(refused), (refused as { code?: unknown }).code);
    throw error;
  }
}

/**
 * probeStream within `bound` ms in all. A probe cut by a lost connection (its channel ended with no reason of its own,
 * or none could be opened) is tried again after a growing pause, while `again()` says so and the bound allows; one
 * the broker refused for good (a 404: the stream deleted; a 403) or did not answer in time rejects at once; another
 * channel error the broker closed the probe's channel with (a 406) is probed again too.
 */
export async function probeAgain(bus: Pick<Bus, 'channel'>, stream: string, bound: number, again: () => boolean): Promise<StreamEnds | undefined> {
  const deadline = performance.now() + bound;
  const backoff = new Backoff(100, 2000);
  for (;;) {
    try {
      return await probeStream(bus, stream, { answerWait: Math.max(0, deadline - performance.now()) });
    } catch (error) {
      const wait = backoff.next();
      if (error instanceof ProbeUnanswered || (error instanceof ProbeRefused && error.permanent) || !again() || performance.now() + wait >= deadline) throw error;
      await pause(wait);
    }
  }
}

/**
 * Throws `OUT_OF_RANGE` when `offset` does not exist yet in a stream with these ends (beyond the offset its next
 * record will get), as Kafka's `auto.offset.reset=none` does: reading from there would wait for ever. An offset
 * below the first (deleted by retention) is not an error: the broker starts at the first record.
 */
export function checkInRange(stream: string, offset: number, ends: StreamEnds | undefined): void {
  if (ends ? offset <= ends.last + 1 : offset === 0) return;
  const holds = ends ? `it holds offsets ${ends.first} to ${ends.last}, and its next event will be ${ends.last + 1}` : 'it is empty';
  throw new EventBusLoggerError(
    'OUT_OF_RANGE',
    `Offset ${offset} does not exist yet in the history stream "${stream}": ${holds}. (A stream deleted and declared anew numbers its events from 0 again.) Read from "start", from a time, or from an offset up to ${ends ? ends.last + 1 : 0}`,
  );
}

/**
 * Before a read resumes from an offset: a stream deleted and declared anew may not reach it (that would wait for
 * ever). Throws OUT_OF_RANGE then; a probe unanswered by `deadline` is "not back within resumeTimeout".
 */
export async function rangeChecked(bus: Pick<Bus, 'channel'>, stream: string, from: StreamStart, deadline: number, resumeTimeout: number): Promise<void> {
  if (from.kind !== 'offset') return;
  const ends = await probeStream(bus, stream, { answerWait: Math.max(0, deadline - performance.now()) }).catch((error: unknown) => {
    throw error instanceof ProbeUnanswered ? new Error(`not back within resumeTimeout (${resumeTimeout} ms)`) : error;
  });
  checkInRange(stream, from.offset, ends);
}
