// `history()`'s options: their types, their checks (before anything reaches the broker), and the read they start.
import { configError } from '../errors.js';
import { DEFAULTS, type HistorySince, type ResolvedOptions } from '../options.js';
import { eventTest, type EventSearch } from '../search.js';
import { parseSince } from '../since.js';
import { HOW_TO_TURN_HISTORY_ON, type Topology } from '../topology.js';
import { EVERY_LEVEL, type LevelSet } from '../wire-format.js';
import { HistoryRead, RESUME_TIMEOUT, type HistoryBus } from './history-read.js';
import { READ_PREFETCH } from './stream.js';

export { READ_PREFETCH } from './stream.js';

/** What {@link EventBusLogger.history} reads. */
export interface HistoryOptions<L extends string = string> extends EventSearch {
  /** Where to start: `'now'`, `'start'`, a duration (`'10m'`), an ISO 8601 time or a `Date`, or a stream offset. */
  since: HistorySince;
  /** Where to stop, inclusive: a stream offset, or a time (`'now'`, a duration back from now, an ISO 8601 time, a `Date`). @default the stream's last offset when the call began */
  until?: HistorySince;
  /** Only these levels; `'*'`: every event the stream holds, of the levels this config does not name too. @default every configured level */
  levels?: readonly NoInfer<L>[] | '*';
  /**
   * Milliseconds a read cut by a lost connection waits for the logger to reconnect, then goes on after the last
   * record it read (nothing twice, nothing missed); 0 makes it throw at once. @default 30000
   */
  resumeTimeout?: number;
}

/**
 * Checks what `history()` was given and starts the read. Throws a TypeError for a malformed `since`, `until`,
 * `levels`, `where` or `grep`; a `CONFIG` error when the bus has no history.
 */
export function readHistory<L extends string>(
  options: HistoryOptions<L>,
  { bus, topology, settings, stopping }: { bus: HistoryBus; topology: Topology; settings: ResolvedOptions; stopping: () => boolean },
): HistoryRead<L> {
  if (options === null || typeof options !== 'object') throw new TypeError(`Expected history() options { since, until?, levels?, where?, grep? }, got ${options === null ? 'null' : typeof options}`);
  const since = parseSince(options.since, 'since');
  let until = options.until === undefined ? undefined : parseSince(options.until, 'until');
  if (until?.kind === 'start') throw new TypeError('Invalid `until` "start" (it would stop before the first event); expected "now", a stream offset, a duration, an ISO 8601 time or a Date');
  // 'now' as where `since: 'now'` starts: the moment of the call.
  if (until?.kind === 'now') until = { kind: 'time', time: new Date() };
  if (!topology.history) throw configError(`history() needs a history stream, and the config of bus "${topology.exchange}" declares none; ${HOW_TO_TURN_HISTORY_ON}`);
  let wanted: LevelSet = new Set(topology.levels);
  if (options.levels === '*') wanted = EVERY_LEVEL;
  else if (options.levels !== undefined) {
    if (!Array.isArray(options.levels) || options.levels.length === 0 || options.levels.some((level) => !topology.levels.includes(level))) {
      throw new TypeError(`Expected \`levels\` to be a non-empty array of configured levels (${topology.levels.join(', ')}), got ${JSON.stringify(options.levels)}`);
    }
    wanted = new Set(options.levels);
  }
  const resumeTimeout = options.resumeTimeout ?? RESUME_TIMEOUT;
  if (typeof resumeTimeout !== 'number' || !Number.isFinite(resumeTimeout) || resumeTimeout < 0) {
    throw new TypeError(`Expected \`resumeTimeout\` to be a number of milliseconds from 0, got ${JSON.stringify(options.resumeTimeout)}`);
  }
  // Checked here, before anything reaches the broker; applied in the reader (3.10 has no server-side filter).
  const test = eventTest(options);
  return new HistoryRead<L>({
    test,
    bus,
    stream: topology.history.stream,
    since,
    until,
    levels: options.levels === '*' ? EVERY_LEVEL : new Set(topology.levels),
    wanted,
    maxMessageBytes: settings.maxMessageBytes,
    // Read-ahead, not work in progress (the caller pulls each event): the default prefetch is the live queue's.
    prefetch: settings.prefetch === DEFAULTS.prefetch ? READ_PREFETCH : settings.prefetch,
    resumeTimeout,
    stopping,
  });
}
