// Shared by the specs: unique bus names, waiting for events under a timeout, and raw looks at the broker.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { once, type EventEmitter } from 'node:events';
import { promisify } from 'node:util';
import amqplib from 'amqplib';
import { EventBusLogger, type EventBusLoggerOptions, type HistoryEvent } from '../lib/index.js';
import { SHIPPED_CONFIG_PATH } from '../lib/topology.js';

export const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** A bus name of its own for each spec. */
export function uniqueName(prefix = 'spec'): string {
  return `${prefix}_${randomUUID()}`;
}

/** Resolves with the args of the next `event`, rejects after `ms` (and on 'error', as events.once does). */
export async function next<T extends unknown[] = unknown[]>(emitter: EventEmitter | { on: unknown }, event: string, ms = 5000): Promise<T> {
  return (await once(emitter as EventEmitter, event, { signal: AbortSignal.timeout(ms) })) as T;
}

/** Resolves once `predicate` holds, polling; rejects with `what` after `ms`. */
export async function until(predicate: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Resolves after `ms` with nothing: for "nothing arrives" checks, never for timing assertions. */
export function quiet(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A raw amqplib connection, as a foreign client on the bus would have. */
export async function rawConnection(): Promise<amqplib.ChannelModel> {
  return amqplib.connect(AMQP_URL);
}

/** Runs a passive check on a fresh channel; resolves with the broker's error, or undefined when it passed. */
export async function passive(connection: amqplib.ChannelModel, check: (channel: amqplib.Channel) => Promise<unknown>): Promise<Error | undefined> {
  const channel = await connection.createChannel();
  channel.on('error', () => undefined);
  try {
    await check(channel);
    await channel.close();
    return undefined;
  } catch (error) {
    return error as Error;
  }
}

// Runs `work` on a channel of a raw connection of its own, closed after.
async function onRawChannel(work: (channel: amqplib.Channel) => Promise<unknown>): Promise<void> {
  const connection = await rawConnection();
  try {
    await work(await connection.createChannel());
  } finally {
    await connection.close();
  }
}

/** Deletes an exchange a spec created. */
export async function deleteExchange(name: string): Promise<void> {
  await onRawChannel((channel) => channel.deleteExchange(name));
}

/** Deletes a queue or stream a spec made (a bus's history stream: `<bus>.history`); one already gone is fine. */
export async function deleteQueue(name: string): Promise<void> {
  await onRawChannel((channel) => channel.deleteQueue(name));
}

/** config/rascal-with-history.json: the shipped config with the bus's history stream. */
export const HISTORY_CONFIG_PATH = new URL('../config/rascal-with-history.json', import.meta.url).pathname;

/** A fresh copy of config/rascal-with-history.json, for a spec to change (untyped, as JSON.parse gives it). */
export async function historyConfig(): Promise<any> {
  return JSON.parse(await readFile(HISTORY_CONFIG_PATH, 'utf8'));
}

/** Every event of a history read (`logger.history(...)`), once it ended. */
export async function collectHistory<L extends string>(read: AsyncIterable<HistoryEvent<L>>): Promise<Array<HistoryEvent<L>>> {
  const events: Array<HistoryEvent<L>> = [];
  for await (const event of read) events.push(event);
  return events;
}

/** The buses of a describe block and their loggers, cleaned up after each spec (or after the block). */
export interface SpecBus {
  /** The bus of the spec running now (set it to one of {@link fresh}'s to move on to another). */
  name: string;
  /** Another bus of this spec, cleaned up with it. */
  fresh(prefix?: string): string;
  /** A logger of the bus `name` with the block's options (and `options`); not started when `start` is false (add listeners first). */
  logger(options?: EventBusLoggerOptions<string>, start?: boolean): Promise<EventBusLogger<string>>;
  /** A logger made otherwise, stopped with the others. */
  track<T extends EventBusLogger<any>>(logger: T): T;
  /** Stops the loggers made so far (before a proxy they go through closes); the after-hook stops the rest. */
  stopLoggers(): Promise<void>;
}

/**
 * Registers the hooks that give each spec of the describe block calling it a bus of its own (`bus.name`, from
 * `prefix`), with loggers made by `bus.logger()` from `defaults`; after the spec, its loggers are stopped and each of
 * its buses' exchange and history stream deleted. `perSuite`: one bus for the whole block (before/after) instead.
 * Register a spec's own after-hooks that must come first (killing the CLIs it started) before calling it.
 */
export function busPerSpec(prefix: string, defaults: EventBusLoggerOptions<string> = {}, { perSuite = false } = {}): SpecBus {
  const buses: string[] = [];
  const loggers: Array<EventBusLogger<any>> = [];
  const bus: SpecBus = {
    name: '',
    fresh(named = prefix) {
      const made = uniqueName(named);
      buses.push(made);
      return made;
    },
    async logger(options = {}, start = true) {
      const created = bus.track(new EventBusLogger<string>({ url: AMQP_URL, name: bus.name, ...defaults, ...options }));
      if (start) await created.start();
      return created;
    },
    track(logger) {
      loggers.push(logger);
      return logger;
    },
    async stopLoggers() {
      await Promise.all(loggers.splice(0).map((logger) => logger.stop()));
    },
  };
  (perSuite ? before : beforeEach)(() => {
    bus.name = bus.fresh();
  });
  (perSuite ? after : afterEach)(async () => {
    await bus.stopLoggers();
    for (const made of buses.splice(0)) {
      await deleteQueue(`${made}.history`);
      await deleteExchange(made);
    }
  });
  return bus;
}

/** {@link busPerSpec} with history: its loggers take config/rascal-with-history.json. */
export function historyBusPerSpec(prefix: string, defaults: EventBusLoggerOptions<string> = {}, options: { perSuite?: boolean } = {}): SpecBus {
  return busPerSpec(prefix, { config: HISTORY_CONFIG_PATH, ...defaults }, options);
}

const execFileAsync = promisify(execFile);

/**
 * Closes, from the broker's side, the connections of the loggers of one bus, and only those (the library names each
 * `event-bus-logger <appId> (<bus>)`): what `rabbitmqctl close_all_connections` does to a logger, without touching
 * anyone else's connections on the shared broker; with `appId`, only that logger's. One `rabbitmqctl eval`;
 * resolves with how many it closed.
 */
export async function closeConnectionsOf(bus: string, reason = 'spec: connection closed on purpose', appId?: string): Promise<number> {
  const plain = /^[\w.-]+$/;
  if (!plain.test(bus) || (appId !== undefined && !plain.test(appId)) || !/^[\w :.,()/-]+$/.test(reason)) {
    throw new Error(`closeConnectionsOf: a bus name, app id and reason of plain characters only, got ${JSON.stringify([bus, appId, reason])}`);
  }
  const suffix = appId === undefined ? ` (${bus})` : `event-bus-logger ${appId} (${bus})`;
  const erlang = [
    `Suffix = <<"${suffix}">>,`,
    `Closed = [begin rabbit_networking:close_connection(P, "${reason}"), P end || P <- rabbit_networking:connections(),`,
    '  case catch rabbit_networking:connection_info(P, [client_properties]) of',
    '    [{client_properties, Props}] when is_list(Props) -> case lists:keyfind(<<"connection_name">>, 1, Props) of',
    '      {_, longstr, Name} -> binary:longest_common_suffix([Name, Suffix]) =:= byte_size(Suffix);',
    '      _ -> false end;',
    '    _ -> false end],',
    'length(Closed).',
  ].join(' ');
  const { stdout } = await execFileAsync('rabbitmqctl', ['eval', erlang], { timeout: 60_000 });
  return Number(stdout.trim());
}

/**
 * Sets off RabbitMQ's memory alarm (a high watermark of 0 blocks every publishing connection) and returns the
 * function that puts the watermark back as it was. Call that in a `finally`: the broker is shared.
 */
export async function memoryAlarm(): Promise<() => Promise<void>> {
  const { stdout } = await execFileAsync('rabbitmqctl', ['eval', 'vm_memory_monitor:get_vm_memory_high_watermark().'], { timeout: 60_000 });
  const text = stdout.trim();
  const absolute = /^\{absolute,\s*(\d+)\}$/.exec(text);
  const previous = absolute ? ['absolute', absolute[1] as string] : /^\d+(\.\d+)?$/.test(text) ? [text] : undefined;
  if (!previous) throw new Error(`Cannot read the broker's memory high watermark (got ${JSON.stringify(text)}); not touching it`);
  await execFileAsync('rabbitmqctl', ['set_vm_memory_high_watermark', '0'], { timeout: 60_000 });
  return async () => {
    await execFileAsync('rabbitmqctl', ['set_vm_memory_high_watermark', ...previous], { timeout: 60_000 });
  };
}

/** A fresh copy of the shipped config/rascal.json, for a spec to change (untyped, as JSON.parse gives it). */
export async function shippedConfig(): Promise<any> {
  return JSON.parse(await readFile(SHIPPED_CONFIG_PATH, 'utf8'));
}

/** The shipped config with one more level: a binding named `level` from the bus's exchange to the listener queue. */
export async function configWithLevel(level: string): Promise<any> {
  const config = await shippedConfig();
  config.vhosts['/'].bindings[level] = { source: 'logger_metaclass', destination: 'listener', destinationType: 'queue', bindingKey: level };
  return config;
}

/** The listener queue's cap in the shipped config/rascal.json. */
export const QUEUE_CAP = { 'x-max-length': 100000, 'x-max-length-bytes': 67108864, 'x-overflow': 'drop-head' };

/** rabbitmqctl with JSON output. */
export async function rabbitmqctl<T = unknown>(...args: string[]): Promise<T> {
  const { stdout } = await execFileAsync('rabbitmqctl', [...args, '--formatter', 'json', '--quiet'], { timeout: 60_000 });
  return JSON.parse(stdout) as T;
}

export interface Binding {
  source_name: string;
  destination_name: string;
  routing_key: string;
}

/** The bindings whose source is `exchange`. */
export async function bindingsOf(exchange: string): Promise<Binding[]> {
  const all = await rabbitmqctl<Binding[]>('list_bindings', 'source_name', 'destination_name', 'routing_key');
  return all.filter((binding) => binding.source_name === exchange);
}

/** The error `promise` rejects with; fails the spec when it resolves. */
export async function rejection<E extends Error = Error & { code?: string }>(promise: Promise<unknown>): Promise<E> {
  try {
    await promise;
  } catch (error) {
    return error as E;
  }
  throw new Error('Expected a rejection, but the promise resolved');
}

/** A queue as `rabbitmqctl list_queues` sees it. */
export async function queueInfo(queue: string): Promise<{ name: string; messages: number; messages_unacknowledged: number } | undefined> {
  const queues = await rabbitmqctl<Array<{ name: string; messages: number; messages_unacknowledged: number }>>('list_queues', 'name', 'messages', 'messages_unacknowledged');
  return queues.find((q) => q.name === queue);
}
