// `history()`: reads the bus's history stream once, from `since` up to where the stream ended when the read began
// (its last offset, found by a probe), on a channel of its own; then ends. Never noAck, nack, reject, a global
// prefetch or basic.get (each closes the whole connection on RabbitMQ 3.10): a per-consumer prefetch and acks.
import createDebug from 'debug';
import type { Bus } from '../bus/connection.js';
import { within } from '../deadline.js';
import { EventBusLoggerError, configError, describeError } from '../errors.js';
import type { HistorySince, ResolvedOptions } from '../options.js';
import { HOW_TO_TURN_HISTORY_ON, type Topology } from '../topology.js';
import { call, type AmqpChannel, type AmqpMessage } from '../rascal.js';
import { decodeMessage, type EventData, type EventMeta } from '../wire-format.js';
import { EMPTY_STREAM_WAIT, closeQuietly, offsetOf, probeOffset, scratchChannel } from './stream.js';
import { SequenceWindow } from './sequence.js';
import { parseSince, streamOffsetArgument, type StreamStart } from '../since.js';

const debug = createDebug('event-bus-logger:history-read');

/** One event of `history()`. */
export interface HistoryEvent<L extends string = string> {
  level: L;
  data: EventData;
  meta: EventMeta<L>;
}

/** What {@link EventBusLogger.history} reads. */
export interface HistoryOptions<L extends string = string> {
  /** Where to start: `'now'`, `'start'`, a duration (`'10m'`), an ISO 8601 time or a `Date`, or a stream offset. */
  since: HistorySince;
  /** Where to stop, inclusive: a stream offset, or a time (`'now'`, a duration back from now, an ISO 8601 time, a `Date`). @default the stream's last offset when the call began */
  until?: HistorySince;
  /** Only these levels. @default every configured level */
  levels?: readonly NoInfer<L>[];
  /**
   * Milliseconds a read cut by a lost connection waits for the logger to reconnect, then goes on after the last
   * record it read (nothing twice, nothing missed); 0 makes it throw at once. @default 30000
   */
  resumeTimeout?: number;
}

/** How long a cut read waits for the connection to come back, by default. */
export const RESUME_TIMEOUT = 30_000;

/**
 * Checks what `history()` was given and starts the read. Throws a TypeError for a malformed `since`, `until` or
 * `levels`, a `CONFIG` error when the bus has no history.
 */
export function readHistory<L extends string>(
  options: HistoryOptions<L>,
  { bus, topology, settings, stopping }: { bus: Pick<Bus, 'channel'>; topology: Topology; settings: ResolvedOptions; stopping: () => boolean },
): HistoryRead<L> {
  if (options === null || typeof options !== 'object') throw new TypeError(`Expected history() options { since, until?, levels? }, got ${options === null ? 'null' : typeof options}`);
  const since = parseSince(options.since, 'since');
  let until = options.until === undefined ? undefined : parseSince(options.until, 'until');
  if (until?.kind === 'start') throw new TypeError('Invalid `until` "start" (it would stop before the first event); expected "now", a stream offset, a duration, an ISO 8601 time or a Date');
  // 'now' as where `since: 'now'` starts: the moment of the call.
  if (until?.kind === 'now') until = { kind: 'time', time: new Date() };
  if (!topology.history) throw configError(`history() needs a history stream, and the config of bus "${topology.exchange}" declares none; ${HOW_TO_TURN_HISTORY_ON}`);
  let wanted: Set<string> = new Set(topology.levels);
  if (options.levels !== undefined) {
    if (!Array.isArray(options.levels) || options.levels.length === 0 || options.levels.some((level) => !topology.levels.includes(level))) {
      throw new TypeError(`Expected \`levels\` to be a non-empty array of configured levels (${topology.levels.join(', ')}), got ${JSON.stringify(options.levels)}`);
    }
    wanted = new Set(options.levels);
  }
  const resumeTimeout = options.resumeTimeout ?? RESUME_TIMEOUT;
  if (typeof resumeTimeout !== 'number' || !Number.isFinite(resumeTimeout) || resumeTimeout < 0) {
    throw new TypeError(`Expected \`resumeTimeout\` to be a number of milliseconds from 0, got ${JSON.stringify(options.resumeTimeout)}`);
  }
  return new HistoryRead<L>({
    bus,
    stream: topology.history.stream,
    since,
    until,
    levels: new Set(topology.levels),
    wanted,
    maxMessageBytes: settings.maxMessageBytes,
    prefetch: settings.prefetch,
    resumeTimeout,
    stopping,
  });
}

export interface HistoryReadParts {
  bus: Pick<Bus, 'channel'>;
  stream: string;
  since: StreamStart;
  /** An upper bound: an offset (inclusive) or a time (events stamped after it are skipped). */
  until: StreamStart | undefined;
  /** Every configured level: a record with another routing key is skipped. */
  levels: ReadonlySet<string>;
  /** The levels asked for. */
  wanted: ReadonlySet<string>;
  maxMessageBytes: number;
  prefetch: number;
  /** How long a read cut by a lost connection waits for it to come back; 0: it throws at once. */
  resumeTimeout: number;
  /** True once the logger is stopping: a cut read then ends at once with STOPPED. */
  stopping: () => boolean;
}

/**
 * Reads the history stream from `since` up to its last offset when the read began (found by a probe), then ends.
 * A finite async iterator; `return()` (breaking out of a `for await`) closes its channel, and with it its consumer.
 * A lost channel (the connection went) is replaced once the records already received are handed out: the read
 * goes on from the offset after the last record it took, within `resumeTimeout`.
 */
export class HistoryRead<L extends string> implements AsyncIterableIterator<HistoryEvent<L>> {
  readonly #parts: HistoryReadParts;
  readonly #sequence = new SequenceWindow();
  readonly #queue: AmqpMessage[] = [];
  #channel: AmqpChannel | undefined;
  #opening: Promise<void> | undefined;
  #end: number | undefined;
  #done = false;
  #failure: Error | undefined;
  #wake: (() => void) | undefined;
  #before: number | undefined;
  #received = false;
  // The offset of the last record taken from the queue: a resumed read starts after it.
  #last: number | undefined;
  // Set when the channel closed before the end: the next read of an empty queue resumes.
  #lost = false;
  // Counts the channels asked for: one that arrives after its attempt was given up is closed.
  #attempts = 0;

  constructor(parts: HistoryReadParts) {
    this.#parts = parts;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<HistoryEvent<L>>> {
    this.#opening ??= this.#open();
    await this.#opening;
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
      this.#last = offsetOf(message) ?? this.#last;
      if (!this.#lost) this.#channel?.ack(message);
      const event = this.#accept(message);
      if (event) return { done: false, value: event };
    }
  }

  async return(): Promise<IteratorResult<HistoryEvent<L>>> {
    return this.#finish();
  }

  async #finish(): Promise<IteratorResult<HistoryEvent<L>>> {
    this.#done = true;
    this.#queue.length = 0;
    const channel = this.#channel;
    this.#channel = undefined;
    if (channel) await closeQuietly(channel);
    return { done: true, value: undefined };
  }

  // The event of one record, or undefined when it is skipped; marks the read done at the end offset.
  #accept(message: AmqpMessage): HistoryEvent<L> | undefined {
    const { levels, wanted, maxMessageBytes, until } = this.#parts;
    const offset = offsetOf(message);
    if (offset === undefined || this.#end === undefined) return undefined;
    if (offset > this.#end) {
      this.#done = true;
      return undefined;
    }
    if (offset === this.#end) this.#done = true;
    const timestamp = message.properties.timestamp;
    if (this.#before !== undefined) {
      if (typeof timestamp === 'number' && timestamp < this.#before) return undefined;
      this.#before = undefined;
    }
    if (until?.kind === 'time' && typeof timestamp === 'number' && timestamp * 1000 > until.time.getTime()) return undefined;
    if (!wanted.has(message.fields.routingKey)) return undefined;
    const decoded = decodeMessage<L>(message, levels, maxMessageBytes);
    if (!decoded.ok) {
      debug('skipped offset %d: %s', offset, decoded.reason);
      return undefined;
    }
    const { level, data, meta } = decoded;
    if (meta.publisher !== undefined && meta.seq !== undefined && this.#sequence.check(meta.publisher, level, meta.seq).kind === 'duplicate') {
      return undefined;
    }
    return { level, data, meta };
  }

  async #open(): Promise<void> {
    const { bus, stream, since, until } = this.#parts;
    const last = await probeOffset(bus, stream, 'last');
    this.#end = until?.kind === 'offset' && last !== undefined ? Math.min(last, until.offset) : last;
    if (this.#end === undefined || since.kind === 'now' || (since.kind === 'offset' && since.offset > this.#end)) {
      this.#done = true;
      return;
    }
    this.#before = since.kind === 'time' ? Math.floor(since.time.getTime() / 1000) : undefined;
    await this.#consume(since);
    if (since.kind === 'time') {
      // When every record is older than `since`, the broker starts at the end and says nothing: with no record
      // within the wait of an empty stream, there is nothing to read.
      setTimeout(() => {
        if (!this.#received && !this.#done) {
          this.#done = true;
          this.#wake?.();
        }
      }, EMPTY_STREAM_WAIT).unref();
    }
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
    channel.on('close', () => {
      if (this.#done || this.#channel !== channel) return;
      debug('channel of the read closed at offset %s; resuming after the records already received', this.#last);
      this.#channel = undefined;
      this.#lost = true;
      this.#wake?.();
    });
    await call<unknown>((cb) => channel.prefetch(prefetch, false, cb));
    await call<unknown>((cb) =>
      channel.consume(
        stream,
        (message) => {
          if (!message || this.#done || this.#channel !== channel) return;
          this.#received = true;
          this.#queue.push(message);
          this.#wake?.();
        },
        { noAck: false, arguments: { 'x-stream-offset': streamOffsetArgument(from) } },
        cb,
      ),
    );
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
    let delay = 100;
    let why = 'resumeTimeout 0';
    while (!this.#done && performance.now() < deadline) {
      if (this.#parts.stopping()) {
        this.#failure = new EventBusLoggerError('STOPPED', `Reading the history of "${stream}" stopped: the connection was lost and the logger is stopping; ${again}`);
        return false;
      }
      const attempt = this.#consume(from);
      attempt.catch(() => undefined);
      try {
        await within(attempt, deadline - performance.now(), () => new Error(`not back within resumeTimeout (${resumeTimeout} ms)`));
        debug('resumed from %o', from);
        return true;
      } catch (error) {
        why = describeError(error);
        debug('resume from %o failed: %s', from, why);
        // This attempt is given up: a channel it opens later is closed at once (#consume checks).
        this.#attempts++;
        await this.#dropChannel();
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(delay, Math.max(0, deadline - performance.now()))));
      delay = Math.min(delay * 2, 2000);
    }
    if (!this.#done) this.#failure = new EventBusLoggerError('CONNECT', `Reading the history of "${stream}" stopped: the connection was lost and the read could not go on (${why}); ${again}`);
    return false;
  }

  async #dropChannel(): Promise<void> {
    const channel = this.#channel;
    this.#channel = undefined;
    this.#lost = false;
    if (channel) await closeQuietly(channel);
  }
}
