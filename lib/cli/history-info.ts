// `event-bus-logger history-info`: what the bus's history stream holds (its first and last offsets and their times)
// and the retention its config declares, so a user knows how far back --since can go before asking.
import type { HistoryInfo } from '../index.js';
import { EventBusLogger } from '../logger.js';
import { HOW_TO_TURN_HISTORY_ON } from '../topology.js';
import { DEFAULT_APP_ID, EXIT, PROGRAM, StopRequest, loggerOptions, onlyFor, plan, reportDropped, usage, asCliError, type Parsed } from './common.js';

function ago(time: Date | undefined, now: number): string {
  if (time === undefined) return 'no timestamp';
  const seconds = Math.max(0, Math.round((now - time.getTime()) / 1000));
  const span = seconds < 120 ? `${seconds} s` : seconds < 7200 ? `${Math.round(seconds / 60)} min` : seconds < 172_800 ? `${Math.round(seconds / 3600)} h` : `${Math.round(seconds / 86_400)} d`;
  return `${time.toISOString()}, ${span} ago`;
}

const bytes = (value: number | undefined): string => (value === undefined ? 'not set' : value >= 1024 ** 3 ? `${+(value / 1024 ** 3).toFixed(2)} GiB` : `${+(value / 1024 ** 2).toFixed(2)} MiB`);

/** The readable form: one line per fact. */
export function formatHistoryInfo(info: HistoryInfo, now = Date.now()): string {
  const lines = [`stream      ${info.stream}`];
  if (info.first === undefined || info.last === undefined) lines.push('holds       nothing yet (an empty stream): --since start reads from the first event published from now on');
  else {
    lines.push(`first       offset ${info.first.offset} (${ago(info.first.time, now)})`);
    lines.push(`last        offset ${info.last.offset} (${ago(info.last.time, now)})`);
    lines.push(`holds       ${info.last.offset - info.first.offset + 1} offset(s); --since goes back to offset ${info.first.offset}${info.first.time ? ` or ${info.first.time.toISOString()}` : ''}`);
  }
  const { maxAge, maxBytes, maxSegmentBytes } = info.retention;
  lines.push(`retention   max age ${maxAge ?? 'not set'}, max size ${bytes(maxBytes)}, segments of ${bytes(maxSegmentBytes)} (as the config declares them; a policy on the broker overrides them)`);
  lines.push('size        not available to this client (AMQP 0-9-1); on the broker: rabbitmqctl list_queues name messages');
  return lines.join('\n');
}

const asJson = (info: HistoryInfo): string =>
  JSON.stringify({
    stream: info.stream,
    first: info.first && { offset: info.first.offset, time: info.first.time?.toISOString() ?? null },
    last: info.last && { offset: info.last.offset, time: info.last.time?.toISOString() ?? null },
    retention: { maxAge: info.retention.maxAge ?? null, maxBytes: info.retention.maxBytes ?? null, maxSegmentBytes: info.retention.maxSegmentBytes ?? null },
  });

export async function historyInfo(parsed: Parsed): Promise<number> {
  const { values, args } = parsed;
  onlyFor('history-info', values, ['json']);
  if (args.length > 0) throw usage(`history-info takes no arguments, got "${args.join(' ')}"; see ${PROGRAM} history-info --help`);
  const options = { appId: DEFAULT_APP_ID, ...loggerOptions(values), listen: false };
  const infoPlan = await plan(options);
  if (!infoPlan.topology.history) throw usage(`history-info reads the bus's history stream, and the config of bus "${infoPlan.topology.exchange}" declares none; ${HOW_TO_TURN_HISTORY_ON}, and pass it with --config`);
  const logger = new EventBusLogger<string>(options, undefined, infoPlan);
  const stopRequest = new StopRequest();
  try {
    if (!(await stopRequest.start(logger))) return EXIT.OK;
    const info = await logger.historyInfo().catch((error: unknown) => {
      throw asCliError(error);
    });
    process.stdout.write(`${values.json ? asJson(info) : formatHistoryInfo(info)}\n`);
  } finally {
    await logger.stop();
    reportDropped(logger);
  }
  return EXIT.OK;
}
