// `event-bus-logger/winston`: a winston transport that publishes every log record to the bus, at the bus level its
// winston level maps to, with the library's confirm guarantee: every record is published and its confirm awaited
// (many in flight at once, bounded), and ending the transport waits for every outstanding confirm.
//
//   const transport = new EventBusTransport({ name: 'logger_metaclass', appId: 'billing' });
//   const log = winston.createLogger({ transports: [transport] });
//   ...
//   log.end(); await once(log, 'finish');   // every record confirmed, the connection closed
//
// The level map (winston level -> bus level), by default, for winston's npm, syslog and cli level sets:
//   emerg, alert, crit, error                     -> 'critical'
//   warn, warning                                 -> 'warning' when the config has that level, else 'info'
//   every other level (notice, info, http, ...)   -> 'info'
// Override any entry with the `levels` option, e.g. { levels: { debug: 'debug', notice: 'critical' } }.
//
// The transport keeps winston's transport contract: `log(info, callback?)` calls the callback at once when there is
// one, and emits 'logged' with each record once the broker confirmed it. Records beyond the confirm window wait in
// the transport, in order, up to `maxQueued`; more are dropped and counted (winston's logger gives a transport no
// way to push back: its end() would then lose what it still buffered).
//
// Nothing the transport meets is thrown into the application: a broker that cannot be reached is an outage (the
// transport's logger connects in the background, records wait in its outage buffer); a transport that cannot start
// (bad options or config, a refused login) says why on standard error, emits 'warn' (winston's logger emits it
// again) and drops the records, counted; a record that cannot be published (a timeout during a long outage, data
// the bus refuses) or that finds the queue full is reported the same way, at most one line every 5 s.
import TransportStream from 'winston-transport';
import { configError, describeError } from '../errors.js';
import { EventBusLogger } from '../logger.js';
import { planBus, type EventBusLoggerOptions } from '../options.js';
import { isRecord } from '../event-data.js';
import type { EventData } from '../wire-format.js';
import { Forwarder, failureReporter } from './forwarding.js';

const PREFIX = 'event-bus-logger/winston';

/**
 * Options of the transport: those of {@link EventBusLogger} but `levels` (url, name, config, appId, publishTimeout...),
 * the level map, `maxInFlight`, and winston-transport's own (`level`, `format`, `silent`, `handleExceptions`,
 * `handleRejections`).
 */
export interface WinstonTransportOptions
  extends Omit<EventBusLoggerOptions<string>, 'levels'>,
    Omit<TransportStream.TransportStreamOptions, 'log' | 'logv' | 'close'> {
  /** The AMQP appId of the published records. @default 'winston' */
  appId?: string;
  /**
   * Which bus level each winston level is published at: keys are winston level names, values configured bus
   * levels. Merged over the default map.
   * @default { emerg, alert, crit, error: 'critical'; warn, warning: 'warning' (if configured, else 'info'); any other: 'info' }
   */
  levels?: Record<string, string>;
  /**
   * At most this many records wait for their confirm at once; the records after them wait in the transport, in
   * order, until confirms come back.
   * @default 1000
   */
  maxInFlight?: number;
  /**
   * At most this many records wait in the transport beyond the `maxInFlight` window (during an outage, a burst, or
   * before the transport connected); the records logged while it is full are dropped, counted in
   * {@link EventBusTransport.dropped}, and reported on standard error and as 'warn'.
   * @default 10000
   */
  maxQueued?: number;
}

/** The default level map for a bus with `configured` levels. Levels it does not name go where `info` goes. */
export function defaultWinstonLevelMap(configured: readonly string[]): Record<string, string> {
  const warn = configured.includes('warning') ? 'warning' : 'info';
  return {
    emerg: 'critical',
    alert: 'critical',
    crit: 'critical',
    error: 'critical',
    warn,
    warning: warn,
    notice: 'info',
    info: 'info',
    http: 'info',
    verbose: 'info',
    debug: 'info',
    silly: 'info',
  };
}

/**
 * Builds the function that picks the bus level of a winston level name. Throws a `CONFIG` error when the map
 * names a level the bus does not have.
 */
export function winstonLevelMapper(configured: readonly string[], overrides: Record<string, string> = {}): (level: unknown) => string {
  if (!isRecord(overrides)) {
    throw configError(`Expected the winston transport's \`levels\` to be an object like { warn: 'warning' }, got ${JSON.stringify(overrides)}`);
  }
  const map = { ...defaultWinstonLevelMap(configured), ...overrides };
  for (const [winstonLevel, busLevel] of Object.entries(map)) {
    if (typeof busLevel !== 'string' || !configured.includes(busLevel)) {
      const which = winstonLevel in overrides ? 'maps' : 'maps by default';
      throw configError(
        `The winston level "${winstonLevel}" ${which} to ${JSON.stringify(busLevel)}, which is not a configured level (${configured.join(', ')}); set \`levels: { ${JSON.stringify(winstonLevel)}: '<one of them>' }\` in the transport options`,
      );
    }
  }
  return (level) => (typeof level === 'string' && Object.hasOwn(map, level) ? (map[level] as string) : (map.info as string));
}

// triple-beam's symbols, which winston sets on every record: the level before any format coloured `info.level`.
const LEVEL = Symbol.for('level');

/** The event a winston record becomes: `{ level, message, ...meta }` (Errors inside are serialised on publish). */
export function winstonRecord(info: Record<string | symbol, unknown>): { level: string; data: EventData } {
  const level = typeof info[LEVEL] === 'string' ? (info[LEVEL] as string) : String(info.level);
  const data: EventData = { ...info, level };
  // `logger.error(new Error('x'))` with no format hands the Error itself as the record: keep its name and stack.
  if (info instanceof Error) Object.assign(data, { name: info.name, message: info.message, stack: info.stack });
  return { level, data };
}

/**
 * A winston transport that publishes every record to the bus.
 * @example
 * const log = winston.createLogger({ transports: [new EventBusTransport({ name: 'logger_metaclass' })] });
 */
export class EventBusTransport extends TransportStream {
  /**
   * Resolves once connected to the bus; rejects with the reason when the transport could not start (which is also
   * written to standard error and emitted as 'warn'). Awaiting it is optional: records logged before wait for it.
   */
  readonly ready: Promise<void>;
  #logger: EventBusLogger<string> | undefined;
  #forwarder: Forwarder<Record<string | symbol, unknown>> | undefined;
  #busLevel: ((level: unknown) => string) | undefined;
  #failed = false;
  // Records dropped because the transport did not start, and because the queue was full.
  #notStarted = 0;
  #overflowed = 0;
  #overflowing = false;
  #overflowError: Error | undefined;
  readonly #maxQueued: number;
  // The records waiting for room in the window, first at #head (read by index, not shift(): a long queue drains in
  // linear time); the array is compacted once half of it is read.
  #held: Array<Record<string | symbol, unknown> | undefined> = [];
  #head = 0;
  #full = false;
  #closing: Promise<void> | undefined;
  readonly #failures = failureReporter(PREFIX);

  constructor(options: WinstonTransportOptions = {}) {
    const { level, format, silent, handleExceptions, handleRejections, levels, maxInFlight = 1000, maxQueued = 10_000, ...loggerOptions } = options;
    super({ level, format, silent, handleExceptions, handleRejections });
    this.#maxQueued = Number.isInteger(maxQueued) && maxQueued >= 1 ? maxQueued : 10_000;
    this.ready = this.#start(loggerOptions, levels, maxInFlight, maxQueued);
    this.ready.then(
      () => this.#pump(),
      () => undefined,
    );
    this.ready.catch((error: unknown) => {
      this.#failed = true;
      this.#pump();
      process.stderr.write(`${PREFIX}: the transport did not start, its log records are dropped: ${describeError(error)}\n`);
      this.emit('warn', new Error(`${PREFIX} did not start: ${describeError(error)}`));
    });
  }

  async #start(options: EventBusLoggerOptions<string>, levels: Record<string, string> | undefined, maxInFlight: number, maxQueued: number): Promise<void> {
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1) throw configError(`Expected \`maxInFlight\` to be an integer from 1 and up, got ${JSON.stringify(maxInFlight)}`);
    if (!Number.isInteger(maxQueued) || maxQueued < 1) throw configError(`Expected \`maxQueued\` to be an integer from 1 and up, got ${JSON.stringify(maxQueued)}`);
    const plan = await planBus({ appId: 'winston', ...options, listen: false });
    this.#busLevel = winstonLevelMapper(plan.topology.levels, levels);
    const logger = new EventBusLogger<string>({}, undefined, plan);
    await logger.start();
    logger.on('disconnected', ({ reason }) => void process.stderr.write(`${PREFIX}: disconnected (${reason}); buffering records\n`));
    logger.on('reconnected', ({ downtime }) => void process.stderr.write(`${PREFIX}: reconnected after ${downtime} ms\n`));
    this.#logger = logger;
    this.#forwarder = new Forwarder<Record<string | symbol, unknown>>(logger, {
      maxInFlight,
      onFailure: (error) => {
        this.#failures.report(error);
        this.emit('warn', error);
      },
      onConfirmed: (info) => this.emit('logged', info),
      onRoom: () => {
        this.#full = false;
        this.#pump();
      },
    });
  }

  /** Records dropped so far: logged while `maxQueued` records waited, or while the transport could not start. */
  get dropped(): number {
    return this.#notStarted + this.#overflowed;
  }

  // Records waiting in the transport.
  get #waiting(): number {
    return this.#held.length - this.#head;
  }

  /**
   * winston calls this with each record that passed the transport's level and format; the callback, when given, is
   * called at once. 'logged' follows with the record once the broker confirmed it.
   */
  override log(info: Record<string | symbol, unknown>, next?: () => void): void {
    if (this.#waiting >= this.#maxQueued) this.#overflow();
    else {
      this.#held.push(info);
      this.#pump();
    }
    // Never hold winston's stream back: its logger.end() ends the transports as soon as its own input is done,
    // so a record still in its output buffer then would be a "write after end". Records beyond the window wait
    // here, in order, up to maxQueued.
    next?.();
  }

  // A record logged while the queue is full: dropped and counted; reported (rate-limited) and, once per spell of
  // overflow, emitted as 'warn'.
  #overflow(): void {
    this.#overflowed++;
    // One Error for every drop: a flood of them costs no stack capture per record.
    const error = (this.#overflowError ??= new Error(`${this.#maxQueued} log records (maxQueued) already wait for the bus; records logged meanwhile are dropped`));
    this.#failures.report(error);
    if (!this.#overflowing) {
      this.#overflowing = true;
      this.emit('warn', error);
    }
  }

  // Forwards the held records while the window has room; the forwarder's onRoom resumes. Before the transport
  // started, records wait here; if it failed, they are dropped and counted.
  #pump(): void {
    if (this.#failed) {
      this.#notStarted += this.#waiting;
      this.#held = [];
      this.#head = 0;
      return;
    }
    const forwarder = this.#forwarder;
    if (forwarder === undefined) return;
    const held = this.#held;
    while (!this.#full && this.#head < held.length) {
      const info = held[this.#head] as Record<string | symbol, unknown>;
      held[this.#head++] = undefined;
      const { level, data } = winstonRecord(info);
      if (!forwarder.forward(this.#busLevel!(level), data, info)) this.#full = true;
    }
    if (this.#head === held.length) {
      this.#held = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > held.length) {
      held.splice(0, this.#head);
      this.#head = 0;
    }
    if (this.#overflowing && this.#waiting <= this.#maxQueued / 2) this.#overflowing = false;
  }

  /** Resolves once every record forwarded so far is confirmed (or failed). */
  async flush(): Promise<void> {
    await this.ready.catch(() => undefined);
    const forwarder = this.#forwarder;
    if (forwarder === undefined) return;
    while (forwarder.inFlight > 0 || this.#waiting > 0) {
      if (forwarder.inFlight > 0) await forwarder.drained();
      else await new Promise((resolve) => setImmediate(resolve));
    }
  }

  // Ending the transport (winston's `logger.end()` ends it): 'finish' comes once every record is confirmed.
  override _final(callback: (error?: Error | null) => void): void {
    this.#shutdown().then(() => callback(), callback);
  }

  /** winston calls this when the transport is removed (`logger.remove`, `clear`, `close`): drains, then disconnects. */
  override close(): void {
    void this.#shutdown();
  }

  #shutdown(): Promise<void> {
    this.#closing ??= (async () => {
      await this.flush();
      this.#failures.summary();
      if (this.#notStarted > 0) process.stderr.write(`${PREFIX}: ${this.#notStarted} log record(s) dropped (the transport did not start)\n`);
      if (this.#overflowed > 0) process.stderr.write(`${PREFIX}: ${this.#overflowed} log record(s) dropped: ${this.#maxQueued} (maxQueued) already waited for the bus\n`);
      await this.#logger?.stop();
    })();
    return this.#closing;
  }
}

export default EventBusTransport;
