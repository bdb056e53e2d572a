// `history()`: reads the bus's history stream once, from `since` up to where the stream ended when the read began
// (its last offset, found by a probe), on a channel of its own; then ends. Never noAck, nack, reject, a global
// prefetch or basic.get (each closes the whole connection on RabbitMQ 3.10): a per-consumer prefetch and acks.
import createDebug from 'debug';
import { Backoff } from '../bus/backoff.js';
import { pause, within } from '../deadline.js';
import { EventBusLoggerError, describeError } from '../errors.js';
import { call, type AmqpChannel, type AmqpMessage } from '../rascal.js';
import { decodeMessage, publishedAt } from '../wire-format.js';
import { EMPTY_STREAM_WAIT, checkInRange, closeQuietly, offsetOf, probeAgain, rangeChecked, scratchChannel } from './stream.js';
import { SequenceWindow } from './sequence.js';
import { Fifo } from './fifo.js';
import { streamOffsetArgument, type StreamStart } from '../since.js';
import type { HistoryEvent, HistoryProgress, HistoryReadParts, HistoryReader } from './history-event.js';

const debug = createDebug('event-bus-logger:history-read');

/** How long a cut read waits for the connection to come back, by default. */
export const RESUME_TIMEOUT = 30_000;

export type { HistoryBus, HistoryReadParts } from './history-event.js';

/**
 * Reads the history stream from `since` up to its last offset when the read began (found by a probe), then ends.
 * A finite async iterator; `return()` (breaking out of a `for await`) closes its channel, and with it its consumer.
 * A lost channel (the connection went) is replaced once the records already received are handed out: the read
 * goes on from the offset after the last record it took, within `resumeTimeout`.
 */
export class HistoryRead<L extends string> implements HistoryReader<L> {
  readonly #parts: HistoryReadParts;
  readonly #sequence = new SequenceWindow();
  readonly #queue = new Fifo<AmqpMessage>();
  readonly #ackEvery: number;
  #channel: AmqpChannel | undefined;
  #opening: Promise<void> | undefined;
  #opened = false;
  #end: number | undefined;
  #done = false;
  #failure: Error | undefined;
  #wake: (() => void) | undefined;
  #before: number | undefined;
  #received = false;
  #last: number | undefined; // the offset of the last record taken from the queue: a resumed read starts after it
  #lost = false; // the channel went before the end: the next read of an empty queue resumes
  // Counts the channels asked for: one that arrives after its attempt was given up is closed.
  #attempts = 0;
  #unacked = 0; // records taken from the current channel since its last ack
  readonly #count = { scanned: 0, matched: 0 };

  constructor(parts: HistoryReadParts) {
    this.#parts = parts;
    this.#ackEvery = Math.max(1, parts.prefetch >> 1);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<HistoryEvent<L>>> {
    // Once open, the records already received are handed out at once: no await, one promise per event.
    if (this.#opened) {
      while (!this.#done) {
        const message = this.#queue.shift();
        if (message === undefined) break;
        const event = this.#take(message);
        if (event) return Promise.resolve({ done: false, value: event });
      }
    }
    return this.#next();
  }

  async #next(): Promise<IteratorResult<HistoryEvent<L>>> {
    this.#opening ??= this.#open();
    try {
      await this.#opening;
    } catch (error) {
      void this.#finish(); // not awaited: a broker that did not answer the probe may not answer the read's close
      throw error;
    }
    this.#opened = true;
    for (;;) {
      if (this.#done) return this.#finish();
      const message = this.#queue.shift();
      if (!message) {
        // Records may have arrived while the read resumed: look at the queue again before waiting.
        if (this.#lost && (await this.#resume())) continue;
        if (this.#failure) {
          const failure = this.#failure;
          await this.#finish();
          throw failure;
        }
        if (this.#done) continue;
        await new Promise<void>((resolve) => (this.#wake = resolve));
        continue;
      }
      const event = this.#take(message);
      if (event) return { done: false, value: event };
    }
  }

  // One record taken from the queue: where a resumed read starts, the stream's credit, and its event if any.
  #take(message: AmqpMessage): HistoryEvent<L> | undefined {
    const offset = offsetOf(message);
    if (offset !== undefined) this.#last = offset;
    // Acks are the stream's credit: one `multiple` ack per half of the prefetch (1.5-1.8x the rate of one each).
    if (!this.#lost && ++this.#unacked >= this.#ackEvery) {
      this.#channel?.ack(message, true);
      this.#unacked = 0;
    }
    return this.#accept(message, offset);
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  get progress(): HistoryProgress { return { offset: this.#last, end: this.#end, ...this.#count }; }

  async return(): Promise<IteratorResult<HistoryEvent<L>>> {
    return this.#finish();
  }

  async #finish(): Promise<IteratorResult<HistoryEvent<L>>> {
    this.#done = true;
    this.#queue.clear();
    const channel = this.#channel;
    this.#channel = undefined;
    if (channel) await closeQuietly(channel);
    return { done: true, value: undefined };
  }

  // The event of one record, or undefined when it is skipped; marks the read done at the end offset.
  #accept(message: AmqpMessage, offset: number | undefined): HistoryEvent<L> | undefined {
    const { levels, wanted, maxMessageBytes, until } = this.#parts;
    if (offset === undefined || this.#end === undefined) return undefined;
    if (offset > this.#end) {
      this.#done = true;
      return undefined;
    }
    if (offset === this.#end) this.#done = true;
    const published = this.#before !== undefined || until?.kind === 'time' ? publishedAt(message.properties) : undefined; // ms
    if (this.#before !== undefined) {
      if (published !== undefined && published < this.#before) return undefined;
      this.#before = undefined;
    }
    if (until?.kind === 'time' && published !== undefined && published > until.time.getTime()) return undefined;
    this.#count.scanned++;
    if (!wanted.has(message.fields.routingKey)) return undefined;
    const decoded = decodeMessage<L>(message, levels, maxMessageBytes);
    if (!decoded.ok) {
      debug('skipped offset %d: %s', offset, decoded.reason);
      return undefined;
    }
    const { level, data, meta } = decoded;
    if (meta.publisher !== undefined && meta.seq !== undefined && this.#sequence.check(meta.publisher, level, meta.seq).kind === 'duplicate') return undefined;
    if (this.#parts.test && !this.#parts.test({ level, data, meta })) return undefined;
    this.#count.matched++;
    return { level, data, meta };
  }

  // Finds where the read ends (the stream's last offset, or `until`), checks `since` against the stream's offsets,
  // and starts consuming. Bounded by resumeTimeout as a resume is: a read started during an outage, or on a broker
  // that does not answer, fails with CONNECT; never taken for an empty stream.
  async #open(): Promise<void> {
    const { stream, since, until } = this.#parts;
    if (since.kind === 'now') {
      this.#done = true;
      return;
    }
    const bound = this.#openBound();
    const consuming = this.#consume(since); // beside the probe, not after it: records wait until it says where the read ends
    consuming.catch(() => undefined);
    // A probe cut by a lost connection is tried again within the bound, unless resumeTimeout is 0.
    const again = (): boolean => this.#parts.resumeTimeout > 0 && !this.#parts.stopping() && !this.#done;
    const ends = await probeAgain(this.#parts.bus, stream, bound, again).catch((error: unknown) => {
      throw new EventBusLoggerError('CONNECT', `Reading the history of "${stream}" could not begin: ${describeError(error)}${this.#parts.resumeTimeout === 0 ? ' (resumeTimeout 0)' : ''}`);
    });
    if (since.kind === 'offset') checkInRange(stream, since.offset, ends);
    const last = ends?.last;
    this.#end = until?.kind === 'offset' && last !== undefined ? Math.min(last, until.offset) : last;
    this.#before = since.kind === 'time' ? since.time.getTime() : undefined;
    // Nothing to read: an empty stream, a `since` offset past the end, or every record older than a `since` time
    // (the broker would start at the end and say nothing: the last record's own timestamp tells).
    if (this.#end === undefined || (since.kind === 'offset' && since.offset > this.#end) || (this.#before !== undefined && (ends?.lastPublishedAt ?? Infinity) < this.#before)) {
      this.#done = true;
      return;
    }
    // The channel went while the consume was set up (the connection lost): resumed as a channel lost later is.
    await consuming.catch((error: unknown) => this.#lose(`consuming failed (${describeError(error)})`));
    // The stream holds records this read wants: the first must come within the bound, else the read fails. A last
    // record with no timestamp (another client's) cannot say whether all are older than a `since` time: then
    // silence for as long as an empty stream's wait means there was nothing newer.
    const unknownAge = this.#before !== undefined && ends?.lastPublishedAt === undefined;
    setTimeout(
      () => {
        if (this.#received || this.#done || this.#lost) return;
        if (unknownAge) this.#done = true;
        else this.#failure = new EventBusLoggerError('CONNECT', `Reading the history of "${stream}" stopped: the broker sent no record within ${bound} ms, though the stream holds offsets up to ${last}; read again with the same since`);
        this.#wakeUp();
      },
      unknownAge ? EMPTY_STREAM_WAIT : bound,
    ).unref();
  }

  // How long opening may wait: resumeTimeout (0: not at all while the connection is down, else the default).
  #openBound(): number {
    const { bus, stream, resumeTimeout } = this.#parts;
    if (resumeTimeout > 0) return resumeTimeout;
    if (bus.isUp === false) throw new EventBusLoggerError('CONNECT', `Reading the history of "${stream}" could not begin: the connection is down (resumeTimeout 0)`);
    return RESUME_TIMEOUT;
  }

  // Consumes the stream from `from` on a channel of its own.
  async #consume(from: StreamStart): Promise<void> {
    const { bus, stream, prefetch } = this.#parts;
    const attempt = ++this.#attempts;
    const channel = await scratchChannel(bus);
    if (attempt !== this.#attempts || this.#done) {
      await closeQuietly(channel);
      throw new Error('given up');
    }
    this.#channel = channel;
    this.#unacked = 0;
    // A closed channel (the connection went) and a cancel by the broker (the stream deleted, its node gone: a null
    // delivery) are one thing to the read: it resumes after the records already received, or fails.
    const lost = (why: string): void => void (this.#done || this.#channel !== channel || this.#lose(why));
    channel.on('close', () => lost('channel closed'));
    await call<unknown>((cb) => channel.prefetch(prefetch, false, cb));
    await call<unknown>((cb) =>
      channel.consume(
        stream,
        (message) => {
          if (!message) return lost('the broker cancelled the consumer');
          if (this.#done || this.#channel !== channel) return;
          this.#received = true;
          this.#queue.push(message);
          this.#wakeUp();
        },
        { noAck: false, arguments: { 'x-stream-offset': streamOffsetArgument(from) } },
        cb,
      ),
    );
  }

  // The read's channel is gone (closed, cancelled by the broker, or never set up): next() resumes the read.
  #lose(why: string): void {
    debug('%s at offset %s; resuming after the records already received', why, this.#last);
    const channel = this.#channel;
    this.#channel = undefined;
    this.#lost = true;
    if (channel && why !== 'channel closed') void closeQuietly(channel);
    this.#wakeUp();
  }

  // After a lost channel: a new one, reading on after the last record taken (or from `since` when none was). Tried
  // again with a growing delay (the stream may not be back as soon as the connection is) until resumeTimeout;
  // then the read fails with CONNECT. True once resumed.
  async #resume(): Promise<boolean> {
    const { stream, since, resumeTimeout } = this.#parts;
    this.#lost = false;
    const from: StreamStart = this.#last === undefined ? since : { kind: 'offset', offset: this.#last + 1 };
    const again = `read again ${from.kind === 'offset' ? `from offset ${from.offset}` : 'with the same since'}`;
    const deadline = performance.now() + resumeTimeout;
    const backoff = new Backoff(100, 2000);
    let why = 'resumeTimeout 0';
    while (!this.#done && performance.now() < deadline) {
      if (this.#parts.stopping()) {
        this.#failure = new EventBusLoggerError('STOPPED', `Reading the history of "${stream}" stopped: the connection was lost and the logger is stopping; ${again}`);
        return false;
      }
      const attempt = rangeChecked(this.#parts.bus, stream, from, deadline, resumeTimeout).then(() => this.#consume(from));
      attempt.catch(() => undefined);
      try {
        await within(attempt, deadline - performance.now(), () => new Error(`not back within resumeTimeout (${resumeTimeout} ms)`));
        debug('resumed from %o', from);
        return true;
      } catch (error) {
        if (error instanceof EventBusLoggerError && error.code === 'OUT_OF_RANGE') {
          this.#failure = error;
          return false;
        }
        why = describeError(error);
        debug('resume from %o failed: %s', from, why);
        // This attempt is given up: a channel it opens later is closed at once (#consume checks).
        this.#attempts++;
        const channel = this.#channel;
        this.#channel = undefined;
        this.#lost = false;
        if (channel) await closeQuietly(channel);
      }
      await pause(Math.min(backoff.next(), Math.max(0, deadline - performance.now())));
    }
    if (!this.#done) this.#failure = new EventBusLoggerError('CONNECT', `Reading the history of "${stream}" stopped: the connection was lost and the read could not go on (${why}); ${again}`);
    return false;
  }
}
