#!/usr/bin/env node
// The `event-bus-logger` command: `tail` prints every event of a bus, `publish` sends events to it.
// Exit codes: 0 done, 1 an event was not confirmed (or another failure), 2 usage (bad arguments, unknown level,
// bad JSON, bad config), 3 the broker cannot be reached.
// Longer than 300 lines: the help text and two commands with their argument checks; the formatting and the
// forwarding live in lib/bridges/.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { formatJson, formatPretty, tailRecord, useColor } from './bridges/event-record.js';
import { Forwarder } from './bridges/forwarding.js';
import { CONNECTION_DROPPED, exchangeExists } from './bus/connection.js';
import { EventBusLoggerError, describeError, kindOf, maskUrl } from './errors.js';
import { EventBusLogger } from './logger.js';
import { DEFAULTS, planBus, type BusPlan, type EventBusLoggerOptions } from './options.js';
import { isPlainObject, type EventData } from './wire-format.js';

const PROGRAM = 'event-bus-logger';
const DEFAULT_APP_ID = 'event-bus-logger';
/** Publishes from standard input kept in flight at once. */
const PUBLISH_WINDOW = 100;

const EXIT = { OK: 0, FAILED: 1, USAGE: 2, UNREACHABLE: 3 } as const;

/** A failure with the exit code it ends the command with. */
class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

const usage = (message: string): CliError => new CliError(message, EXIT.USAGE);

function version(): string {
  // lib/cli.ts under tsx, dist/lib/cli.js once built.
  for (const path of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === PROGRAM && pkg.version) return pkg.version;
    } catch {
      // try the next one
    }
  }
  return 'unknown';
}

function help(): string {
  const env = process.env.AMQP_URL ? ` (now: ${maskUrl(process.env.AMQP_URL)})` : ' (not set)';
  return `Usage:
  ${PROGRAM} tail [--levels info,critical] [--json] [options]
  ${PROGRAM} publish <level> [json] [options]
  ${PROGRAM} help | --help | -h
  ${PROGRAM} --version

Commands:
  tail               Print every event of the bus as it arrives, until Ctrl-C (SIGINT) or SIGTERM.
                     On a terminal: one readable line per event (time, level, host/appId, data), coloured
                     unless NO_COLOR is set. With --json, or when standard output is not a terminal: NDJSON,
                     one object per line: {time, level, host, pid, appId, messageId, data}.
                     Status lines ("listening on ...", invalid messages, disconnects) go to standard error.
  publish <level> [json]
                     Send one event of <level> with the JSON object [json] and wait for the broker's confirm.
                     Without [json]: one event per line of standard input (blank lines skipped), sent in
                     order, up to ${PUBLISH_WINDOW} in flight; exits once every one is confirmed. A bad line stops
                     the input; the lines before it were sent.

Options:
  --url <amqp-url>   The broker. Default: $AMQP_URL${env}, else the config's connection,
                     else amqp://guest:guest@localhost:5672
  --name <exchange>  The bus (its topic exchange). Default: the config's exchange, logger_metaclass in the
                     shipped config
  --config <file>    A Rascal config (JSON) defining the exchange and the levels. Default: the shipped
                     config/rascal.json (levels info, critical)
  --publish-timeout <ms>
                     How long a publish may wait for the broker's confirm before it fails. Default: ${DEFAULTS.publishTimeout}
  --start-timeout <ms>
                     How long connecting may take before the command gives up (exit 3). Default: ${DEFAULTS.startTimeout}
  --levels <a,b>     tail: the levels to listen to, comma-separated. Default: every configured level
  --json             tail: print NDJSON even on a terminal. Default: off (NDJSON only when not a terminal)
  --app-id <id>      publish: the appId of the events sent. Default: ${DEFAULT_APP_ID}
  -h, --help         Show this help
  --version          Show the version

Both commands say on standard error when the bus's exchange did not exist before they started (they create it:
check --name for a typo), and when the broker did not answer the close at the end, so the connection had to be
dropped (within ${DEFAULTS.stopTimeout} ms plus a second).

Exit codes:
  0  done (tail: stopped by SIGINT or SIGTERM)
  1  an event was not confirmed by the broker, or another failure
  2  usage: bad arguments, an unknown level, bad JSON (the line is named), a bad config
  3  the broker cannot be reached (the message masks the password)

Examples:
  ${PROGRAM} tail --levels critical
  ${PROGRAM} publish info '{"disk":"ok"}'
  printf '{"n":1}\\n{"n":2}\\n' | ${PROGRAM} publish critical
`;
}

interface Parsed {
  command: string | undefined;
  args: string[];
  values: {
    url?: string;
    name?: string;
    config?: string;
    levels?: string;
    json?: boolean;
    'app-id'?: string;
    'publish-timeout'?: string;
    'start-timeout'?: string;
    help?: boolean;
    version?: boolean;
  };
}

function parse(argv: string[]): Parsed {
  let result;
  try {
    result = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        url: { type: 'string' },
        name: { type: 'string' },
        config: { type: 'string' },
        levels: { type: 'string' },
        json: { type: 'boolean' },
        'app-id': { type: 'string' },
        'publish-timeout': { type: 'string' },
        'start-timeout': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
    });
  } catch (error) {
    throw usage(`${maskUrl((error as Error).message)}; see ${PROGRAM} --help`);
  }
  const [command, ...args] = result.positionals;
  return { command, args, values: result.values };
}

function loggerOptions(values: Parsed['values']): EventBusLoggerOptions<string> {
  const options: EventBusLoggerOptions<string> = {};
  if (values.url !== undefined) options.url = values.url;
  if (values.name !== undefined) options.name = values.name;
  if (values.config !== undefined) options.config = values.config;
  if (values['publish-timeout'] !== undefined) options.publishTimeout = milliseconds('--publish-timeout', values['publish-timeout']);
  if (values['start-timeout'] !== undefined) options.startTimeout = milliseconds('--start-timeout', values['start-timeout']);
  return options;
}

function milliseconds(flag: string, value: string): number {
  const ms = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(ms) || ms < 1) {
    throw usage(`${flag} expects a whole number of milliseconds from 1 up, e.g. ${flag} 5000; got "${value}"`);
  }
  return ms;
}

// A typo in --name would silently make a new, empty bus: say so when the exchange did not exist before.
async function warnIfNewBus({ topology: bus, settings }: BusPlan): Promise<void> {
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
function reportDropped(logger: EventBusLogger<string>): void {
  const lastError = logger.stats().lastError;
  if (lastError?.endsWith(CONNECTION_DROPPED)) process.stderr.write(`${PROGRAM}: ${lastError}\n`);
}

function onlyFor(command: string, values: Parsed['values'], allowed: Array<keyof Parsed['values']>): void {
  for (const key of ['levels', 'json', 'app-id'] as const) {
    if (values[key] !== undefined && !allowed.includes(key)) throw usage(`--${key} is not an option of ${command}; see ${PROGRAM} --help`);
  }
}

// The options and the bus topology, read once, before connecting: a bad config or an unknown level fails without
// a broker, and the logger starts from this plan rather than reading the config again.
async function plan(options: EventBusLoggerOptions<string>): Promise<BusPlan> {
  try {
    return await planBus(options);
  } catch (error) {
    throw asCliError(error);
  }
}

function asCliError(error: unknown): CliError {
  if (error instanceof CliError) return error;
  if (error instanceof EventBusLoggerError) {
    if (error.code === 'CONFIG') return usage(describeError(error));
    if (error.code === 'CONNECT') return new CliError(describeError(error), EXIT.UNREACHABLE);
  }
  if (error instanceof TypeError || error instanceof RangeError) return usage(describeError(error));
  return new CliError(describeError(error), EXIT.FAILED);
}

/** Writes to stdout; a closed pipe (`| head`) ends the command quietly. */
function writer(onClosed: () => void): (line: string) => void {
  let closed = false;
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') {
      if (!closed) onClosed();
      closed = true;
      return;
    }
    process.stderr.write(`${PROGRAM}: cannot write to standard output: ${error.message}\n`);
    if (!closed) onClosed();
    closed = true;
  });
  return (line) => {
    if (!closed) process.stdout.write(`${line}\n`);
  };
}

async function tail(parsed: Parsed): Promise<number> {
  const { values, args } = parsed;
  onlyFor('tail', values, ['levels', 'json']);
  if (args.length > 0) throw usage(`tail takes no arguments, got "${args.join(' ')}"; see ${PROGRAM} --help`);
  const options = loggerOptions(values);
  if (values.levels !== undefined) {
    const levels = values.levels.split(',').map((level) => level.trim()).filter(Boolean);
    if (levels.length === 0) throw usage('--levels needs at least one level, e.g. --levels info,critical');
    options.levels = levels;
  }
  const loggerSettings = { appId: DEFAULT_APP_ID, ...options };
  const tailPlan = await plan(loggerSettings);
  const bus = tailPlan.topology;
  await warnIfNewBus(tailPlan);
  const json = values.json === true || process.stdout.isTTY !== true;
  const color = !json && useColor(process.stdout);

  const logger = new EventBusLogger<string>(loggerSettings, undefined, tailPlan);
  // Stop on SIGINT, SIGTERM or a closed stdout; a second signal exits at once.
  let stopRequested = false;
  let requestStop!: () => void;
  const stopping = new Promise<void>((resolve) => (requestStop = resolve));
  const stop = (): void => {
    stopRequested = true;
    requestStop();
    void logger.stop();
  };
  const print = writer(stop);
  // Every level this logger binds, in one place, subscribed before it starts: no event slips by.
  logger.subscribe(({ level, data, meta }) => {
    const record = tailRecord(level, data, meta);
    print(json ? formatJson(record) : formatPretty(record, { color }));
  });
  logger.on('ready', ({ queue, levels }) => process.stderr.write(`listening on ${bus.exchange} as ${queue} (levels ${levels.join(', ')})\n`));
  logger.on('invalid', ({ reason, routingKey }) => process.stderr.write(`invalid message (routing key "${routingKey.slice(0, 100)}"): ${reason}\n`));
  logger.on('disconnected', ({ reason }) => process.stderr.write(`disconnected: ${reason}; reconnecting\n`));
  logger.on('reconnected', ({ downtime }) => process.stderr.write(`reconnected after ${downtime} ms\n`));
  logger.on('gap', ({ missed, level }) => process.stderr.write(`missed ${missed} ${level} event(s) of one publisher\n`));

  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopRequested) {
      process.stderr.write(`${signal} again: exiting without waiting\n`);
      process.exit(130);
    }
    stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    try {
      await logger.start();
    } catch (error) {
      if (stopRequested) return EXIT.OK;
      throw asCliError(error);
    }
    await stopping;
    await logger.stop();
    reportDropped(logger);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return EXIT.OK;
}

function parseEvent(text: string, where: string): EventData {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw usage(`${where}: not valid JSON (${(error as Error).message})`);
  }
  if (!isPlainObject(value)) throw usage(`${where}: expected a JSON object like {"disk":"full"}, got ${kindOf(value) === 'array' ? 'an array' : kindOf(value)}`);
  return value as EventData;
}

async function publish(parsed: Parsed): Promise<number> {
  const { values, args } = parsed;
  onlyFor('publish', values, ['app-id']);
  const [level, json, ...extra] = args;
  if (level === undefined) throw usage(`publish needs a level: ${PROGRAM} publish <level> [json]`);
  if (extra.length > 0) throw usage(`publish takes a level and at most one JSON argument, got ${args.length} arguments (quote the JSON)`);
  const single = json === undefined ? undefined : parseEvent(json, 'the JSON argument');
  const options = loggerOptions(values);
  const loggerSettings = { ...options, appId: values['app-id'] ?? DEFAULT_APP_ID, listen: false };
  const publishPlan = await plan(loggerSettings);
  const { levels } = publishPlan.topology;
  if (!levels.includes(level)) throw usage(`unknown level "${level}"; the configured levels are: ${levels.join(', ')}`);
  await warnIfNewBus(publishPlan);
  const logger = new EventBusLogger<string>(loggerSettings, undefined, publishPlan);
  await logger.start().catch((error: unknown) => {
    throw asCliError(error);
  });
  logger.on('blocked', ({ reason }) => process.stderr.write(`the broker blocks publishing (${reason}); waiting up to publishTimeout\n`));
  logger.on('unblocked', ({ duration }) => process.stderr.write(`the broker accepts publishes again after ${duration} ms\n`));
  try {
    if (single !== undefined) {
      await logger.publish(level, single).catch((error: unknown) => {
        throw asCliError(error);
      });
    } else {
      await publishLines(logger, level);
    }
  } finally {
    await logger.stop();
    reportDropped(logger);
  }
  return EXIT.OK;
}

// One event per line of standard input, published in order with up to PUBLISH_WINDOW confirms outstanding.
async function publishLines(logger: EventBusLogger<string>, level: string): Promise<void> {
  if (process.stdin.isTTY) process.stderr.write('reading events from standard input, one JSON object per line; Ctrl-D to end\n');
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  let failure: CliError | undefined;
  const forwarder = new Forwarder<number>(logger, {
    maxInFlight: PUBLISH_WINDOW,
    onFailure: (error, where) => {
      const cause = asCliError(error);
      failure ??= new CliError(`line ${where}: ${cause.message}`, cause.exitCode);
    },
  });
  let lineNumber = 0;
  let sent = 0;
  try {
    for await (const line of lines) {
      lineNumber++;
      if (line.trim() === '') continue;
      let data: EventData;
      try {
        data = parseEvent(line, `line ${lineNumber}`);
      } catch (error) {
        failure = error as CliError;
        failure.message += sent > 0 ? `; the ${sent} event(s) before it were sent` : '; nothing was sent';
        break;
      }
      forwarder.forward(level, data, lineNumber);
      sent++;
      await forwarder.room();
      if (failure) break;
    }
  } finally {
    lines.close();
    // Stop reading an input that may never end (`tail -f log | event-bus-logger publish info`).
    process.stdin.destroy();
    await forwarder.drained();
  }
  if (failure) throw failure;
}

/** Runs the command line `argv` (without node and the script); resolves with the exit code. */
async function main(argv: string[]): Promise<number> {
  const parsed = parse(argv);
  if (parsed.values.version) {
    process.stdout.write(`${version()}\n`);
    return EXIT.OK;
  }
  if (parsed.values.help || parsed.command === 'help') {
    process.stdout.write(help());
    return EXIT.OK;
  }
  switch (parsed.command) {
    case 'tail':
      return tail(parsed);
    case 'publish':
      return publish(parsed);
    case undefined:
      throw usage(`missing command: expected tail, publish or help; see ${PROGRAM} --help`);
    default:
      throw usage(`unknown command "${parsed.command}"; expected tail, publish or help; see ${PROGRAM} --help`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Everything is closed by now; should a stray handle linger, do not hang on it.
    setTimeout(() => process.exit(code), 2000).unref();
  },
  (error: unknown) => {
    const failure = asCliError(error);
    process.stderr.write(`${PROGRAM}: ${failure.message.split('\n').join(' ')}\n`);
    process.exitCode = failure.exitCode;
    setTimeout(() => process.exit(failure.exitCode), 2000).unref();
  },
);
