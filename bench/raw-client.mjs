// The raw amqplib client of the plain-JavaScript bench scripts (instructions-client.mjs, sequential-pairs.mjs): one
// connection with socket noDelay, a confirm channel to publish, a channel consuming a server-named exclusive queue
// bound to 'info' (prefetch 1000, one ack per message, each body parsed), and awaited publishes. Plain JavaScript so
// that no transform runs in a measured process.
import { createRequire } from 'node:module';
import { hostname } from 'node:os';

const require = createRequire(import.meta.url);
export const amqplib = require('amqplib');

/** The minimal client's properties: content type only. */
export const minimalMessage = () => () => ({ contentType: 'application/json' });

/** The library's message: its appId in the bench ('worker'), a messageId of its shape, one sequence per client. */
export function libraryMessage() {
  const publisherId = `AbC-_9@${hostname()}:${process.pid}`;
  let seq = 0;
  return () => {
    const now = Date.now();
    return { contentType: 'application/json', timestamp: Math.floor(now / 1000), messageId: `${publisherId}/${String(now % 1000).padStart(3, '0')}0.${++seq}`, appId: 'worker' };
  };
}

/** Connects a raw client publishing `properties()` to `exchange` (declared here) and listening to its own events. */
export async function connectRaw(url, exchange, properties) {
  const connection = await amqplib.connect(url, { noDelay: true });
  const publisher = await connection.createConfirmChannel();
  const consumer = await connection.createChannel();
  await publisher.assertExchange(exchange, 'topic', { durable: false });
  const { queue } = await consumer.assertQueue('', { exclusive: true, durable: false });
  await consumer.bindQueue(queue, exchange, 'info');
  await consumer.prefetch(1000);
  await consumer.consume(queue, (message) => {
    consumer.ack(message);
    JSON.parse(message.content.toString());
  });
  return {
    publish: (event) =>
      new Promise((resolve, reject) =>
        publisher.publish(exchange, 'info', Buffer.from(JSON.stringify(event)), properties(), (error) => (error ? reject(error) : resolve())),
      ),
    close: () => connection.close(),
  };
}

/** Deletes `exchange` on a connection of its own. */
export async function deleteExchange(url, exchange) {
  const connection = await amqplib.connect(url);
  await (await connection.createChannel()).deleteExchange(exchange);
  await connection.close();
}
