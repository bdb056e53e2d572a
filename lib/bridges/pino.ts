// `event-bus-logger/pino`: a pino transport that publishes every log record to the bus, at the bus level its pino
// level maps to, and keeps the library's confirm guarantee: every record is published and its confirm awaited
// (many in flight at once), and closing the transport waits for every outstanding confirm before it disconnects.
//
//   const transport = pino.transport({ target: 'event-bus-logger/pino', options: { name: 'logger_metaclass' } });
//   const log = pino(transport);
//
// The level map (pino level name or number -> bus level), by default:
//   trace (10), debug (20), info (30) -> 'info'
//   warn (40)                          -> 'warning' when the config has that level, else 'info'
//   error (50), fatal (60)             -> 'critical'
// Override any entry with the `levels` option, e.g. { levels: { debug: 'debug', 35: 'notice' } }. A level that
// is neither mapped nor standard (a custom pino level) takes the entry of the nearest standard level below it.
//
// A broker that cannot be reached is an outage, not a failure to start: the transport's logger connects in the
// background and the records wait in its outage buffer, as during any outage.
// A transport that cannot start (bad options or config, a refused login) does not reject in pino's worker: the
// worker's unhandled rejection reaches the main thread only as a message, which a main thread blocked in the
// transport's synchronous end() or flushSync() (thread-stream waits up to 10 s for the worker to read) does not
// see: the user got "_flushSync took too long (10s)" and never the reason. Instead the reason goes to standard
// error at once (synchronously, from the worker) and to the transport stream's 'error' event (thread-stream's
// EVENT message, which does not fail the main thread's waits), and the worker reads and drops the records, so that
// end() and pino's flush on exit finish at once.
import { writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { Writable, type Transform } from 'node:stream';
import build from 'pino-abstract-transport';
import { configError, describeError } from '../errors.js';
import { EventBusLogger } from '../logger.js';
import { planBus, type EventBusLoggerOptions } from '../options.js';
import { isRecord } from '../event-data.js';
import type { EventData } from '../wire-format.js';
import { Forwarder, failureReporter } from './forwarding.js';

/**
 * Options of the transport: those of {@link EventBusLogger} but `levels` (url, name, config, appId, publishTimeout...),
 * the level map and `maxInFlight`. They cross to pino's worker thread, so they must be plain data.
 */
export interface PinoTransportOptions extends Omit<EventBusLoggerOptions<string>, 'levels'> {
  /** The AMQP appId of the published records. @default 'pino' */
  appId?: string;
  /**
   * Which bus level each pino level is published at: keys are pino level names (`'warn'`) or numbers (`'40'`),
   * values configured bus levels. Merged over the default map.
   * @default { trace: 'info', debug: 'info', info: 'info', warn: 'warning' (if configured, else 'info'), error: 'critical', fatal: 'critical' }
   */
  levels?: Record<string, string>;
  /**
   * At most this many records wait for their confirm at once; beyond it the transport stops reading (pino
   * buffers in the meantime).
   * @default 1000
   */
  maxInFlight?: number;
}

/** pino's standard levels. */
export const PINO_LEVELS: Readonly<Record<string, number>> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

/** The default level map for a bus with `configured` levels. */
export function defaultLevelMap(configured: readonly string[]): Record<string, string> {
  const warn = configured.includes('warning') ? 'warning' : 'info';
  return { trace: 'info', debug: 'info', info: 'info', warn, error: 'critical', fatal: 'critical' };
}

/** pino's level names and numbers, as pino sends them to a transport (`{ labels, values }`). */
export interface PinoLevels {
  labels?: Record<string, string>;
  values?: Record<string, number>;
}

/**
 * Builds the function that picks the bus level of a record's `level` (a number, or a label when pino's
 * `formatters.level` made it one). Throws a `CONFIG` error when the map names a level the bus does not have.
 */
export function levelMapper(configured: readonly string[], overrides: Record<string, string> = {}, pinoLevels: () => PinoLevels | undefined = () => undefined): (level: unknown) => string {
  if (!isRecord(overrides)) {
    throw configError(`Expected the pino transport's \`levels\` to be an object like { warn: 'warning' }, got ${JSON.stringify(overrides)}`);
  }
  const defaults = defaultLevelMap(configured);
  for (const [pinoLevel, busLevel] of Object.entries({ ...defaults, ...overrides })) {
    if (typeof busLevel !== 'string' || !configured.includes(busLevel)) {
      const which = pinoLevel in overrides ? 'maps' : 'maps by default';
      throw configError(
        `The pino level "${pinoLevel}" ${which} to ${JSON.stringify(busLevel)}, which is not a configured level (${configured.join(', ')}); set \`levels: { ${JSON.stringify(pinoLevel)}: '<one of them>' }\` in the transport options`,
      );
    }
  }
  const standard = Object.entries(PINO_LEVELS);
  // The nearest standard level at or below `n`: a custom level 35 goes where info (30) goes.
  const standardBelow = (n: number): string => {
    let name = 'trace';
    for (const [label, value] of standard) if (value <= n) name = label;
    return name;
  };
  const labelOf = (n: number): string | undefined => pinoLevels()?.labels?.[n] ?? standard.find(([, value]) => value === n)?.[0];
  const valueOf = (label: string): number | undefined => pinoLevels()?.values?.[label] ?? PINO_LEVELS[label];
  // An override (by number, then by name) wins over the defaults, whichever way either is keyed.
  const lookup = (value: number | undefined, label: string | undefined): string =>
    (value !== undefined ? overrides[String(value)] : undefined) ??
    (label !== undefined ? overrides[label] : undefined) ??
    (label !== undefined ? defaults[label] : undefined) ??
    (defaults[standardBelow(value ?? PINO_LEVELS.info!)] as string);
  return (level) => {
    if (typeof level === 'number') return lookup(level, labelOf(level));
    if (typeof level === 'string') return lookup(valueOf(level), level);
    return defaults.info as string;
  };
}

// Writes to the process's standard error without waiting for the main thread (a worker's process.stderr goes
// through the main thread, which may be blocked in a synchronous wait or about to exit).
function writeStderrNow(text: string): void {
  try {
    writeSync(2, text);
  } catch {
    process.stderr.write(text);
  }
}

// thread-stream, which runs pino's transports, passes `$context` in the options of the worker it starts.
function inThreadStreamWorker(): boolean {
  const data = (workerData as { workerData?: { $context?: { threadStreamVersion?: unknown } } } | null)?.workerData;
  return parentPort !== null && data?.$context?.threadStreamVersion !== undefined;
}

// The stream of a transport that did not start: reports `error` on standard error and on the transport stream's
// 'error' event, then reads and drops every record (counted on standard error when the transport ends).
function failedTransport(error: unknown): Writable {
  const reason = `event-bus-logger/pino did not start: ${describeError(error)}`;
  writeStderrNow(`event-bus-logger/pino: the transport did not start, its log records are dropped: ${describeError(error)}\n`);
  let dropped = 0;
  const sink = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      for (const byte of Buffer.from(chunk)) if (byte === 10) dropped++;
      callback();
    },
    final(callback) {
      if (dropped > 0) writeStderrNow(`event-bus-logger/pino: ${dropped} log record(s) dropped (the transport did not start)\n`);
      callback();
    },
  });
  // A new Error: a worker's error reaches the main thread as a structured clone (message and stack, not `code`),
  // and its `cause` (a driver error) could name the URL unmasked.
  parentPort?.postMessage({ code: 'EVENT', name: 'error', args: [new Error(reason)] });
  return sink;
}

/**
 * The transport: pino calls it in its worker thread with `options`. Resolves, once connected to the bus, with the
 * stream pino writes the records to. When the options or config are bad or the broker cannot be reached, the
 * reason goes to standard error and to the transport stream's 'error' event, and the records are dropped; outside
 * pino's worker it rejects instead.
 */
export default async function eventBusTransport(options: PinoTransportOptions = {}): Promise<Writable> {
  try {
    return await startTransport(options);
  } catch (error) {
    if (!inThreadStreamWorker()) throw error;
    return failedTransport(error);
  }
}

async function startTransport(options: PinoTransportOptions): Promise<Transform> {
  // pino and thread-stream add `pinoWillSendConfig` and `$context` to the options they pass to a transport.
  const { levels: levelOverrides, maxInFlight = 1000, ...rest } = options;
  const loggerOptions = Object.fromEntries(
    Object.entries(rest).filter(([key]) => key !== 'pinoWillSendConfig' && !key.startsWith('$')),
  ) as EventBusLoggerOptions<string>;
  if (!Number.isInteger(maxInFlight) || maxInFlight < 1) throw configError(`Expected \`maxInFlight\` to be an integer from 1 and up, got ${JSON.stringify(maxInFlight)}`);
  // In pino's worker, process.argv names the worker script, not the application: default the appId to 'pino'.
  const plan = await planBus({ appId: 'pino', ...loggerOptions, listen: false });
  let source: (Transform & { levels?: PinoLevels }) | undefined;
  const busLevel = levelMapper(plan.topology.levels, levelOverrides, () => source?.levels);

  const logger = new EventBusLogger<string>({}, undefined, plan);
  await logger.start();
  logger.on('disconnected', ({ reason }) => void process.stderr.write(`event-bus-logger/pino: disconnected (${reason}); buffering records\n`));
  logger.on('reconnected', ({ downtime }) => void process.stderr.write(`event-bus-logger/pino: reconnected after ${downtime} ms\n`));

  const failures = failureReporter('event-bus-logger/pino');
  const forwarder = new Forwarder(logger, { maxInFlight, onFailure: (error) => failures.report(error), onRoom: () => source?.resume() });
  const onRecord = (record: EventData): void => {
    if (!forwarder.forward(busLevel(record.level), record, undefined)) source?.pause();
  };

  // Resolves once every record read so far has been confirmed (or failed).
  const drained = async (): Promise<void> => {
    while (forwarder.inFlight > 0 || (source !== undefined && source.readableLength > 0 && !source.destroyed)) {
      if (forwarder.inFlight > 0) await forwarder.drained();
      else await new Promise((resolve) => setImmediate(resolve));
    }
  };

  // pino sends its level names to a transport running in its worker; outside one, there is nothing to wait for.
  const inPinoWorker = (workerData as { workerData?: { pinoWillSendConfig?: boolean } } | null)?.workerData?.pinoWillSendConfig === true;
  const stream = await build(
    (transform) => {
      source = transform;
      transform.on('data', onRecord);
      transform.on('unknown', (line: string) => void process.stderr.write(`event-bus-logger/pino: skipped a line that is not a JSON record: ${line.slice(0, 200)}\n`));
    },
    {
      expectPinoConfig: inPinoWorker,
      // Called once the input ended (every record has been read) or the stream was destroyed.
      async close() {
        await drained();
        failures.summary();
        await logger.stop();
      },
    },
  );
  // pino's `logger.flush(cb)` calls this: cb runs once every record written so far is confirmed.
  Object.assign(stream, { flush: drained });
  return stream;
}
