// `event-bus-logger tail`: prints every event of the bus, as NDJSON or readable lines, until Ctrl-C or SIGTERM.
import { formatJson, formatPretty, tailRecord, useColor, type TailRecord } from '../bridges/event-record.js';
import { EventBusLogger } from '../logger.js';
import type { EventBusLoggerOptions } from '../options.js';
import { DEFAULT_APP_ID, EXIT, PROGRAM, asCliError, checkSince, loggerOptions, onStopSignals, onlyFor, plan, reportDropped, requireHistory, StopRequest, usage, warnIfNewBus, type Parsed } from './common.js';

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

export async function tail(parsed: Parsed): Promise<number> {
  const { values, args } = parsed;
  onlyFor('tail', values, ['levels', 'json', 'since', 'no-follow']);
  if (args.length > 0) throw usage(`tail takes no arguments, got "${args.join(' ')}"; see ${PROGRAM} --help`);
  const options = loggerOptions(values);
  if (values['no-follow'] && values.since === undefined) throw usage('--no-follow needs --since: without it tail reads nothing but live events; e.g. --since 10m --no-follow');
  checkSince(values.since);
  const followHistory = values.since !== undefined && !values['no-follow'];
  const loggerSettings: EventBusLoggerOptions<string> = { appId: DEFAULT_APP_ID, ...options, ...(followHistory ? { history: { since: values.since as string } } : {}) };
  if (values['no-follow']) {
    loggerSettings.listen = false;
    delete loggerSettings.levels;
  }
  const tailPlan = await plan(loggerSettings);
  requireHistory(values.since, tailPlan);
  const bus = tailPlan.topology;
  await warnIfNewBus(tailPlan);
  const json = values.json === true || process.stdout.isTTY !== true;
  const color = !json && useColor(process.stdout);

  if (values['no-follow']) return printHistory(new EventBusLogger<string>(loggerSettings, undefined, tailPlan), values.since as string, options.levels, (record) => (json ? formatJson(record) : formatPretty(record, { color })));

  const logger = new EventBusLogger<string>(loggerSettings, undefined, tailPlan);
  // Stop on SIGINT, SIGTERM or a closed stdout; a second signal exits at once.
  const stopRequest = new StopRequest();
  const stop = (): void => {
    stopRequest.request();
    void logger.stop();
  };
  const print = writer(stop);
  // Every level this logger binds, in one place, subscribed before it starts: no event slips by.
  logger.subscribe(({ level, data, meta }) => {
    const record = tailRecord(level, data, meta);
    print(json ? formatJson(record) : formatPretty(record, { color }));
  });
  logger.on('ready', ({ queue, levels }) =>
    process.stderr.write(
      followHistory ? `reading ${queue} from ${values.since}, then following live (levels ${levels.join(', ')})\n` : `listening on ${bus.exchange} as ${queue} (levels ${levels.join(', ')})\n`,
    ),
  );
  logger.on('invalid', ({ reason, routingKey }) => process.stderr.write(`invalid message (routing key "${routingKey.slice(0, 100)}"): ${reason}\n`));
  logger.on('disconnected', ({ reason }) => process.stderr.write(`disconnected: ${reason}; reconnecting\n`));
  logger.on('reconnected', ({ downtime }) => process.stderr.write(`reconnected after ${downtime} ms\n`));
  logger.on('gap', ({ missed, level, reason, from, to }) =>
    process.stderr.write(reason === 'retention' ? `missed offsets ${from}..${to} (${missed}): retention deleted them before tail read them\n` : `missed ${missed} ${level} event(s) of one publisher\n`),
  );

  const removeSignals = onStopSignals(stop);
  try {
    if (!(await stopRequest.start(logger))) return EXIT.OK;
    await stopRequest.done;
    await logger.stop();
    reportDropped(logger);
  } finally {
    removeSignals();
  }
  return EXIT.OK;
}


// tail --since <spec> --no-follow: the history up to where the stream ended when tail started, then exit 0.
async function printHistory(logger: EventBusLogger<string>, since: string, levels: readonly string[] | undefined, format: (record: TailRecord) => string): Promise<number> {
  let stopRequested = false;
  const print = writer(() => (stopRequested = true));
  const removeSignals = onStopSignals(() => (stopRequested = true));
  try {
    try {
      await logger.start();
    } catch (error) {
      throw asCliError(error);
    }
    let count = 0;
    for await (const { level, data, meta } of logger.history({ since, ...(levels ? { levels } : {}) })) {
      print(format(tailRecord(level, data, meta)));
      count++;
      if (stopRequested) break;
    }
    process.stderr.write(`${count} event(s) of the history, up to where it ended when tail started\n`);
  } catch (error) {
    throw asCliError(error);
  } finally {
    removeSignals();
    await logger.stop();
    reportDropped(logger);
  }
  return EXIT.OK;
}
