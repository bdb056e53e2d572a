import { expect } from 'chai';
import sinon from 'sinon';
import { Acks } from '../../lib/consume/acks.js';
import { Delivery, DeliveryGate } from '../../lib/consume/delivery.js';
import { MAX_TRACKED_PUBLISHERS } from '../../lib/consume/sequence.js';
import type { Report } from '../../lib/events.js';
import type { AmqpChannel, AmqpMessage } from '../../lib/rascal.js';
import { Stats } from '../../lib/stats.js';
import type { EventData, EventMeta } from '../../lib/wire-format.js';

type Level = 'info' | 'critical';

// Lets the microtask that sends the acks run.
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A promise the spec settles by hand, as a slow asynchronous listener's. */
function deferred(): { promise: Promise<void>; resolve: () => void; reject: (error: Error) => void } {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A consumer channel's message as amqplib hands it over (see FakeBus.deliver). */
function message(deliveryTag: number, routingKey: string, body: string, properties: AmqpMessage['properties'] = {}): AmqpMessage {
  return {
    content: Buffer.from(body),
    fields: { routingKey, redelivered: false, deliveryTag, exchange: 'x' },
    properties: { contentType: 'application/json', ...properties },
  };
}

/** An event of `publisher` with sequence number `seq`, as another logger publishes it. */
function event(deliveryTag: number, publisher: string, seq: number, level: Level = 'info', data: EventData = { n: seq }): AmqpMessage {
  return message(deliveryTag, level, JSON.stringify(data), { headers: { host: 'h', pid: 1, 'x-publisher': publisher, 'x-seq': seq } });
}

function pipeline(handle: (level: Level, data: EventData, meta: EventMeta<Level>) => void | Promise<unknown> = () => undefined) {
  const stats = new Stats();
  const report = sinon.spy();
  const handled = sinon.spy(handle);
  const delivery = new Delivery<Level>({ levels: new Set(['info', 'critical']), maxMessageBytes: 1024, stats, report: report as Report, handle: handled });
  const channel = { ack: sinon.stub() };
  const acks = new Acks(channel as unknown as AmqpChannel);
  const onCancel = sinon.spy();
  const consume = delivery.consumer(acks, onCancel);
  // The acks sent, each as [deliveryTag, allUpTo].
  const sent = (): Array<[number, boolean]> => channel.ack.getCalls().map((call) => [(call.args[0] as AmqpMessage).fields.deliveryTag, call.args[1] === true]);
  return { delivery, stats, report, handled, consume, sent, onCancel, channel };
}

describe('Delivery', () => {
  afterEach(() => sinon.restore());

  it('hands an event to its listeners with its level, data and meta, and acks it', async () => {
    const { consume, handled, stats, sent } = pipeline();
    consume(event(1, 'A', 1, 'critical', { disk: 'full' }));
    expect(handled.callCount).to.equal(1);
    const [level, data, meta] = handled.firstCall.args;
    expect(level).to.equal('critical');
    expect(data).to.deep.equal({ disk: 'full' });
    expect(meta).to.deep.include({ level: 'critical', publisher: 'A', seq: 1 });
    expect(stats.received).to.deep.equal({ critical: 1 });
    await flush();
    expect(sent()).to.deep.equal([[1, true]]);
  });

  describe('dedup', () => {
    it('drops a duplicate (same publisher, level and seq), counts it in stats.duplicates, and acks it', async () => {
      const { consume, handled, stats, report, sent } = pipeline();
      consume(event(1, 'A', 1));
      consume(event(2, 'A', 2));
      consume(event(3, 'A', 2));
      expect(handled.getCalls().map((call) => call.args[2].seq)).to.deep.equal([1, 2]);
      expect(stats.duplicates).to.equal(1);
      expect(stats.received).to.deep.equal({ info: 2 });
      expect(report.called, 'a duplicate is not reported').to.equal(false);
      await flush();
      expect(sent()).to.deep.equal([[3, true]]);
    });

    it('keeps publishers and levels apart', () => {
      const { consume, handled, stats } = pipeline();
      consume(event(1, 'A', 1));
      consume(event(2, 'B', 1));
      consume(event(3, 'A', 1, 'critical'));
      expect(handled.callCount).to.equal(3);
      expect(stats.duplicates).to.equal(0);
    });

    it('delivers every event that carries no publisher or no sequence number', () => {
      const { consume, handled, stats } = pipeline();
      consume(message(1, 'info', '{"a":1}'));
      consume(message(2, 'info', '{"a":1}'));
      consume(message(3, 'info', '{"a":1}', { headers: { 'x-publisher': 'A' } }));
      consume(message(4, 'info', '{"a":1}', { headers: { 'x-publisher': 'A' } }));
      expect(handled.callCount).to.equal(4);
      expect(stats.duplicates).to.equal(0);
    });

    it(`forgets the publisher heard from least recently once it tracks ${MAX_TRACKED_PUBLISHERS} (LRU, not first seen)`, () => {
      const { delivery, handled, stats } = pipeline();
      let tag = 0;
      // The busy publisher is the first one seen, then speaks again after every other one.
      for (let i = 0; i < MAX_TRACKED_PUBLISHERS; i++) delivery.deliver(event(++tag, `P${i}`, 1));
      delivery.deliver(event(++tag, 'P0', 2));
      // One publisher too many: the least recently heard (P1) is forgotten, not the first seen (P0).
      delivery.deliver(event(++tag, 'one-shot', 1));
      const before = handled.callCount;
      delivery.deliver(event(++tag, 'P0', 2));
      expect(handled.callCount, "a repeat of P0's last event is still a duplicate").to.equal(before);
      expect(stats.duplicates).to.equal(1);
      delivery.deliver(event(++tag, 'P1', 1));
      expect(handled.callCount, "P1's old event is taken as new").to.equal(before + 1);
    });
  });

  describe('gap', () => {
    it("reports 'gap' with the publisher, level, expected and received numbers and how many were missed; counts stats.missed", () => {
      const { consume, handled, stats, report } = pipeline();
      consume(event(1, 'A', 1, 'critical'));
      consume(event(2, 'A', 5, 'critical'));
      expect(report.callCount).to.equal(1);
      expect(report.firstCall.args).to.deep.equal(['gap', { publisher: 'A', level: 'critical', expected: 2, received: 5, missed: 3 }]);
      expect(stats.missed).to.equal(3);
      expect(handled.callCount, 'the event after the gap is delivered').to.equal(2);
      consume(event(3, 'A', 8, 'critical'));
      expect(report.secondCall.args[1]).to.deep.include({ expected: 6, received: 8, missed: 2 });
      expect(stats.missed, 'missed adds up over gaps').to.equal(5);
    });
  });

  describe('invalid messages', () => {
    const cases: Array<[string, AmqpMessage, RegExp]> = [
      ['a routing key that is not a level', message(1, 'debug', '{"a":1}', { messageId: 'm-1', appId: 'app' }), /routing key "debug" is not a level/],
      ['a body that is not JSON', message(1, 'info', 'not json', { messageId: 'm-1', appId: 'app' }), /not valid JSON/],
      ['a body that is a JSON array', message(1, 'info', '[1]', { messageId: 'm-1', appId: 'app' }), /JSON array; expected a JSON object/],
      ['a body over maxMessageBytes', message(1, 'info', JSON.stringify({ big: 'x'.repeat(2000) }), { messageId: 'm-1', appId: 'app' }), /over maxMessageBytes \(1024\)/],
    ];
    for (const [what, bad, reason] of cases) {
      it(`reports ${what} as 'invalid' with its content, routing key and ids, counts it, and acks it`, async () => {
        const { consume, handled, stats, report, sent } = pipeline();
        consume(bad);
        expect(handled.called).to.equal(false);
        expect(stats.invalid).to.equal(1);
        expect(report.callCount).to.equal(1);
        const [name, info] = report.firstCall.args;
        expect(name).to.equal('invalid');
        expect(info.reason).to.match(reason);
        expect(info).to.deep.include({ content: bad.content, routingKey: bad.fields.routingKey, messageId: 'm-1', appId: 'app' });
        await flush();
        expect(sent()).to.deep.equal([[1, true]]);
      });
    }

    it('leaves messageId and appId undefined when they are not strings', () => {
      const { consume, report } = pipeline();
      consume(message(1, 'debug', '{}', { messageId: 7, appId: { x: 1 } }));
      expect(report.firstCall.args[1]).to.deep.include({ messageId: undefined, appId: undefined });
    });
  });

  describe('ack order', () => {
    it('acks an event whose listener returns a promise only once it settles; the ones handled meanwhile one by one; then allUpTo', async () => {
      const slow = deferred();
      const { consume, sent } = pipeline((_level, data) => (data.slow ? slow.promise : undefined));
      consume(message(1, 'info', '{"slow":true}'));
      consume(message(2, 'info', '{}'));
      consume(message(3, 'info', '{}'));
      await flush();
      expect(sent(), 'tag 1 is still being handled: 2 and 3 are acked one by one').to.deep.equal([
        [2, false],
        [3, false],
      ]);
      slow.resolve();
      await flush();
      expect(sent().slice(2), 'tag 1 is handled').to.deep.equal([[1, true]]);
      consume(message(4, 'info', '{}'));
      consume(message(5, 'info', '{}'));
      await flush();
      expect(sent().slice(3), 'nothing is being handled: one allUpTo ack covers the turn').to.deep.equal([[5, true]]);
    });

    it('acks an event whose listener promise rejects, or whose listener throws (never requeued)', async () => {
      const failing = deferred();
      const { consume, sent } = pipeline((_level, data) => {
        if (data.throws) throw new Error('listener bug');
        return data.rejects ? failing.promise : undefined;
      });
      consume(message(1, 'info', '{"rejects":true}'));
      consume(message(2, 'info', '{"throws":true}'));
      await flush();
      expect(sent()).to.deep.equal([[2, false]]);
      failing.reject(new Error('listener failed'));
      await flush();
      expect(sent().slice(1)).to.deep.equal([[1, true]]);
    });
  });

  it("calls onCancel when the broker cancels the consumer (a null message), and acks nothing", async () => {
    const { consume, onCancel, handled, sent } = pipeline();
    consume(null);
    expect(onCancel.callCount).to.equal(1);
    expect(handled.called).to.equal(false);
    await flush();
    expect(sent()).to.deep.equal([]);
  });

  describe('settled(timeout)', () => {
    it('resolves at once when no listener is running', async () => {
      const { delivery } = pipeline();
      await delivery.settled(60_000);
    });

    it('waits for every running listener to finish', async () => {
      const first = deferred();
      const second = deferred();
      const promises = [first.promise, second.promise];
      const { delivery, consume } = pipeline(() => promises.shift());
      consume(message(1, 'info', '{}'));
      consume(message(2, 'info', '{}'));
      let done = false;
      const settling = delivery.settled(60_000).then(() => {
        done = true;
      });
      await flush();
      expect(done, 'both listeners are running').to.equal(false);
      first.resolve();
      await flush();
      expect(done, 'the second listener is still running').to.equal(false);
      second.reject(new Error('a rejection also counts as finished'));
      await settling;
      expect(done).to.equal(true);
    });

    it('gives up waiting after the timeout when a listener never finishes', async () => {
      const { delivery, consume } = pipeline(() => new Promise(() => undefined));
      consume(message(1, 'info', '{}'));
      await delivery.settled(10);
    });
  });

  describe('DeliveryGate (a catch-up listener reading ahead further than it handles at once)', () => {
    function gated(limit: number) {
      const slow = new Map<number, () => void>();
      const order: number[] = [];
      const { delivery, stats } = pipeline((_level, data) => {
        const n = data.n as number;
        order.push(n);
        if (n % 2 === 1) return undefined;
        const { promise, resolve } = deferred();
        slow.set(n, resolve);
        return promise;
      });
      const gate = new DeliveryGate(delivery as unknown as Delivery<string>, limit);
      const channel = (): { acks: Acks; ack: sinon.SinonStub } => {
        const ack = sinon.stub();
        return { ack, acks: new Acks({ ack } as unknown as AmqpChannel) };
      };
      return { gate, slow, order, stats, channel, delivery };
    }

    it('hands out no more than `limit` events at once when listeners are asynchronous; the rest wait, in order, and each is acked', async () => {
      const { gate, slow, order, channel } = gated(2);
      const { acks, ack } = channel();
      const consume = gate.consumer(acks, () => undefined);
      for (let n = 2; n <= 12; n += 2) consume(event(n, 'A', n));
      expect(order).to.deep.equal([2, 4]);
      slow.get(4)?.();
      await flush();
      expect(order).to.deep.equal([2, 4, 6]);
      slow.get(2)?.();
      await flush();
      expect(order).to.deep.equal([2, 4, 6, 8]);
      for (const n of [6, 8, 10, 12]) {
        slow.get(n)?.();
        await flush();
      }
      expect(order).to.deep.equal([2, 4, 6, 8, 10, 12]);
      await new Promise((resolve) => setTimeout(resolve, 30));
      const acked = new Set(ack.getCalls().map((call) => (call.args[0] as AmqpMessage).fields.deliveryTag));
      expect(Math.max(...acked)).to.equal(12);
    });

    it("keeps the stream's order across channels: what waits goes before what a reopened channel brings", async () => {
      const { gate, slow, order, channel } = gated(1);
      const first = gate.consumer(channel().acks, () => undefined);
      first(event(1, 'A', 2));
      first(event(2, 'A', 4));
      // The channel is lost; the new one reads on after the last event received.
      const second = gate.consumer(channel().acks, () => undefined);
      second(event(1, 'A', 5));
      expect(order).to.deep.equal([2]);
      slow.get(2)?.();
      await flush();
      expect(order).to.deep.equal([2, 4]);
      slow.get(4)?.();
      await flush();
      expect(order).to.deep.equal([2, 4, 5]);
    });

    it('delivers synchronous events as they arrive, and nothing more once closed (what waits stays in the stream)', async () => {
      const { gate, slow, order, channel } = gated(1);
      const consume = gate.consumer(channel().acks, () => undefined);
      consume(event(1, 'A', 1));
      consume(event(2, 'A', 2));
      consume(event(3, 'A', 3));
      expect(order).to.deep.equal([1, 2]);
      gate.close();
      slow.get(2)?.();
      await flush();
      consume(event(4, 'A', 5));
      expect(order).to.deep.equal([1, 2]);
    });
  });
});
