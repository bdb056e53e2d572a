// Raw amqplib: what a careful hand-written client does. One connection (Nagle off), a confirm channel to publish,
// a second channel consuming a server-named exclusive queue bound with both levels (manual ack, prefetch 100,
// the library's delivery semantics). No reconnection: that is the point of a library.
import { connect, type Options } from 'amqplib';
import {
  APP_ID, EXCHANGE_OPTIONS, LEVELS, deleteExchange, eventProperties, publisherId as newPublisherId,
  type BenchEvent, type ClientAdapter, type ClientName, type Endpoint,
} from './common.js';

export const adapter: ClientAdapter = rawAdapter({
  name: 'amqplib',
  notes: [
    'amqplib 2.x confirm channel, socket noDelay: true, one connection with a publish and a consume channel',
    'server-named exclusive queue, manual ack with prefetch 100 (as the library), no reconnection',
    'the library\'s message: contentType, timestamp, appId, messageId <publisher>/<ms><level tag>.<seq>',
  ],
  prefetch: 100,
  properties: (seq, publisherId) => eventProperties(APP_ID, publisherId, seq),
});

/** A raw amqplib client: `properties` makes the AMQP properties of its `seq`-th event. */
export function rawAdapter(options: {
  name: ClientName;
  notes: readonly string[];
  prefetch: number;
  properties: (seq: number, publisherId: string) => Options.Publish;
}): ClientAdapter {
  const { name, notes, prefetch, properties } = options;
  return { name, notes, connect: ({ url, brokerUrl, exchange }) => connectRaw(url, brokerUrl, exchange, prefetch, properties) };
}

async function connectRaw(url: string, brokerUrl: string, exchange: string, prefetch: number, properties: (seq: number, publisherId: string) => Options.Publish): Promise<Endpoint> {
  const connection = await connect(url, { noDelay: true });
  connection.on('error', () => {}); // a lost connection surfaces as publish errors
  const publisher = await connection.createConfirmChannel();
  const consumer = await connection.createChannel();
  for (const channel of [publisher, consumer]) channel.on('error', () => {});
  await publisher.assertExchange(exchange, 'topic', EXCHANGE_OPTIONS);
  const { queue } = await consumer.assertQueue('', { exclusive: true, durable: false });
  for (const level of LEVELS) await consumer.bindQueue(queue, exchange, level);
  await consumer.prefetch(prefetch);
  let handler: (event: BenchEvent) => void = () => {};
  await consumer.consume(queue, (message) => {
    if (message === null) return;
    consumer.ack(message);
    if (message.fields.routingKey === 'info') handler(JSON.parse(message.content.toString()) as BenchEvent);
  });
  let closed = false;
  connection.on('close', () => (closed = true));

  const publisherId = newPublisherId();
  let seq = 0;
  return {
    publish(event) {
      return new Promise<void>((resolve, reject) => {
        publisher.publish(exchange, 'info', Buffer.from(JSON.stringify(event)), properties(++seq, publisherId), (error) =>
          error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve(),
        );
      });
    },
    onEvent(next) {
      handler = next;
    },
    async close({ deleteExchange: drop = false } = {}) {
      if (!closed) await connection.close();
      if (drop) await deleteExchange(brokerUrl, exchange);
    },
  };
}
