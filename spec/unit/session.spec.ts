import { expect } from 'chai';
import sinon from 'sinon';
import { BusSession, type SetupContext } from '../../lib/bus/session.js';
import type { Report } from '../../lib/events.js';
import { Stats } from '../../lib/stats.js';
import { until } from '../helpers.js';
import { FakeBus, type StubChannel } from './fake-bus.js';

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
// Lets a few turns of promises and immediates run (setup steps take a turn), without moving a faked clock.
async function turns(): Promise<void> {
  for (let i = 0; i < 10; i++) await flush();
}

function opened() {
  const bus = new FakeBus();
  const publisher = { attach: sinon.spy(), detach: sinon.spy(), hold: sinon.spy(), release: sinon.spy() };
  const stats = new Stats();
  const report = sinon.spy();
  const onReopened = sinon.spy();
  const session = new BusSession({ bus, publisher, stats, report: report as Report, onReopened });
  // What each setup step saw, in the order the steps ran: [step, consumer channel, confirm channel].
  const runs: Array<[string, StubChannel, StubChannel]> = [];
  const record = (step: string, context: SetupContext): void => {
    runs.push([step, context.channels.consumer as StubChannel, context.channels.confirm as StubChannel]);
  };
  // The first step takes a turn before it is done: were the steps run side by side, the second would finish first.
  session.addSetup(async (context) => {
    await flush();
    record('exchange', context);
  });
  session.addSetup(async (context) => record('queue', context));
  /** The payloads of one reported event, in order. */
  const reported = (event: string): unknown[] => report.getCalls().filter((call) => call.args[0] === event).map((call) => call.args[1]);
  return { bus, publisher, stats, report, reported, onReopened, session, runs };
}

describe('BusSession', () => {
  afterEach(() => sinon.restore());

  it('open() opens a consumer and a confirm channel, runs the setup steps in the order added, then attaches the publisher', async () => {
    const { bus, session, runs, publisher, report } = opened();
    await session.open();
    expect(bus.channels).to.have.length(1);
    expect(bus.confirmChannels).to.have.length(1);
    expect(runs).to.deep.equal([
      ['exchange', bus.channels[0], bus.confirmChannels[0]],
      ['queue', bus.channels[0], bus.confirmChannels[0]],
    ]);
    expect(publisher.attach.calledOnceWithExactly(bus.confirmChannels[0])).to.equal(true);
    expect(session.isUp).to.equal(true);
    expect(session.channels?.consumer).to.equal(bus.channels[0]);
    expect(session.channels?.confirm).to.equal(bus.confirmChannels[0]);
    expect(report.called).to.equal(false);
  });

  it('open() rejects with the error of a failing step and closes the channels it opened', async () => {
    const { bus, session, publisher } = opened();
    session.addSetup(async () => {
      throw new Error('access refused');
    });
    let error: unknown;
    await session.open().catch((e: unknown) => (error = e));
    expect(error).to.be.an('error').with.property('message', 'access refused');
    expect(bus.channels[0]!.close.calledOnce).to.equal(true);
    expect(bus.confirmChannels[0]!.close.calledOnce).to.equal(true);
    expect(publisher.attach.called).to.equal(false);
  });

  describe('a reconnect', () => {
    it("re-runs the steps in the same order on the new channels, reports 'disconnected' and 'reconnected' once each, then calls onReopened", async () => {
      const { bus, session, runs, publisher, stats, reported, report, onReopened } = opened();
      await session.open();
      bus.goDown('connection lost: ECONNRESET');
      expect(session.isUp).to.equal(false);
      expect(session.channels).to.equal(undefined);
      expect(publisher.detach.calledOnce).to.equal(true);
      expect(bus.channels[0]!.close.called, 'the old channels are closed').to.equal(true);
      expect(reported('disconnected')).to.deep.equal([{ reason: 'connection lost: ECONNRESET', attempt: 0, downtime: 0 }]);
      expect(stats.lastError).to.equal('connection lost: ECONNRESET');
      bus.goDown('again');
      expect(reported('disconnected'), 'one outage, one report').to.have.length(1);

      bus.comeUp();
      await until(() => onReopened.called, 'onReopened');
      expect(bus.channels).to.have.length(2);
      expect(runs).to.deep.equal([
        ['exchange', bus.channels[0], bus.confirmChannels[0]],
        ['queue', bus.channels[0], bus.confirmChannels[0]],
        ['exchange', bus.channels[1], bus.confirmChannels[1]],
        ['queue', bus.channels[1], bus.confirmChannels[1]],
      ]);
      expect(publisher.attach.lastCall.args[0]).to.equal(bus.confirmChannels[1]);
      expect(reported('disconnected')).to.have.length(1);
      const reconnected = reported('reconnected') as Array<Record<string, unknown>>;
      expect(reconnected).to.have.length(1);
      expect(reconnected[0]).to.deep.include({ reason: 'connection lost: ECONNRESET', attempt: 1, url: bus.url });
      expect(reconnected[0]!.downtime).to.be.a('number');
      expect(onReopened.calledOnce).to.equal(true);
      expect(report.withArgs('reconnected').calledBefore(onReopened), "onReopened comes after 'reconnected'").to.equal(true);
      expect(stats.reconnects).to.equal(1);
      expect(session.isUp).to.equal(true);
    });
  });

  describe('a lost channel while the connection lives', () => {
    it("reopens both channels and re-runs the steps, with the channel's error as the reason", async () => {
      const { bus, session, runs, publisher, reported, onReopened } = opened();
      await session.open();
      const consumer = bus.channels[0]!;
      consumer.emit('error', new Error('PRECONDITION_FAILED - unknown delivery tag 9'));
      consumer.emit('close');
      await until(() => onReopened.called, 'onReopened');
      expect(reported('disconnected')).to.deep.equal([{ reason: 'channel closed: PRECONDITION_FAILED - unknown delivery tag 9', attempt: 0, downtime: 0 }]);
      expect(bus.confirmChannels[0]!.close.called, 'the confirm channel that stayed open is closed').to.equal(true);
      expect(publisher.detach.calledOnce).to.equal(true);
      expect(runs.map(([step]) => step)).to.deep.equal(['exchange', 'queue', 'exchange', 'queue']);
      expect(runs.slice(2).every(([, channel, confirm]) => channel === bus.channels[1] && confirm === bus.confirmChannels[1])).to.equal(true);
      expect(reported('reconnected')).to.have.length(1);
      expect(session.isUp).to.equal(true);
    });

    it("reopens when a step reports its channels lost (e.g. the broker cancelled the consumer)", async () => {
      const { bus, session, reported, onReopened } = opened();
      let context: SetupContext | undefined;
      session.addSetup(async (c) => {
        context ??= c;
      });
      await session.open();
      context!.lost('consumer cancelled by the broker');
      expect(context!.isCurrent(), 'still current until the session acts').to.equal(true);
      await until(() => onReopened.called, 'onReopened');
      expect(context!.isCurrent(), 'the first channels are no longer current').to.equal(false);
      expect(reported('disconnected')).to.deep.equal([{ reason: 'consumer cancelled by the broker', attempt: 0, downtime: 0 }]);
      expect(bus.channels).to.have.length(2);
    });

    it('leaves it to the connection when the connection went too (no reopen until up)', async () => {
      const clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      const { bus, session, reported } = opened();
      await session.open();
      bus.isUp = false;
      bus.channels[0]!.emit('close');
      await clock.tickAsync(10_000);
      expect(bus.channels, 'no channel opened while the connection is down').to.have.length(1);
      expect(reported('disconnected')).to.have.length(0);
    });
  });

  it('retries a failing setup step with a growing delay until it succeeds', async () => {
    const clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { bus, session, stats, reported, onReopened } = opened();
    let failures = 0;
    const tries: number[] = [];
    session.addSetup(async () => {
      if (!bus.isUp || failures === 0) return;
      tries.push(clock.now);
      if (tries.length <= failures) throw new Error(`queue declare failed #${tries.length}`);
    });
    await session.open();
    failures = 3;
    bus.goDown();
    bus.comeUp();
    await turns();
    expect(tries, 'the first try, at once').to.have.length(1);
    expect(stats.lastError).to.equal('queue declare failed #1');
    expect(bus.channels[1]!.close.called, "a failed try's channels are closed").to.equal(true);
    // Run each timer the session sets, letting the steps take their turns in between.
    for (let timer = 0; timer < 20 && !onReopened.called; timer++) {
      await clock.nextAsync();
      await turns();
    }
    expect(tries, 'three failures, then the fourth try works').to.have.length(4);
    const delays = tries.slice(1).map((at, i) => at - tries[i]!);
    expect(delays[0]).to.be.above(0);
    expect(delays[1], 'backoff grows').to.be.above(delays[0]!);
    expect(delays[2], 'backoff grows').to.be.above(delays[1]!);
    expect(onReopened.calledOnce).to.equal(true);
    expect(reported('disconnected')).to.have.length(1);
    const reconnected = reported('reconnected') as Array<Record<string, unknown>>;
    expect(reconnected).to.have.length(1);
    expect(reconnected[0]).to.deep.include({ attempt: 4 });
    expect(session.isUp).to.equal(true);
  });

  // C11: a reopen whose set-up fails with a broker error that also closes the channel (a 404 or 406) is one
  // failure: one step of the backoff, not two.
  it('steps the backoff once per failed reopen when the failure also closes the channel', async () => {
    const clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { bus, session, onReopened } = opened();
    let failures = 0;
    const tries: number[] = [];
    session.addSetup(async ({ channels }) => {
      if (failures === 0) return;
      tries.push(clock.now);
      if (tries.length > failures) return;
      // As amqplib does on a 406: the operation fails, and the broker closes the channel.
      (channels.consumer as StubChannel).emit('close');
      throw new Error(`PRECONDITION_FAILED #${tries.length}`);
    });
    await session.open();
    failures = 3;
    bus.channels[0]!.emit('close');
    for (let timer = 0; timer < 30 && !onReopened.called; timer++) {
      await clock.nextAsync();
      await turns();
    }
    expect(tries, 'three failures, then the fourth try works').to.have.length(4);
    const delays = tries.slice(1).map((at, i) => at - tries[i]!);
    // The backoff starts at 100 ms and doubles: one step per failure.
    expect(delays).to.deep.equal([200, 400, 800]);
  });

  it("leaves no timer behind when closed just after a channel was lost (the channel-lost pause is cleared)", async () => {
    const clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { bus, session } = opened();
    await session.open();
    bus.channels[0]!.emit('close');
    expect(clock.countTimers(), 'the pause before acting on the lost channel').to.equal(1);
    await session.close();
    expect(clock.countTimers()).to.equal(0);
  });

  describe('open() in the background', () => {
    const refusal = (): Error => Object.assign(new Error('Operation failed: QueueDeclare; 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - access to queue \'q\' refused"'), { code: 403 });

    function background() {
      const parts = opened();
      const onRefused = sinon.spy();
      const session = new BusSession({ bus: parts.bus, publisher: parts.publisher, stats: parts.stats, report: parts.report as Report, onReopened: parts.onReopened, onRefused });
      return { ...parts, session, onRefused };
    }

    it("begins an outage when the bus is not connected yet, and opens once it comes: 'ready' follows, no 'reconnected'", async () => {
      const { bus, session, reported, onReopened, stats } = background();
      bus.isUp = false;
      bus.lastError = 'Cannot connect to the event bus at amqp://guest:***@fake:5672: connect ECONNREFUSED';
      expect(await session.open(true)).to.equal('outage');
      await flush();
      expect(reported('disconnected')).to.deep.equal([{ reason: bus.lastError, attempt: 0, downtime: 0 }]);
      bus.comeUp();
      await turns();
      expect(onReopened.calledOnce).to.equal(true);
      expect(reported('reconnected')).to.deep.equal([]);
      expect(stats.reconnects).to.equal(0);
      expect(session.isUp).to.equal(true);
    });

    it("says 'disconnected' for a connection lost during the first open only once open() has settled, a turn later", async () => {
      const { bus, session, reported } = background();
      const order: string[] = [];
      session.addSetup(async () => {
        bus.goDown('connection reset');
        // The set-up step meets the lost connection a while after the bus said 'down' (setImmediate turns pass).
        await new Promise((resolve) => setTimeout(resolve, 5));
        throw new Error('Channel ended, no reply will be forthcoming');
      });
      const opening = session.open(true).then((result) => order.push(`open: ${result}`));
      const watching = setInterval(() => reported('disconnected').length > 0 && !order.includes('disconnected') && order.push('disconnected'), 0);
      try {
        await opening;
        await flush();
        await until(() => order.includes('disconnected'), "'disconnected'");
      } finally {
        clearInterval(watching);
      }
      expect(order).to.deep.equal(['open: outage', 'disconnected']);
      await session.close();
    });

    it('reports a refusal met before the first open once, and not a refusal met on a later reconnect', async () => {
      const { bus, session, onRefused, stats } = background();
      let refuse = true;
      session.addSetup(async () => {
        if (refuse) throw refusal();
      });
      bus.isUp = false;
      await session.open(true, () => false);
      bus.comeUp();
      await turns();
      expect(onRefused.calledOnce, 'reported once').to.equal(true);
      expect((onRefused.firstCall.args[0] as Error & { code: string }).code).to.equal('ACCESS');
      refuse = false;
      bus.goDown();
      bus.comeUp();
      await turns();
      expect(session.isUp).to.equal(true);
      refuse = true;
      bus.goDown();
      bus.comeUp();
      await turns();
      expect(onRefused.calledOnce, 'a reconnect says it in lastError only').to.equal(true);
      expect(stats.lastError).to.contain('Access refused by the broker: declaring the queue');
      await session.close(); // it would go on retrying the refused setup on real timers, and keep mocha running
    });
  });

  describe('blocked and unblocked', () => {
    it("holds the publisher and reports 'blocked'; releases it and reports 'unblocked'", async () => {
      const { bus, session, publisher, stats, reported } = opened();
      await session.open();
      bus.block('low on memory');
      expect(publisher.hold.calledOnceWithExactly('low on memory')).to.equal(true);
      expect(reported('blocked')).to.deep.equal([{ reason: 'low on memory' }]);
      expect(stats.blocks).to.equal(1);
      expect(stats.lastError).to.equal('the broker blocks publishing: low on memory');
      expect(publisher.release.called).to.equal(false);
      bus.unblock();
      expect(publisher.release.calledOnce).to.equal(true);
      const unblocked = reported('unblocked') as Array<{ duration: number }>;
      expect(unblocked).to.have.length(1);
      expect(unblocked[0]!.duration).to.be.a('number');
    });

    it('releases the publisher when the blocked connection is lost (the next one starts unblocked)', async () => {
      const { bus, session, publisher } = opened();
      await session.open();
      bus.block();
      bus.goDown();
      expect(publisher.release.calledOnce).to.equal(true);
    });

    it('keeps the hold when only a channel was lost and the connection is still blocked', async () => {
      const { bus, session, publisher, onReopened } = opened();
      await session.open();
      bus.block();
      bus.channels[0]!.emit('close');
      await until(() => onReopened.called, 'onReopened');
      expect(publisher.release.called).to.equal(false);
    });
  });

  describe('close()', () => {
    it('closes the bus and stops reopening', async () => {
      const { bus, session, reported, runs } = opened();
      await session.open();
      await session.close();
      expect(bus.closed).to.equal(true);
      expect(session.isUp).to.equal(false);
      expect(session.channels).to.equal(undefined);
      bus.goDown();
      bus.comeUp();
      await flush();
      await flush();
      expect(bus.channels).to.have.length(1);
      expect(runs).to.have.length(2);
      expect(reported('disconnected')).to.have.length(0);
      expect(reported('reconnected')).to.have.length(0);
    });

    it('cancels a reopen that was scheduled after a lost channel', async () => {
      const clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      const { bus, session, onReopened } = opened();
      await session.open();
      bus.channels[0]!.emit('close');
      await session.close();
      await clock.tickAsync(60_000);
      expect(bus.channels).to.have.length(1);
      expect(onReopened.called).to.equal(false);
    });

    it('cancels a retry with backoff that was waiting', async () => {
      const clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      const { bus, session } = opened();
      let fail = false;
      session.addSetup(async () => {
        if (fail) throw new Error('queue declare failed');
      });
      await session.open();
      fail = true;
      bus.goDown();
      bus.comeUp();
      await turns();
      const opened_ = bus.channels.length;
      await session.close();
      await clock.tickAsync(60_000);
      expect(bus.channels).to.have.length(opened_);
    });
  });
});
