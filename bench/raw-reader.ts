// The raw amqplib stream readers the history benchmarks compare the library with (bench/history.ts,
// bench/history-search.ts, bench/replay-profile.ts): one consumer from the stream's first record on a connection of
// its own, each body parsed (as every reader must), no duplicate check, no order check, no resume.
//   - `ackEvery` 1: an ack per record (prefetch 100 in bench/history.ts: what a user writes first);
//   - TUNED: prefetch 5,000 and one `multiple` ack per 2,500, the fastest AMQP 0-9-1 reader measured.
import { performance } from 'node:perf_hooks';
import amqplib from 'amqplib';

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
