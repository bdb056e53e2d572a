import { expect } from 'chai';
import { decodeMessage, encodeData, publishProperties, type IncomingMessage } from '../../lib/wire-format.js';

const LEVELS = new Set(['info', 'critical']);

function message(body: string | Buffer, properties: IncomingMessage['properties'] = {}, routingKey = 'info'): IncomingMessage {
  return { content: Buffer.isBuffer(body) ? body : Buffer.from(body), fields: { routingKey }, properties };
}

describe('wire format', () => {
  it('encodes the data alone as the body, and the rest as properties and headers', () => {
    expect(encodeData({ info: true }).toString()).to.equal('{"info":true}');
    const properties = publishProperties('app', 'pub-1', 7, false);
    expect(properties).to.deep.include({ contentType: 'application/json', contentEncoding: 'utf-8', appId: 'app' });
    expect(properties.headers).to.deep.include({ pid: process.pid, 'x-publisher': 'pub-1', 'x-seq': 7 });
    expect(Math.abs(properties.timestamp - Date.now() / 1000)).to.be.below(5);
    expect(properties).to.not.have.property('mandatory');
    expect(publishProperties('app', 'p', 1, true).mandatory).to.equal(true);
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
