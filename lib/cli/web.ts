// `event-bus-logger web`: serves a page that shows the bus live (lib/web/), until Ctrl-C or SIGTERM.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { tailRecord } from '../bridges/event-record.js';
import { EventBusLogger } from '../logger.js';
import { EventBusLoggerError } from '../errors.js';
import type { HistoryOptions } from '../index.js';
import { gapLine } from './gap-line.js';
import { Feed } from '../web/feed.js';
import { WebServer, isLoopback } from '../web/server.js';
import type { BusPlan, EventBusLoggerOptions } from '../options.js';
import { parseSince } from '../since.js';
import { CliError, DEFAULT_APP_ID, EXIT, PROGRAM, asCliError, checkSince, historyReaderPlan, loggerOptions, onStopSignals, onlyFor, plan, reportDropped, requireHistory, StopRequest, usage, warnIfNewBus, type Parsed } from './common.js';

/** The environment variable that holds the access token when `--token` is not given. */
export const TOKEN_VARIABLE = 'EVENT_BUS_LOGGER_TOKEN';

function port(value: string | undefined): number {
  if (value === undefined) return 8080;
  const number = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(number) || number > 65535) throw usage(`--port expects a port number from 0 to 65535 (0: any free port), e.g. --port 8080; got "${value}"`);
  return number;
}

export async function web(parsed: Parsed): Promise<number> {
  const { values, args } = parsed;
  onlyFor('web', values, ['levels', 'all-levels', 'port', 'host', 'token', 'since']);
  if (args.length > 0) throw usage(`web takes no arguments, got "${args.join(' ')}"; see ${PROGRAM} --help`);
  const options = loggerOptions(values);
  checkSince(values.since);
  const host = values.host ?? '127.0.0.1';
  if (host === '') throw usage('--host expects an address to listen on, e.g. --host 127.0.0.1');
  const listenPort = port(values.port);
  // Off the loopback, every request needs the token: the flag, else the environment, else a new one.
  if (values.token === '') throw usage('--token must not be empty');
  const token = isLoopback(host) ? undefined : (values.token ?? (process.env[TOKEN_VARIABLE] || randomBytes(24).toString('base64url')));
  if (values.token !== undefined && isLoopback(host)) process.stderr.write(`${PROGRAM}: --token is not needed on ${host} (only this machine can connect); ignoring it\n`);

  // With --since, two steps: the history up to where the stream ended when the read began (the replay, counted as
  // such), then a catch-up listener from right after its last event, which follows live: no gap, no duplicate.
  const since = values.since;
  const loggerSettings: EventBusLoggerOptions<string> = { appId: DEFAULT_APP_ID, ...options, ...(since !== undefined ? { history: { since } } : {}) };
  const webPlan = await plan(loggerSettings);
  requireHistory(since, webPlan);
  const bus = webPlan.topology;
  await warnIfNewBus(webPlan);
  let connected = false;
  const feed = new Feed(() => ({ bus: bus.exchange, levels: Array.isArray(options.levels) ? options.levels : bus.levels, connected }));

  const stopRequest = new StopRequest();
  const removeSignals = onStopSignals(() => stopRequest.request());
  let server: WebServer | undefined;
  let logger: EventBusLogger<string> | undefined;
  const serve = async (): Promise<WebServer> => {
    // The page's search reads the history through the live logger (any started logger whose config has history).
    const search = bus.history ? (options: HistoryOptions<string>) => {
      if (!logger) throw new EventBusLoggerError('NOT_STARTED', 'The search can begin once the replay of --since is over; try again in a moment');
      return logger.history(options);
    } : undefined;
    const started = await WebServer.start(feed, { host, port: listenPort, token, search }).catch((error: NodeJS.ErrnoException) => {
      const why = error.code === 'EADDRINUSE' ? `port ${listenPort} is in use (try another --port)` : error.code === 'EADDRNOTAVAIL' ? `${host} is not an address of this machine` : error.message;
      throw new CliError(`cannot serve on ${host}:${listenPort}: ${why}`, EXIT.FAILED);
    });
    process.stdout.write(`${PROGRAM}: serving the bus ${bus.exchange} on ${started.url}\n`);
    if (host === '0.0.0.0' || host === '::') process.stdout.write(`${PROGRAM}: bound to every address of this machine (${hostname()}): that address, its name or localhost, port ${started.port}\n`);
    if (token !== undefined) process.stdout.write(`${PROGRAM}: off the loopback every request needs that token (it is kept in a cookie after the first visit)\n`);
    return started;
  };
  try {
    let from: string | number | undefined = since;
    if (since !== undefined && parseSince(since).kind !== 'now') {
      const replay = await replayHistory(loggerSettings, webPlan, since, feed, stopRequest, async () => {
        connected = true;
        server = await serve();
      });
      if (replay === undefined) return EXIT.OK;
      if (replay.lastOffset !== undefined) from = replay.lastOffset + 1;
    }
    logger = liveLogger(from === since ? loggerSettings : { ...loggerSettings, history: { since: from as number } }, from === since ? webPlan : undefined, feed, (up) => (connected = up), from);
    if (!(await stopRequest.start(logger))) return EXIT.OK;
    server ??= await serve();
    // On a bus with history, the page's header says how far back the stream goes (history-info), kept current.
    if (bus.history) watchHistoryInfo(logger, feed, stopRequest);
    await stopRequest.done;
  } finally {
    removeSignals();
    await server?.close();
    feed.close();
    if (logger) {
      await logger.stop();
      reportDropped(logger);
    }
  }
  return EXIT.OK;
}

// The replay of the history from --since into the feed, counted as such; `started` runs once the reader is
// connected (the server then serves during the replay). Undefined when a stop cut it.
async function replayHistory(
  settings: EventBusLoggerOptions<string>,
  webPlan: BusPlan,
  since: string,
  feed: Feed,
  stopRequest: StopRequest,
  started: () => Promise<void>,
): Promise<{ lastOffset: number | undefined } | undefined> {
  const readerSettings: EventBusLoggerOptions<string> = { ...settings, listen: false };
  delete readerSettings.levels;
  const reader = new EventBusLogger<string>(readerSettings, undefined, historyReaderPlan(webPlan));
  let lastOffset: number | undefined;
  try {
    if (!(await stopRequest.start(reader))) return undefined;
    await started();
    feed.replayStarted(since);
    for await (const { level, data, meta } of reader.history({ since, ...(settings.levels ? { levels: settings.levels } : {}) })) {
      if (stopRequest.requested) return undefined;
      feed.event(tailRecord(level, data, meta), { replayed: true });
      lastOffset = meta.offset;
    }
    feed.replayEnded();
    process.stderr.write(`replayed ${feed.replay?.replayed ?? 0} event(s) of the history since ${since}; following live\n`);
  } catch (error) {
    throw asCliError(error);
  } finally {
    await reader.stop();
    reportDropped(reader);
  }
  return stopRequest.requested ? undefined : { lastOffset };
}

// The listener whose events and state the page shows: live, or a catch-up listener from `from`.
function liveLogger(settings: EventBusLoggerOptions<string>, webPlan: BusPlan | undefined, feed: Feed, connected: (up: boolean) => void, from: string | number | undefined): EventBusLogger<string> {
  const logger = new EventBusLogger<string>(settings, undefined, webPlan);
  logger.subscribe(({ level, data, meta }) => feed.event(tailRecord(level, data, meta)));
  logger.on('ready', ({ queue, levels }) => {
    connected(true);
    const what = from !== undefined ? `reading ${queue} from ${from}, then following live` : `listening on ${settings.name ?? webPlan?.topology.exchange ?? 'the bus'} as ${queue}`;
    feed.notice({ kind: 'connected', text: `${what} (levels ${levels.join(', ')})` });
  });
  logger.on('disconnected', ({ reason }) => {
    connected(false);
    feed.notice({ kind: 'disconnected', text: `disconnected: ${reason}; reconnecting` });
    process.stderr.write(`disconnected: ${reason}; reconnecting\n`);
  });
  logger.on('reconnected', ({ downtime }) => process.stderr.write(`reconnected after ${downtime} ms\n`));
  logger.on('invalid', ({ reason, routingKey }) => feed.notice({ kind: 'invalid', text: `invalid message (routing key "${routingKey.slice(0, 100)}"): ${reason}` }));
  logger.on('gap', (gap) => {
    feed.gap(gap.missed, gapLine(gap, 'the view'));
    if (gap.reason === 'out-of-range') process.stderr.write(`${gapLine(gap, 'the view')}\n`);
  });
  logger.on('blocked', ({ reason }) => feed.notice({ kind: 'blocked', text: `the broker blocks publishing: ${reason}` }));
  logger.on('unblocked', ({ duration }) => feed.notice({ kind: 'unblocked', text: `the broker accepts publishes again after ${duration} ms` }));
  return logger;
}

// Probes the history stream now and once a minute for the page's header; a failed probe leaves the last answer.
function watchHistoryInfo(logger: EventBusLogger<string>, feed: Feed, stopRequest: StopRequest): void {
  const probe = (): void =>
    void logger.historyInfo().then(
      (info) => (feed.historyInfo = { stream: info.stream, first: info.first && { offset: info.first.offset, time: info.first.time?.toISOString() }, last: info.last && { offset: info.last.offset, time: info.last.time?.toISOString() }, ...info.retention }),
      () => undefined,
    );
  probe();
  const timer = setInterval(probe, 60_000);
  timer.unref();
  void stopRequest.done.then(() => clearInterval(timer));
}
