// What the commands share: exit codes, the error that carries one, the options common to both, reading the bus
// before connecting, and the notices both print.
import { readFileSync } from 'node:fs';
import { exchangeExists } from '../bus/exchange-exists.js';
import { parseSince } from '../since.js';
import { CONNECTION_DROPPED, EventBusLoggerError, describeError } from '../errors.js';
import { HOW_TO_TURN_HISTORY_ON } from '../topology.js';
import type { EventBusLogger } from '../logger.js';
import { DEFAULTS, planBus, type BusPlan, type EventBusLoggerOptions } from '../options.js';

export const PROGRAM = 'event-bus-logger';
export const DEFAULT_APP_ID = 'event-bus-logger';

export const EXIT = { OK: 0, FAILED: 1, USAGE: 2, UNREACHABLE: 3 } as const;

/** A failure with the exit code it ends the command with. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export const usage = (message: string): CliError => new CliError(message, EXIT.USAGE);

/** Every option of every command, as `parseArgs` takes them; `onlyFor` says which command takes which. */
export const OPTIONS = {
  url: { type: 'string' },
  'url-file': { type: 'string' },
  cacert: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  name: { type: 'string' },
  config: { type: 'string' },
  levels: { type: 'string' },
  json: { type: 'boolean' },
  'app-id': { type: 'string' },
  'publish-timeout': { type: 'string' },
  'start-timeout': { type: 'string' },
  port: { type: 'string' },
  host: { type: 'string' },
  token: { type: 'string' },
  since: { type: 'string' },
  'no-follow': { type: 'boolean' },
  'all-levels': { type: 'boolean' },
  until: { type: 'string' },
  count: { type: 'string' },
  grep: { type: 'string' },
  'ignore-case': { type: 'boolean', short: 'i' },
  where: { type: 'string', multiple: true },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
} as const satisfies Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>;

type OptionValues<O> = { [K in keyof O]?: O[K] extends { type: 'boolean' } ? boolean : O[K] extends { multiple: true } ? string[] : string };

export interface Parsed {
  command: string | undefined;
  args: string[];
  values: OptionValues<typeof OPTIONS>;
}

export function loggerOptions(values: Parsed['values']): EventBusLoggerOptions<string> {
  // A command fails fast: an unreachable broker is exit 3, not a wait in the background.
  const options: EventBusLoggerOptions<string> = { failFast: true };
  if (values.url !== undefined && values['url-file'] !== undefined) throw usage('--url and --url-file both name the broker; give one of them');
  if (values.url !== undefined) {
    options.url = values.url;
    // Anyone on the machine reads a command line (ps, /proc, shell history). RabbitMQ's default guest:guest, which
    // it accepts from the local host only, is no secret.
    const password = /^[a-z][a-z0-9+.-]*:\/\/([^:@/\s]*):([^@/\s]+)@/i.exec(values.url);
    if (password && `${password[1]}:${password[2]}` !== 'guest:guest') {
      process.stderr.write(`${PROGRAM}: warning: --url holds a password, which other users of this machine can read (ps, shell history); put the URL in AMQP_URL or in a file named by --url-file instead\n`);
    }
  }
  if (values['url-file'] !== undefined) options.url = urlsFromFile(values['url-file']);
  const tls = { caFile: values.cacert, certFile: values.cert, keyFile: values.key };
  if (Object.values(tls).some((file) => file !== undefined)) options.tls = Object.fromEntries(Object.entries(tls).filter(([, file]) => file !== undefined));
  if (values.name !== undefined) options.name = values.name;
  if (values.config !== undefined) options.config = values.config;
  if (values['publish-timeout'] !== undefined) options.publishTimeout = milliseconds('--publish-timeout', values['publish-timeout']);
  // A command waits for a broker that blocks publishers no longer than for a confirm (the library's 120 s buffer
  // wait is for services that keep running).
  options.bufferMaxWait = options.publishTimeout ?? DEFAULTS.publishTimeout;
  if (values['start-timeout'] !== undefined) options.startTimeout = milliseconds('--start-timeout', values['start-timeout']);
  // --levels: tail and web (onlyFor refuses it for publish). '*' (or --all-levels): every event on the bus.
  if (values['all-levels'] && values.levels !== undefined && values.levels.trim() !== '*') throw usage(`--all-levels and --levels ${values.levels} contradict each other: give one of them`);
  if (values['all-levels'] || values.levels?.trim() === '*') options.levels = '*';
  else if (values.levels !== undefined) {
    const levels = values.levels.split(',').map((level) => level.trim()).filter(Boolean);
    if (levels.length === 0) throw usage('--levels needs at least one level, e.g. --levels info,critical');
    options.levels = levels;
  }
  return options;
}

// The broker URL(s) from a file: one per line, blank lines and lines starting with # skipped. Its text never
// reaches a message (a bad URL is named with its password masked by the config check).
function urlsFromFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw usage(`--url-file: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? describeError(error)}); expected a file holding the broker URL`);
  }
  const urls = text.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));
  if (urls.length === 0) throw usage(`--url-file: ${path} holds no URL; expected one amqp:// or amqps:// URL per line`);
  return urls;
}

export function milliseconds(flag: string, value: string): number {
  const ms = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(ms) || ms < 1) {
    throw usage(`${flag} expects a whole number of milliseconds from 1 up, e.g. ${flag} 5000; got "${value}"`);
  }
  return ms;
}

// A typo in --name would silently make a new, empty bus: say so when the exchange did not exist before.
export async function warnIfNewBus({ topology: bus, settings }: BusPlan): Promise<void> {
  const exists = await exchangeExists(bus.rascalConfig, bus.vhost, bus.exchange, bus.loggableUrls, settings.startTimeout).catch(
    (error: unknown) => {
      throw asCliError(error);
    },
  );
  if (exists === false) {
    process.stderr.write(`${PROGRAM}: the exchange "${bus.exchange}" did not exist on the broker: creating it, a new and empty bus (is --name right?)\n`);
  }
}

// stop() drops a connection the broker does not close in time (a link that stopped carrying bytes): say so.
export function reportDropped(logger: EventBusLogger<string>): void {
  const lastError = logger.stats().lastError;
  if (lastError?.endsWith(CONNECTION_DROPPED)) process.stderr.write(`${PROGRAM}: ${lastError}\n`);
}

export function onlyFor(command: string, values: Parsed['values'], allowed: Array<keyof Parsed['values']>): void {
  for (const key of ['levels', 'all-levels', 'json', 'app-id', 'port', 'host', 'token', 'since', 'no-follow', 'until', 'count', 'grep', 'ignore-case', 'where'] as const) {
    if (values[key] !== undefined && !allowed.includes(key)) throw usage(`--${key} is not an option of ${command}; see ${PROGRAM} --help`);
  }
}

/**
 * The plan of a logger that only reads the history with `history()` (tail's and web's step before they follow):
 * without the plan's catch-up listener, which would read the same stream beside it, each event twice on the wire.
 */
export function historyReaderPlan({ settings, topology }: BusPlan): BusPlan {
  return { settings: { ...settings, history: undefined }, topology };
}

// The options and the bus topology, read once, before connecting: a bad config or an unknown level fails without
// a broker, and the logger starts from this plan rather than reading the config again.
export async function plan(options: EventBusLoggerOptions<string>): Promise<BusPlan> {
  try {
    return await planBus(options);
  } catch (error) {
    throw asCliError(error);
  }
}

export function asCliError(error: unknown): CliError {
  if (error instanceof CliError) return error;
  if (error instanceof EventBusLoggerError) {
    if (error.code === 'CONFIG' || error.code === 'OUT_OF_RANGE') return usage(describeError(error));
    if (error.code === 'CONNECT') return new CliError(describeError(error), EXIT.UNREACHABLE);
    if (error.code === 'ACCESS') return new CliError(describeError(error), EXIT.UNREACHABLE);
  }
  if (error instanceof TypeError || error instanceof RangeError) return usage(describeError(error));
  return new CliError(describeError(error), EXIT.FAILED);
}

/** Checks `--since` before anything reaches the broker: a usage error (exit 2) naming the accepted forms. */
export function checkSince(since: string | undefined): void {
  if (since === undefined) return;
  try {
    parseSince(since, '--since');
  } catch (error) {
    throw usage((error as Error).message.replace('Invalid `--since`', '--since: invalid'));
  }
}

/** `--since` reads the bus's history: a usage error when the config this process uses declares none. */
export function requireHistory(since: string | undefined, { topology }: BusPlan): void {
  if (since !== undefined && !topology.history) {
    throw usage(`--since reads the bus's history, and the config of bus "${topology.exchange}" declares none; ${HOW_TO_TURN_HISTORY_ON}, and pass it with --config`);
  }
}

/** A long-running command's stop, asked for by a signal or a closed stdout: `done` resolves once it is asked. */
export class StopRequest {
  requested = false;
  readonly done: Promise<void>;
  #resolve!: () => void;

  constructor() {
    this.done = new Promise<void>((resolve) => (this.#resolve = resolve));
  }

  request(): void {
    this.requested = true;
    this.#resolve();
  }

  /**
   * Starts `logger`; false when a stop asked for meanwhile made the start fail (the command then ends with 0).
   * Any other failure is thrown as the CLI's error.
   */
  async start(logger: EventBusLogger<string>): Promise<boolean> {
    try {
      await logger.start();
      return true;
    } catch (error) {
      if (this.requested) return false;
      throw asCliError(error);
    }
  }
}

/**
 * Stops the command on SIGINT or SIGTERM: the first calls `stop`, a second exits at once (130). Returns the function
 * that removes the handlers.
 */
export function onStopSignals(stop: () => void): () => void {
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) {
      process.stderr.write(`${signal} again: exiting without waiting\n`);
      process.exit(130);
    }
    signalled = true;
    stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}
