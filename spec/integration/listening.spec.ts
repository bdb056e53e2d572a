// A logger binds a level when something listens to it (issue 20 §3) and says nothing on a healthy path (§4): a
// publisher has no queue, listeners bind and unbind as they come and go, and a history stream its config does not
// bind is a notice in stats(), not a process warning.
import { expect } from 'chai';
import amqplib from 'amqplib';
import { EventBusLogger, type EventData, type EventMeta } from '../../lib/index.js';
import { AMQP_URL, bindingsOf, closeConnectionsOf, deleteExchange, deleteQueue, next, queueInfo, rabbitmqctl, uniqueName, until } from '../helpers.js';

type Levels = 'info' | 'critical';
type Pair = [string, string];

describe('listening on demand', function () {
  // rabbitmqctl takes seconds per call on a loaded machine, and some specs here call it several times.
  this.timeout(90_000);
  let name: string;
  const loggers: Array<EventBusLogger<any>> = [];

  beforeEach(() => {
    name = uniqueName('listening');
  });

  afterEach(async () => {
    await Promise.all(loggers.splice(0).map((logger) => logger.stop()));
    await deleteExchange(name);
  });

  async function logger(appId: string, options: Record<string, unknown> = {}): Promise<EventBusLogger<Levels>> {
    const created = await EventBusLogger.create({ url: AMQP_URL, name, appId, ...options });
    loggers.push(created);
    return created;
  }

  // The server pid of the connection this logger's process opened, found by its connection name.
  async function connectionPid(appId: string): Promise<string> {
    const connections = await rabbitmqctl<Array<{ pid: string; client_properties: Array<[string, string, unknown]> }>>('list_connections', 'pid', 'client_properties');
    // A connection still in its handshake has no property list yet (another client of the shared broker, say).
    const ours = connections.filter((c) => Array.isArray(c.client_properties) && c.client_properties.some(([key, , value]) => key === 'connection_name' && value === `event-bus-logger ${appId} (${name})`));
    expect(ours, `the connection of ${appId}`).to.have.length(1);
    return ours[0]!.pid;
  }

  async function queuesOwnedBy(pid: string): Promise<string[]> {
    const queues = await rabbitmqctl<Array<{ name: string; owner_pid: string }>>('list_queues', 'name', 'owner_pid');
    return queues.filter((q) => q.owner_pid === pid).map((q) => q.name);
  }

  const boundLevels = async (queue: string | undefined): Promise<string[]> =>
    (await bindingsOf(name)).filter((b) => b.destination_name === queue).map((b) => b.routing_key).sort();

  it('a logger that only publishes owns no queue and receives nothing of the bus', async () => {
    const publisher = await logger('listening-publisher');
    const other = await logger('listening-other');
    expect(publisher.queue).to.equal(undefined);
    expect(await queuesOwnedBy(await connectionPid('listening-publisher'))).to.deep.equal([]);
    expect(await bindingsOf(name)).to.deep.equal([]);
    for (let n = 0; n < 50; n++) await other.info({ n });
    await publisher.info({ own: true });
    expect(publisher.stats().received).to.deep.equal({ info: 0, critical: 0 });
  });

  it('on() then a publish of its own: delivered, every time (the publish waits for the bind)', async () => {
    const self = await logger('listening-self');
    for (let round = 0; round < 20; round++) {
      const seen: EventData[] = [];
      const listener = (data: EventData): void => void seen.push(data);
      self.on('info', listener);
      await self.info({ round });
      await until(() => seen.length === 1, `round ${round}'s event`, 2000);
      self.off('info', listener);
    }
  });

  it('on() in one logger, await listening(), a publish from another client: delivered, every time', async () => {
    const listener = await logger('listening-listener');
    // Another process's publisher: a plain amqplib client, which nothing in this process can make wait.
    const connection = await amqplib.connect(AMQP_URL);
    try {
      const channel = await connection.createConfirmChannel();
      for (let round = 0; round < 20; round++) {
        const seen: EventData[] = [];
        const fn = (data: EventData): void => void seen.push(data);
        listener.on('critical', fn);
        await listener.listening();
        channel.publish(name, 'critical', Buffer.from(JSON.stringify({ round })), { contentType: 'application/json' });
        await channel.waitForConfirms();
        await until(() => seen.length === 1, `round ${round}'s event`, 2000);
        listener.off('critical', fn);
      }
    } finally {
      await connection.close();
    }
  });

  it('on() in one logger, then a publish from another logger of the same process: delivered, every time', async () => {
    const listener = await logger('listening-same-process');
    const publisher = await logger('listening-same-process-sender');
    for (let round = 0; round < 20; round++) {
      const seen: EventData[] = [];
      const fn = (data: EventData): void => void seen.push(data);
      listener.on('critical', fn);
      await publisher.critical({ round });
      await until(() => seen.length === 1, `round ${round}'s event`, 2000);
      listener.off('critical', fn);
    }
  });

  it('binds a level with its first listener and unbinds it with its last; no listener left: no queue', async () => {
    const listener = await logger('listening-follow');
    const publisher = await logger('listening-follow-sender');
    const first = (): void => undefined;
    const second = (): void => undefined;
    listener.on('info', first);
    listener.on('info', second);
    listener.on('critical', first);
    await listener.listening();
    const queue = listener.queue;
    expect(queue).to.be.a('string');
    expect(await queuesOwnedBy(await connectionPid('listening-follow'))).to.deep.equal([queue]);
    expect(await boundLevels(queue)).to.deep.equal(['critical', 'info']);

    listener.off('info', first);
    await listener.listening();
    expect(await boundLevels(queue), 'one info listener left').to.deep.equal(['critical', 'info']);
    listener.off('critical', first);
    await listener.listening();
    expect(await boundLevels(queue), 'no critical listener left').to.deep.equal(['info']);

    listener.off('info', second);
    await listener.listening();
    expect(listener.queue).to.equal(undefined);
    expect(await queueInfo(queue as string), 'the queue is gone').to.equal(undefined);
    expect(await bindingsOf(name)).to.deep.equal([]);
    await publisher.info({ late: true });
    await publisher.critical({ late: true });
    expect(listener.stats().received).to.deep.equal({ info: 0, critical: 0 });
  });

  it("a subclass with the original task's handleInfo and handleCritical keeps both levels bound from the start", async () => {
    const handled: Pair[] = [];
    class MetaclassLogger extends EventBusLogger<Levels> {
      protected override handleInfo(data: EventData): void {
        handled.push(['info', JSON.stringify(data)]);
      }
      protected override handleCritical(data: EventData): void {
        handled.push(['critical', JSON.stringify(data)]);
      }
    }
    class CriticalOnly extends EventBusLogger<Levels> {
      protected override handleCritical(): void {}
    }
    const metaclass = await MetaclassLogger.create({ url: AMQP_URL, name, appId: 'listening-metaclass' });
    loggers.push(metaclass);
    const criticalOnly = await CriticalOnly.create({ url: AMQP_URL, name, appId: 'listening-critical-only' });
    loggers.push(criticalOnly);
    expect(await boundLevels(metaclass.queue)).to.deep.equal(['critical', 'info']);
    expect(await boundLevels(criticalOnly.queue)).to.deep.equal(['critical']);
    const publisher = await logger('listening-metaclass-sender');
    await publisher.info({ a: 1 });
    await publisher.critical({ b: 2 });
    await until(() => handled.length === 2, 'both events handled');
    expect(handled).to.deep.equal([['info', '{"a":1}'], ['critical', '{"b":2}']]);
  });

  it('subscribe() binds every level; listen: true binds every level with no listener; levels narrows both', async () => {
    const subscriber = await logger('listening-subscriber');
    const unsubscribe = subscriber.subscribe(() => undefined);
    await subscriber.listening();
    expect(await boundLevels(subscriber.queue)).to.deep.equal(['critical', 'info']);
    const always = await logger('listening-always', { listen: true });
    expect(await boundLevels(always.queue)).to.deep.equal(['critical', 'info']);
    const narrow = await logger('listening-narrow', { listen: true, levels: ['critical'] });
    expect(await boundLevels(narrow.queue)).to.deep.equal(['critical']);
    const narrowOnDemand = await logger('listening-narrow-on-demand', { levels: ['critical'] });
    narrowOnDemand.subscribe(() => undefined);
    narrowOnDemand.on('info', () => undefined);
    await narrowOnDemand.listening();
    expect(await boundLevels(narrowOnDemand.queue)).to.deep.equal(['critical']);
    unsubscribe();
    await subscriber.listening();
    expect(subscriber.queue).to.equal(undefined);
  });

  it('after its connection is closed, re-declares and re-binds only what is listened to', async () => {
    const listener = await logger('listening-reconnect');
    const seen: Array<[string, EventMeta]> = [];
    listener.on('critical', (_data, meta) => void seen.push(['critical', meta]));
    await listener.listening();
    const before = listener.queue;
    const reconnected = next(listener, 'reconnected', 30_000);
    expect(await closeConnectionsOf(name, 'spec: listening reconnect', 'listening-reconnect')).to.equal(1);
    await reconnected;
    expect(listener.queue).to.be.a('string').and.not.equal(before);
    expect(await boundLevels(listener.queue)).to.deep.equal(['critical']);
    const publisher = await logger('listening-reconnect-sender');
    await publisher.critical({ after: true });
    await until(() => seen.length === 1, 'the event after the reconnect');
  });

  describe('a history stream this logger’s config does not bind', () => {
    beforeEach(async () => {
      const connection = await amqplib.connect(AMQP_URL);
      try {
        const channel = await connection.createChannel();
        await channel.assertQueue(`${name}.history`, { durable: true, arguments: { 'x-queue-type': 'stream' } });
      } finally {
        await connection.close();
      }
    });

    afterEach(async () => {
      await deleteQueue(`${name}.history`);
    });

    it('is no process warning for a publisher; stats() notes it once', async () => {
      const warnings: Error[] = [];
      const onWarning = (warning: Error): void => void warnings.push(warning);
      process.on('warning', onWarning);
      try {
        const publisher = await logger('listening-quiet');
        await publisher.info({ n: 1 });
        // emitWarning emits on the next tick: past it, a warning of start would have been seen.
        await new Promise((resolve) => setImmediate(resolve));
        expect(warnings.map((w) => w.message)).to.deep.equal([]);
        const notices = publisher.stats().notices;
        expect(notices).to.have.length(1);
        expect(notices[0]).to.match(new RegExp(`The bus has a history stream "${name}.history", but this logger's config declares no history`));
      } finally {
        process.off('warning', onWarning);
      }
    });
  });
});
