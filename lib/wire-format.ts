// The wire format: what an event looks like on the bus. This is the contract with other clients.
//   routing key  = the level
//   body         = the JSON of the event data, nothing else
//   contentType  = application/json
//   timestamp    = seconds since the epoch (AMQP's unit); appId = the publisher's app
//   messageId    = <nonce>@<host>:<pid>/<level tag>.<seq>: the publisher (one per logger), the level's index among
//                  the publisher's levels, the sequence number within publisher and level (from 1). No header table:
//                  it costs a generic encode and decode, a broker parse, and bytes (the broker handles properties of
//                  up to 64 bytes for less). Version 1 (older versions: a UUID messageId, contentEncoding, headers
//                  host, pid, x-publisher, x-seq) is still decoded, deduplicated and gap-checked.
// Over 300 lines: both formats are decoded here, and the encoder holds the plain-object and Error rules.
import { isUtf8 } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { inspect, types } from 'node:util';
import { describeError, kindOf, maskUrl } from './errors.js';

/** The data of one event: a JSON object. */
export type EventData = Record<string, unknown>;

/** What a listener gets beside the data. */
export interface EventMeta<L extends string = string> {
  /** The level (the routing key). */
  level: L;
  /** The AMQP routing key; equal to the level. */
  routingKey: string;
  /** When the publisher sent it, to the second (AMQP timestamps are in seconds); the receipt time when absent. */
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

/**
 * A new publisher id, `<nonce>@<host>:<pid>`: one per logger. The host and pid ride in it so that every event
 * carries them without a header table; the 6-character nonce (base64url) tells apart the loggers of one process and
 * a process that reuses a pid.
 */
export function newPublisherId(): string {
  return `${randomBytes(5).toString('base64url').slice(0, 6)}@${hostname()}:${process.pid}`;
}

/** True for a plain object: `{...}`, `Object.create(null)` or JSON.parse's objects; not an array, Date, Map, class... */
export function isPlainObject(value: unknown): value is EventData {
  if (typeof value !== 'object' || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

// What a value is, for an error message: "null", "a string `'x'`", "a Date `2026-...`", "a Point `Point { x: 1 }`".
function describeGiven(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  const kind = Array.isArray(value)
    ? 'array'
    : typeof value === 'object' || typeof value === 'function'
      ? ((value as { constructor?: { name?: unknown } }).constructor?.name as string | undefined) || 'object'
      : typeof value;
  const article = /^[aeiou]/i.test(kind) ? 'an' : 'a';
  let shown = maskUrl(inspect(value, { depth: 1, breakLength: Infinity, maxArrayLength: 5, maxStringLength: 60 }));
  if (shown.length > 80) shown = `${shown.slice(0, 77)}...`;
  return `${article} ${kind} \`${shown}\``;
}

// data.user.roles, data.items[2], data["odd key"]
function formatPath(path: ReadonlyArray<string | number>): string {
  return `data${path.map((key) => (typeof key === 'number' ? `[${key}]` : /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`)).join('')}`;
}

const CIRCULAR = '[Circular]';

// The plain object an Error is sent as, as pino's error serializer does: name, message, stack, the own enumerable
// fields (code, status...), cause and an AggregateError's errors. The values are converted in turn by toWire.
function errorFields(error: Error): Record<string, unknown> {
  const fields: Record<string, unknown> = { name: error.name, message: error.message, stack: error.stack };
  for (const key of Object.keys(error)) fields[key] = (error as unknown as Record<string, unknown>)[key];
  if ('cause' in error && error.cause !== undefined) fields.cause = error.cause;
  const errors = (error as Partial<AggregateError>).errors;
  if (Array.isArray(errors)) fields.errors = errors;
  return fields;
}

// Converts a value for JSON.stringify, as JSON.stringify itself would read it (toJSON honoured, class instances by
// their own enumerable fields), except that an Error becomes its fields and a Map or Set is refused. Returns the
// value itself when nothing in it needs converting, so plain data is not copied. `ancestors` holds the objects on
// the path to this one: a cycle is refused, or, below an Error (whose fields the caller did not choose), sent as
// "[Circular]".
function toWire(value: unknown, key: string | number, path: Array<string | number>, ancestors: object[], inError: boolean): unknown {
  if ((typeof value === 'object' && value !== null) || typeof value === 'bigint') {
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    // As in JSON.stringify, toJSON is called once: what it returns is read as it is (its children are converted).
    if (typeof toJSON === 'function') {
      value = toJSON.call(value, String(key));
      // JSON.stringify would call the toJSON of the result when it reads our copy: hide it (undefined is omitted).
      if (typeof value === 'object' && value !== null && !Array.isArray(value) && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
        value = { ...value, toJSON: undefined };
      }
    }
  }
  if (typeof value === 'bigint') {
    throw new TypeError(`The event data cannot be serialised to JSON: ${formatPath(path)} is a BigInt, which JSON cannot hold; send it as a string or a number`);
  }
  return typeof value === 'object' && value !== null ? convertObject(value, path, ancestors, inError) : value;
}

function convertObject(value: object, path: Array<string | number>, ancestors: object[], inError: boolean): unknown {
  const prototype: unknown = Object.getPrototypeOf(value);
  let isError = false;
  if (prototype !== Object.prototype && prototype !== null && !Array.isArray(value)) {
    if (types.isMap(value) || types.isSet(value) || value instanceof Map || value instanceof Set) {
      const kind = types.isMap(value) || value instanceof Map ? 'Map' : 'Set';
      const instead = kind === 'Map' ? 'Object.fromEntries(map)' : '[...set]';
      throw new TypeError(`${formatPath(path)} is a ${kind}: JSON would send it as {}; convert it, e.g. with ${instead}`);
    }
    // Boxed primitives (new Number(1)): JSON.stringify unwraps them.
    if (value instanceof Number || value instanceof String || value instanceof Boolean) return value;
    isError = value instanceof Error || types.isNativeError(value);
  }
  if (ancestors.includes(value)) {
    if (inError) return CIRCULAR;
    throw new TypeError(`The event data cannot be serialised to JSON: ${formatPath(path)} is a circular reference to one of its parents`);
  }
  ancestors.push(value);
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      path.push(i);
      const converted = toWire(item, i, path, ancestors, inError);
      path.pop();
      if (converted !== item) (copy ??= value.slice())[i] = converted;
    }
    ancestors.pop();
    return copy ?? value;
  }
  const source = isError ? errorFields(value as Error) : (value as Record<string, unknown>);
  let copy: Record<string, unknown> | undefined = isError ? source : undefined;
  for (const field of Object.keys(source)) {
    const item = source[field];
    path.push(field);
    const converted = toWire(item, field, path, ancestors, inError || isError);
    path.pop();
    if (converted !== item) (copy ??= { ...source })[field] = converted;
  }
  ancestors.pop();
  return copy ?? value;
}

// True when toWire would return `data` itself: no toJSON, and no value that is an object or a BigInt (most events
// are flat). Checked first because it allocates nothing; for...in also sees inherited keys, which only sends more
// data down the full path.
function isFlat(data: EventData): boolean {
  if (typeof data.toJSON === 'function') return false;
  for (const key in data) {
    const value = data[key];
    if ((typeof value === 'object' && value !== null) || typeof value === 'bigint') return false;
  }
  return true;
}

/**
 * Serialises event data. The top level must be a plain object; nested values are read as JSON.stringify reads
 * them (`toJSON` honoured), except that an Error is sent as its name, message, stack, own fields, cause and
 * (AggregateError) errors, and a Map or Set is refused. Throws a TypeError naming the problem (and its path):
 * a class instance, array or primitive at the top level, a nested Map or Set, a cycle, a BigInt.
 */
export function encodeData(data: unknown): Buffer {
  if (!isPlainObject(data)) {
    throw new TypeError(`Expected the event data to be a plain object like { info: true }, got ${describeGiven(data)}`);
  }
  let wire: unknown = data;
  try {
    if (!isFlat(data)) wire = toWire(data, '', [], [], false);
  } catch (error) {
    // Ours name the path; a getter or toJSON that threw, or data nested too deep for the stack, are wrapped.
    if (error instanceof TypeError) throw error;
    throw new TypeError(`The event data cannot be serialised to JSON: ${describeError(error)}`, { cause: error });
  }
  if (!isPlainObject(wire)) {
    throw new TypeError(`Expected the event data to be a plain object like { info: true }, but its toJSON() returned ${describeGiven(wire)}`);
  }
  let json: string;
  try {
    json = JSON.stringify(wire);
  } catch (error) {
    throw new TypeError(`The event data cannot be serialised to JSON: ${(error as Error).message}`);
  }
  return Buffer.from(json, 'utf8');
}

/**
 * The AMQP properties of one event of `publisher` (from {@link newPublisherId}): `levelTag` is the publisher's tag for
 * the level (the level's index among its levels: it makes messageIds unique across levels), `seq` the event's
 * sequence number within that publisher and level.
 */
export function publishProperties(appId: string, publisher: string, levelTag: number, seq: number, mandatory: boolean): PublishProperties {
  const properties: PublishProperties = {
    contentType: 'application/json',
    timestamp: Math.floor(Date.now() / 1000),
    messageId: `${publisher}/${levelTag}.${seq}`,
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
export function decodeMessage<L extends string>(message: IncomingMessage, levels: ReadonlySet<string>, maxMessageBytes: number): Decoded<L> {
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
  if (!isUtf8(content)) return { ok: false, reason: 'body is not valid UTF-8' };
  // A byte-order mark is not part of the JSON.
  const body = content[0] === 0xef && content[1] === 0xbb && content[2] === 0xbf ? content.toString('utf8', 3) : content.toString('utf8');
  let data: unknown;
  try {
    data = body.includes('"__proto__"') || body.includes('\\u') ? JSON.parse(body, dropProtoKeys) : JSON.parse(body);
  } catch (error) {
    return { ok: false, reason: `body is not valid JSON: ${(error as Error).message.slice(0, 200)}` };
  }
  if (!isPlainObject(data)) {
    return { ok: false, reason: `body is JSON ${kindOf(data)}; expected a JSON object` };
  }
  const timestamp = typeof properties.timestamp === 'number' && Number.isFinite(properties.timestamp) ? new Date(properties.timestamp * 1000) : new Date();
  const messageId = text(properties.messageId);
  const meta: EventMeta<L> = {
    level: level as L, routingKey: level, timestamp, messageId, appId: text(properties.appId),
    host: undefined, pid: undefined, publisher: undefined, seq: undefined, redelivered: fields.redelivered === true,
  };
  // amqplib hands over an empty header table when the publisher sent none (as this version does); a stream adds
  // its own x-stream-offset header to what it delivers.
  const headers = properties.headers;
  if (headers && hasKeys(headers)) {
    if (headers['x-publisher'] !== undefined || headers['x-seq'] !== undefined || headers.host !== undefined || headers.pid !== undefined) readHeaders(headers, meta);
    else if (messageId !== undefined) readMessageId(messageId, meta);
    const offset = headers['x-stream-offset'];
    if (typeof offset === 'number') meta.offset = offset;
  } else if (messageId !== undefined) readMessageId(messageId, meta);
  return { ok: true, level: level as L, data: data as EventData, meta };
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

// Version 2: messageId `<nonce>@<host>:<pid>/<level tag>.<seq>`; a messageId of another shape (another client's) is
// only a messageId. This runs for every event: the publisher part is checked once and remembered (up to 4,096, then
// forgotten all at once); the level tag and sequence number must be 1 to 15 digits.
const PUBLISHER = /^[\w-]{6}@(.*):(\d{1,15})$/;
interface KnownPublisher {
  id: string;
  host: string;
  pid: number;
}
const publishers = new Map<string, KnownPublisher | null>();
// The publisher of the last event read.
let last: KnownPublisher | undefined;
function readMessageId(id: string, meta: EventMeta<string>): void {
  const slash = id.lastIndexOf('/');
  const dot = id.lastIndexOf('.');
  if (slash < 0 || dot <= slash + 1 || dot - slash > 16 || id.length - dot > 16 || dot === id.length - 1) return;
  let seq = 0;
  for (let i = slash + 1; i < id.length; i++) {
    const digit = id.charCodeAt(i) - 48;
    if (i === dot) seq = 0;
    else if (digit >= 0 && digit <= 9) seq = seq * 10 + digit;
    else return;
  }
  let known: KnownPublisher | null | undefined;
  let publisher: string;
  // Most events come from the publisher of the event before: compare in place rather than slice and look up.
  if (last !== undefined && slash === last.id.length && id.startsWith(last.id)) {
    known = last;
    publisher = last.id;
  } else {
    publisher = id.slice(0, slash);
    known = publishers.get(publisher);
    if (known === undefined) {
      const match = PUBLISHER.exec(publisher);
      known = match ? { id: publisher, host: match[1] as string, pid: Number(match[2]) } : null;
      if (publishers.size >= 4096) publishers.clear();
      publishers.set(publisher, known);
    }
    if (known !== null) last = known;
  }
  if (known === null || seq === 0) return;
  meta.publisher = publisher;
  meta.host = known.host;
  meta.pid = known.pid;
  meta.seq = seq;
}
