// `event-bus-logger publish <level> [json]`: sends one event, or one per line of standard input, and waits for
// every confirm.
import { createInterface } from 'node:readline';
import { Forwarder } from '../bridges/forwarding.js';
import { kindOf } from '../errors.js';
import { EventBusLogger } from '../logger.js';
import { isPlainObject, type EventData } from '../event-data.js';
import { CliError, DEFAULT_APP_ID, EXIT, PROGRAM, asCliError, loggerOptions, onlyFor, plan, reportDropped, usage, warnIfNewBus, type Parsed } from './common.js';

/** Publishes from standard input kept in flight at once. */
export const PUBLISH_WINDOW = 100;

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

export async function publish(parsed: Parsed): Promise<number> {
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
