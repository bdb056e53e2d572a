// The bus's history: a RabbitMQ stream (`<exchange>.history`) bound to the exchange with `#`, which any number of
// readers read from any point over plain AMQP 0-9-1. This file declares and binds it (a session setup step), reads
// it as a catch-up listener (a second consumer kind feeding the delivery pipeline, like the live queue), and probes
// it; history-read.ts reads it once, up to where it ended when the read began (`history()`).
//
// On RabbitMQ 3.10 several mistakes on a stream close the whole connection, publishers included: noAck, nack or
// reject, a global prefetch, basic.get, a malformed `x-stream-offset`. Nothing here does any of those: every consumer
// has its own per-consumer prefetch, acks (a stream's credit) and never nacks, and offsets come from `since.ts`.
import createDebug from 'debug';
import type { Bus } from '../bus/connection.js';
import type { SetupContext } from '../bus/session.js';
import { describeError } from '../errors.js';
import type { Report } from '../events.js';
import { call, type AmqpChannel, type AmqpMessage } from '../rascal.js';
import type { HistoryTopology } from '../topology.js';
import { Acks, ackBatch } from './acks.js';
import type { Delivery } from './delivery.js';
import type { SequenceWindow } from './sequence.js';
import { streamOffsetArgument, type StreamStart } from './since.js';

const debug = createDebug('event-bus-logger:history');

const noop = (): void => undefined;

/** How long a probe waits for a stream's first record before it takes the stream for empty. */
export const EMPTY_STREAM_WAIT = 1500;

/** Warns once per key and process-wide code, through `process.emitWarning` (printed on standard error by default). */
export type WarnOnce = (key: string, message: string) => void;

export function warnOnce(): WarnOnce {
  const warned = new Set<string>();
  return (key, message) => {
    if (warned.has(key)) return;
    warned.add(key);
    process.emitWarning(message, { code: 'EVENT_BUS_LOGGER_HISTORY' });
  };
}

// A channel of its own for a step that may fail on the broker (a 406 closes the channel it happened on).
export async function scratchChannel(bus: Pick<Bus, 'channel'>): Promise<AmqpChannel> {
  const channel = await bus.channel();
  channel.on('error', noop);
  return channel;
}

export function closeQuietly(channel: AmqpChannel): Promise<void> {
  return new Promise((resolve) => {
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

/**
 * The setup step that declares the history stream and binds it to the exchange, on every (re)open: the exchange is
 * transient, so after a broker restart its binding exists again only once someone declares it. A stream that
 * already exists with other arguments (a 406: arguments cannot change) is used as it is, and said once.
 */
export function declareHistory(bus: Pick<Bus, 'channel'>, exchange: string, history: HistoryTopology, warn: WarnOnce) {
  return async ({ channels: { consumer } }: SetupContext): Promise<void> => {
    const scratch = await scratchChannel(bus);
    try {
      await call<unknown>((cb) => scratch.assertQueue(history.stream, history.options, cb));
    } catch (error) {
      if (!/PRECONDITION_FAILED|406/.test(describeError(error))) throw error;
      warn(
        'mismatch',
        `The history stream "${history.stream}" exists on the broker with other arguments than the config's; it is used as it is (${describeError(error)}). A stream's arguments cannot change: change its retention with a policy (rabbitmqctl set_policy), or delete the stream to declare it anew.`,
      );
    } finally {
      await closeQuietly(scratch);
    }
    for (const key of history.bindingKeys) await call<unknown>((cb) => consumer.bindQueue(history.stream, exchange, key, {}, cb));
  };
}

/**
 * The setup step of a logger whose config has no history: the first time, checks whether the bus has a history
 * stream all the same (declared by another process's config) and says once that this logger does not bind it.
 */
export function checkUnboundHistory(bus: Pick<Bus, 'channel'>, stream: string, warn: WarnOnce) {
  let checked = false;
  return async (): Promise<void> => {
    if (checked) return;
    checked = true;
    const scratch = await scratchChannel(bus);
    try {
      await call<unknown>((cb) => scratch.checkQueue(stream, cb));
      warn(
        'unbound',
        `The bus has a history stream "${stream}", but this logger's config declares no history: this logger does not bind it, so after a broker restart events reach it only once a process with the history config starts.`,
      );
    } catch {
      // No such stream (404): nothing to say.
    } finally {
      await closeQuietly(scratch);
    }
  };
}

/**
 * The offset of a stream's first record (`first`) or of its last one (`last`), read by a short-lived consumer on a
 * channel of its own; undefined when the stream holds nothing. `last` reads the stream's last chunk (RabbitMQ 3.10
 * delivers a chunk whole, whatever the prefetch), then one round trip on the same channel: the broker has sent the
 * whole chunk before it answers.
 */
export async function probeOffset(bus: Pick<Bus, 'channel'>, stream: string, where: 'first' | 'last', emptyWait = EMPTY_STREAM_WAIT): Promise<number | undefined> {
  const channel = await scratchChannel(bus);
  try {
    await call<unknown>((cb) => channel.prefetch(1, false, cb));
    let highest: number | undefined;
    let arrived!: () => void;
    const first = new Promise<void>((resolve) => (arrived = resolve));
    await call<unknown>((cb) =>
      channel.consume(
        stream,
        (message) => {
          if (!message) return;
          const offset = offsetOf(message);
          if (offset !== undefined && (highest === undefined || offset > highest)) highest = offset;
          arrived();
        },
        { noAck: false, arguments: { 'x-stream-offset': where } },
        cb,
      ),
    );
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([first, new Promise<void>((resolve) => (timer = setTimeout(resolve, emptyWait)))]);
    clearTimeout(timer);
    if (highest === undefined || where === 'first') return highest;
    await call<unknown>((cb) => channel.prefetch(1, false, cb));
    return highest;
  } finally {
    await closeQuietly(channel);
  }
}

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
