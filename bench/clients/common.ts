// The one interface every benchmarked client implements, and the few helpers they share.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { connect } from 'amqplib';

/** The clients the benchmark compares; bench/clients/registry.ts loads their adapters. */
export const CLIENT_NAMES = ['amqplib', 'amqplib-minimal', 'rascal', 'library'] as const;
export type ClientName = (typeof CLIENT_NAMES)[number];

/** The event every workload publishes: small JSON. `t` is a wall-clock timestamp in ms (sub-ms precision). */
export type BenchEvent = {
  n: number;
  t: number;
  msg: string;
};

/** One connected participant of the bus: it publishes, and its own queue receives every `info` event. */
export interface Endpoint {
  /** Publishes `event` with routing key `info`; resolves once the broker confirmed it. */
  publish(event: BenchEvent): Promise<void>;
  /** Sets the handler of received `info` events (replacing any previous one). */
  onEvent(handler: (event: BenchEvent) => void): void;
  /** Closes every connection; with `deleteExchange`, also deletes the bus exchange. */
  close(options?: { deleteExchange?: boolean }): Promise<void>;
}

export interface ConnectOptions {
  /** URL the client connects to (may go through the outage proxy). */
  url: string;
  /** Direct broker URL, for cleanup. */
  brokerUrl: string;
  /** The topic exchange: unique per client and run. */
  exchange: string;
}

export interface ClientAdapter {
  readonly name: ClientName;
  /** How this client is set up, for the report. */
  readonly notes: readonly string[];
  connect(options: ConnectOptions): Promise<Endpoint>;
}

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes on one host. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

export const LEVELS = ['info', 'critical'] as const;
export const EXCHANGE_OPTIONS = { durable: false, autoDelete: false } as const;

/**
 * The AMQP properties the library sets on every event (lib/wire-format.ts), so the raw clients put the same message
 * on the wire: content type, timestamp, appId, and messageId `<publisher>/<ms><level tag>.<seq>` (`publisher` from
 * {@link publisherId}; the millisecond of the publish, 3 digits; the level tag of `info`, 0; the sequence number,
 * from 1).
 */
export function eventProperties(appId: string, publisher: string, seq: number) {
  const now = Date.now();
  return {
    contentType: 'application/json',
    timestamp: Math.floor(now / 1000),
    messageId: `${publisher}/${String(now % 1000).padStart(3, '0')}0.${seq}`,
    appId,
  };
}

/** A publisher id as the library makes one: `<nonce>@<host>:<pid>`. */
export function publisherId(): string {
  return `${randomBytes(5).toString('base64url').slice(0, 6)}@${hostname()}:${process.pid}`;
}

/**
 * The appId the library sends in the bench (its default: the script's name, bench/worker.ts), so that every client
 * puts the same number of bytes on the wire: the broker's cost per message steps up once the properties pass 64
 * bytes, so a longer appId here would compare different messages.
 */
export const APP_ID = 'worker';

/** Deletes `exchange` over a short-lived connection of its own (works whatever state the client is in). */
export async function deleteExchange(brokerUrl: string, exchange: string): Promise<void> {
  const connection = await connect(brokerUrl);
  try {
    const channel = await connection.createChannel();
    await channel.deleteExchange(exchange);
  } finally {
    await connection.close();
  }
}

/** Whether `exchange` exists, over a short-lived connection. */
export async function exchangeExists(brokerUrl: string, exchange: string): Promise<boolean> {
  const connection = await connect(brokerUrl);
  connection.on('error', () => {});
  try {
    const channel = await connection.createChannel();
    channel.on('error', () => {}); // a failed check closes the channel with 404
    await channel.checkExchange(exchange);
    return true;
  } catch {
    return false;
  } finally {
    await connection.close();
  }
}
