// start() and stop() on a stubbed broker: the background connect (an unreachable broker is an outage, not an
// error), failFast, permanent failures, a stop during the start (C5), a connection lost during the first set-up
// (C6), and lifecycle listeners that throw (C9).
import { expect } from 'chai';
import sinon from 'sinon';
import type { OpenBus } from '../../lib/bus/connection.js';
import { EventBusLogger, EventBusLoggerError, type DisconnectedInfo, type EventBusLoggerOptions } from '../../lib/index.js';
import { rejection, until } from '../helpers.js';
import { FakeBus } from './fake-bus.js';

type Logger = EventBusLogger<'info' | 'critical'>;

const refused = (): Error => new Error('Failed to connect to: amqp://guest:***@fake:5672. Original message was: connect ECONNREFUSED 127.0.0.1:5672');

/** An OpenBus whose tries fail (connection refused) until `up()`; then it hands out `bus`. Counts the tries. */
function brokerDown(bus = new FakeBus()) {
  let reachable = false;
  const open = sinon.spy(async () => {
    if (!reachable) throw refused();
    return bus;
  });
  return { bus, open: open as unknown as OpenBus & sinon.SinonSpy, up: () => (reachable = true), tries: () => open.callCount };
}

function logger(open: OpenBus, options: EventBusLoggerOptions<'info' | 'critical'> = {}): Logger {
  return new EventBusLogger<'info' | 'critical'>({ name: 'unit_bus', ...options }, open);
}

/** Whether `promise` settles within `ms` (a deadline far beyond the bound it checks, never a timing assertion). */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const settled = await Promise.race([promise.then(() => true, () => true), late]);
  clearTimeout(timer);
  return settled;
}

/** The events of `emitter` named, in the order emitted. */
function record(target: Logger, events: string[]): string[] {
  const seen: string[] = [];
  for (const event of events) target.on(event as 'ready', () => void seen.push(event));
  return seen;
}

describe('start() and stop() (stubbed broker)', () => {
  const started: Logger[] = [];
  afterEach(async () => {
    sinon.restore();
    await Promise.all(started.splice(0).map((each) => each.stop()));
  });
  const track = (each: Logger): Logger => (started.push(each), each);

  describe('an unreachable broker, by default: an outage, not an error', () => {
    it("resolves, says 'disconnected' with the reason, and keeps trying in the background until the broker comes: then 'ready'", async () => {
      const broker = brokerDown();
      const bus = track(logger(broker.open));
      const seen = record(bus, ['disconnected', 'ready', 'reconnected']);
      bus.on('info', () => undefined); // something listens: the logger has a queue once connected
      const disconnected = new Promise<DisconnectedInfo>((resolve) => bus.once('disconnected', resolve));
      await bus.start();
      expect(bus.isReady).to.equal(false);
      expect((await disconnected).reason).to.equal('Cannot connect to the event bus at amqp://guest:guest@localhost:5672: connect ECONNREFUSED 127.0.0.1:5672'.replace('guest:guest', 'guest:***'));
      expect(bus.stats()).to.include({ connected: false });
      expect(bus.stats().lastError).to.contain('ECONNREFUSED');
      await until(() => broker.tries() >= 2, 'a second try');
      broker.up();
      await until(() => bus.isReady, 'the logger to be ready');
      expect(seen).to.deep.equal(['disconnected', 'ready']);
      expect(bus.stats()).to.include({ connected: true, reconnects: 0 });
      expect(broker.bus.channels[0]!.consume.called, 'consuming').to.equal(true);
    });

    it("lets a listener added just after `await create()` hear of the outage", async () => {
      const broker = brokerDown();
      class Stubbed extends EventBusLogger<'info' | 'critical'> {
        constructor(options?: EventBusLoggerOptions<'info' | 'critical'>) {
          super(options, broker.open);
        }
      }
      const bus = track(await Stubbed.create({ name: 'unit_bus' }));
      const info = await new Promise<DisconnectedInfo>((resolve) => bus.once('disconnected', resolve));
      expect(info.reason).to.contain('ECONNREFUSED');
    });

    it('keeps publishes made meanwhile in the outage buffer, and sends them once connected', async () => {
      const broker = brokerDown();
      const bus = track(logger(broker.open));
      await bus.start();
      const published = bus.info({ n: 1 });
      expect(bus.stats()).to.include({ buffered: 1 });
      broker.up();
      await until(() => broker.bus.confirmChannels.length > 0 && broker.bus.confirm.publish.called, 'the buffered event to go out');
      const [, routingKey, body, , confirm] = broker.bus.confirm.publish.firstCall.args as unknown as [string, string, Buffer, unknown, (error: Error | null) => void];
      expect(routingKey).to.equal('info');
      expect(JSON.parse(body.toString())).to.deep.equal({ n: 1 });
      confirm(null);
      await published;
    });

    it('delivers to a listener attached meanwhile once connected', async () => {
      const broker = brokerDown();
      const bus = track(logger(broker.open));
      await bus.start();
      const got: unknown[] = [];
      bus.on('critical', (data) => void got.push(data));
      broker.up();
      await until(() => bus.isReady, 'the logger to be ready');
      broker.bus.deliver('critical', '{"late":true}');
      expect(got).to.deep.equal([{ late: true }]);
    });

    it('still rejects at once with ACCESS when the broker refuses the login, and tries no more', async () => {
      const open = sinon.spy(async () => {
        throw new EventBusLoggerError('ACCESS', 'Cannot open the event bus at amqp://u:***@fake: the broker refused the login');
      });
      const error = await rejection<EventBusLoggerError>(logger(open as unknown as OpenBus).start());
      expect(error.code).to.equal('ACCESS');
      expect(open.callCount).to.equal(1);
    });

    it('reports a refusal met later in the background as an error (or a warning), and goes on trying', async () => {
      let tries = 0;
      const open = (async () => {
        tries++;
        if (tries === 1) throw refused();
        throw new EventBusLoggerError('ACCESS', 'Cannot open the event bus at amqp://u:***@fake: the broker refused the login');
      }) as OpenBus;
      const bus = track(logger(open));
      const errors: Error[] = [];
      bus.on('error', (error) => void errors.push(error));
      await bus.start();
      await until(() => errors.length === 1 && tries >= 3, 'the refusal reported and a third try');
      expect((errors[0] as EventBusLoggerError).code).to.equal('ACCESS');
      expect(bus.stats().lastError).to.contain('refused the login');
    });

    it('resolves no later than startTimeout when the first try does not answer, and goes on in the background', async () => {
      const bus = new FakeBus();
      let answer: ((value: FakeBus) => void) | undefined;
      const open = (() => new Promise<FakeBus>((resolve) => (answer = resolve))) as OpenBus;
      const slow = track(logger(open, { startTimeout: 300 }));
      expect(await settlesWithin(slow.start(), 3000)).to.equal(true);
      expect(slow.isReady).to.equal(false);
      answer!(bus);
      await until(() => slow.isReady, 'the logger to be ready once the try answered');
    });
  });

  describe('failFast', () => {
    it('rejects with CONNECT when the first try fails, naming the URL with its password masked, and tries no more', async () => {
      const broker = brokerDown();
      const bus = logger(broker.open, { failFast: true });
      const seen = record(bus, ['disconnected', 'ready']);
      const error = await rejection<EventBusLoggerError>(bus.start());
      expect(error.code).to.equal('CONNECT');
      expect(error.message).to.match(/^Cannot connect to the event bus at amqp:\/\/guest:\*\*\*@localhost:5672 \(1 attempt in \d+ ms\): connect ECONNREFUSED/);
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(broker.tries()).to.equal(1);
      expect(seen).to.deep.equal([]);
    });

    it('with waitForBroker, tries until startTimeout, then rejects with CONNECT', async () => {
      const broker = brokerDown();
      const error = await rejection<EventBusLoggerError>(logger(broker.open, { failFast: true, waitForBroker: true, startTimeout: 600 }).start());
      expect(error.code).to.equal('CONNECT');
      expect(broker.tries()).to.be.greaterThan(1);
      expect(error.message).to.contain(`(${broker.tries()} attempts in`);
    });
  });

  describe('a connection lost during the first set-up (C6)', () => {
    class DroppingBus extends FakeBus {
      drops = 1;
      override async confirmChannel() {
        const channel = await super.confirmChannel();
        if (this.drops-- > 0) this.goDown('connection reset');
        return channel;
      }
    }

    it("fail-fast: rejects with CONNECT saying so, never a bare Error('superseded'), and emits no 'disconnected'", async () => {
      const bus = logger(async () => new DroppingBus(), { failFast: true });
      const seen = record(bus, ['disconnected', 'ready', 'reconnected']);
      const error = await rejection<EventBusLoggerError>(bus.start());
      expect(error).to.be.instanceOf(EventBusLoggerError);
      expect(error.code).to.equal('CONNECT');
      expect(error.message).to.contain('the connection was lost while setting up this logger (connection reset)');
      await new Promise((resolve) => setImmediate(resolve));
      expect(seen).to.deep.equal([]);
    });

    it("by default: resolves, 'disconnected' begins the outage, and 'ready' (no 'reconnected') ends it", async () => {
      const dropping = new DroppingBus();
      const bus = track(logger(async () => dropping));
      const seen = record(bus, ['disconnected', 'ready', 'reconnected']);
      await bus.start();
      await until(() => seen.length === 1, "'disconnected'");
      dropping.comeUp();
      await until(() => bus.isReady, 'the logger to be ready');
      expect(seen).to.deep.equal(['disconnected', 'ready']);
      expect(bus.stats().reconnects).to.equal(0);
    });
  });

  describe('stop() during start() (C5)', () => {
    it('resolves within its bound while the first try hangs, and start() rejects with STOPPED', async () => {
      const open = (() => new Promise<FakeBus>(() => undefined)) as OpenBus;
      const bus = logger(open, { stopTimeout: 200, startTimeout: 60_000 });
      const starting = bus.start();
      await new Promise((resolve) => setTimeout(resolve, 50));
      // The bound is stopTimeout plus about a second; the deadline is ten times that.
      expect(await settlesWithin(bus.stop(), 12_000), 'stop() resolved').to.equal(true);
      const error = await rejection<EventBusLoggerError>(starting);
      expect(error.code).to.equal('STOPPED');
    });

    it('closes a bus the hanging try opens after the stop', async () => {
      let answer: ((value: FakeBus) => void) | undefined;
      const open = (() => new Promise<FakeBus>((resolve) => (answer = resolve))) as OpenBus;
      const bus = logger(open, { failFast: true, stopTimeout: 200, startTimeout: 60_000 });
      const starting = bus.start();
      starting.catch(() => undefined);
      await until(() => answer !== undefined, 'the first try to connect');
      await bus.stop();
      const late = new FakeBus();
      answer!(late);
      await until(() => late.closed, 'the late bus to be closed');
    });

    it('resolves while connecting in the background and ends the tries', async () => {
      const broker = brokerDown();
      const bus = logger(broker.open, { stopTimeout: 200 });
      await bus.start();
      const published = bus.info({ n: 1 });
      expect(await settlesWithin(bus.stop(), 12_000), 'stop() resolved').to.equal(true);
      expect((await rejection<EventBusLoggerError>(published)).code).to.equal('STOPPED');
      const tries = broker.tries();
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(broker.tries(), 'no try after stop()').to.equal(tries);
    });
  });

  describe('a lifecycle listener that throws (C9)', () => {
    for (const event of ['ready', 'gap', 'disconnected'] as const) {
      it(`counts a throwing '${event}' listener, reports it as 'error', and still calls the next listener`, async () => {
        const bus = new FakeBus();
        const each = track(logger(async () => bus));
        const errors: EventBusLoggerError[] = [];
        each.on('error', (error) => void errors.push(error as EventBusLoggerError));
        each.on(event, () => {
          throw new Error(`${event} listener broke`);
        });
        let next = 0;
        each.on(event, () => void next++);
        each.on('info', () => undefined); // something listens: the logger consumes
        await each.start();
        if (event === 'gap') for (const seq of [1, 5]) bus.deliver('info', '{}', { headers: { 'x-publisher': 'p1', 'x-seq': seq } });
        if (event === 'disconnected') bus.goDown('link lost');
        await until(() => errors.length === 1, `the '${event}' listener's failure reported`);
        expect(errors[0]!.code).to.equal('LISTENER');
        expect(errors[0]!.message).to.equal(`A listener of "${event}" threw: ${event} listener broke`);
        expect(each.stats().listenerErrors).to.equal(1);
        expect(next).to.equal(1);
      });
    }

    it("counts a rejecting 'ready' listener, and warns once when nobody listens for 'error'", async () => {
      const warn = sinon.stub(process, 'emitWarning');
      const each = track(logger(async () => new FakeBus()));
      each.on('ready', async () => {
        throw new Error('async ready broke');
      });
      await each.start();
      await until(() => each.stats().listenerErrors === 1, 'the failure counted');
      expect(warn.calledOnce).to.equal(true);
      expect(String(warn.firstCall.args[0])).to.contain('A listener of "ready" failed: async ready broke');
    });

    it("counts an 'error' listener that throws, without emitting 'error' again", async () => {
      const warn = sinon.stub(process, 'emitWarning');
      const bus = new FakeBus();
      const each = track(logger(async () => bus));
      let calls = 0;
      each.on('error', () => {
        calls++;
        throw new Error('error listener broke');
      });
      each.on('ready', () => {
        throw new Error('ready broke');
      });
      await each.start();
      expect(calls).to.equal(1);
      expect(each.stats().listenerErrors).to.equal(2);
      expect(warn.calledOnce).to.equal(true);
    });
  });
});
