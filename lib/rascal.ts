// The small typed surface of Rascal (and of the amqplib callback channels it hands out) that this library uses.
// Rascal ships no types and @types/rascal describes rascal 10; these describe rascal 21 as read from its source.
import { createRequire } from 'node:module';

export type Callback<T = void> = (error: Error | null, result: T) => void;

/** An amqplib callback-API channel, as Rascal's vhost creates it. */
export interface AmqpChannel {
  assertExchange(name: string, type: string, options: Record<string, unknown>, callback: Callback<unknown>): void;
  checkExchange(name: string, callback: Callback<unknown>): void;
  assertQueue(name: string, options: Record<string, unknown>, callback: Callback<{ queue: string }>): void;
  /** A passive declare: fails (closing the channel) with 404 when the queue does not exist. */
  checkQueue(queue: string, callback: Callback<unknown>): void;
  bindQueue(queue: string, exchange: string, routingKey: string, args: Record<string, unknown>, callback: Callback<unknown>): void;
  unbindQueue(queue: string, exchange: string, routingKey: string, args: Record<string, unknown>, callback: Callback<unknown>): void;
  prefetch(count: number, global: boolean, callback: Callback<unknown>): void;
  consume(queue: string, onMessage: (message: AmqpMessage | null) => void, options: Record<string, unknown>, callback: Callback<{ consumerTag: string }>): void;
  cancel(consumerTag: string, callback: Callback<unknown>): void;
  deleteQueue(queue: string, options: Record<string, unknown>, callback: Callback<unknown>): void;
  ack(message: AmqpMessage, allUpTo?: boolean): void;
  close(callback: (error?: Error | null) => void): void;
  on(event: 'close', listener: () => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  on(event: 'return', listener: (message: AmqpMessage) => void): this;
  removeListener(event: string, listener: (...args: any[]) => void): this;
  /** The amqplib connection the channel belongs to (absent on stubs). */
  readonly connection?: AmqpConnection;
}

/** amqplib's connection object under a channel: its socket, and its 'error' event. */
export interface AmqpConnection {
  readonly stream: { destroyed: boolean; destroy(error?: Error): void };
  on(event: 'error' | 'close', listener: (error?: Error) => void): this;
  once(event: 'close', listener: () => void): this;
}

/** A confirm channel: `publish` takes a callback called on the broker's ack (no error) or nack/close (an error). */
export interface AmqpConfirmChannel extends AmqpChannel {
  publish(exchange: string, routingKey: string, content: Buffer, options: Record<string, unknown>, callback: (error: Error | null) => void): boolean;
}

export interface AmqpMessage {
  content: Buffer;
  fields: { routingKey: string; redelivered: boolean; deliveryTag: number; exchange: string; consumerTag?: string };
  properties: Record<string, unknown> & { headers?: Record<string, unknown>; messageId?: unknown };
}

/** Rascal's Vhost (lib/amqp/Vhost.js): owns the connection, reconnects it and re-asserts the topology. */
export interface RascalVhost {
  name: string;
  getChannel(callback: Callback<AmqpChannel | undefined>): void;
  getConfirmChannel(callback: Callback<AmqpConfirmChannel | undefined>): void;
  getConnectionDetails(): { vhost: string; connectionUrl: string };
  /** Closes the vhost's current connection, if it has one, without reconnecting. */
  disconnect(callback: (error?: Error | null) => void): void;
}

/** Rascal's BrokerAsPromised (lib/amqp/BrokerAsPromised.js), the parts we use. */
export interface RascalBroker {
  config: { vhosts: Record<string, { exchanges: Record<string, { fullyQualifiedName: string }> }> };
  shutdown(): Promise<void>;
  on(event: string, listener: (...args: any[]) => void): this;
  removeListener(event: string, listener: (...args: any[]) => void): this;
  removeAllListeners(event?: string): this;
}

interface RascalModule {
  BrokerAsPromised: { create(config: unknown): Promise<RascalBroker> };
}

const rascal = createRequire(import.meta.url)('rascal') as RascalModule;

/**
 * Creates a Rascal broker: it connects, declares the exchange, and from then on reconnects by itself.
 * A failed create leaves nothing open: Rascal starts a keep-alive interval even when it fails, so shut it down.
 */
export async function createBroker(config: unknown): Promise<RascalBroker> {
  try {
    return await rascal.BrokerAsPromised.create(config);
  } catch (error) {
    const key = (error as { broker?: symbol }).broker;
    const failed = key === undefined ? undefined : ((error as Record<symbol, unknown>)[key] as RascalBroker | undefined);
    if (failed) await failed.shutdown().catch(() => undefined);
    throw error;
  }
}

// Every emitter a listener added to the broker reaches. Rascal keeps its Broker (under BrokerAsPromised) and its
// vhosts private but forwards their events to the broker by registering every broker listener on each of them (the
// forward-emitter package). A 'newListener' listener registered that way is called by each of them in turn, with
// `this` bound to it, when the next listener is added.
function forwardTargets(broker: RascalBroker): unknown[] {
  const found: unknown[] = [];
  function onNewListener(this: unknown): void {
    if (this !== (broker as unknown) && !found.includes(this)) found.push(this);
  }
  const probe = (): void => undefined;
  broker.on('newListener', onNewListener);
  broker.on('event-bus-logger:probe', probe);
  broker.removeListener('event-bus-logger:probe', probe);
  broker.removeListener('newListener', onNewListener);
  return found;
}

/** Finds the broker's Vhost object. */
export function findVhost(broker: RascalBroker, name: string): RascalVhost {
  const found = forwardTargets(broker).find((candidate) => {
    const vhost = candidate as Partial<RascalVhost> | undefined;
    return typeof vhost?.getConfirmChannel === 'function' && vhost.name === name;
  });
  if (!found) throw new Error(`Rascal did not expose vhost "${name}"; this version of rascal is not supported`);
  return found as RascalVhost;
}

/**
 * Clears the interval Rascal's Broker keeps to hold the process open while it lives. Its shutdown clears it only once
 * every connection closed politely; after a connection had to be dropped, that never happens.
 */
export function releaseKeepAlive(broker: RascalBroker): void {
  for (const candidate of forwardTargets(broker)) {
    const core = candidate as { keepActive?: NodeJS.Timeout; _init?: unknown } | undefined;
    if (typeof core?._init === 'function') clearInterval(core.keepActive);
  }
}

/** Runs one amqplib callback-API operation as a promise. */
export function call<T>(operation: (callback: Callback<T>) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => operation((error, result) => (error ? reject(error) : resolve(result))));
}

// Closes channels we are done with, without reacting to their 'close' and whether or not they are still open.
export function closeQuietly(channels: AmqpChannel[], onClose: () => void): void {
  for (const channel of channels) {
    channel.removeListener('close', onClose);
    channel.on('error', () => undefined);
    try {
      channel.close(() => undefined);
    } catch {
      // Already closed with its connection.
    }
  }
}
