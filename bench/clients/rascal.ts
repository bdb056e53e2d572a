// Rascal used directly, with its defaults (withDefaultConfig): BrokerAsPromised, a confirm publication (Rascal's
// 5-channel confirm pool), a subscription (Rascal's prefetch 10, ack per message). One departure: the socket gets
// noDelay, as in the library's shipped config and the amqplib baseline; with Nagle on, every confirm waits for the
// peer's delayed ACK (~40 ms) and Rascal does ~30 events/s sequentially, which compares nothing.
// Rascal cannot consume a server-named queue, so each endpoint declares a uniquely named exclusive, auto-delete
// queue instead.
import type { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import {
  APP_ID, EXCHANGE_OPTIONS, LEVELS, deleteExchange, eventProperties, publisherId as newPublisherId,
  type BenchEvent, type ClientAdapter, type Endpoint,
} from './common.js';

// Rascal ships no types; this is the part of its API the bench uses.
interface PublicationSession extends EventEmitter {}
interface SubscriberSession extends EventEmitter {}
interface Broker extends EventEmitter {
  publish(publication: string, message: unknown, overrides?: { options?: object }): Promise<PublicationSession>;
  subscribe(subscription: string): Promise<SubscriberSession>;
  shutdown(): Promise<void>;
}
interface Rascal {
  BrokerAsPromised: { create(config: object): Promise<Broker> };
  withDefaultConfig(config: object): object;
}
const rascal = createRequire(import.meta.url)('rascal') as Rascal;

function busConfig(url: string, exchange: string, queue: string): object {
  return {
    vhosts: {
      '/': {
        connection: { url, socketOptions: { noDelay: true } },
        exchanges: { [exchange]: { type: 'topic', options: EXCHANGE_OPTIONS } },
        queues: { [queue]: { options: { exclusive: true, autoDelete: true, durable: false } } },
        bindings: Object.fromEntries(
          LEVELS.map((level) => [level, { source: exchange, destination: queue, destinationType: 'queue', bindingKey: level }]),
        ),
        publications: { info: { exchange, routingKey: 'info', confirm: true } },
        subscriptions: { events: { queue } },
      },
    },
  };
}

export const adapter: ClientAdapter = {
  name: 'rascal',
  notes: [
    'Rascal 21 BrokerAsPromised with withDefaultConfig (confirm pool of 5 channels, persistent+mandatory publications, prefetch 10) plus socket noDelay: true (with its default Nagle on it did ~30 ev/s sequential)',
    'Rascal cannot consume a server-named queue: it gets a uniquely named exclusive, auto-delete queue',
  ],
  async connect({ url, brokerUrl, exchange }): Promise<Endpoint> {
    const broker = await rascal.BrokerAsPromised.create(rascal.withDefaultConfig(busConfig(url, exchange, `${exchange}.${randomUUID()}`)));
    broker.on('error', () => {}); // connection loss: Rascal reconnects by itself
    let handler: (event: BenchEvent) => void = () => {};
    const subscription = await broker.subscribe('events');
    subscription.on('error', () => {});
    subscription.on('message', (_message: unknown, content: BenchEvent, ackOrNack: () => void) => {
      ackOrNack();
      handler(content);
    });

    const publisherId = newPublisherId();
    let seq = 0;
    return {
      async publish(event) {
        const session = await broker.publish('info', event, { options: eventProperties(APP_ID, publisherId, ++seq) });
        await new Promise<void>((resolve, reject) => {
          session.on('success', () => resolve());
          session.on('error', (error: Error) => reject(error));
        });
      },
      onEvent(next) {
        handler = next;
      },
      async close({ deleteExchange: drop = false } = {}) {
        await broker.shutdown();
        if (drop) await deleteExchange(brokerUrl, exchange);
      },
    };
  },
};
