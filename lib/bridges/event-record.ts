// How `event-bus-logger tail` prints an event: one NDJSON object per line, or one readable (optionally coloured)
// line for a terminal. Pure functions, so the specs can check them without a TTY.
import type { EventData, EventMeta } from '../wire-format.js';

/** One event as `tail --json` prints it: a line of NDJSON. */
export interface TailRecord {
  /** When the publisher sent it (ISO 8601, to the millisecond; to the second from clients that send AMQP's seconds only). */
  time: string;
  level: string;
  host: string | null;
  pid: number | null;
  appId: string | null;
  messageId: string | null;
  data: EventData;
  /** Its offset in the bus's history stream, when read from there (`tail --since`). */
  offset?: number;
}

/** The NDJSON record of an event. */
export function tailRecord(level: string, data: EventData, meta: Pick<EventMeta, 'timestamp' | 'host' | 'pid' | 'appId' | 'messageId' | 'offset'>): TailRecord {
  const record: TailRecord = {
    time: meta.timestamp.toISOString(),
    level,
    host: meta.host ?? null,
    pid: meta.pid ?? null,
    appId: meta.appId ?? null,
    messageId: meta.messageId ?? null,
    data,
  };
  if (meta.offset !== undefined) record.offset = meta.offset;
  return record;
}

// JSON.stringify escapes C0 controls (so ESC cannot reach the terminal) but not C1 controls: U+009B is a CSI on
// some terminals. Escape them too; the result is the same JSON value.
const C1 = /[\u0080-\u009f]/g;
function safeJson(value: unknown): string {
  return JSON.stringify(value).replace(C1, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

// Header values (host, appId) are not JSON: replace every control character.
function safeText(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

/** One NDJSON line (without the newline). */
export function formatJson(record: TailRecord): string {
  return safeJson(record);
}

/**
 * `formatJson(tailRecord(level, data, meta))`, byte for byte, for data as JSON.parse makes it, without the record:
 * a replay prints a million lines. The line's head (time, level, host, pid, appId), which the events of one
 * publisher in one millisecond share, is kept from the line before; only the messageId and the data are new.
 */
export function jsonLine(level: string, data: EventData, meta: Pick<EventMeta, 'timestamp' | 'host' | 'pid' | 'appId' | 'messageId' | 'offset'>): string {
  const offset = meta.offset === undefined ? '' : `,"offset":${jsonNumber(meta.offset)}`;
  return `${lineHead(level, meta)}${jsonString(meta.messageId)},"data":${safeJson(data)}${offset}}`;
}

// The head of the last line, and what it was made of.
const head = { ms: Number.NaN, level: '', host: undefined as string | undefined, pid: undefined as number | undefined, appId: undefined as string | undefined, text: '' };
function lineHead(level: string, { timestamp, host, pid, appId }: Pick<EventMeta, 'timestamp' | 'host' | 'pid' | 'appId'>): string {
  const ms = timestamp.getTime(); // NaN for an invalid date: never equal, and toISOString throws as JSON.stringify does
  if (ms !== head.ms || level !== head.level || host !== head.host || !Object.is(pid, head.pid) || appId !== head.appId) {
    const text = `{"time":"${timestamp.toISOString()}","level":${jsonString(level)},"host":${jsonString(host)},"pid":${jsonNumber(pid)},"appId":${jsonString(appId)},"messageId":`;
    Object.assign(head, { ms, level, host, pid, appId, text });
  }
  return head.text;
}

// What JSON.stringify writes between the quotes as it is: no control, quote, backslash or surrogate (a lone one is
// escaped), and no C1 control (safeJson escapes those).
// eslint-disable-next-line no-control-regex
const PLAIN = /[\u0000-\u001f"\\\u0080-\u009f\ud800-\udfff]/;
function jsonString(text: string | undefined): string {
  if (text === undefined) return 'null';
  return PLAIN.test(text) ? safeJson(text) : `"${text}"`;
}

function jsonNumber(value: number | undefined): string {
  return typeof value === 'number' && Number.isFinite(value) ? String(value) : 'null';
}

const RESET = '\u001b[0m';
const STYLE = {
  dim: '\u001b[2m',
  red: '\u001b[1;31m',
  yellow: '\u001b[33m',
  green: '\u001b[32m',
  blue: '\u001b[34m',
  cyan: '\u001b[36m',
  magenta: '\u001b[35m',
} as const;

function levelStyle(level: string): string {
  switch (level.toLowerCase()) {
    case 'critical':
    case 'fatal':
    case 'error':
    case 'alert':
    case 'emergency':
      return STYLE.red;
    case 'warning':
    case 'warn':
      return STYLE.yellow;
    case 'info':
    case 'notice':
      return STYLE.green;
    case 'debug':
    case 'trace':
      return STYLE.blue;
    default:
      return STYLE.magenta;
  }
}

// A stack trace in the data (an Error serialised by pino, winston or the library: `err.stack`): a string under a key
// named `stack`, or any string that holds stack frames. Shown below the line, one frame a line, on a terminal.
const STACK_FRAME = /\n\s+at \S/;
const MAX_STACKS = 5;
const MAX_STACK_LINES = 50;
const STACK_SHOWN_BELOW = '[stack below]';

interface Stack {
  path: string;
  text: string;
}

// The data with each stack replaced by a mark, and the stacks found (depth-first, at most MAX_STACKS).
function takeStacks(value: unknown, path: string, stacks: Stack[], depth = 0): unknown {
  if (typeof value === 'string') {
    if (stacks.length < MAX_STACKS && (STACK_FRAME.test(value) || (path.endsWith('.stack') && value.includes('\n')))) {
      stacks.push({ path, text: value });
      return STACK_SHOWN_BELOW;
    }
    return value;
  }
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item, index) => takeStacks(item, `${path}[${index}]`, stacks, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, takeStacks(item, path === '' ? key : `${path}.${key}`, stacks, depth + 1)]));
}

function stackLines({ path, text }: Stack): string[] {
  const lines = text.split(/\r?\n/).map((line) => safeText(line.trimEnd()));
  const shown = lines.slice(0, MAX_STACK_LINES);
  if (lines.length > shown.length) shown.push(`... ${lines.length - shown.length} more line(s)`);
  return [`  ${safeText(path)}:`, ...shown.map((line) => `    ${line}`)];
}

/**
 * One readable line: `2025-01-02T03:04:05.123Z CRITICAL host/app {"disk":"full"}`, the time to the millisecond. With `color`, the time is dim,
 * the level coloured by severity and the source cyan; without it the line has no escape sequences at all. A stack
 * trace in the data (`err.stack`) is marked `[stack below]` in the line and follows it, indented, one frame a line.
 */
export function formatPretty(record: TailRecord, options: { color: boolean }): string {
  const paint = (style: string, text: string): string => (options.color ? `${style}${text}${RESET}` : text);
  const level = safeText(record.level.toUpperCase()).padEnd(8);
  const source = `${safeText(record.host ?? '-')}/${safeText(record.appId ?? '-')}`;
  const stacks: Stack[] = [];
  const data = takeStacks(record.data, '', stacks);
  const line = `${paint(STYLE.dim, record.time)} ${paint(levelStyle(record.level), level)} ${paint(STYLE.cyan, source)} ${safeJson(data)}`;
  if (stacks.length === 0) return line;
  return [line, ...stacks.flatMap(stackLines).map((text) => paint(STYLE.dim, text))].join('\n');
}

/**
 * Whether to colour: only on a terminal, and never when NO_COLOR is set to a non-empty value (https://no-color.org).
 */
export function useColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY === true && !env.NO_COLOR;
}
