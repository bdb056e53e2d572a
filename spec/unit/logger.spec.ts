import { expect } from 'chai';
import sinon from 'sinon';
import { ACK_DELAY } from '../../lib/consume/acks.js';
import { EventBusLogger, EventBusLoggerError, type EventBusLoggerOptions, type EventData, type EventMeta, type GapInfo, type InvalidInfo } from '../../lib/index.js';
import { FakeBus, opener } from './fake-bus.js';
import { QUEUE_CAP, rejection, until } from '../helpers.js';

const LEVELS = ['info', 'critical'] as const;

// `listen: true`: these specs deliver to a logger before it has listeners (the binding that follows listeners is
// specified in 'binds what is listened to' below).
async function started(options: EventBusLoggerOptions<'info' | 'critical'> = {}): Promise<{ logger: EventBusLogger; bus: FakeBus }> {
  const bus = new FakeBus();
  const logger = new EventBusLogger<'info' | 'critical'>({ name: 'unit_bus', listen: true, ...options }, opener(bus));
  await logger.start();
  return { logger, bus };
}

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('EventBusLogger (stubbed broker)', () => {
  afterEach(() => sinon.restore());

  describe('start', () => {
    it('declares a server-named queue with the config options and binds it once per level', async () => {
      const { logger, bus } = await started();
      const consumer = bus.channels[0]!;
      expect(consumer.assertQueue.firstCall.args.slice(0, 2)).to.deep.equal(['', { exclusive: true, durable: false, arguments: QUEUE_CAP }]);
      expect(consumer.bindQueue.getCalls().map((call) => call.args.slice(0, 3))).to.deep.equal([
        ['amq.gen-fake-1', 'unit_bus', 'info'],
        ['amq.gen-fake-1', 'unit_bus', 'critical'],
      ]);
      expect(consumer.consume.firstCall.args[2]).to.deep.equal({ noAck: false });
      expect(logger.queue).to.equal('amq.gen-fake-1');
    });
  });

  describe('dispatch by routing key', () => {
    for (const level of LEVELS) {
      it(`routes "${level}" to '${level}' listeners only and acks the message`, async () => {
        // prefetch 2: batches of one event (see 'ack batches' below for the default).
        const { logger, bus } = await started({ prefetch: 2 });
        const calls: Array<[string, EventData, EventMeta]> = [];
        for (const l of LEVELS) logger.on(l, (data: EventData, meta: EventMeta) => calls.push([l, data, meta]));
        const message = bus.deliver(level, JSON.stringify({ [level]: true }), {
          contentType: 'application/json',
          timestamp: 1_700_000_000,
          messageId: 'm-1',
          appId: 'app',
          headers: { host: 'h', pid: 7, 'x-publisher': 'p', 'x-seq': 1 },
        });
        expect(calls).to.have.length(1);
        const [seenLevel, data, meta] = calls[0]!;
        expect(seenLevel).to.equal(level);
        expect(data).to.deep.equal({ [level]: true });
        expect(meta).to.deep.include({ level, routingKey: level, messageId: 'm-1', appId: 'app', host: 'h', pid: 7, publisher: 'p', seq: 1 });
        expect(meta.timestamp.toISOString()).to.equal('2023-11-14T22:13:20.000Z');
        expect(bus.acks(), 'acked in a batch, after this turn').to.deep.equal([]);
        await flush();
        expect(bus.acks()).to.deep.equal([[message.fields.deliveryTag, true]]);
      });
    }

    it('acks every message of one turn with a single ack covering all of them, bad ones included', async () => {
      const { bus } = await started({ prefetch: 2 });
      bus.deliver('info', '{}');
      bus.deliver('critical', 'not json');
      const last = bus.deliver('info', '{}');
      await flush();
      expect(last.fields.deliveryTag).to.equal(3);
      expect(bus.acks()).to.deep.equal([[3, true]]);
    });

    it('acks an event whose listener returned a promise once it settles, and the ones handled meanwhile one by one', async () => {
      const { logger, bus } = await started({ prefetch: 2 });
      const gates = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
      logger.on('info', (data) => {
        if (typeof data.wait !== 'number') return;
        return new Promise<void>((resolve, reject) => gates.set(data.wait as number, { resolve, reject }));
      });
      bus.deliver('info', '{}'); // 1: handled at once
      bus.deliver('info', '{"wait":2}'); // 2: being handled
      bus.deliver('info', 'not json'); // 3: invalid: dropped at once
      bus.deliver('info', '{"wait":4}'); // 4: being handled
      bus.deliver('info', '{}'); // 5: handled at once
      await flush();
      // 1 is covered by an allUpTo ack; 3 and 5 are above the unfinished 2, so one by one.
      expect(bus.acks()).to.deep.equal([[1, true], [3, false], [5, false]]);
      gates.get(4)!.reject(new Error('listener failed')); // settled, even by a rejection: acked, never requeued
      await flush();
      expect(bus.acks().slice(3)).to.deep.equal([[4, false]]);
      gates.get(2)!.resolve();
      await flush();
      expect(bus.acks().slice(4)).to.deep.equal([[2, true]]);
      expect(logger.stats().listenerErrors).to.equal(1);
    });

    describe('ack batches', () => {
      it(`with the default prefetch (100), acks once 50 events are handled, with one allUpTo ack`, async () => {
        const { bus } = await started();
        for (let n = 1; n <= 49; n++) bus.deliver('info', '{}');
        await flush();
        expect(bus.acks(), '49 handled: not yet').to.deep.equal([]);
        bus.deliver('info', '{}');
        await flush();
        expect(bus.acks()).to.deep.equal([[50, true]]);
      });

      it(`acks fewer than a batch ${ACK_DELAY} ms after the first of them was handled`, async () => {
        const clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
        try {
          const { bus } = await started({ prefetch: 10 });
          bus.deliver('info', '{}');
          await clock.tickAsync(ACK_DELAY / 2);
          bus.deliver('info', '{}');
          await clock.tickAsync(ACK_DELAY / 2 - 1);
          expect(bus.acks()).to.deep.equal([]);
          await clock.tickAsync(1);
          expect(bus.acks()).to.deep.equal([[2, true]]);
          bus.deliver('info', '{}');
          await clock.tickAsync(ACK_DELAY);
          expect(bus.acks().slice(1), 'the next one waits again').to.deep.equal([[3, true]]);
        } finally {
          clock.restore();
        }
      });

      it('with prefetch 1, acks each event at the end of its turn', async () => {
        const { bus } = await started({ prefetch: 1 });
        bus.deliver('info', '{}');
        await flush();
        expect(bus.acks()).to.deep.equal([[1, true]]);
      });
    });

    it('reports a routing key that is no level it listens to as invalid', async () => {
      const { logger, bus } = await started({ levels: ['critical'] });
      const invalid: InvalidInfo[] = [];
      logger.on('invalid', (info) => invalid.push(info));
      bus.deliver('info', '{}');
      expect(invalid[0]?.reason).to.equal('routing key "info" is not a level this logger listens to');
    });

    it('drops a duplicate (same publisher, level, sequence), reports a gap, and lets a late one of the gap through once', async () => {
      const { logger, bus } = await started();
      const seqs: number[] = [];
      const gaps: GapInfo[] = [];
      logger.on('info', (_data, meta) => seqs.push(meta.seq!));
      logger.on('gap', (gap) => gaps.push(gap));
      for (const seq of [1, 2, 2, 5, 3, 6, 3]) bus.deliver('info', '{}', { headers: { 'x-publisher': 'p1', 'x-seq': seq } });
      bus.deliver('critical', '{}', { headers: { 'x-publisher': 'p1', 'x-seq': 1 } });
      expect(seqs).to.deep.equal([1, 2, 5, 3, 6]);
      expect(gaps).to.deep.equal([{ publisher: 'p1', level: 'info', expected: 3, received: 5, missed: 2 }]);
      expect(logger.stats()).to.include({ duplicates: 2, missed: 2 });
    });

    it('drops duplicates, reports gaps and lets a late one through in the messageId format too, a publisher\'s levels apart', async () => {
      const { logger, bus } = await started();
      const seen: Array<[string, number, string | undefined, number | undefined]> = [];
      const gaps: GapInfo[] = [];
      logger.subscribe(({ level, meta }) => void seen.push([level, meta.seq!, meta.host, meta.pid]));
      logger.on('gap', (gap) => gaps.push(gap));
      const id = (tag: number, seq: number): string => `AbC-_9@web-1:77/${tag}.${seq}`;
      for (const seq of [1, 2, 2, 5, 3, 6, 3]) bus.deliver('info', '{}', { messageId: id(0, seq) });
      bus.deliver('critical', '{}', { messageId: id(1, 1) });
      expect(seen).to.deep.equal([['info', 1, 'web-1', 77], ['info', 2, 'web-1', 77], ['info', 5, 'web-1', 77], ['info', 3, 'web-1', 77], ['info', 6, 'web-1', 77], ['critical', 1, 'web-1', 77]]);
      expect(gaps).to.deep.equal([{ publisher: 'AbC-_9@web-1:77', level: 'info', expected: 3, received: 5, missed: 2 }]);
      expect(logger.stats()).to.include({ duplicates: 2, missed: 2 });
    });

    it('numbers its own events per level, with a messageId unique across levels', async () => {
      const { logger, bus } = await started();
      void logger.info({});
      void logger.critical({});
      void logger.info({});
      // Without the millisecond of the publish (`/1230.1` -> `/0.1`), which lib/wire-format.ts's specs check.
      const ids = bus.confirm.publish.getCalls().map((call) => (call.args[3] as { messageId: string }).messageId.replace(/\/\d{3}(\d+\.\d+)$/, '/$1'));
      const publisher = ids[0]!.slice(0, ids[0]!.lastIndexOf('/'));
      expect(ids).to.deep.equal([`${publisher}/0.1`, `${publisher}/1.1`, `${publisher}/0.2`]);
    });
  });

  describe('publish', () => {
    it('publishes JSON with the level as routing key and resolves on the broker confirm', async () => {
      const { logger, bus } = await started({ appId: 'unit' });
      const done = logger.info({ info: true });
      const [exchange, routingKey, body, properties, confirm] = bus.confirm.publish.firstCall.args;
      expect([exchange, routingKey, body.toString()]).to.deep.equal(['unit_bus', 'info', '{"info":true}']);
      expect(properties).to.deep.include({ contentType: 'application/json', appId: 'unit' });
      expect(properties).to.not.have.property('headers');
      expect(properties.messageId).to.match(new RegExp(`^[\\w-]{6}@.+:${process.pid}/\\d{3}0\\.1$`));
      let settled = false;
      void done.then(() => (settled = true));
      await flush();
      expect(settled, 'not before the confirm').to.equal(false);
      (confirm as (error: Error | null) => void)(null);
      await done;
      expect(logger.stats()).to.include({ published: 1, confirmed: 1 });
    });

    it('rejects with NACKED when the broker nacks every attempt until publishTimeout', async () => {
      const { logger, bus } = await started({ publishTimeout: 200 });
      bus.confirm.publish.callsFake((_exchange, _key, _body, _options, confirm) => (confirm(new Error('message nacked')), true));
      const done = logger.critical({});
      const error = await rejection(done);
      expect(error).to.be.instanceOf(EventBusLoggerError);
      expect(error.code).to.equal('NACKED');
    });

    it('rejects with PUBLISH_TIMEOUT when no confirm comes within publishTimeout', async () => {
      const { logger } = await started({ publishTimeout: 30 });
      const error = await rejection(logger.info({}));
      expect(error.code).to.equal('PUBLISH_TIMEOUT');
      expect(error.message).to.match(/within publishTimeout \(30 ms\)/);
    });

    it('buffers while disconnected, sends in order after the reconnect, and rejects beyond the buffer cap', async () => {
      const { logger, bus } = await started({ bufferMaxEvents: 3 });
      const events: string[] = [];
      logger.on('disconnected', ({ reason }) => events.push(`disconnected: ${reason}`));
      logger.on('reconnected', ({ reason }) => events.push(`reconnected after: ${reason}`));
      bus.goDown('socket closed');
      const buffered = [1, 2, 3].map((n) => logger.info({ n }));
      const overflow = await rejection(logger.info({ n: 4 }));
      expect(overflow.code).to.equal('BUFFER_FULL');
      expect(logger.stats()).to.include({ buffered: 3, dropped: 1 });
      const firstConfirm = bus.confirm;
      expect(firstConfirm.publish.callCount).to.equal(0);
      bus.comeUp();
      await flush();
      await flush();
      const sent = bus.confirm;
      expect(sent).to.not.equal(firstConfirm);
      expect(sent.publish.getCalls().map((call) => JSON.parse(call.args[2].toString()).n)).to.deep.equal([1, 2, 3]);
      for (const call of sent.publish.getCalls()) (call.args[4] as (error: null) => void)(null);
      await Promise.all(buffered);
      expect(events).to.deep.equal(['disconnected: socket closed', 'reconnected after: socket closed']);
      expect(logger.stats().reconnects).to.equal(1);
    });

    it('holds publishes in the bounded buffer while the broker blocks publishing, and sends them in order once unblocked', async () => {
      const { logger, bus } = await started({ bufferMaxEvents: 2 });
      const events: string[] = [];
      logger.on('blocked', ({ reason }) => events.push(`blocked: ${reason}`));
      logger.on('unblocked', ({ duration }) => events.push(`unblocked after ${typeof duration} ms`));
      const inFlight = logger.info({ n: 1 });
      bus.block('low on memory');
      const held = [2, 3].map((n) => logger.info({ n }));
      const overflow = await rejection(logger.info({ n: 4 }));
      expect(overflow.code).to.equal('BUFFER_FULL');
      expect(overflow.message).to.match(/^Event not sent: the broker is blocking publishers \(low on memory\) and the outage buffer is full \(2 events/);
      expect(bus.confirm.publish.callCount, 'only the event sent before the block').to.equal(1);
      expect(logger.stats()).to.include({ buffered: 2, dropped: 1, blocks: 1 });
      bus.unblock();
      expect(bus.confirmChannels, 'the same channel').to.have.length(1);
      expect(bus.confirm.publish.getCalls().map((call) => JSON.parse(call.args[2].toString()).n)).to.deep.equal([1, 2, 3]);
      for (const call of bus.confirm.publish.getCalls()) (call.args[4] as (error: null) => void)(null);
      await Promise.all([inFlight, ...held]);
      expect(logger.stats()).to.include({ buffered: 0, confirmed: 3 });
      expect(events).to.deep.equal(['blocked: low on memory', 'unblocked after number ms']);
    });

    it('times out held publishes after bufferMaxWait with a message that names the block', async () => {
      const { logger, bus } = await started({ bufferMaxWait: 30 });
      bus.block('low on disk');
      const error = await rejection(logger.info({}));
      expect(error.code).to.equal('BUFFER_TIMEOUT');
      expect(error.message).to.equal('Event not sent: it waited bufferMaxWait (30 ms) in the buffer while the broker kept blocking publishers (low on disk); it never reached the bus');
      expect(bus.confirm.publish.callCount).to.equal(0);
    });

    it('keeps holding across a lost channel while the connection stays blocked, and ends the hold with a lost connection', async () => {
      const { logger, bus } = await started();
      bus.block();
      // A channel-level loss (the connection, and its block, stay): the new channel must not be written to.
      bus.confirm.emit('close');
      await until(() => bus.confirmChannels.length === 2 && logger.queue === 'amq.gen-fake-2', 'the channels to be reopened');
      const held = logger.info({ n: 1 });
      await flush();
      expect(bus.confirm.publish.callCount).to.equal(0);
      // The connection goes: its block goes with it, and the next connection gets what waited.
      bus.goDown();
      bus.comeUp();
      await flush();
      await flush();
      expect(bus.confirmChannels).to.have.length(3);
      expect(bus.confirm.publish.callCount).to.equal(1);
      (bus.confirm.publish.firstCall.args[4] as (error: null) => void)(null);
      await held;
    });

    it('sends again what the lost channel had not confirmed', async () => {
      const { logger, bus } = await started();
      const pending = logger.info({ n: 1 });
      bus.goDown();
      bus.comeUp();
      await flush();
      await flush();
      expect(bus.confirmChannels).to.have.length(2);
      const resent = bus.confirm.publish.firstCall.args;
      expect(JSON.parse(resent[2].toString())).to.deep.equal({ n: 1 });
      (resent[4] as (error: null) => void)(null);
      await pending;
      expect(logger.stats().republished).to.equal(1);
    });
  });

  describe('stop', () => {
    it('closes the bus once, and rejects publishes still unconfirmed after stopTimeout', async () => {
      const { logger, bus } = await started({ stopTimeout: 20 });
      const unconfirmed = logger.info({});
      await Promise.all([logger.stop(), logger.stop()]);
      expect(bus.closed).to.equal(true);
      expect((await rejection(unconfirmed)).code).to.equal('STOPPED');
    });
  });
});
