// The raw amqplib side of the history benchmarks (bench/history.ts, bench/history-search.ts, bench/replay-reader.ts):
// the stream readers the library is compared with, one consumer from the stream's first record on a connection of
// its own, each body parsed (as every reader must), no duplicate check, no order check, no resume; and the streams
// they read, filled raw.
//   - `ackEvery` 1: an ack per record (prefetch 100 in bench/history.ts: what a user writes first);
//   - TUNED: prefetch 5,000 and one `multiple` ack per 2,500, the fastest AMQP 0-9-1 reader measured.
import { performance } from 'node:perf_hooks';
import amqplib from 'amqplib';
import { encodeData } from '../lib/event-data.js';
import { newPublisherId, publishProperties } from '../lib/wire-format.js';

/** The arguments of config/rascal-with-history.json's stream. */
export const STREAM_ARGS = { 'x-queue-type': 'stream', 'x-max-age': '7D', 'x-max-length-bytes': 1073741824, 'x-stream-max-segment-size-bytes': 16777216 };

export const TUNED = { prefetch: 5000, ackEvery: 2500 } as const;

/**
 * Reads `count` records of `stream` from its start; resolves with the rate (records/s), timed from the consume to
 * the last record, the connection excluded.
 */
export async function rawRead(url: string, stream: string, count: number, { prefetch, ackEvery }: { prefetch: number; ackEvery: number } = TUNED): Promise<number> {
  const connection = await amqplib.connect(url, { noDelay: true });
  try {
    const channel = await connection.createChannel();
    await channel.prefetch(prefetch);
    const start = performance.now();
    let received = 0;
    await new Promise<void>((resolve) => {
      void channel.consume(
        stream,
        (message) => {
          if (!message) return;
          JSON.parse(message.content.toString('utf8'));
          if (++received % ackEvery === 0 || received === count) channel.ack(message, ackEvery > 1);
          if (received === count) resolve();
        },
        { noAck: false, arguments: { 'x-stream-offset': 'first' } },
      );
    });
    return count / ((performance.now() - start) / 1000);
  } finally {
    await connection.close();
  }
}

/**
 * The exchange `bus` with its stream `<bus>.history` bound with #, filled with `count` events as the library
 * publishes them (`{ n, msg }` at level info): in bulk (as fast as the channel takes them, at most 50,000 awaiting
 * their confirm), or one awaited publish at a time (a trickle: the broker writes each in a chunk of its own).
 */
export async function fillStream(url: string, bus: string, count: number, trickle: boolean): Promise<void> {
  const connection = await amqplib.connect(url, { noDelay: true });
  const channel = await connection.createConfirmChannel();
  await channel.assertExchange(bus, 'topic', { durable: false, autoDelete: false });
  await channel.assertQueue(`${bus}.history`, { durable: true, arguments: STREAM_ARGS });
  await channel.bindQueue(`${bus}.history`, bus, '#');
  const publisher = newPublisherId();
  for (let seq = 1; seq <= count; seq++) {
    const properties = publishProperties('bench', publisher, 0, seq, false);
    const body = encodeData({ n: seq, msg: 'benchmark event' });
    if (trickle) await new Promise<void>((resolve, reject) => channel.publish(bus, 'info', body, properties, (error) => (error ? reject(error) : resolve())));
    else if (!channel.publish(bus, 'info', body, properties)) await new Promise((r) => channel.once('drain', r));
    if (!trickle && seq % 50_000 === 0) await channel.waitForConfirms();
  }
  await channel.waitForConfirms();
  await connection.close();
}

/** Deletes the stream `<bus>.history` and the exchange `bus`. */
export async function deleteBus(url: string, bus: string): Promise<void> {
  const connection = await amqplib.connect(url);
  const channel = await connection.createChannel();
  await channel.deleteQueue(`${bus}.history`);
  await channel.deleteExchange(bus);
  await connection.close();
}
