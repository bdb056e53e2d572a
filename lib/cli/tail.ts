// `event-bus-logger tail`: prints every event of the bus, as NDJSON or readable lines, until Ctrl-C or SIGTERM, or
// until a bound (--until, --count) is reached.
//
// With --since it reads in two steps: the history from --since up to where the stream ended when tail started
// (`history()`), then a catch-up listener from right after the last event printed (or from --since again when
// there was none), which follows live. No gap and no duplicate at the seam, and tail knows where the seam is: it
// says so on standard error.
import { formatPretty, jsonLine, tailRecord, useColor } from '../bridges/event-record.js';
import { EventBusLoggerError } from '../errors.js';
import { EventBusLogger } from '../logger.js';
import type { BusPlan, EventBusLoggerOptions } from '../options.js';
import { parseSince } from '../since.js';
import type { EventData, EventMeta } from '../wire-format.js';
import { gapLine } from './gap-line.js';
import { DEFAULT_APP_ID, EXIT, PROGRAM, asCliError, checkSince, historyReaderPlan, loggerOptions, onStopSignals, onlyFor, plan, reportDropped, requireHistory, StopRequest, usage, warnIfNewBus, type Parsed } from './common.js';
import { TailBound } from './tail-bound.js';
import { tailSearch, type TailSearch } from './tail-search.js';
import { ProgressLine } from './progress.js';

// Standard output, one line an event. To a terminal each line goes at once; to a file or a pipe (each write a
// system call) the lines of a turn go together, up to BATCH_BYTES: a history replay prints thousands a second.
// Whatever tail writes on standard error first flushes them (see `note`), so the two keep their order in one file.
const BATCH_BYTES = 64 * 1024;
let flushOut: () => void = () => undefined;

/** A line on standard error, after the lines printed before it. */
function note(text: string): void {
  flushOut();
  process.stderr.write(text);
}

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
  if (process.stdout.isTTY === true) {
    return (line) => {
      if (!closed) process.stdout.write(`${line}\n`);
    };
  }
  let pending = '';
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    if (pending === '') return;
    const text = pending;
    pending = '';
    if (!closed) process.stdout.write(text);
  };
  flushOut = flush;
  process.once('exit', flush);
  return (line) => {
    if (closed) return;
    pending += `${line}\n`;
    if (pending.length >= BATCH_BYTES) flush();
    else if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
}

// What tail prints and where it stops, shared by the history step and the live one.
class Printer {
  readonly stop = new StopRequest();
  /** The history step's progress line, erased before each line tail prints (the terminal may show both). */
  progress: ProgressLine | undefined;
  readonly #write: (line: string) => void;
  readonly #json: boolean;
  readonly #color: boolean;

  constructor(
    readonly bound: TailBound,
    json: boolean,
  ) {
    this.#json = json;
    this.#color = !json && useColor(process.stdout);
    this.#write = writer(() => this.stop.request());
  }

  /** Prints an event unless tail is done (then false); asks the stop once a bound is reached. */
  event(level: string, data: EventData, meta: EventMeta<string>): boolean {
    if (this.stop.requested) return false;
    if (this.bound.beyond(meta)) {
      this.#reached(`reached --until: the next event is past it`);
      return false;
    }
    this.progress?.clear();
    this.#write(this.#json ? jsonLine(level, data, meta) : formatPretty(tailRecord(level, data, meta), { color: this.#color }));
    if (this.bound.last(meta)) this.#reached(this.bound.count !== undefined && this.bound.printed >= this.bound.count ? `reached --count ${this.bound.count}` : 'reached --until');
    return true;
  }

  /** The --until time passed while waiting for live events. */
  timeUp(): void {
    if (!this.stop.requested) this.#reached('reached --until: its time has passed');
  }

  #reached(why: string): void {
    this.progress?.clear();
    note(`${why} (${this.bound.printed} event(s) printed)\n`);
    this.stop.request();
  }
}

export async function tail(parsed: Parsed): Promise<number> {
  const { values, args } = parsed;
  onlyFor('tail', values, ['levels', 'all-levels', 'json', 'since', 'no-follow', 'until', 'count', 'grep', 'ignore-case', 'where']);
  if (args.length > 0) throw usage(`tail takes no arguments, got "${args.join(' ')}"; see ${PROGRAM} --help`);
  const options = loggerOptions(values);
  if (values['no-follow'] && values.since === undefined) throw usage('--no-follow needs --since: without it tail reads nothing but live events; e.g. --since 10m --no-follow');
  checkSince(values.since);
  const bound = new TailBound(values);
  const search = tailSearch(values);
  const tailPlan = await plan({ appId: DEFAULT_APP_ID, ...options, ...(values.since !== undefined ? { history: { since: values.since } } : {}) });
  requireHistory(values.since, tailPlan);
  await warnIfNewBus(tailPlan);
  const printer = new Printer(bound, values.json === true || process.stdout.isTTY !== true);
  const removeSignals = onStopSignals(() => printer.stop.request());
  try {
    // 'now' has no history to print: the catch-up listener starts at the stream's end.
    let followFrom: string | number | undefined = values.since;
    if (values.since !== undefined && parseSince(values.since).kind !== 'now') {
      const history = await printHistory(options, tailPlan, values.since, printer, search).catch((error: unknown) => {
        // An offset the stream does not reach yet: following, the catch-up listener says so ('gap') and goes on
        // from the stream's end; with --no-follow it is an error.
        if (values['no-follow'] || !(error instanceof EventBusLoggerError && error.code === 'OUT_OF_RANGE')) throw asCliError(error);
        return undefined;
      });
      if (history) {
        if (values['no-follow'] || printer.stop.requested || bound.timePassed()) {
          if (!printer.stop.requested) note(`${history.count} event(s) of the history, up to where it ended when tail started${bound.until ? ' or --until, whichever came first' : ''}\n`);
          return EXIT.OK;
        }
        followHistoryEnd(history.count);
        if (history.lastOffset !== undefined) followFrom = history.lastOffset + 1;
      }
    }
    return await follow(options, tailPlan, followFrom, printer, search);
  } finally {
    removeSignals();
  }
}

// On a terminal, a rule between the history and the live events; elsewhere, a plain status line.
function followHistoryEnd(count: number): void {
  const text = `end of the history (${count} event(s)); live events follow`;
  note(process.stderr.isTTY ? `\u2500\u2500\u2500\u2500 ${text} \u2500\u2500\u2500\u2500\n` : `${text}\n`);
}

// The history from --since up to where the stream ended when the read began (or up to --until).
async function printHistory(
  options: EventBusLoggerOptions<string>,
  tailPlan: BusPlan,
  since: string,
  printer: Printer,
  { search }: TailSearch,
): Promise<{ count: number; lastOffset: number | undefined }> {
  const settings: EventBusLoggerOptions<string> = { appId: DEFAULT_APP_ID, ...options, history: { since }, listen: false };
  delete settings.levels;
  const logger = new EventBusLogger<string>(settings, undefined, historyReaderPlan(tailPlan));
  let count = 0;
  let lastOffset: number | undefined;
  try {
    if (!(await printer.stop.start(logger))) return { count, lastOffset };
    const until = printer.bound.until;
    const read = logger.history({
      since,
      ...(options.levels ? { levels: options.levels } : {}),
      ...(until ? { until: until.kind === 'time' ? until.time : until.offset } : {}),
      ...search,
    });
    printer.progress = new ProgressLine(process.stderr, () => read.progress).start();
    for await (const { level, data, meta } of read) {
      if (!printer.event(level, data, meta)) break;
      count++;
      if (printer.stop.requested) break;
    }
    // Follow on after the last record read, not the last printed: what lies between did not match.
    const { offset, end } = read.progress;
    if (offset !== undefined) lastOffset = end === undefined ? offset : Math.min(offset, end);
  } catch (error) {
    throw error instanceof EventBusLoggerError && error.code === 'OUT_OF_RANGE' ? error : asCliError(error);
  } finally {
    printer.progress?.stop();
    printer.progress = undefined;
    flushOut();
    await logger.stop();
    reportDropped(logger);
  }
  return { count, lastOffset };
}

// Live events (with `from`: a catch-up listener from there), until a signal, a closed stdout or a bound.
async function follow(options: EventBusLoggerOptions<string>, tailPlan: BusPlan, from: string | number | undefined, printer: Printer, { test }: TailSearch): Promise<number> {
  const bus = tailPlan.topology;
  const settings: EventBusLoggerOptions<string> = { appId: DEFAULT_APP_ID, ...options, ...(from !== undefined ? { history: { since: from } } : {}) };
  const logger = new EventBusLogger<string>(settings, undefined, from === undefined ? tailPlan : undefined);
  void printer.stop.done.then(() => logger.stop());
  // Every level this logger binds, in one place, subscribed before it starts: no event slips by.
  logger.subscribe(({ level, data, meta }) => (test && !test({ level, data, meta })) || printer.event(level, data, meta));
  logger.on('ready', ({ queue, levels }) =>
    note(from !== undefined ? `reading ${queue} from ${from}, then following live (levels ${levels.join(', ')})\n` : `listening on ${bus.exchange} as ${queue} (levels ${levels.join(', ')})\n`),
  );
  logger.on('invalid', ({ reason, routingKey }) => note(`invalid message (routing key "${routingKey.slice(0, 100)}"): ${reason}\n`));
  logger.on('disconnected', ({ reason }) => note(`disconnected: ${reason}; reconnecting\n`));
  logger.on('reconnected', ({ downtime }) => note(`reconnected after ${downtime} ms\n`));
  logger.on('gap', (gap) => note(`${gapLine(gap, 'tail')}\n`));
  const msLeft = printer.bound.msLeft();
  const timer = msLeft === undefined ? undefined : setTimeout(() => printer.timeUp(), msLeft);
  try {
    if (!(await printer.stop.start(logger))) return EXIT.OK;
    await printer.stop.done;
    flushOut();
    await logger.stop();
    reportDropped(logger);
  } finally {
    clearTimeout(timer);
  }
  return EXIT.OK;
}
