// Binding follows listeners, on a stubbed broker: what the live queue asks of the channel as listeners come and go,
// and publishes that wait for a bind in flight. spec/integration/listening.spec.ts checks the same on RabbitMQ.
import { expect } from 'chai';
import sinon from 'sinon';
import { EventBusLogger, type EventBusLoggerOptions, type EventData } from '../../lib/index.js';
import { FakeBus, opener, type StubChannel } from './fake-bus.js';
import { until } from '../helpers.js';

type Levels = 'info' | 'critical';

async function started(options: EventBusLoggerOptions<Levels> = {}): Promise<{ logger: EventBusLogger<Levels>; bus: FakeBus }> {
  const bus = new FakeBus();
  const logger = new EventBusLogger<Levels>({ name: 'unit_bus', ...options }, opener(bus));
  await logger.start();
  return { logger, bus };
}

// What the consumer channel was asked, in order: 'assert', 'bind info', 'unbind info', 'consume', 'cancel', 'delete'.
function calls(consumer: StubChannel): string[] {
  const all = [
    ...consumer.assertQueue.getCalls().map((call) => ({ call, what: 'assert' })),
    ...consumer.bindQueue.getCalls().map((call) => ({ call, what: `bind ${call.args[2] as string}` })),
    ...consumer.unbindQueue.getCalls().map((call) => ({ call, what: `unbind ${call.args[2] as string}` })),
    ...consumer.consume.getCalls().map((call) => ({ call, what: 'consume' })),
    ...consumer.cancel.getCalls().map((call) => ({ call, what: 'cancel' })),
    ...consumer.deleteQueue.getCalls().map((call) => ({ call, what: 'delete' })),
  ];
  return all.sort((a, b) => (a.call as unknown as { callId: number }).callId - (b.call as unknown as { callId: number }).callId).map((entry) => entry.what);
}

// Holds the broker's answer to every bind from now on: returns the function that confirms the last one asked.
function holdBinds(consumer: StubChannel): () => void {
  let confirm: (() => void) | undefined;
  consumer.bindQueue.resetBehavior();
  consumer.bindQueue.callsFake((_queue, _exchange, _key, _args, cb) => {
    confirm = () => cb(null, {});
  });
  return () => {
    if (!confirm) throw new Error('holdBinds: no bind was asked');
    confirm();
  };
}

// The broker confirms every publish sent so far.
function confirmPublishes(bus: FakeBus): void {
  for (const call of bus.confirm.publish.getCalls()) (call.args[4] as (error: null) => void)(null);
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('listening on demand (stubbed broker)', () => {
  afterEach(() => sinon.restore());

  it('a logger with no listener declares no queue, binds nothing, consumes nothing', async () => {
    const { logger, bus } = await started();
    expect(calls(bus.channels[0]!)).to.deep.equal([]);
    expect(logger.queue).to.equal(undefined);
    await logger.stop();
  });

  it('declares and binds with the first listener of a level, unbinds with its last, deletes the queue with the last of all', async () => {
    const { logger, bus } = await started();
    const consumer = bus.channels[0]!;
    const one = (): void => undefined;
    const two = (): void => undefined;
    logger.on('info', one);
    logger.on('info', two);
    await logger.listening();
    expect(calls(consumer)).to.deep.equal(['assert', 'bind info', 'consume']);
    expect(logger.queue).to.equal('amq.gen-fake-1');
    logger.once('critical', one);
    await logger.listening();
    expect(calls(consumer).slice(3)).to.deep.equal(['bind critical']);
    logger.off('info', one);
    await logger.listening();
    expect(calls(consumer).slice(4), 'another info listener is left').to.deep.equal([]);
    logger.off('info', two);
    await logger.listening();
    expect(calls(consumer).slice(4)).to.deep.equal(['unbind info']);
    logger.removeAllListeners();
    await logger.listening();
    expect(calls(consumer).slice(5)).to.deep.equal(['cancel', 'delete']);
    expect(logger.queue).to.equal(undefined);
    // removeAllListeners() did not stop the logger from following listeners.
    logger.on('critical', one);
    await logger.listening();
    expect(calls(consumer).slice(7)).to.deep.equal(['assert', 'bind critical', 'consume']);
    await logger.stop();
  });

  it('subscribe() binds every level, and its unsubscribe unbinds them', async () => {
    const { logger, bus } = await started();
    const unsubscribe = logger.subscribe(() => undefined);
    await logger.listening();
    expect(calls(bus.channels[0]!)).to.deep.equal(['assert', 'bind info', 'bind critical', 'consume']);
    unsubscribe();
    unsubscribe();
    await logger.listening();
    expect(calls(bus.channels[0]!).slice(4)).to.deep.equal(['cancel', 'delete']);
    await logger.stop();
  });

  it('listeners attached before start() are bound by start()', async () => {
    const bus = new FakeBus();
    const logger = new EventBusLogger<Levels>({ name: 'unit_bus' }, opener(bus));
    logger.on('critical', () => undefined);
    await logger.start();
    expect(calls(bus.channels[0]!)).to.deep.equal(['assert', 'bind critical', 'consume']);
    await logger.stop();
  });

  it("a subclass's hooks bind their levels from the start: handleInfo and handleCritical, or handle for every level", async () => {
    class Metaclass extends EventBusLogger<Levels> {
      protected override handleInfo(): void {}
      protected override handleCritical(): void {}
    }
    class CriticalOnly extends EventBusLogger<Levels> {
      protected override handleCritical(): void {}
    }
    class Every extends EventBusLogger<Levels> {
      protected override handle(): void {}
    }
    const expected = { Metaclass: ['bind info', 'bind critical'], CriticalOnly: ['bind critical'], Every: ['bind info', 'bind critical'] };
    for (const Kind of [Metaclass, CriticalOnly, Every]) {
      const bus = new FakeBus();
      const logger = new Kind({ name: 'unit_bus' }, opener(bus));
      await logger.start();
      expect(calls(bus.channels[0]!), Kind.name).to.deep.equal(['assert', ...expected[Kind.name as keyof typeof expected], 'consume']);
      await logger.stop();
    }
  });

  it('listen: true binds every level of levels with no listener; listen: false binds nothing, whatever listens', async () => {
    const always = await started({ listen: true, levels: ['critical'] });
    expect(calls(always.bus.channels[0]!)).to.deep.equal(['assert', 'bind critical', 'consume']);
    always.logger.on('critical', () => undefined);
    always.logger.removeAllListeners('critical');
    await always.logger.listening();
    expect(calls(always.bus.channels[0]!)).to.have.length(3);
    const never = await started({ listen: false });
    never.logger.on('info', () => undefined);
    never.logger.subscribe(() => undefined);
    await never.logger.listening();
    expect(calls(never.bus.channels[0]!)).to.deep.equal([]);
    await Promise.all([always.logger.stop(), never.logger.stop()]);
  });

  it('a publish made after on() returned waits for the bind the broker has not confirmed yet', async () => {
    const { logger, bus } = await started();
    const consumer = bus.channels[0]!;
    const confirmBind = holdBinds(consumer);
    const seen: EventData[] = [];
    logger.on('info', (data) => void seen.push(data));
    const published = logger.info({ first: true });
    await turn();
    expect(consumer.bindQueue.callCount).to.equal(1);
    expect(bus.confirm.publish.callCount, 'not sent before the bind is confirmed').to.equal(0);
    confirmBind();
    await turn();
    expect(bus.confirm.publish.callCount).to.equal(1);
    confirmPublishes(bus);
    await published;
    await logger.stop();
  });

  it('publishes keep their order across a held bind: those before on() go at once, the held ones next, then the later ones', async () => {
    const { logger, bus } = await started();
    const consumer = bus.channels[0]!;
    const confirmBind = holdBinds(consumer);
    const sent = (): number[] => bus.confirm.publish.getCalls().map((call) => JSON.parse((call.args[2] as Buffer).toString()).n as number);
    const published = [logger.info({ n: 1 })];
    logger.on('info', () => undefined);
    published.push(logger.info({ n: 2 }), logger.critical({ n: 3 }));
    await turn();
    expect(sent()).to.deep.equal([1]);
    confirmBind();
    published.push(logger.info({ n: 4 }));
    await turn();
    published.push(logger.info({ n: 5 }));
    await turn();
    expect(sent()).to.deep.equal([1, 2, 3, 4, 5]);
    confirmPublishes(bus);
    await Promise.all(published);
    await logger.stop();
  });

  it('a bind the broker refuses: listening() rejects with ACCESS, the channels reopen without that level, publishing goes on', async () => {
    const { logger, bus } = await started();
    logger.on('info', () => undefined);
    await logger.listening();
    const consumer = bus.channels[0]!;
    consumer.bindQueue.resetBehavior();
    consumer.bindQueue.callsFake((_queue, exchange, _key, _args, cb) => {
      cb(new Error(`Operation failed: QueueBind; 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - read access to exchange '${exchange}' in vhost '/' refused for user 'app'"`), {});
    });
    const critical = (): void => undefined;
    logger.on('critical', critical);
    const error = await logger.listening().then(
      () => undefined,
      (refusal: Error & { code?: string }) => refusal,
    );
    expect(error?.code).to.equal('ACCESS');
    expect(error?.message).to.match(/^Access refused by the broker: .*read access to exchange 'unit_bus'/);
    await until(() => logger.isReady && bus.confirmChannels.length > 1, 'the channels to be reopened');
    const reopened = (): StubChannel => bus.channels.filter((channel) => channel.consume.called).at(-1)!;
    expect(reopened()).to.not.equal(consumer);
    expect(calls(reopened())).to.deep.equal(['delete', 'assert', 'bind info', 'consume']);
    const published = logger.info({ after: 'the refusal' });
    await until(() => bus.confirm.publish.callCount === 1, 'the publish to go out');
    confirmPublishes(bus);
    await published;
    await logger.listening();
    // A new listener of the level asks again (the reopened channel's user may bind it now).
    logger.on('critical', () => undefined);
    await logger.listening();
    expect(calls(reopened()).slice(4)).to.deep.equal(['bind critical']);
    await logger.stop();
  });

  it('after a reconnect binds only what is listened to then', async () => {
    const { logger, bus } = await started();
    logger.on('critical', () => undefined);
    await logger.listening();
    bus.goDown();
    logger.on('info', () => undefined);
    logger.removeAllListeners('critical');
    const listening = logger.listening();
    bus.comeUp();
    await listening;
    expect(calls(bus.channels.at(-1)!)).to.deep.equal(['delete', 'assert', 'bind info', 'consume']);
    await logger.stop();
  });
});
