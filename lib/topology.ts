// The bus topology: the Rascal config (config/rascal.json by default) read into the shape of the bus, with the
// options that shape it applied (config, name, url, levels, listen): the exchange, the listener queue's options,
// the levels, the URLs, and what Rascal declares.
// Over 300 lines: loadTopology is a list of named steps, one per section of the config (bus, listener queue,
// levels, history, listen, name, URLs, connection names, TLS), each validated with an error that names the key.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { LIFECYCLE_EVENTS } from './events.js';
import { memberNamedLike } from './level-methods.js';
import { configError, describeError, describeValue, maskUrl } from './errors.js';
import { isRecord } from './event-data.js';
import { tlsSocketOptions, type TlsFiles } from './tls.js';

/**
 * Path of the config shipped with the package: `config/rascal.json` at the package root, the file
 * `event-bus-logger/config/rascal.json` publishes. Resolved through the package's own name, so lib/ (under tsx) and
 * dist/lib/ (built) read the same file.
 */
export const SHIPPED_CONFIG_PATH = createRequire(import.meta.url).resolve('event-bus-logger/config/rascal.json');

/** A Rascal config as this library reads it. Any other Rascal setting passes through to Rascal untouched. */
export interface BusConfig<L extends string = string> {
  /** Which vhost, exchange and queue of the config make the bus. */
  eventBusLogger?: {
    /** @default '/' */
    vhost?: string;
    /** The key of the topic exchange in `exchanges`. @default 'logger_metaclass' */
    exchange?: string;
    /** The key of the listener queue in `queues`: the logger declares it server-named. @default 'listener' */
    queue?: string;
    /** TLS certificates as file paths, for amqps:// URLs; the `tls` option and AMQP_CACERT, AMQP_CERT, AMQP_KEY win. */
    tls?: TlsFiles;
    /**
     * The key of the history stream in `queues` (a queue with `"x-queue-type": "stream"`, bound to the exchange
     * with `#`): turns history on. The logger declares it as `<exchange>.history`, renamed with the bus.
     * @default none: no history (config/rascal-with-history.json has one)
     */
    history?: string;
  };
  vhosts: Record<string, { bindings?: Record<L, unknown>; [setting: string]: unknown }>;
  [setting: string]: unknown;
}

/** The level names of a config: the names of its bindings. */
export type LevelsOf<C> = C extends { vhosts: infer V }
  ? { [K in keyof V]: V[K] extends { bindings?: infer B } ? Extract<keyof B, string> : never }[keyof V]
  : never;

/**
 * The levels of the shipped `config/rascal.json`. Spelled out rather than derived from the file, so the published
 * types hold them whatever the user's `resolveJsonModule`; spec/types/default-level.ts fails if the two differ.
 */
export type DefaultLevel = 'info' | 'critical';

/** The options that shape the bus; those of {@link EventBusLoggerOptions} of the same names. */
export interface TopologyOptions {
  config?: BusConfig<string> | string | undefined;
  name?: string | undefined;
  url?: string | readonly string[] | undefined;
  urlOrder?: 'given' | 'random' | undefined;
  levels?: readonly string[] | '*' | undefined;
  listen?: boolean | undefined;
  tls?: TlsFiles | undefined;
}

const LEVEL_NAME = /^[A-Za-z0-9_-]+$/;

/** The broker when neither `url`, AMQP_URL nor the config names one. */
export const DEFAULT_URL = 'amqp://guest:guest@localhost:5672';

/** The bus as the logger needs it, and the config Rascal gets (with the listener queue and its bindings removed). */
export interface Topology {
  rascalConfig: Record<string, unknown>;
  vhost: string;
  /** The exchange's key in the Rascal config (the `name` option). */
  exchange: string;
  exchangeOptions: Record<string, unknown>;
  queueOptions: Record<string, unknown>;
  /** Every configured level, in config order. */
  levels: string[];
  /**
   * The levels this logger may bind its queue with (`levels`, else every level); none with `listen: false`. Which
   * of them it binds: see `listenAlways`.
   */
  listenLevels: string[];
  /** `listen: true`: bind every one of `listenLevels` from the start. Otherwise each once something listens to it. */
  listenAlways: boolean;
  /**
   * `levels: '*'`: also every routing key on the bus (`#`), levels this config does not name included; those reach
   * `subscribe()` handlers only.
   */
  listenAny: boolean;
  /** The broker URLs, passwords masked, for messages. */
  loggableUrls: string[];
  /** The history stream when the config declares one (`eventBusLogger.history`), else undefined. */
  history: HistoryTopology | undefined;
  /** The name the bus's history stream has on the broker, `<exchange>.history`, whether or not the config has one. */
  historyName: string;
}

/** The bus's history stream, as the logger declares and binds it. */
export interface HistoryTopology {
  /** Its name on the broker: `<exchange>.history`. */
  stream: string;
  /** Its queue options (durable, with `x-queue-type: stream` and the retention arguments). */
  options: Record<string, unknown>;
  /** The keys it is bound to the exchange with (`#`: every level). */
  bindingKeys: string[];
}

/** What to add to a config to turn history on, for error messages. */
export const HOW_TO_TURN_HISTORY_ON =
  'turn history on in the config: set "history": "history" in its "eventBusLogger" section, add a stream queue "history" ({ "options": { "durable": true, "arguments": { "x-queue-type": "stream" } } }) and bind it to the exchange with "#" (config/rascal-with-history.json in the package is a complete config)';

async function readConfig(config: BusConfig<string> | string | undefined): Promise<{ config: Record<string, unknown>; source: string }> {
  if (config === undefined || typeof config === 'string') {
    const path = config ?? SHIPPED_CONFIG_PATH;
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      throw configError(`Cannot read the config file ${path}: ${describeError(error)}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw configError(`The config file ${path} is not valid JSON: ${describeError(error)}`);
    }
    if (!isRecord(parsed)) throw configError(`Expected the config file ${path} to hold a JSON object, got ${describeValue(parsed)}`);
    return { config: parsed, source: path };
  }
  if (!isRecord(config)) throw configError(`Expected \`config\` to be a Rascal config object or a file path, got ${describeValue(config)}`);
  // Never mutate the caller's config.
  return { config: structuredClone(config) as Record<string, unknown>, source: 'the config object' };
}

function urlList(url: unknown): string[] | undefined {
  if (url === undefined) return undefined;
  const urls = typeof url === 'string' ? [url] : url;
  if (!Array.isArray(urls) || urls.length === 0 || !urls.every((u) => typeof u === 'string' && /^amqps?:\/\//.test(u))) {
    throw configError(`Expected \`url\` to be an amqp:// or amqps:// URL or a non-empty list of them, got ${maskUrl(describeValue(url))}`);
  }
  for (const u of urls as string[]) {
    try {
      new URL(u);
    } catch {
      throw configError(`\`url\` ${maskUrl(u)} is not a valid URL`);
    }
  }
  return urls as string[];
}

/**
 * Reads the config, applies the `url`, `name` and `levels` options, validates the bus part, and splits it into
 * what Rascal declares (the exchange) and what the logger declares itself (its server-named queue and bindings).
 */
export async function loadTopology(options: TopologyOptions, resolved: { appId: string } = { appId: 'node' }): Promise<Topology> {
  const { config, source } = await readConfig(options.config);
  const bus = locateBus(config, source);
  const queueOptions = listenerQueue(bus);
  const levels = takeLevels(bus);
  const historyOf = takeHistoryStream(bus.section.history, { source, exchangeKey: bus.exchangeKey, queues: bus.queues, bindings: bus.bindings });
  const listenLevels = applyListen(options, levels);
  const name = renameExchange(options.name, bus);
  const connections = resolveUrls(options, bus.vhost);
  nameConnections(bus.vhost, `event-bus-logger ${resolved.appId} (${name})`);
  await applyTls(options.tls, bus, connections);
  delete config.eventBusLogger;
  delete config.$comment;
  return {
    rascalConfig: config,
    vhost: bus.vhostName,
    exchange: name,
    exchangeOptions: isRecord(bus.exchange.options) ? bus.exchange.options : {},
    queueOptions,
    levels,
    listenLevels,
    listenAny: options.levels === '*',
    listenAlways: options.listen === true,
    loggableUrls: connections.map((connection) => maskUrl(urlOf(connection, 'amqp://(from config attributes)'))),
    history: historyOf && { stream: `${name}.history`, options: historyOf.options, bindingKeys: historyOf.bindingKeys },
    historyName: `${name}.history`,
  };
}

/** The parts of a config that make the bus, found and checked; the records are the config's own, changed in place. */
interface BusParts {
  source: string;
  /** The config's `eventBusLogger` section. */
  section: Record<string, unknown>;
  vhostName: string;
  exchangeKey: string;
  queueKey: string;
  vhost: Record<string, unknown>;
  exchanges: Record<string, unknown>;
  queues: Record<string, unknown>;
  bindings: Record<string, unknown>;
  exchange: Record<string, unknown>;
}

// The vhost and the topic exchange the config's `eventBusLogger` section names.
function locateBus(config: Record<string, unknown>, source: string): BusParts {
  const section = config.eventBusLogger ?? {};
  if (!isRecord(section)) throw configError(`Expected \`eventBusLogger\` in ${source} to be an object, got ${describeValue(section)}`);
  const vhostName = section.vhost ?? '/';
  const exchangeKey = section.exchange ?? 'logger_metaclass';
  const queueKey = section.queue ?? 'listener';
  for (const [key, value] of Object.entries({ vhost: vhostName, exchange: exchangeKey, queue: queueKey })) {
    if (typeof value !== 'string' || value.length === 0) {
      throw configError(`Expected \`eventBusLogger.${key}\` in ${source} to be a non-empty string, got ${describeValue(value)}`);
    }
  }
  const vhosts = config.vhosts;
  if (!isRecord(vhosts) || !isRecord(vhosts[vhostName as string])) {
    throw configError(`${source} has no vhost "${String(vhostName)}" under \`vhosts\`; expected the vhost named by \`eventBusLogger.vhost\``);
  }
  const vhost = vhosts[vhostName as string] as Record<string, unknown>;
  const exchanges = isRecord(vhost.exchanges) ? vhost.exchanges : {};
  const exchange = exchanges[exchangeKey as string];
  if (!isRecord(exchange)) {
    throw configError(`${source} has no exchange "${String(exchangeKey)}" in vhost "${String(vhostName)}"; expected the topic exchange named by \`eventBusLogger.exchange\``);
  }
  const exchangeType = exchange.type ?? 'topic';
  if (exchangeType !== 'topic') throw configError(`Expected the exchange "${String(exchangeKey)}" in ${source} to be of type "topic", got ${describeValue(exchangeType)}`);
  return {
    source,
    section,
    vhostName: vhostName as string,
    exchangeKey: exchangeKey as string,
    queueKey: queueKey as string,
    vhost,
    exchanges,
    queues: isRecord(vhost.queues) ? vhost.queues : {},
    bindings: isRecord(vhost.bindings) ? vhost.bindings : {},
    exchange,
  };
}

// The options of the listener queue the section names (the logger declares it server-named).
function listenerQueue({ source, vhostName, queueKey, queues }: BusParts): Record<string, unknown> {
  const queue = queues[queueKey];
  if (!isRecord(queue)) {
    throw configError(`${source} has no queue "${queueKey}" in vhost "${vhostName}"; expected the listener queue named by \`eventBusLogger.queue\``);
  }
  const queueOptions = isRecord(queue.options) ? { ...queue.options } : {};
  if (queueOptions.autoDelete) {
    throw configError(`The listener queue "${queueKey}" in ${source} sets \`autoDelete\`; remove it: a consumer channel that fails would delete the queue and leave the logger deaf`);
  }
  return queueOptions;
}

// The levels: the bindings of the listener queue, in config order. The queue and its bindings are taken out of what
// Rascal declares: the logger declares its own queue and binds it per level.
function takeLevels({ source, exchangeKey, queueKey, queues, bindings }: BusParts): string[] {
  const levels: string[] = [];
  for (const [bindingName, binding] of Object.entries(bindings)) {
    if (!isRecord(binding) || binding.destination !== queueKey) continue;
    if (binding.source !== exchangeKey) {
      throw configError(`Binding "${bindingName}" in ${source} binds the listener queue to "${String(binding.source)}"; expected the bus exchange "${exchangeKey}"`);
    }
    if (binding.bindingKey !== undefined && binding.bindingKey !== bindingName) {
      throw configError(`Binding "${bindingName}" in ${source} has bindingKey ${describeValue(binding.bindingKey)}; a level's binding key must equal its name "${bindingName}"`);
    }
    checkLevelName(bindingName, `Binding "${bindingName}" in ${source}`);
    levels.push(bindingName);
    delete bindings[bindingName];
  }
  if (levels.length === 0) {
    throw configError(`${source} binds no level to the listener queue "${queueKey}"; expected at least one binding like "info": { "source": "${exchangeKey}", "destination": "${queueKey}", "bindingKey": "info" }`);
  }
  delete queues[queueKey];
  return levels;
}

// The levels this logger may bind: the `levels` option (deduplicated), else every level; none with `listen: false`.
function applyListen({ listen, levels: wanted }: TopologyOptions, levels: string[]): string[] {
  if (listen !== undefined && typeof listen !== 'boolean') {
    throw configError(`Expected \`listen\` to be a boolean, got ${describeValue(listen)}`);
  }
  if (listen === false) {
    if (wanted !== undefined) throw configError('`levels` and `listen: false` contradict each other: a logger that does not listen binds no level; drop one of them');
    return [];
  }
  if (wanted === undefined || wanted === '*') return levels;
  if (!Array.isArray(wanted) || wanted.length === 0) {
    throw configError(`Expected \`levels\` to be a non-empty array of configured levels (${levels.join(', ')}), got ${describeValue(wanted)}`);
  }
  for (const level of wanted) {
    if (!levels.includes(level)) throw configError(`Unknown level ${describeValue(level)} in \`levels\`; expected one of the configured levels: ${levels.join(', ')}`);
  }
  return [...new Set(wanted)];
}

// The `name` option renames the exchange, in the bindings that name it too. Returns the exchange's name.
function renameExchange(option: string | undefined, { exchangeKey, exchanges, exchange, bindings }: BusParts): string {
  const name = option ?? exchangeKey;
  if (typeof name !== 'string' || name.length === 0 || name.length > 255 || name.startsWith('amq.')) {
    throw configError(`Expected \`name\` (the bus exchange) to be a string of 1 to 255 characters not starting with "amq.", got ${describeValue(name)}`);
  }
  if (name === exchangeKey) return name;
  delete exchanges[exchangeKey];
  exchanges[name] = exchange;
  for (const binding of Object.values(bindings)) {
    if (isRecord(binding) && binding.source === exchangeKey) binding.source = name;
    if (isRecord(binding) && binding.destination === exchangeKey && binding.destinationType === 'exchange') binding.destination = name;
  }
  return name;
}

// The URLs: the option, else AMQP_URL, else the config's connection, else the default; and the order they are tried
// in. Returns the vhost's connections (a URL string or Rascal's connection attributes each).
function resolveUrls({ url, urlOrder }: TopologyOptions, vhost: Record<string, unknown>): unknown[] {
  const urls = urlList(url) ?? urlList(process.env.AMQP_URL || undefined);
  const configured = vhost.connections ?? vhost.connection;
  if (urls || configured === undefined) {
    const base = isRecord(vhost.connection) ? vhost.connection : {};
    const { url: _ignored, ...settings } = base;
    vhost.connections = (urls ?? [DEFAULT_URL]).map((url) => ({ ...structuredClone(settings), url }));
    delete vhost.connection;
  }
  // As given (the first preferred) unless `urlOrder: 'random'` spreads processes across the nodes. An explicit
  // option beats the config's connectionStrategy; without either, 'fixed' (Rascal's own default is 'random').
  if (urlOrder !== undefined) {
    if (urlOrder !== 'given' && urlOrder !== 'random') {
      throw configError(`Expected \`urlOrder\` to be 'given' (try the URLs in order, the first preferred) or 'random' (spread processes across them), got ${describeValue(urlOrder)}`);
    }
    vhost.connectionStrategy = urlOrder === 'random' ? 'random' : 'fixed';
  } else vhost.connectionStrategy ??= 'fixed';
  const connections = vhost.connections ?? [vhost.connection];
  return Array.isArray(connections) ? connections : [connections];
}

// The URL of a connection of the config (a string or Rascal's attributes), or `otherwise`.
function urlOf(connection: unknown, otherwise: string): string {
  return typeof connection === 'string' ? connection : isRecord(connection) && typeof connection.url === 'string' ? connection.url : otherwise;
}

// Names each connection, so `rabbitmqctl list_connections client_properties` and the management UI show whose it is.
function nameConnections(vhost: Record<string, unknown>, connectionName: string): void {
  for (const connection of Array.isArray(vhost.connections) ? vhost.connections : [vhost.connection]) {
    if (!isRecord(connection)) continue;
    const socketOptions = (connection.socketOptions = isRecord(connection.socketOptions) ? connection.socketOptions : {});
    const clientProperties = (socketOptions.clientProperties = isRecord(socketOptions.clientProperties) ? socketOptions.clientProperties : {});
    clientProperties.connection_name ??= connectionName;
  }
}

// TLS certificates, named by file path (the option, AMQP_CACERT/AMQP_CERT/AMQP_KEY, the config's
// eventBusLogger.tls), win over the same keys in Rascal's own socketOptions.
async function applyTls(option: TlsFiles | undefined, { section, source }: BusParts, connections: unknown[]): Promise<void> {
  const tls = await tlsSocketOptions(option, section.tls, source, connections.map((connection) => urlOf(connection, 'amqp://')));
  for (const connection of tls ? connections : []) {
    if (isRecord(connection) && isRecord(connection.socketOptions)) Object.assign(connection.socketOptions, tls);
  }
}

// The history stream of the config, taken out of what Rascal declares: the logger declares it as
// `<exchange>.history` (renamed with the bus) and binds it on every (re)open.
function takeHistoryStream(
  key: unknown,
  { source, exchangeKey, queues, bindings }: { source: string; exchangeKey: string; queues: Record<string, unknown>; bindings: Record<string, unknown> },
): { options: Record<string, unknown>; bindingKeys: string[] } | undefined {
  if (key === undefined) return undefined;
  if (typeof key !== 'string' || key.length === 0) {
    throw configError(`Expected \`eventBusLogger.history\` in ${source} to be the key of the history stream in \`queues\` (a non-empty string), got ${describeValue(key)}`);
  }
  const queue = queues[key];
  if (!isRecord(queue)) throw configError(`${source} names the history stream "${key}" (\`eventBusLogger.history\`) but has no queue "${key}"; ${HOW_TO_TURN_HISTORY_ON}`);
  const options = isRecord(queue.options) ? structuredClone(queue.options) : {};
  const args = isRecord(options.arguments) ? options.arguments : {};
  if (args['x-queue-type'] !== 'stream') {
    throw configError(`The history queue "${key}" in ${source} must be a stream: expected \`options.arguments["x-queue-type"]\` "stream", got ${describeValue(args['x-queue-type'])}`);
  }
  for (const [option, forbidden] of [['durable', false], ['exclusive', true], ['autoDelete', true]] as const) {
    if (options[option] === forbidden) {
      throw configError(`The history stream "${key}" in ${source} sets \`${option}: ${String(forbidden)}\`; a stream must be durable, not exclusive and not auto-deleted (RabbitMQ refuses it with 406)`);
    }
  }
  options.durable = true;
  const bindingKeys: string[] = [];
  for (const [bindingName, binding] of Object.entries(bindings)) {
    if (!isRecord(binding) || binding.destination !== key) continue;
    if (binding.source !== exchangeKey) {
      throw configError(`Binding "${bindingName}" in ${source} binds the history stream to "${String(binding.source)}"; expected the bus exchange "${exchangeKey}"`);
    }
    const bindingKey = binding.bindingKey ?? '#';
    if (typeof bindingKey !== 'string') throw configError(`Binding "${bindingName}" in ${source} has bindingKey ${describeValue(bindingKey)}; expected "#"`);
    bindingKeys.push(bindingKey);
    delete bindings[bindingName];
  }
  if (bindingKeys.length === 0) {
    throw configError(`The history stream "${key}" in ${source} is bound to nothing; add a binding { "source": "${exchangeKey}", "destination": "${key}", "destinationType": "queue", "bindingKey": "#" }`);
  }
  delete queues[key];
  return { options, bindingKeys };
}

/** Throws unless `level` can be a routing key and an event name. */
export function checkLevelName(level: string, where: string): void {
  if (!LEVEL_NAME.test(level)) {
    throw configError(`${where}: level ${describeValue(level)} may hold only letters, digits, "_" and "-" (no ".", "*" or "#": they are topic wildcards)`);
  }
  if ((LIFECYCLE_EVENTS as readonly string[]).includes(level)) {
    throw configError(`${where}: level "${level}" is reserved for the logger's own events (${LIFECYCLE_EVENTS.join(', ')}); choose another name`);
  }
  // Each level gets its method on the logger (logger.warning(...)): a level may not hide one of its members.
  if (memberNamedLike(level)) {
    throw configError(`${where}: level "${level}" is named like a member of the logger (logger.${level}), which its level method would hide; choose another name`);
  }
}
