// The history stream as the readers see it: a scratch channel of its own for a step that may fail on the broker, a
// record's offset, and the probes for a stream's first and last offsets. Shared by the catch-up listener
// (history-listener.ts) and `history()` (history-read.ts).
//
// On RabbitMQ 3.10 several mistakes on a stream close the whole connection, publishers included: noAck, nack or
// reject, a global prefetch, basic.get, a malformed `x-stream-offset`. Nothing here does any of those: every consumer
// has its own per-consumer prefetch, acks (a stream's credit) and never nacks, and offsets come from `since.ts`.
import type { Bus } from '../bus/connection.js';
import { call, type AmqpChannel, type AmqpMessage } from '../rascal.js';

const noop = (): void => undefined;

/** How long a probe waits for a stream's first record before it takes the stream for empty. */
export const EMPTY_STREAM_WAIT = 1500;

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
