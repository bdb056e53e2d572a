import { expect } from 'chai';
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { encodeData } from '../../lib/event-data.js';
import { decodeMessage, newPublisherId, publishedAt, publishProperties, type IncomingMessage } from '../../lib/wire-format.js';

// amqplib's own encoder, as channel.publish uses it (its argument handling adds the empty header table).
const require = createRequire(import.meta.url);
const amqplibFile = (file: string): unknown => require(join(dirname(require.resolve('amqplib')), 'lib', file));
const { encodeProperties, BasicProperties } = amqplibFile('defs.js') as { encodeProperties: (...args: unknown[]) => unknown; BasicProperties: number };
const { publish: publishArgs } = amqplibFile('api_args.js') as { publish: (exchange: string, routingKey: string, options: object) => object };

const LEVELS = new Set(['info', 'critical']);

function message(body: string | Buffer, properties: IncomingMessage['properties'] = {}, routingKey = 'info'): IncomingMessage {
  return { content: Buffer.isBuffer(body) ? body : Buffer.from(body), fields: { routingKey }, properties };
}

describe('wire format', () => {
  it('encodes the data alone as the body, and the rest as four properties: no header table', () => {
    expect(encodeData({ info: true }).toString()).to.equal('{"info":true}');
    const properties = publishProperties('app', 'AbC-_9@web-1:4321', 2, 7, false);
    const { timestamp, ...rest } = properties;
    expect(rest).to.deep.include({ contentType: 'application/json', appId: 'app' });
    expect(rest.messageId).to.match(/^AbC-_9@web-1:4321\/\d{3}2\.7$/);
    expect(Math.abs(timestamp - Date.now() / 1000)).to.be.below(5);
    expect(Number.isInteger(timestamp)).to.equal(true);
    // The AMQP timestamp in seconds, for every client; the millisecond in front of the level tag (version 3).
    expect(publishProperties('app', 'AbC-_9@web-1:4321', 2, 7, false, 1_700_000_000_123)).to.deep.include({ timestamp: 1_700_000_000, messageId: 'AbC-_9@web-1:4321/1232.7' });
    expect(publishProperties('app', 'AbC-_9@web-1:4321', 0, 7, false, 1_700_000_000_007).messageId).to.equal('AbC-_9@web-1:4321/0070.7');
    expect(publishProperties('app', 'p', 0, 1, true).mandatory).to.equal(true);
  });

  it('makes publisher ids `<nonce>@<host>:<pid>`, a new nonce each time', () => {
    const id = newPublisherId();
    expect(id).to.match(new RegExp(`^[\\w-]{6}@${hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:${process.pid}$`));
    expect(newPublisherId()).to.not.equal(id);
  });

  // The broker handles a message whose content-header properties (flags and fields, as amqplib encodes them with
  // its always-present empty header table) fit in 64 bytes for markedly less CPU than one past it (an Erlang heap
  // binary against an off-heap one): pin the bytes of a typical event, and that it stays within them.
  it('puts a typical event\'s properties on the wire byte for byte, within 64 bytes', () => {
    const properties = publishProperties('worker', 'AbC-_9@vm:12345', 0, 1234, false, 1_700_000_000_123);
    const frame = encodeProperties(BasicProperties, 1, 13, publishArgs('bus', 'info', properties)) as Buffer;
    // frame: type 2, channel, payload size, then class 60, weight 0, body size 13, then the properties; frame end 206.
    const propertiesBin = frame.subarray(7 + 12, frame.length - 1);
    expect(propertiesBin.toString('hex')).to.equal(
      [
        'a0c8', // flags: contentType, headers, messageId, timestamp, appId
        '10', Buffer.from('application/json').toString('hex'),
        '00000000', // the empty header table amqplib always sends
        '19', Buffer.from('AbC-_9@vm:12345/1230.1234').toString('hex'),
        '000000006553f100', // timestamp 1700000000
        '06', Buffer.from('worker').toString('hex'),
      ].join(''),
    );
    expect(propertiesBin.length).to.be.at.most(64);
  });

  it('decodes its own format: publisher, host, pid and sequence from the messageId', () => {
    const decoded = decodeMessage(message('{}', { contentType: 'application/json', timestamp: 1_700_000_000, messageId: 'AbC-_9@web-1.example:4321/2.7', appId: 'app', headers: {} }), LEVELS, 1024);
    expect(decoded.ok).to.equal(true);
    expect((decoded as { meta: object }).meta).to.deep.include({
      messageId: 'AbC-_9@web-1.example:4321/2.7', appId: 'app', publisher: 'AbC-_9@web-1.example:4321', host: 'web-1.example', pid: 4321, seq: 7,
    });
  });

  it('reads back what it writes, up to 15-digit sequence numbers', () => {
    const publisher = newPublisherId();
    for (const seq of [1, 9, 10, 123_456, 999_999_999_999_999]) {
      const properties = publishProperties('app', publisher, 12, seq, false);
      const decoded = decodeMessage(message('{}', { ...properties, headers: {} }), LEVELS, 1024);
      expect((decoded as { meta: object }).meta, String(seq)).to.deep.include({ publisher, host: hostname(), pid: process.pid, seq });
    }
  });

  it('reads each event\'s own publisher when publishers interleave, even ids of one length or one prefix', () => {
    const ids = ['AAAAAA@h:1', 'BBBBBB@h:2', 'AAAAAA@h:12', 'AAAAAA@h:1', 'bad id', 'AAAAAA@h:1', 'AAAAAA@h:1x', 'BBBBBB@h:2'];
    ids.forEach((publisher, n) => {
      const messageId = `${publisher}/0.${n + 1}`;
      const { meta } = decodeMessage(message('{}', { contentType: 'application/json', messageId }), LEVELS, 1024) as unknown as { meta: Record<string, unknown> };
      const match = /^[\w-]{6}@(.*):(\d+)$/.exec(publisher);
      const expected = match ? { publisher, host: match[1], pid: Number(match[2]), seq: n + 1 } : { publisher: undefined, host: undefined, pid: undefined, seq: undefined };
      expect(meta, messageId).to.deep.include({ messageId, ...expected });
    });
  });

  it('decodes the previous format (headers host, pid, x-publisher, x-seq; a UUID messageId)', () => {
    const headers = { host: 'old-host', pid: 42, 'x-publisher': '0b0c9a5e-6f1e-4a8e-9d5e-3c2b1a0f9e8d', 'x-seq': 9 };
    const properties = { contentType: 'application/json', contentEncoding: 'utf-8', timestamp: 1_700_000_000, messageId: '5f1d7c1e-2a3b-4c5d-8e9f-0a1b2c3d4e5f', appId: 'old', headers };
    const decoded = decodeMessage(message('{"old":true}', properties), LEVELS, 1024);
    expect(decoded).to.deep.include({ ok: true, data: { old: true } });
    expect((decoded as { meta: object }).meta).to.deep.include({
      messageId: '5f1d7c1e-2a3b-4c5d-8e9f-0a1b2c3d4e5f', appId: 'old', host: 'old-host', pid: 42, publisher: '0b0c9a5e-6f1e-4a8e-9d5e-3c2b1a0f9e8d', seq: 9,
    });
  });

  it('reads another client\'s messageId as a messageId only, whatever its shape', () => {
    for (const messageId of ['5f1d7c1e-2a3b-4c5d-8e9f-0a1b2c3d4e5f', 'order-17', 'a@b:1/0.5', 'AbC-_9@h:x/0.5', 'AbC-_9@h:1/0.0', 'AbC-_9@h:1/.5', 'AbC-_9@h:1/0.5x', 'AbC-_9@h/0.5', 'AbC-_9@h:1/0.99999999999999999', 'AbC-_9@h:1/0.', 'AbC-_9@h:1/5', 'AbC-_9@h:1/1234567890123456.5', '/0.5', '0.5', '']) {
      const decoded = decodeMessage(message('{}', { messageId }), LEVELS, 1024);
      expect(decoded.ok, messageId).to.equal(true);
      expect((decoded as { meta: object }).meta, messageId).to.deep.include({ messageId, publisher: undefined, seq: undefined, host: undefined, pid: undefined });
    }
  });

  describe('time to the millisecond (version 3)', () => {
    const decodedAt = (properties: IncomingMessage['properties']): string => (decodeMessage(message('{}', properties), LEVELS, 1024) as unknown as { meta: { timestamp: Date } }).meta.timestamp.toISOString();

    it('reads the publish time to the millisecond from what it writes, the AMQP timestamp staying in seconds', () => {
      for (const now of [1_700_000_000_000, 1_700_000_000_007, 1_700_000_000_123, 1_700_000_000_999]) {
        const properties = publishProperties('app', newPublisherId(), 3, 41, false, now);
        expect(properties.timestamp).to.equal(Math.floor(now / 1000));
        expect(decodedAt({ ...properties, headers: {} }), String(now)).to.equal(new Date(now).toISOString());
        expect(publishedAt(properties)).to.equal(now);
        const { meta } = decodeMessage(message('{}', properties), LEVELS, 1024) as unknown as { meta: Record<string, unknown> };
        expect(meta).to.deep.include({ seq: 41, pid: process.pid, host: hostname() });
      }
    });

    it('decodes version 2 (no millisecond) to the second, as before', () => {
      const properties = { contentType: 'application/json', timestamp: 1_700_000_000, messageId: 'AbC-_9@web-1:4321/2.7' };
      expect(decodedAt(properties)).to.equal('2023-11-14T22:13:20.000Z');
      expect((decodeMessage(message('{}', properties), LEVELS, 1024) as unknown as { meta: object }).meta).to.deep.include({ publisher: 'AbC-_9@web-1:4321', seq: 7 });
      expect(publishedAt(properties)).to.equal(1_700_000_000_000);
      expect(decodedAt({ timestamp: 1_700_000_000, messageId: 'AbC-_9@web-1:4321/999.7' }), 'a 3-digit tag: version 2').to.equal('2023-11-14T22:13:20.000Z');
    });

    it('takes no millisecond from another client\'s messageId, and the second from its AMQP timestamp', () => {
      for (const messageId of ['order/1234.5', 'a@b:1/1234.5', 'AbC-_9@h:1/1234.', undefined]) {
        expect(decodedAt({ timestamp: 1_700_000_000, messageId }), String(messageId)).to.equal('2023-11-14T22:13:20.000Z');
        expect(publishedAt({ timestamp: 1_700_000_000, messageId }), String(messageId)).to.equal(1_700_000_000_000);
      }
      expect(publishedAt({ messageId: 'AbC-_9@h:1/1234.5' }), 'no timestamp').to.equal(undefined);
    });

    it('a version 2 reader still finds the publisher and sequence of a version 3 messageId', () => {
      // Version 2's reading, as the previous release does it: from the end, the sequence, a dot, the level tag (never
      // read), a slash, and the publisher `<nonce>@<host>:<pid>`.
      const readV2 = (id: string): { publisher: string; seq: number } | undefined => {
        const match = /^([\w-]{6}@.*:\d{1,15})\/(\d{1,15})\.(\d{1,15})$/.exec(id);
        return match ? { publisher: match[1] as string, seq: Number(match[3]) } : undefined;
      };
      const publisher = newPublisherId();
      for (const now of [1_700_000_000_000, 1_700_000_000_042]) {
        expect(readV2(publishProperties('app', publisher, 12, 99_999, false, now).messageId)).to.deep.equal({ publisher, seq: 99_999 });
      }
    });
  });

  it('decodes a foreign client\'s JSON with no content type', () => {
    const decoded = decodeMessage(message('{"from":"python"}'), LEVELS, 1024);
    expect(decoded).to.deep.include({ ok: true, level: 'info', data: { from: 'python' } });
  });

  const invalid: Array<[string, IncomingMessage, RegExp]> = [
    ['invalid JSON', message('{oops'), /^body is not valid JSON/],
    ['an empty body', message(''), /^empty body/],
    ['invalid UTF-8', message(Buffer.from([0x7b, 0xff, 0xfe, 0x7d])), /^body is not valid UTF-8/],
    ['a JSON array', message('[1,2]'), /^body is JSON array; expected a JSON object/],
    ['a JSON string', message('"x"'), /^body is JSON string/],
    ['JSON null', message('null'), /^body is JSON null/],
    ['a body over the limit', message(`{"a":"${'x'.repeat(2000)}"}`), /over maxMessageBytes \(1024\)/],
    ['a non-JSON content type', message('{}', { contentType: 'text/plain' }), /content type "text\/plain" is not JSON/],
    ['a compressed encoding', message('{}', { contentEncoding: 'gzip' }), /content encoding "gzip" is not supported/],
    ['an unknown routing key', message('{}', {}, 'debug'), /routing key "debug" is not a level/],
  ];
  for (const [what, input, reason] of invalid) {
    it(`reports ${what} as invalid, with a reason`, () => {
      const decoded = decodeMessage(input, LEVELS, 1024);
      expect(decoded.ok).to.equal(false);
      expect((decoded as { reason: string }).reason).to.match(reason);
    });
  }

  it('decodes a body that starts with a UTF-8 byte-order mark', () => {
    const decoded = decodeMessage(message(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"bom":true}')])), LEVELS, 1024);
    expect(decoded).to.deep.include({ ok: true, data: { bom: true } });
  });

  it('decodes a valid body that holds U+FFFD itself, and refuses one where an invalid byte sits beside it', () => {
    expect(decodeMessage(message('{"replacement":"\uFFFD"}'), LEVELS, 1024)).to.deep.include({ ok: true, data: { replacement: '\uFFFD' } });
    const invalid = decodeMessage(message(Buffer.concat([Buffer.from('{"a":"\uFFFD'), Buffer.from([0xc3]), Buffer.from('"}')])), LEVELS, 1024);
    expect(invalid).to.deep.equal({ ok: false, reason: 'body is not valid UTF-8' });
  });

  it('accepts JSON content types with a charset and +json suffixes', () => {
    for (const contentType of ['application/json; charset=utf-8', 'application/vnd.event+json', 'text/json']) {
      expect(decodeMessage(message('{}', { contentType }), LEVELS, 1024).ok, contentType).to.equal(true);
    }
  });

  it('never lets __proto__ reach a prototype, however it is spelled', () => {
    for (const body of ['{"__proto__":{"polluted":true},"ok":1}', '{"\\u005f_proto__":{"polluted":true},"ok":1}', '{"a":{"__proto__":{"polluted":true}},"ok":1}']) {
      const decoded = decodeMessage(message(body), LEVELS, 1024);
      expect(decoded.ok, body).to.equal(true);
      const data = (decoded as { data: Record<string, unknown> }).data;
      const copy = Object.assign({}, data, { ...data }, structuredClone(data));
      expect(Object.getPrototypeOf(copy)).to.equal(Object.prototype);
      expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
      expect((copy as Record<string, unknown>).polluted).to.equal(undefined);
      expect(Object.keys(data)).to.not.include('__proto__');
    }
  });

  it('ignores header values of the wrong type instead of trusting them', () => {
    const decoded = decodeMessage(message('{}', { headers: { pid: 'x', 'x-seq': -3, host: 42 } }), LEVELS, 1024);
    expect(decoded.ok).to.equal(true);
    expect((decoded as unknown as { meta: Record<string, unknown> }).meta).to.deep.include({ pid: undefined, seq: undefined, host: undefined });
  });
});

describe('encoding event data', () => {
  const json = (data: unknown): unknown => JSON.parse(encodeData(data).toString());

  class Point {
    constructor(readonly x: number, readonly y: number) {}
  }
  const refused: Array<[string, unknown, RegExp]> = [
    ['a Date (its toJSON returns a string)', new Date('2026-01-02T03:04:05.000Z'), /^Expected the event data to be a plain object like \{ info: true \}, got a Date `2026-01-02T03:04:05\.000Z`/],
    ['a Map', new Map([['a', 1]]), /got a Map `Map\(1\) \{ 'a' => 1 \}`/],
    ['a Set', new Set([1]), /got a Set/],
    ['a class instance', new Point(1, 2), /got a Point `Point \{ x: 1, y: 2 \}`/],
    ['an Error', new Error('boom'), /got an Error `Error: boom/],
    ['an array', [1, 2], /got an array `\[ 1, 2 \]`/],
    ['null', null, /got null$/],
    ['undefined', undefined, /got undefined$/],
    ['a string', 'text', /got a string `'text'`/],
    ['a number', 42, /got a number `42`/],
    ['a plain object whose toJSON returns a string', { toJSON: () => 'text' }, /^Expected the event data to be a plain object .*its toJSON\(\) returned a string/],
  ];
  for (const [what, data, message] of refused) {
    it(`refuses ${what} at the top level with a TypeError saying what was given`, () => {
      expect(() => encodeData(data)).to.throw(TypeError, message);
    });
  }

  it('accepts a plain object with a null prototype', () => {
    const data = Object.assign(Object.create(null) as object, { a: 1 });
    expect(json(data)).to.deep.equal({ a: 1 });
  });

  it('refuses a nested Map or Set, naming its path, instead of sending {}', () => {
    expect(() => encodeData({ user: { roles: new Set(['admin']) } })).to.throw(TypeError, /^data\.user\.roles is a Set: /);
    expect(() => encodeData({ items: [{ ok: 1 }, new Map()] })).to.throw(TypeError, /^data\.items\[1\] is a Map: /);
    expect(() => encodeData({ 'odd key': { m: new Map() } })).to.throw(TypeError, /^data\["odd key"\]\.m is a Map: /);
    // A Map inside a class instance or behind a toJSON is found too.
    expect(() => encodeData({ p: Object.assign(new Point(1, 2), { m: new Map() }) })).to.throw(TypeError, /^data\.p\.m is a Map/);
    expect(() => encodeData({ t: { toJSON: () => ({ s: new Set() }) } })).to.throw(TypeError, /^data\.t\.s is a Set/);
  });

  it('follows JSON.stringify for nested values: toJSON honoured, class instances by their fields', () => {
    const at = new Date('2026-01-02T03:04:05.000Z');
    const data = {
      at,
      nested: [{ at }],
      custom: { toJSON: (key: string) => `custom:${key}` },
      point: new Point(1, 2),
      buffer: Buffer.from('hi'),
      skipped: undefined,
      fn: () => 1,
      list: [undefined, NaN, Infinity],
      boxed: new Number(3),
      // JSON.stringify calls toJSON once: the toJSON of what it returned is not called.
      once: { toJSON: () => ({ toJSON: () => 'twice', v: 1 }) },
    };
    expect(encodeData(data).toString()).to.equal(JSON.stringify(data));
    expect(json(data)).to.deep.include({ at: '2026-01-02T03:04:05.000Z', custom: 'custom:custom', point: { x: 1, y: 2 } });
  });

  it('sends the same object twice in one event (a shared reference is not a cycle)', () => {
    const shared = { a: 1 };
    expect(json({ one: shared, two: shared, both: [shared, shared] })).to.deep.equal({ one: { a: 1 }, two: { a: 1 }, both: [{ a: 1 }, { a: 1 }] });
  });

  it('refuses a cycle or a BigInt in the data, naming the path', () => {
    const cyclic: Record<string, unknown> = { inner: {} };
    (cyclic.inner as Record<string, unknown>).back = cyclic;
    expect(() => encodeData(cyclic)).to.throw(TypeError, /^The event data cannot be serialised to JSON: data\.inner\.back is a circular reference/);
    expect(() => encodeData({ n: 1n })).to.throw(TypeError, /^The event data cannot be serialised to JSON: data\.n is a BigInt/);
    const getter = Object.defineProperty({}, 'broken', { enumerable: true, get: () => { throw new Error('getter broke'); } });
    expect(() => encodeData({ getter })).to.throw(TypeError, /^The event data cannot be serialised to JSON: getter broke/);
  });

  it('sends an Error as name, message, stack, its own fields and its cause', () => {
    const cause = new RangeError('too far');
    const error = Object.assign(new Error('boom', { cause }), { code: 'E_BOOM', status: 500 });
    const sent = json({ err: error, deep: [{ e: new TypeError('inner') }] }) as { err: Record<string, unknown>; deep: Array<{ e: Record<string, unknown> }> };
    expect(sent.err).to.deep.include({ name: 'Error', message: 'boom', stack: error.stack, code: 'E_BOOM', status: 500 });
    expect(sent.err.cause).to.deep.equal({ name: 'RangeError', message: 'too far', stack: cause.stack });
    expect(sent.deep[0]?.e).to.include({ name: 'TypeError', message: 'inner' });
  });

  it("masks a URL's password in an Error's message and stack, and in its cause's", () => {
    const cause = new Error('connect ECONNREFUSED amqp://app:s3cret@db:5672');
    const error = new Error('cannot reach postgres://app:s3cret@db/orders', { cause });
    const text = encodeData({ err: error }).toString();
    expect(text).not.to.include('s3cret');
    const sent = JSON.parse(text) as { err: { message: string; stack: string; cause: { message: string } } };
    expect(sent.err.message).to.equal('cannot reach postgres://app:***@db/orders');
    expect(sent.err.stack).to.match(/^Error: cannot reach postgres:\/\/app:\*\*\*@db\/orders\n {4}at /);
    expect(sent.err.cause.message).to.equal('connect ECONNREFUSED amqp://app:***@db:5672');
  });

  it('sends an Error subclass by its name, and a cause that is not an Error as it is', () => {
    class HttpError extends Error {
      override name = 'HttpError';
      constructor(message: string, readonly status: number) {
        super(message, { cause: { url: '/x' } });
      }
    }
    const sent = json({ err: new HttpError('not found', 404) }) as { err: Record<string, unknown> };
    expect(sent.err).to.deep.include({ name: 'HttpError', message: 'not found', status: 404, cause: { url: '/x' } });
  });

  it('sends an AggregateError with its errors', () => {
    const sent = json({ err: new AggregateError([new Error('one'), new TypeError('two')], 'both failed') }) as { err: Record<string, unknown> };
    expect(sent.err).to.include({ name: 'AggregateError', message: 'both failed' });
    expect((sent.err.errors as Array<Record<string, unknown>>).map((e) => [e.name, e.message])).to.deep.equal([['Error', 'one'], ['TypeError', 'two']]);
  });

  it('guards cycles through Errors: an Error that is its own cause, or holds itself, is sent once', () => {
    const error = new Error('loop') as Error & { self?: unknown; info?: unknown };
    error.cause = error;
    error.self = error;
    error.info = { back: error };
    const sent = json({ err: error }) as { err: Record<string, unknown> };
    expect(sent.err).to.deep.include({ message: 'loop', cause: '[Circular]', self: '[Circular]', info: { back: '[Circular]' } });
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    a.cause = b;
    const chain = json({ err: a }) as { err: { cause: { cause: unknown } } };
    expect(chain.err.cause.cause).to.equal('[Circular]');
  });
});
