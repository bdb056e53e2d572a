// Where a bounded `tail` stops: `--until <offset | time | duration>` and `--count <n>`. Checked before anything
// reaches the broker (a usage error, exit 2), then asked of every event.
import { parseSince, type StreamStart } from '../since.js';
import { usage } from './common.js';

/** Where `--until` stops: an offset (inclusive) or a time (inclusive); `now` is the moment tail started. */
export type Until = { kind: 'offset'; offset: number } | { kind: 'time'; time: Date };

export class TailBound {
  readonly until: Until | undefined;
  readonly count: number | undefined;
  #printed = 0;

  /**
   * Checks `--until` and `--count` against the read they bound: without `--since`, tail reads live events only, so
   * `--until` must be a time still to come (live events carry no offset).
   */
  constructor(values: { until?: string | undefined; count?: string | undefined; since?: string | undefined }, now = Date.now()) {
    if (values.count !== undefined) {
      const count = /^\d+$/.test(values.count) ? Number(values.count) : Number.NaN;
      if (!Number.isSafeInteger(count) || count < 1) throw usage(`--count expects a whole number of events from 1 up, e.g. --count 10; got "${values.count}"`);
      this.count = count;
    }
    if (values.until === undefined) return;
    let until: StreamStart;
    try {
      until = parseSince(values.until, '--until', now);
    } catch (error) {
      throw usage((error as Error).message.replace('Invalid `--until`', '--until: invalid'));
    }
    if (until.kind === 'start') throw usage('--until: "start" would stop before the first event; expected "now", a duration (10m: ten minutes ago), an ISO 8601 time or a stream offset');
    this.until = until.kind === 'now' ? { kind: 'time', time: new Date(now) } : until;
    if (values.since === undefined) {
      if (this.until.kind === 'offset') throw usage(`--until ${values.until} is a stream offset, and live events have none: give --since too (e.g. --since start --until ${values.until})`);
      if (this.until.time.getTime() <= now) {
        throw usage(`--until ${values.until} has passed (${this.until.time.toISOString()}), and without --since tail reads only the events published from now on: give --since too, or a time to come`);
      }
    }
  }

  /** Whether an event lies beyond `--until`: tail stops before it. */
  beyond(meta: { timestamp: Date; offset?: number | undefined }): boolean {
    const until = this.until;
    if (until === undefined) return false;
    if (until.kind === 'time') return meta.timestamp.getTime() > until.time.getTime();
    return meta.offset !== undefined && meta.offset > until.offset;
  }

  /** Whether an event is the last one to print: `--count` reached, or the `--until` offset itself. */
  last(meta: { offset?: number | undefined }): boolean {
    this.#printed++;
    if (this.count !== undefined && this.#printed >= this.count) return true;
    return this.until?.kind === 'offset' && meta.offset !== undefined && meta.offset >= this.until.offset;
  }

  /** Events printed so far. */
  get printed(): number {
    return this.#printed;
  }

  /** Milliseconds until the `--until` time passes (0 when it has), for a read that waits for live events. */
  msLeft(now = Date.now()): number | undefined {
    return this.until?.kind === 'time' ? Math.max(0, this.until.time.getTime() - now) : undefined;
  }

  /** Whether the `--until` time has passed: nothing live can come before it any more. */
  timePassed(now = Date.now()): boolean {
    return this.until?.kind === 'time' && this.until.time.getTime() <= now;
  }
}
