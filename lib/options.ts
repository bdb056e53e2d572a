// The logger's options: their types and documentation, their defaults in one constant, and their validation.
// The options that shape the bus itself (config, name, url, levels, listen) are applied to the config in topology.ts.
import { basename } from 'node:path';
import { configError, describeValue } from './errors.js';
import { parseSince, type StreamStart } from './since.js';
import { DEFAULT_URL, HOW_TO_TURN_HISTORY_ON, loadTopology, type BusConfig, type DefaultLevel, type Topology } from './topology.js';
import type { TlsFiles } from './tls.js';

/**
 * Where reading the bus's history starts: `'now'`, `'start'` (the oldest event the stream holds), a duration
 * `'<int>s|m|h|d'` (`'10m'`), an ISO 8601 time (`'2026-11-29T03:00:00Z'`) or a `Date`, or a stream offset (a whole
 * number, e.g. the `meta.offset` of the last event handled, plus one).
 */
export type HistorySince = string | number | Date;

/** Options of {@link EventBusLogger}. Every one is optional. */
export interface EventBusLoggerOptions<L extends string = DefaultLevel> {
  /**
   * The broker URL, or several for fail-over (tried in order). Its password never appears in errors or events.
   * @default process.env.AMQP_URL, else the config's connection, else 'amqp://guest:guest@localhost:5672'
   */
  url?: string | readonly string[];
  /**
   * The order a logger tries its URLs in. 'given': as listed, the first preferred and the others fail-over, so a
   * deployment can pin loggers to nodes. 'random': each process draws its own order once (Rascal's 'random'
   * connection strategy), which spreads many processes across a cluster's nodes; loggers in one process share it.
   * @default 'given' (or the config's `connectionStrategy`: 'fixed' is 'given')
   */
  urlOrder?: 'given' | 'random';
  /**
   * The bus: the name of the topic exchange. Loggers with the same name see each other's events.
   * @default the config's exchange, 'logger_metaclass' in the shipped config
   */
  name?: string;
  /**
   * The levels this logger may listen to: its queue is bound with these routing keys only (each while something
   * listens to it, see `listen`). Publishing works for every configured level whatever this says.
   * `'*'`: every event on the bus, whatever its level: the queue is bound with `#` while something subscribes, and
   * an event of a level this config does not name reaches `subscribe()` handlers (no level event is emitted for it).
   * @default every level of the config
   */
  levels?: readonly NoInfer<L>[] | '*';
  /**
   * Which levels this logger binds. Left out (the default): each level of `levels` once something listens to it (an
   * `on(level, fn)` listener, a `subscribe()` handler, a subclass that overrides `handleInfo`, `handleCritical` or
   * `handle`), and unbinds it when the last such listener goes; a logger nothing listens to has no queue at all, so
   * a process that only publishes receives nothing of the bus. `true`: every level of `levels` from the start,
   * listened to or not. `false`: none, ever (no queue, no bindings, no consumer); cannot be combined with `levels`.
   * @default undefined (on demand: a level is bound while something listens to it)
   */
  listen?: boolean;
  /**
   * A Rascal config object, or the path of a JSON file holding one. Never modified.
   * @default the shipped config/rascal.json
   */
  config?: BusConfig<L> | string;
  /**
   * Sent as the AMQP `appId` of every event this logger publishes.
   * @default the basename of the main script, e.g. 'server' for `node server.js`
   */
  appId?: string;
  /**
   * Milliseconds the broker has to confirm an event, counted from when it was first written to the broker (not from
   * the call: an event that waited in the buffer behind a burst or an outage has its full time). Not confirmed by
   * then: the publish rejects with code `PUBLISH_TIMEOUT` (it may or may not have reached the bus). Every publish
   * settles within `bufferMaxWait` plus `publishTimeout`.
   * @default 10000
   */
  publishTimeout?: number;
  /**
   * Milliseconds `start()` may take. By default it then resolves, and the logger goes on connecting in the
   * background; with `failFast` it rejects with code `CONNECT`.
   * @default 10000
   */
  startTimeout?: number;
  /**
   * What `start()` (and `create()`) does when the broker cannot be reached. `false`: an unreachable broker is an
   * outage, not an error: `start()` resolves (at the latest after `startTimeout`), `'disconnected'` says why, and the
   * logger keeps trying in the background with the reconnect backoff until the broker answers (`'ready'`) or
   * `stop()`; publishes wait in the outage buffer meanwhile. `true`: `start()` rejects with code `CONNECT` when the
   * first try fails (or, with `waitForBroker`, after `startTimeout`), for tools that should exit instead (the CLI).
   * Either way a failure no retry can cure rejects at once: `CONFIG`, `ACCESS` (a refused login, vhost or
   * permission), a TLS certificate that fails verification.
   * @default false
   */
  failFast?: boolean;
  /**
   * With `failFast`: when the broker is unreachable at start, keep retrying until `startTimeout` instead of failing
   * at once. (Without `failFast` the logger keeps trying anyway, in the background.)
   * @default false
   */
  waitForBroker?: boolean;
  /**
   * Milliseconds `stop()` waits for in-flight publishes and running listeners before it closes anyway.
   * @default 5000
   */
  stopTimeout?: number;
  /**
   * How many events the broker may push to this logger before they are handled. An event is acked once handled:
   * at once when its listeners return, or when the promise a listener returned settles. So at most this many
   * events are being handled at once; the broker keeps the rest in the logger's queue.
   * @default 100
   */
  prefetch?: number;
  /**
   * The largest event body, in bytes, this logger publishes or accepts. A bigger one is rejected on publish and
   * reported as `'invalid'` on receipt.
   * @default 1048576 (1 MiB)
   */
  maxMessageBytes?: number;
  /**
   * Reject a publish with code `UNROUTABLE` when no queue is bound for its level (nobody listens).
   * Off by default: on a pub/sub bus an event nobody listens to is normal.
   * @default false
   */
  mandatory?: boolean;
  /**
   * At most this many events wait, unsent, in the buffer: while the broker is unreachable or blocks publishing, and
   * behind a burst (at most 2,048 events are sent and awaiting their confirm at once; the rest wait their turn).
   * Beyond it `publish()` rejects at once with code `BUFFER_FULL`. A backstop: `bufferMaxBytes` is the bound meant
   * to bite first.
   * @default 1000000
   */
  bufferMaxEvents?: number;
  /**
   * At most this many bytes wait, unsent, in the buffer (the same waits as `bufferMaxEvents`). Each event counts
   * as its body plus 640 bytes for what the buffer keeps beside it, so this bounds the buffer's memory: the
   * default holds about 170,000 events of 100 bytes of data.
   * @default 134217728 (128 MiB)
   */
  bufferMaxBytes?: number;
  /**
   * Milliseconds an event may wait in the buffer before it is sent (during an outage, a block, or behind a burst).
   * Still unsent by then: the publish rejects with code `BUFFER_TIMEOUT`; it never reached the bus, so publishing
   * it again makes no duplicate. Once sent, `publishTimeout` applies. The default (Kafka's producer allows the same
   * 120 s) outlasts the time a full buffer takes to drain on a healthy broker, so a burst is not failed by it.
   * @default 120000
   */
  bufferMaxWait?: number;
  /**
   * Keep this logger's queue through a short disconnect, so it receives what was published meanwhile: the queue
   * gets a client-chosen name and the broker deletes it only after `grace` ms without a consumer.
   * @default false (a server-named exclusive queue, gone with the connection)
   */
  resumable?: boolean | { grace?: number; queueName?: string };
  /**
   * TLS certificates as file paths (PEM), for amqps:// URLs: `caFile` (the CA that signs the broker's certificate),
   * `certFile` and `keyFile` (a client certificate, for mutual TLS). The server's certificate and host name are
   * always verified. Each file wins over AMQP_CACERT / AMQP_CERT / AMQP_KEY, which win over the config's
   * `eventBusLogger.tls`, which wins over `ca`, `cert`, `key` in the connection's Rascal `socketOptions`.
   * @default from the environment, else the config, else Node's bundled CAs and no client certificate
   */
  tls?: TlsFiles;
  /**
   * Makes a catch-up listener: it reads the bus from its history stream (the config must have one, see
   * config/rascal-with-history.json) instead of a temporary queue, starting at `since`, then follows live. After
   * any reconnect it resumes right after the last event it dispatched; `meta.offset` is set on every event.
   * Across a process restart, keep the last `meta.offset` and pass it back plus one as `since`. Add listeners
   * before `start()`: the history arrives as soon as it starts.
   * @default none: a live listener on a temporary queue
   * @example
   * const logger = new EventBusLogger({ config: 'node_modules/event-bus-logger/config/rascal-with-history.json', history: { since: '1h' } });
   * logger.on('critical', (data, meta) => console.log(meta.offset, data));
   * await logger.start();
   */
  history?: { since: HistorySince };
}

/** Defaults of the options that have one, in one place. */
export const DEFAULTS = {
  publishTimeout: 10_000,
  startTimeout: 10_000,
  failFast: false,
  waitForBroker: false,
  stopTimeout: 5_000,
  prefetch: 100,
  maxMessageBytes: 1_048_576,
  mandatory: false,
  bufferMaxEvents: 1_000_000,
  bufferMaxBytes: 134_217_728,
  bufferMaxWait: 120_000,
  resumableGrace: 60_000,
  url: DEFAULT_URL,
} as const;

/** Options after defaults and validation. */
export interface ResolvedOptions {
  publishTimeout: number;
  startTimeout: number;
  failFast: boolean;
  waitForBroker: boolean;
  stopTimeout: number;
  prefetch: number;
  maxMessageBytes: number;
  mandatory: boolean;
  bufferMaxEvents: number;
  bufferMaxBytes: number;
  bufferMaxWait: number;
  appId: string;
  resumable: { grace: number; queueName: string | undefined } | undefined;
  /** A catch-up listener's start, parsed. */
  history: { since: StreamStart } | undefined;
}


function positiveInteger(options: Record<string, unknown>, key: string, fallback: number, minimum = 1): number {
  const value = options[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < minimum) {
    throw configError(`Expected \`${key}\` to be an integer from ${minimum} and up, got ${describeValue(value)}`);
  }
  return value;
}

function bool(options: Record<string, unknown>, key: string, fallback: boolean): boolean {
  const value = options[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw configError(`Expected \`${key}\` to be a boolean, got ${describeValue(value)}`);
  return value;
}

const KNOWN_OPTIONS = new Set([
  'url', 'urlOrder', 'name', 'levels', 'listen', 'config', 'appId', 'publishTimeout', 'startTimeout', 'failFast', 'waitForBroker', 'stopTimeout', 'prefetch',
  'maxMessageBytes', 'mandatory', 'bufferMaxEvents', 'bufferMaxBytes', 'bufferMaxWait', 'resumable', 'history',
  'tls',
]);

/** Validates the plain options and fills in defaults. Throws an `EventBusLoggerError` with code `CONFIG`. */
export function resolveOptions(options: EventBusLoggerOptions<string>): ResolvedOptions {
  if (options === null || typeof options !== 'object') {
    throw configError(`Expected the options to be an object, got ${describeValue(options)}`);
  }
  const raw = options as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    if (!KNOWN_OPTIONS.has(key)) throw configError(`Unknown option \`${key}\`; expected one of: ${[...KNOWN_OPTIONS].join(', ')}`);
  }
  const appId = raw.appId ?? (process.argv[1] ? basename(process.argv[1]).replace(/\.[cm]?[jt]s$/, '') : 'node');
  if (typeof appId !== 'string' || appId.length === 0 || appId.length > 255) {
    throw configError(`Expected \`appId\` to be a string of 1 to 255 characters, got ${describeValue(appId)}`);
  }
  let resumable: ResolvedOptions['resumable'];
  if (raw.resumable === true) resumable = { grace: DEFAULTS.resumableGrace, queueName: undefined };
  else if (raw.resumable !== undefined && raw.resumable !== false) {
    if (typeof raw.resumable !== 'object' || raw.resumable === null) {
      throw configError(`Expected \`resumable\` to be a boolean or { grace, queueName }, got ${describeValue(raw.resumable)}`);
    }
    const settings = raw.resumable as Record<string, unknown>;
    const queueName = settings.queueName;
    if (queueName !== undefined && (typeof queueName !== 'string' || queueName.length === 0 || queueName.length > 200 || queueName.startsWith('amq.'))) {
      throw configError(`Expected \`resumable.queueName\` to be a string of 1 to 200 characters not starting with "amq.", got ${describeValue(queueName)}`);
    }
    resumable = { grace: positiveInteger(settings, 'grace', DEFAULTS.resumableGrace), queueName: queueName as string | undefined };
  }
  let history: ResolvedOptions['history'];
  if (raw.history !== undefined) {
    if (typeof raw.history !== 'object' || raw.history === null || !('since' in raw.history)) {
      throw configError(`Expected \`history\` to be { since }, e.g. { since: '10m' }, got ${describeValue(raw.history)}`);
    }
    if (raw.listen === false) throw configError('`history` and `listen: false` contradict each other: a catch-up listener listens; drop one of them');
    if (raw.resumable !== undefined && raw.resumable !== false) throw configError('`history` and `resumable` contradict each other: a catch-up listener reads the history stream, not a queue of its own; drop one of them');
    history = { since: parseSince((raw.history as { since: unknown }).since, 'history.since') };
  }
  return {
    publishTimeout: positiveInteger(raw, 'publishTimeout', DEFAULTS.publishTimeout),
    startTimeout: positiveInteger(raw, 'startTimeout', DEFAULTS.startTimeout),
    failFast: bool(raw, 'failFast', DEFAULTS.failFast),
    waitForBroker: bool(raw, 'waitForBroker', DEFAULTS.waitForBroker),
    stopTimeout: positiveInteger(raw, 'stopTimeout', DEFAULTS.stopTimeout, 0),
    prefetch: positiveInteger(raw, 'prefetch', DEFAULTS.prefetch),
    maxMessageBytes: positiveInteger(raw, 'maxMessageBytes', DEFAULTS.maxMessageBytes),
    mandatory: bool(raw, 'mandatory', DEFAULTS.mandatory),
    bufferMaxEvents: positiveInteger(raw, 'bufferMaxEvents', DEFAULTS.bufferMaxEvents, 0),
    bufferMaxBytes: positiveInteger(raw, 'bufferMaxBytes', DEFAULTS.bufferMaxBytes, 0),
    bufferMaxWait: positiveInteger(raw, 'bufferMaxWait', DEFAULTS.bufferMaxWait),
    appId,
    resumable,
    history,
  };
}

/** The options and topology of a logger, read and validated; the CLI and the pino transport read them first. */
export interface BusPlan {
  settings: ResolvedOptions;
  topology: Topology;
}

/** Reads and validates the options and the config, without connecting. Rejects with code `CONFIG`. */
export async function planBus(options: EventBusLoggerOptions<string>): Promise<BusPlan> {
  const settings = resolveOptions(options);
  const topology = await loadTopology(options, settings);
  if (settings.history && !topology.history) {
    throw configError(`\`history\` needs a history stream, and the config of bus "${topology.exchange}" declares none; ${HOW_TO_TURN_HISTORY_ON}`);
  }
  return { settings, topology };
}
