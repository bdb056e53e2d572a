// The wire format: what an event looks like on the bus. This is the contract with other clients.
//   routing key  = the level
//   body         = the JSON of the event data, nothing else
//   contentType  = application/json, contentEncoding = utf-8
//   timestamp    = seconds since the epoch (AMQP's unit); messageId = a UUID; appId = the publisher's app
//   headers      = host, pid, x-publisher (publisher instance id), x-seq (its sequence number, from 1)
import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';

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
  /** The publisher's instance id (each logger has its own), if it sent one. */
  publisher: string | undefined;
  /** The event's sequence number within its publisher, from 1, if it sent one. */
  seq: number | undefined;
  /** True when the broker delivered it before (after a reconnect of this listener). */
  redelivered: boolean;
}

/** AMQP message properties we write. */
export type PublishProperties = {
  contentType: string;
  contentEncoding: string;
  timestamp: number;
  messageId: string;
  appId: string;
  headers: { host: string; pid: number; 'x-publisher': string; 'x-seq': number };
  mandatory?: boolean;
};

const HOST = hostname();
const PID = process.pid;

/**
 * Serialises event data. Throws a TypeError naming the problem when the data is not a plain JSON object
 * (a class instance, array, primitive, cyclic structure or BigInt).
 */
export function encodeData(data: unknown): Buffer {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new TypeError(`Expected the event data to be a plain object like { info: true }, got ${data === null ? 'null' : Array.isArray(data) ? 'an array' : typeof data}`);
  }
  let json: string;
  try {
    json = JSON.stringify(data);
  } catch (error) {
    throw new TypeError(`The event data cannot be serialised to JSON: ${(error as Error).message}`);
  }
  return Buffer.from(json, 'utf8');
}

/** The AMQP properties of one event. */
export function publishProperties(appId: string, publisher: string, seq: number, mandatory: boolean): PublishProperties {
  const properties: PublishProperties = {
    contentType: 'application/json',
    contentEncoding: 'utf-8',
    timestamp: Math.floor(Date.now() / 1000),
    messageId: randomUUID(),
    appId,
    headers: { host: HOST, pid: PID, 'x-publisher': publisher, 'x-seq': seq },
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
  if (contentType !== undefined && !JSON_CONTENT_TYPE.test(contentType)) {
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
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return { ok: false, reason: `body is JSON ${data === null ? 'null' : Array.isArray(data) ? 'array' : typeof data}; expected a JSON object` };
  }
  const headers = properties.headers ?? {};
  const timestamp = typeof properties.timestamp === 'number' && Number.isFinite(properties.timestamp) ? new Date(properties.timestamp * 1000) : new Date();
  const pid = headers.pid;
  const seq = headers['x-seq'];
  return {
    ok: true,
    level: level as L,
    data: data as EventData,
    meta: {
      level: level as L,
      routingKey: level,
      timestamp,
      messageId: text(properties.messageId),
      appId: text(properties.appId),
      host: text(headers.host),
      pid: typeof pid === 'number' ? pid : undefined,
      publisher: text(headers['x-publisher']),
      seq: typeof seq === 'number' && Number.isSafeInteger(seq) && seq > 0 ? seq : undefined,
      redelivered: fields.redelivered === true,
    },
  };
}
