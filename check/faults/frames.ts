// AMQP 0-9-1 frames for the fault proxy: amqplib's own frame parser and codec (lib/frame.js, lib/defs.js), so the
// proxy reads and writes exactly what the client and the broker do. Only the methods the proxy acts on are named.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

// amqplib's exports map hides lib/: reach it beside the package's main file.
const require = createRequire(import.meta.url);
const amqplibLib = join(dirname(require.resolve('amqplib')), 'lib');

interface RawFrame { type: number; channel: number; size: number; payload: Buffer; rest: Buffer }
const frame = require(join(amqplibLib, 'frame.js')) as {
  parseFrame(bin: Buffer, max: number): RawFrame | false;
  decodeFrame(f: RawFrame): { id?: number; channel: number; size?: number; fields?: Record<string, unknown> };
};
const defs = require(join(amqplibLib, 'defs.js')) as {
  encodeMethod(id: number, channel: number, fields: Record<string, unknown>): Buffer;
  [name: string]: unknown;
};

const id = (name: string): number => defs[name] as number;
/** The methods the proxy acts on (amqplib's ids: class << 16 | method). */
export const Method = {
  ChannelOpenOk: id('ChannelOpenOk'),
  ChannelClose: id('ChannelClose'),
  ChannelCloseOk: id('ChannelCloseOk'),
  ConfirmSelect: id('ConfirmSelect'),
  QueueDeclare: id('QueueDeclare'),
  QueueBind: id('QueueBind'),
  BasicQos: id('BasicQos'),
  BasicConsume: id('BasicConsume'),
  BasicConsumeOk: id('BasicConsumeOk'),
  BasicCancel: id('BasicCancel'),
  BasicCancelOk: id('BasicCancelOk'),
  BasicPublish: id('BasicPublish'),
  BasicDeliver: id('BasicDeliver'),
  BasicAck: id('BasicAck'),
  BasicNack: id('BasicNack'),
} as const;

export const FRAME_METHOD = 1;
export const FRAME_HEADER = 2;
export const FRAME_BODY = 3;

/** One whole frame as it was on the wire, with its method id and fields when it is a method frame. */
export interface Frame {
  raw: Buffer;
  type: number;
  channel: number;
  method: number | undefined;
  fields: Record<string, unknown>;
  /** A content header's body size. */
  bodySize: number;
}

/**
 * Cuts a byte stream into frames. The client's stream starts with the 8-byte protocol header, handed on as it is
 * (as `raw` with type 0).
 */
export class FrameReader {
  #buffer: Buffer = Buffer.alloc(0);
  #header: boolean;

  constructor(startsWithProtocolHeader: boolean) {
    this.#header = startsWithProtocolHeader;
  }

  push(chunk: Buffer): Frame[] {
    this.#buffer = this.#buffer.length ? Buffer.concat([this.#buffer, chunk]) : chunk;
    const frames: Frame[] = [];
    if (this.#header) {
      if (this.#buffer.length < 8) return frames;
      frames.push({ raw: this.#buffer.subarray(0, 8), type: 0, channel: 0, method: undefined, fields: {}, bodySize: 0 });
      this.#buffer = this.#buffer.subarray(8);
      this.#header = false;
    }
    for (;;) {
      const parsed = frame.parseFrame(this.#buffer, 0);
      if (!parsed) break;
      const raw = this.#buffer.subarray(0, this.#buffer.length - parsed.rest.length);
      let method: number | undefined;
      let fields: Record<string, unknown> = {};
      let bodySize = 0;
      if (parsed.type === FRAME_METHOD) {
        method = parsed.payload.readUInt32BE(0);
        // Decode only what the proxy reads: a publish's or delivery's fields are not needed, and cost time.
        if (method !== Method.BasicPublish && method !== Method.BasicDeliver) fields = frame.decodeFrame(parsed).fields ?? {};
      } else if (parsed.type === FRAME_HEADER) {
        bodySize = Number(parsed.payload.readBigUInt64BE(4));
      }
      frames.push({ raw, type: parsed.type, channel: parsed.channel, method, fields, bodySize });
      this.#buffer = parsed.rest;
    }
    return frames;
  }
}

/** A method frame, encoded as amqplib does. */
export function methodFrame(method: number, channel: number, fields: Record<string, unknown>): Buffer {
  return defs.encodeMethod(method, channel, fields);
}

/** The consumer tag of a basic.deliver frame (its fields are not decoded): the first field, a short string. */
export function deliveryConsumerTag(raw: Buffer): string {
  const length = raw.readUInt8(11);
  return raw.subarray(12, 12 + length).toString('utf8');
}
