// A fuzz spec: a foreign client (raw amqplib) floods the bus with hostile messages; the logger reports each bad
// one as 'invalid', never requeues, never pollutes a prototype, and delivers every valid event among them.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import type amqplib from 'amqplib';
import { EventBusLogger, type EventData, type InvalidInfo } from '../../lib/index.js';
import { AMQP_URL, deleteExchange, queueInfo, rawConnection, uniqueName, until } from '../helpers.js';

type Case = { body: Buffer; options: amqplib.Options.Publish; routingKey: string; valid: boolean; what: string };

const MAX = 4096;

// Deterministic pseudo-random numbers, so a failure can be replayed.
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function hostileCases(count: number, random: () => number): Case[] {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
  const makers: Array<() => Omit<Case, 'routingKey'> & { routingKey?: string }> = [
    () => ({ what: 'invalid JSON', body: Buffer.from(pick(['{', '{"a":', 'nul', '{a:1}', "{'a':1}", '{"a":1}}', 'NaN'])), options: {}, valid: false }),
    () => ({ what: 'binary garbage', body: randomBytes(1 + Math.floor(random() * 200)), options: { contentType: 'application/octet-stream' }, valid: false }),
    () => ({ what: 'binary garbage without a content type', body: Buffer.concat([Buffer.from([0xff, 0xfe]), randomBytes(50)]), options: {}, valid: false }),
    () => ({ what: 'empty body', body: Buffer.alloc(0), options: { contentType: 'application/json' }, valid: false }),
    () => ({ what: 'invalid UTF-8', body: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]), options: {}, valid: false }),
    () => ({ what: 'JSON primitive', body: json(pick([1, 'text', true, null, 3.14])), options: { contentType: 'application/json' }, valid: false }),
    () => ({ what: 'JSON array', body: json([1, { a: 2 }]), options: {}, valid: false }),
    () => ({ what: 'too large', body: json({ blob: 'x'.repeat(MAX + 100) }), options: { contentType: 'application/json' }, valid: false }),
    () => ({ what: 'odd content type', body: json({ a: 1 }), options: { contentType: pick(['text/plain', 'application/xml', 'image/png', '\u0000bad']) }, valid: false }),
    () => ({ what: 'odd encoding', body: json({ a: 1 }), options: { contentEncoding: pick(['gzip', 'deflate', 'br', 'utf-16']) }, valid: false }),
    () => ({ what: '__proto__ key', body: Buffer.from('{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"fuzz":"proto"}'), options: {}, valid: true }),
    () => ({ what: 'huge headers', body: json({ fuzz: 'headers' }), options: { headers: { big: 'h'.repeat(60_000), pid: 'not a number', 'x-seq': 'NaN', host: { nested: true } } }, valid: true }),
    () => ({ what: 'valid event', body: json({ fuzz: 'valid', n: random() }), options: { contentType: 'application/json' }, valid: true }),
    () => ({ what: 'valid event, no content type', body: json({ fuzz: 'bare' }), options: {}, valid: true }),
    () => ({ what: 'routing key that is no level', body: json({ fuzz: 'unrouted' }), options: {}, valid: false, routingKey: pick(['debug', 'info.extra', '#', '', 'critical.x', 'INFO']) }),
  ];
  return Array.from({ length: count }, () => {
    const made = pick(makers)();
    return { ...made, routingKey: made.routingKey ?? pick(['info', 'critical']) };
  });
}

describe('hostile input from other clients on the bus', function () {
  this.timeout(60_000);
  let name: string;
  let logger: EventBusLogger;
  let raw: amqplib.ChannelModel;

  beforeEach(async () => {
    name = uniqueName('fuzz');
    logger = await EventBusLogger.create({ url: AMQP_URL, name, maxMessageBytes: MAX });
    raw = await rawConnection();
  });

  afterEach(async () => {
    await logger.stop();
    await raw.close();
    await deleteExchange(name);
  });

  it('survives 1,500 hostile messages: each bad one is invalid, each valid one is delivered, nothing loops', async () => {
    const cases = hostileCases(1500, generator(20261129));
    const routed = cases.filter((c) => c.routingKey === 'info' || c.routingKey === 'critical');
    const expectValid = routed.filter((c) => c.valid).length;
    const expectInvalid = routed.length - expectValid;
    expect(expectValid).to.be.greaterThan(100);
    expect(expectInvalid).to.be.greaterThan(800);

    const invalid: InvalidInfo[] = [];
    const delivered: EventData[] = [];
    logger.on('invalid', (info) => invalid.push(info));
    logger.on('info', (data) => void delivered.push(data));
    logger.on('critical', (data) => void delivered.push(data));
    // A foreign client's publishes do not wait for this logger's binds.
    await logger.listening();

    const channel = await raw.createConfirmChannel();
    for (const c of cases) channel.publish(name, c.routingKey, c.body, c.options);
    await channel.waitForConfirms();
    channel.publish(name, 'critical', Buffer.from('{"sentinel":true}'), { contentType: 'application/json' });
    await channel.waitForConfirms();

    await until(() => delivered.some((d) => d.sentinel === true), 'the sentinel after the hostile messages', 30_000);
    expect(delivered.length - 1, 'valid events delivered').to.equal(expectValid);
    expect(invalid.length, "'invalid' events").to.equal(expectInvalid);
    for (const info of invalid) {
      expect(info.reason).to.be.a('string').with.length.greaterThan(5);
      expect(Buffer.isBuffer(info.content)).to.equal(true);
    }
    expect(new Set(invalid.map((i) => i.reason.replace(/[\d"].*$/, ''))).size, 'distinct kinds of reason').to.be.at.least(7);
    // Never requeued: nothing left ready or unacknowledged.
    expect(await queueInfo(logger.queue as string)).to.include({ messages: 0, messages_unacknowledged: 0 });
    // No prototype was polluted, and no delivered object carries a __proto__ key.
    expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
    expect((Object.prototype as Record<string, unknown>).polluted).to.equal(undefined);
    for (const data of delivered) {
      expect(Object.keys(data)).to.not.include('__proto__');
      expect(Object.getPrototypeOf(Object.assign({}, data))).to.equal(Object.prototype);
    }
    expect(logger.stats().invalid).to.equal(expectInvalid);
    expect(logger.isReady).to.equal(true);
  });
});
