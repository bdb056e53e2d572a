// The wire format: what an event looks like on the bus. This is the contract with other clients.
//   routing key  = the level
//   body         = the JSON of the event data, nothing else
//   contentType  = application/json
//   timestamp    = seconds since the epoch (AMQP's unit, which every client reads); appId = the publisher's app
//   messageId    = <nonce>@<host>:<pid>/<ms><level tag>.<seq> (version 3): the publisher (one per logger); the
//                  millisecond of the publish within the timestamp's second, always 3 digits; the level's index
//                  among the publisher's levels; the sequence number within publisher and level (from 1). E.g.
//                  `Xy3_kQ@web-1:4242/0070.19`: 7 ms past the timestamp's second, level 0, event 19. The millisecond
//                  rides in front of the level tag so that a version 2 reader, which never reads the tag, still
//                  finds the publisher and sequence. No header table: it costs a generic encode and decode, a
//                  broker parse, and bytes (the broker handles properties of up to 64 bytes for less).
// Older versions are still decoded, deduplicated and gap-checked: version 2, `<nonce>@<host>:<pid>/<level tag>.<seq>`
// (the time to the second: a tag of 1 to 3 digits, which a publisher with fewer than 1,000 levels writes), and
// version 1 (a UUID messageId, contentEncoding, headers host, pid, x-publisher, x-seq).
// What the data may hold, and how it becomes the body, is in event-data.ts.
import { isUtf8 } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { kindOf } from './errors.js';
import type { EventData } from './event-data.js';

export type { EventData } from './event-data.js';

/** What a listener gets beside the data. */
export interface EventMeta<L extends string = string> {
  /** The level (the routing key). */
  level: L;
  /** The AMQP routing key; equal to the level. */
  routingKey: string;
  /**
   * When the publisher sent it: to the millisecond from this library's publishers (version 3 of the wire format),
   * to the second from others (the AMQP timestamp); the receipt time when the message has none.
   */
  timestamp: Date;
  /** The AMQP messageId, if the publisher set one. */
  messageId: string | undefined;
  /** The AMQP appId, if the publisher set one. */
  appId: string | undefined;
  /** The publisher's host name, if it sent one. */
  host: string | undefined;
  /** The publisher's process id, if it sent one. */
  pid: number | undefined;
  /** The publisher's id, if it sent one: `<nonce>@<host>:<pid>` (each logger has its own; older versions sent a UUID). */
  publisher: string | undefined;
  /** The event's sequence number within its publisher, from 1, if it sent one. */
  seq: number | undefined;
  /** True when the broker delivered it before (after a reconnect of this listener). */
  redelivered: boolean;
  /**
   * Its offset in the bus's history stream, when it was read from there (a catch-up listener, `history()`); pass
   * it back as `since` (plus one) to resume after it.
   */
  offset?: number;
}

/** AMQP message properties we write. */
export type PublishProperties = { contentType: string; timestamp: number; messageId: string; appId: string; mandatory?: boolean };

// The millisecond within a second as the messageId writes it: '000' to '999'.
const MILLIS = Array.from({ length: 1000 }, (_, ms) => String(ms).padStart(3, '0'));

/**
 * A new publisher id, `<nonce>@<host>:<pid>`: one per logger. The host and pid ride in it so that every event
 * carries them without a header table; the 6-character nonce (base64url) tells apart the loggers of one process and
 * a process that reuses a pid.
 */
export function newPublisherId(): string {
  return `${randomBytes(5).toString('base64url').slice(0, 6)}@${hostname()}:${process.pid}`;
}


/**
 * How far one publisher's events may overtake each other on the wire. A publisher never sends an event more than
 * this many events after the oldest one it has not settled (one waiting for its confirm, or for its retry after a
 * nack), so a re-sent event is never more than this far behind the newest; a live listener accepts an event that far
 * below the highest number it saw, once (the retry of one it missed), and drops it as a duplicate beyond.
 */
export const REORDER_SPAN = 2048;

/**
 * The AMQP properties of one event of `publisher` (from {@link newPublisherId}): `levelTag` is the publisher's tag for
 * the level (the level's index among its levels: it makes messageIds unique across levels), `seq` the event's
 * sequence number within that publisher and level.
 */
export function publishProperties(appId: string, publisher: string, levelTag: number, seq: number, mandatory: boolean, now = Date.now()): PublishProperties {
  const properties: PublishProperties = {
    contentType: 'application/json',
    timestamp: Math.floor(now / 1000),
    messageId: `${publisher}/${MILLIS[now % 1000]}${levelTag}.${seq}`,
    appId,
  };
  if (mandatory) properties.mandatory = true;
  return properties;
}

/** The parts of an amqplib message the decoder reads. */
export interface IncomingMessage {
  content: Buffer;
  fields: { routingKey: string; redelivered?: boolean };
  properties: {
    contentType?: unknown;
    contentEncoding?: unknown;
    timestamp?: unknown;
    messageId?: unknown;
    appId?: unknown;
    headers?: Record<string, unknown> | undefined;
  };
}

/** A decoded event, or why it could not be decoded. */
export type Decoded<L extends string> = { ok: true; level: L; data: EventData; meta: EventMeta<L> } | { ok: false; reason: string };

const JSON_CONTENT_TYPE = /^(application\/(?:[\w.+-]+\+)?json|text\/json)\s*(?:;\s*charset\s*=\s*"?utf-?8"?\s*)?$/i;
const IDENTITY_ENCODING = /^(?:utf-?8|identity|7bit|8bit|binary)$/i;

// JSON.parse makes "__proto__" an own property; copying such an object with Object.assign or a spread would
// then set a prototype. Drop the key while parsing. The reviver is slow, so use it only when the text has one.
function dropProtoKeys(key: string, value: unknown): unknown {
  return key === '__proto__' ? undefined : value;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : Buffer.isBuffer(value) ? value.toString('utf8') : undefined;
}

/** Decodes one message from the bus. Never throws. */
/** The levels a reader accepts: a set of level names, or {@link EVERY_LEVEL}. */
export type LevelSet = { has(level: string): boolean };

/** Accepts an event of any level, including the levels this config does not name (`levels: '*'`). */
export const EVERY_LEVEL: LevelSet = { has: () => true };

export function decodeMessage<L extends string>(message: IncomingMessage, levels: LevelSet, maxMessageBytes: number): Decoded<L> {
  const { content, fields, properties } = message;
  const level = fields.routingKey;
  if (!levels.has(level)) return { ok: false, reason: `routing key "${level.slice(0, 100)}" is not a level this logger listens to` };
  if (content.length > maxMessageBytes) return { ok: false, reason: `body of ${content.length} bytes is over maxMessageBytes (${maxMessageBytes})` };
  if (content.length === 0) return { ok: false, reason: 'empty body; expected a JSON object' };
  const contentType = text(properties.contentType);
  if (contentType !== undefined && contentType !== 'application/json' && !JSON_CONTENT_TYPE.test(contentType)) {
    return { ok: false, reason: `content type "${contentType.slice(0, 100)}" is not JSON; expected application/json` };
  }
  const contentEncoding = text(properties.contentEncoding);
  if (contentEncoding !== undefined && !IDENTITY_ENCODING.test(contentEncoding)) {
    return { ok: false, reason: `content encoding "${contentEncoding.slice(0, 100)}" is not supported; expected utf-8` };
  }
  // A byte-order mark is not part of the JSON.
  const body = content[0] === 0xef && content[1] === 0xbb && content[2] === 0xbf ? content.toString('utf8', 3) : content.toString('utf8');
  // Decoding turns each invalid sequence into U+FFFD: only a body with one needs the full check.
  if (body.includes('\uFFFD') && !isUtf8(content)) return { ok: false, reason: 'body is not valid UTF-8' };
  let data: unknown;
  try {
    // Searched without its quotes: a quote is in every JSON text, an underscore rarely, so the search skips ahead.
    data = body.includes('__proto__') || body.includes('\\u') ? JSON.parse(body, dropProtoKeys) : JSON.parse(body);
  } catch (error) {
    return { ok: false, reason: `body is not valid JSON: ${(error as Error).message.slice(0, 200)}` };
  }
  // JSON.parse makes nothing but plain objects, arrays and primitives.
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return { ok: false, reason: `body is JSON ${kindOf(data)}; expected a JSON object` };
  }
  const messageId = text(properties.messageId);
  const meta: EventMeta<L> = {
    level: level as L, routingKey: level, timestamp: RECEIPT, messageId, appId: text(properties.appId),
    host: undefined, pid: undefined, publisher: undefined, seq: undefined, redelivered: fields.redelivered === true,
  };
  // amqplib hands over an empty header table when the publisher sent none (as this version does); a stream adds
  // its own x-stream-offset header to what it delivers.
  const headers = properties.headers;
  let millis = 0;
  if (headers && hasKeys(headers)) {
    if (headers['x-publisher'] !== undefined || headers['x-seq'] !== undefined || headers.host !== undefined || headers.pid !== undefined) readHeaders(headers, meta);
    else if (messageId !== undefined) millis = readMessageId(messageId, meta);
    const offset = headers['x-stream-offset'];
    if (typeof offset === 'number') meta.offset = offset;
  } else if (messageId !== undefined) millis = readMessageId(messageId, meta);
  const seconds = properties.timestamp;
  meta.timestamp = typeof seconds === 'number' && Number.isFinite(seconds) ? new Date(seconds * 1000 + millis) : new Date();
  return { ok: true, level: level as L, data: data as EventData, meta };
}

// A placeholder for meta.timestamp until it is known (the object keeps one shape).
const RECEIPT = new Date(0);

/**
 * When a message was published, in ms since the epoch: its AMQP timestamp (seconds) plus the millisecond a version 3
 * messageId carries; undefined when it has no timestamp. For filters that look at a message before decoding it.
 */
export function publishedAt(properties: { timestamp?: unknown; messageId?: unknown }): number | undefined {
  const seconds = properties.timestamp;
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return undefined;
  const id = text(properties.messageId);
  if (id === undefined) return seconds * 1000;
  const dot = digitsStart(id, id.length) - 1;
  if (dot === id.length - 1 || dot < 0 || id.charCodeAt(dot) !== 46) return seconds * 1000;
  const slash = digitsStart(id, dot) - 1;
  if (slash === dot - 1 || slash < 0 || id.charCodeAt(slash) !== 47 || publisherOf(id, slash) === null) return seconds * 1000;
  return seconds * 1000 + millisOf(id, slash, dot);
}

// The millisecond of a version 3 messageId, whose level tag field (between the slash and the dot) is 4 digits or
// more, the first 3 of them the millisecond; 0 for version 2 (1 to 3 digits).
function millisOf(id: string, slash: number, dot: number): number {
  if (dot - slash - 1 < 4) return 0;
  return (id.charCodeAt(slash + 1) - 48) * 100 + (id.charCodeAt(slash + 2) - 48) * 10 + (id.charCodeAt(slash + 3) - 48);
}

const hasKeys = (object: object): boolean => {
  for (const _ in object) return true;
  return false;
};

// Version 1: headers host, pid, x-publisher, x-seq. Values of the wrong type are ignored, not trusted.
function readHeaders(headers: Record<string, unknown>, meta: EventMeta<string>): void {
  const { pid, 'x-seq': seq } = headers;
  meta.host = text(headers.host);
  meta.pid = typeof pid === 'number' ? pid : undefined;
  meta.publisher = text(headers['x-publisher']);
  meta.seq = typeof seq === 'number' && Number.isSafeInteger(seq) && seq > 0 ? seq : undefined;
}

// Versions 2 and 3: messageId `<nonce>@<host>:<pid>/<ms><level tag>.<seq>` (no <ms> in version 2); a messageId of
// another shape (another client's) is only a messageId. Returns the millisecond (0 when there is none). This runs for every event: the publisher part is checked once and remembered (up to 4,096, then
// forgotten all at once); the level tag and sequence number must be 1 to 15 digits.
const PUBLISHER = /^[\w-]{6}@(.*):(\d{1,15})$/;
interface KnownPublisher {
  id: string;
  host: string;
  pid: number;
}
const publishers = new Map<string, KnownPublisher | null>();
// Where the run of up to 15 digits that ends before `end` starts (`end` itself when there is none); a 16th digit
// before them is left for the caller to find in place of the separator it expects.
function digitsStart(id: string, end: number): number {
  let i = end;
  while (i > 0 && end - i < 15) {
    const digit = id.charCodeAt(i - 1) - 48;
    if (digit < 0 || digit > 9) break;
    i--;
  }
  return i;
}
// The publisher of the last event read.
let last: KnownPublisher | undefined;
function readMessageId(id: string, meta: EventMeta<string>): number {
  // From the end: the sequence number's digits, a dot, the level tag's digits (after the millisecond's), a slash.
  const end = id.length;
  const dot = digitsStart(id, end) - 1;
  if (dot === end - 1 || dot < 0 || id.charCodeAt(dot) !== 46) return 0;
  const slash = digitsStart(id, dot) - 1;
  if (slash === dot - 1 || slash < 0 || id.charCodeAt(slash) !== 47) return 0;
  let seq = 0;
  for (let i = dot + 1; i < end; i++) seq = seq * 10 + id.charCodeAt(i) - 48;
  const known = publisherOf(id, slash);
  if (known === null || seq === 0) return 0;
  meta.publisher = known.id;
  meta.host = known.host;
  meta.pid = known.pid;
  meta.seq = seq;
  return millisOf(id, slash, dot);
}

// The publisher of a messageId whose publisher part ends at `slash`, or null when that part is not one.
function publisherOf(id: string, slash: number): KnownPublisher | null {
  // Most events come from the publisher of the event before: compare in place rather than slice and look up.
  if (last !== undefined && slash === last.id.length && id.startsWith(last.id)) return last;
  const publisher = id.slice(0, slash);
  let known = publishers.get(publisher);
  if (known === undefined) {
    const match = PUBLISHER.exec(publisher);
    known = match ? { id: publisher, host: match[1] as string, pid: Number(match[2]) } : null;
    if (publishers.size >= 4096) publishers.clear();
    publishers.set(publisher, known);
  }
  if (known !== null) last = known;
  return known;
}
