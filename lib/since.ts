// `since`, one grammar for the API and the command line: where reading the history stream starts. Parsed here, on
// the client: what a user typed never reaches the broker as it is (on RabbitMQ 3.10 a malformed `x-stream-offset`
// crashes the channel, and with it the whole connection, publishers included).
//   now            only events published from now on
//   start          the oldest event the stream still holds
//   <int>s|m|h|d   a duration back from now, e.g. 90s, 10m, 2h, 7d
//   ISO 8601 time  e.g. 2026-11-29T03:00:00Z, 2026-11-29T03:00+01:00, 2026-11-29 (midnight UTC)
//   <offset>       a stream offset, a whole number from 0 (`meta.offset` of an event, and the `offset` of tail --json)

/** Where a stream read starts, parsed. */
export type StreamStart = { kind: 'now' } | { kind: 'start' } | { kind: 'time'; time: Date } | { kind: 'offset'; offset: number };

/** The forms `since` accepts, for error messages. */
export const SINCE_FORMS =
  '"now", "start", a duration <int>s|m|h|d (e.g. "10m"), an ISO 8601 time (e.g. "2026-11-29T03:00:00Z"), or a stream offset (a whole number from 0)';

const DURATION = /^(\d{1,9})([smhd])$/;
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
// A date, optionally a time with optional seconds and fraction, and a zone (Z or ±hh:mm) whenever there is a time.
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2}))?$/;

function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (value instanceof Date) return `an invalid Date`;
  if (value === null) return 'null';
  return typeof value === 'number' ? String(value) : `a ${typeof value}`;
}

/**
 * Parses a `since` (or `until`) value: a string of the grammar above, a `Date`, or an offset number. Throws a
 * `TypeError` naming the accepted forms. `now` is the clock of this process.
 */
export function parseSince(value: unknown, name = 'since', now: number = Date.now()): StreamStart {
  const fail = (why = ''): never => {
    throw new TypeError(`Invalid \`${name}\` ${shown(value)}${why}; expected ${SINCE_FORMS}`);
  };
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) fail();
    return { kind: 'time', time: new Date(value.getTime()) };
  }
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) fail();
    return { kind: 'offset', offset: value };
  }
  if (typeof value !== 'string') return fail();
  const text = value.trim();
  if (text === 'now') return { kind: 'now' };
  if (text === 'start') return { kind: 'start' };
  if (/^\d{1,15}$/.test(text)) return { kind: 'offset', offset: Number(text) };
  const duration = DURATION.exec(text);
  if (duration) {
    const ms = Number(duration[1]) * UNIT_MS[duration[2] as keyof typeof UNIT_MS];
    if (ms === 0) fail(' (a zero duration: use "now")');
    return { kind: 'time', time: new Date(now - ms) };
  }
  if (ISO_TIME.test(text)) {
    const time = new Date(text);
    if (Number.isNaN(time.getTime())) fail(' (not a valid date)');
    return { kind: 'time', time };
  }
  return fail();
}

/**
 * The `x-stream-offset` consumer argument for a start: a string the broker knows, an integer offset, or an AMQP
 * timestamp in seconds (amqplib would send a `Date` as an empty table, which crashes the channel on 3.10).
 */
export function streamOffsetArgument(start: StreamStart): string | number | { '!': 'timestamp'; value: number } {
  switch (start.kind) {
    case 'now':
      return 'next';
    case 'start':
      return 'first';
    case 'offset':
      return start.offset;
    case 'time':
      // The broker starts at the first chunk at or after this second: a few earlier events may come, and the
      // reader drops those whose own timestamp is earlier.
      return { '!': 'timestamp', value: Math.max(0, Math.floor(start.time.getTime() / 1000)) };
  }
}
