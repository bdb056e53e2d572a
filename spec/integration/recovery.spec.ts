// Fault injection: connections killed under the logger, brokers that are away, fail-over, outages while
// publishing. A TCP proxy stands between a logger and the broker so a fault hits that logger alone.
import { expect } from 'chai';
import { EventBusLogger, type BlockedInfo, type DisconnectedInfo, type EventData, type EventMeta, type GapInfo, type ReconnectedInfo, type UnblockedInfo } from '../../lib/index.js';
import { AMQP_URL, closeConnectionsOf, deleteExchange, memoryAlarm, next, queueInfo, rabbitmqctl, rejection, shippedConfig, uniqueName, until } from '../helpers.js';
import { TcpProxy } from '../tcp-proxy.js';

describe('recovery', function () {
  this.timeout(60_000);
  let name: string;
  let proxy: TcpProxy;
  const loggers: EventBusLogger[] = [];
  async function logger(options: Parameters<typeof EventBusLogger.create>[0] = {}): Promise<EventBusLogger> {
    const created = new EventBusLogger({ url: AMQP_URL, name, ...options });
    loggers.push(created);
    await created.start();
    return created;
  }

  beforeEach(async () => {
    name = uniqueName('recovery');
    proxy = await TcpProxy.start();
  });

  afterEach(async () => {
    await Promise.all(loggers.splice(0).map((l) => l.stop()));
    await proxy.close();
    await deleteExchange(name);
  });

  it('reconnects after its TCP connection is killed: new queue, every level re-bound, consuming again', async () => {
    // listen: true: every level bound with no listener yet, as the test of re-binding wants.
    const listener = await logger({ url: proxy.url(), listen: true });
    const publisher = await logger();
    const firstQueue = listener.queue;
    const disconnected = next<[DisconnectedInfo]>(listener, 'disconnected');
    const reconnected = next<[ReconnectedInfo]>(listener, 'reconnected', 20_000);
    const ready = next(listener, 'ready', 20_000);
    proxy.cut();
    const [down] = await disconnected;
    expect(down.reason).to.be.a('string').and.not.equal('');
    const [back] = await reconnected;
    await ready;
    expect(back).to.include({ reason: down.reason });
    expect(back.downtime).to.be.a('number').at.least(0);
    expect(back.attempt).to.be.at.least(1);
    expect(back.url).to.match(new RegExp(`^amqp://guest:\\*\\*\\*@127\\.0\\.0\\.1:${proxy.port}\\b`));
    expect(listener.queue).to.match(/^amq\.gen-/).and.not.equal(firstQueue);
    for (const level of ['info', 'critical'] as const) {
      const got = next<[EventData]>(listener, level);
      await publisher[level]({ after: level });
      expect((await got)[0]).to.deep.equal({ after: level });
    }
    expect(listener.stats().reconnects).to.equal(1);
  });

  it('notices a silent partition by the missed heartbeats, reconnects, and re-sends what the dead link swallowed', async () => {
    const config = await shippedConfig();
    config.vhosts['/'].connection.options.heartbeat = 1;
    const listener = await logger();
    const publisher = await logger({ url: proxy.url(), config, publishTimeout: 30_000 });
    const received: number[] = [];
    listener.on('info', (data) => void received.push(data.n as number));
    await publisher.info({ n: 1 });
    const disconnected = next<[DisconnectedInfo]>(publisher, 'disconnected', 15_000);
    const reconnected = next<[ReconnectedInfo]>(publisher, 'reconnected', 30_000);
    proxy.freeze();
    // Written into a link that no longer carries anything: no confirm can come back on it.
    const swallowed = publisher.info({ n: 2 });
    const [down] = await disconnected;
    expect(down.reason).to.match(/heartbeat/i);
    await reconnected;
    await swallowed;
    await publisher.info({ n: 3 });
    await until(() => received.includes(3), 'the event after the reconnect');
    expect(received).to.deep.equal([1, 2, 3]);
    expect(publisher.stats()).to.include({ reconnects: 1, republished: 1 });
  });

  it('fail-fast with waitForBroker: start() waits for a broker that is not up yet', async () => {
    proxy.down();
    const waiting = new EventBusLogger({ url: proxy.url(), name, failFast: true, waitForBroker: true, startTimeout: 20_000 });
    loggers.push(waiting);
    const starting = waiting.start();
    // Refused twice: it tried, and is retrying rather than giving up.
    await proxy.whenRefused(2);
    expect(waiting.isReady).to.equal(false);
    proxy.up();
    await starting;
    expect(waiting.isReady).to.equal(true);
  });

  it('fails over to the next URL, at start and when the connected broker goes away', async () => {
    const second = await TcpProxy.start();
    try {
      proxy.down();
      const failover = await logger({ url: [proxy.url(), second.url()] });
      expect(second.connections).to.equal(1);
      proxy.up();
      const reconnected = next<[ReconnectedInfo]>(failover, 'reconnected', 20_000);
      second.down();
      const [back] = await reconnected;
      expect(back.url).to.match(new RegExp(`^amqp://guest:\\*\\*\\*@127\\.0\\.0\\.1:${proxy.port}\\b`));
      const got = next(failover, 'info');
      await failover.info({ failed: 'over' });
      await got;
    } finally {
      await second.close();
    }
  });

  it('loses no event whose publish resolved, in order, through a killed connection', async () => {
    const listener = await logger();
    const publisher = await logger({ url: proxy.url(), publishTimeout: 30_000 });
    const received: number[] = [];
    listener.on('info', (data) => received.push(data.n as number));
    const resolved: number[] = [];
    const total = 3000;
    const publishes: Array<Promise<void>> = [];
    for (let n = 1; n <= total; n++) {
      publishes.push(publisher.info({ n }).then(() => void resolved.push(n)));
      if (n === 1000 || n === 2000) {
        // Let some confirms arrive, then kill the connection with publishes in flight.
        await new Promise((resolve) => setTimeout(resolve, 5));
        proxy.cut();
      }
    }
    const results = await Promise.allSettled(publishes);
    await until(() => received.length >= resolved.length, 'every resolved event to arrive', 20_000);
    const missing = resolved.filter((n) => !received.includes(n));
    expect(missing, 'resolved but never received').to.deep.equal([]);
    expect(received, 'in publish order, without duplicates').to.deep.equal([...received].sort((a, b) => a - b));
    expect(new Set(received).size).to.equal(received.length);
    expect(results.filter((r) => r.status === 'fulfilled').length, 'every publish eventually confirmed').to.equal(total);
    expect(publisher.stats().reconnects).to.be.at.least(1);
  });

  it('keeps the outage buffer bounded however much is published, then sends what it held', async () => {
    const publisher = await logger({ url: proxy.url(), bufferMaxEvents: 500, publishTimeout: 60_000 });
    const listener = await logger();
    let received = 0;
    listener.on('critical', () => void received++);
    const disconnected = next(publisher, 'disconnected');
    proxy.down();
    await disconnected;
    const publishes = Array.from({ length: 50_000 }, (_, n) => publisher.critical({ n, padding: 'x'.repeat(100) }));
    const rejected = await Promise.allSettled(publishes.slice(500));
    expect(rejected.every((o) => o.status === 'rejected' && o.reason.code === 'BUFFER_FULL'), 'everything past the cap rejects at once').to.equal(true);
    expect((rejected[0] as PromiseRejectedResult).reason.message).to.match(/^Event not sent: the broker is unreachable and the outage buffer is full \(500 events/);
    expect(publisher.stats()).to.include({ buffered: 500, dropped: 49_500 });
    proxy.up();
    await Promise.all(publishes.slice(0, 500));
    expect(publisher.stats()).to.include({ buffered: 0, confirmed: 500 });
    await until(() => received === 500, 'the 500 buffered events to arrive', 20_000);
    expect(received).to.equal(500);
  });

  it('rejects buffered publishes when the outage outlasts bufferMaxWait, saying they were never sent', async () => {
    const publisher = await logger({ url: proxy.url(), bufferMaxWait: 300 });
    const disconnected = next(publisher, 'disconnected');
    proxy.down();
    await disconnected;
    const error = await rejection(publisher.info({ late: true }));
    expect(error.code).to.equal('BUFFER_TIMEOUT');
    expect(error.message).to.equal('Event not sent: it waited bufferMaxWait (300 ms) in the buffer while the broker was unreachable; it never reached the bus');
    expect(publisher.stats()).to.include({ buffered: 0 });
  });

  it('a resumable listener gets what was published while it was away; a temporary one reports the gap', async () => {
    const resumable = await logger({ url: proxy.url(), resumable: { grace: 30_000 } });
    const temporary = await logger({ url: proxy.url() });
    const publisher = await logger();
    const got = { resumable: [] as number[], temporary: [] as number[] };
    resumable.on('info', (data) => void got.resumable.push(data.n as number));
    temporary.on('info', (data) => void got.temporary.push(data.n as number));
    const gaps: GapInfo[] = [];
    temporary.on('gap', (gap) => gaps.push(gap));
    resumable.on('gap', (gap) => gaps.push({ ...gap, publisher: 'resumable!' }));
    await resumable.listening();
    expect(resumable.queue).to.be.a('string').and.not.match(/^amq\.gen-/);

    await publisher.info({ n: 1 });
    await until(() => got.resumable.length === 1 && got.temporary.length === 1, 'event 1 on both');
    const bothDown = Promise.all([next(resumable, 'disconnected'), next(temporary, 'disconnected')]);
    proxy.down();
    await bothDown;
    for (let n = 2; n <= 6; n++) await publisher.info({ n });
    const bothBack = Promise.all([next(resumable, 'ready', 20_000), next(temporary, 'ready', 20_000)]);
    proxy.up();
    await bothBack;
    await publisher.info({ n: 7 });
    await until(() => got.resumable.length === 7 && got.temporary.includes(7), 'event 7 on both');
    expect(got.resumable).to.deep.equal([1, 2, 3, 4, 5, 6, 7]);
    expect(got.temporary).to.deep.equal([1, 7]);
    expect(gaps).to.have.length(1);
    expect(gaps[0]).to.include({ level: 'info', expected: 2, received: 7, missed: 5 });
    expect(temporary.stats().missed).to.equal(5);
  });

  it('stop() during an outage settles every publish and leaves nothing behind', async () => {
    const publisher = await logger({ url: proxy.url(), stopTimeout: 200 });
    const disconnected = next(publisher, 'disconnected');
    proxy.down();
    await disconnected;
    const pending = publisher.info({ never: 'sent' });
    await publisher.stop();
    const error = await rejection(pending);
    expect(error.code).to.equal('STOPPED');
    expect(proxy.connections).to.equal(0);
  });

  describe('its topology deleted under it', () => {
    it('re-declares the exchange and its queue when the exchange is deleted under it, and the publish still resolves', async () => {
      const bus = await logger({ listen: true });
      const first = bus.queue as string;
      await deleteExchange(name);
      const got = next(bus, 'info', 10_000);
      await bus.info({ after: 'exchange deleted' });
      expect((await got)[0]).to.deep.equal({ after: 'exchange deleted' });
      expect(bus.queue).to.be.a('string').and.not.equal(first);
      // The old queue went with its channel: only the new one is left.
      expect(await queueInfo(first)).to.equal(undefined);
    });

    it('declares a new queue and consumes again when its queue is deleted under it', async () => {
      const bus = await logger({ listen: true });
      const first = bus.queue as string;
      // rabbitmqctl alone takes seconds on a loaded machine: the wait covers it.
      const ready = next(bus, 'ready', 30_000);
      await rabbitmqctl('delete_queue', first);
      await ready;
      expect(bus.queue).to.match(/^amq\.gen-/).and.not.equal(first);
      const got = next(bus, 'info');
      await bus.info({ again: true });
      expect((await got)[0]).to.deep.equal({ again: true });
    });
  });

  describe('the broker itself', () => {
    // What a restart does to this bus's loggers, to them alone: the broker closes their connections (320
    // CONNECTION_FORCED, as stop_app does), refuses them while it is away (here the proxy does), and comes back
    // without the transient exchange (its bindings and the exclusive queues go with it). history-listener.spec.ts
    // restarts the broker for real, where the stream itself restarting is what is tested.
    it('survives a broker restart as its loggers see it (closed by the broker, refused while away, the transient exchange gone): both come back and exchange events', async () => {
      const first = await logger({ url: proxy.url() });
      const second = await logger({ url: proxy.url() });
      second.on('critical', () => undefined);
      await second.listening();
      const down = Promise.all([next(first, 'disconnected', 30_000), next(second, 'disconnected', 30_000)]);
      proxy.refuse();
      expect(await closeConnectionsOf(name, 'spec: broker restart')).to.equal(2);
      await down;
      await deleteExchange(name);
      // Both tried to come back while the broker was away.
      await proxy.whenRefused(2);
      const back = Promise.all([next(first, 'ready', 30_000), next(second, 'ready', 30_000)]);
      proxy.up();
      await back;
      const got = next<[EventData, EventMeta]>(second, 'critical');
      await first.critical({ after: 'restart' });
      expect((await got)[0]).to.deep.equal({ after: 'restart' });
    });

    it('holds publishes, bounded, while the broker blocks publishing (memory alarm), then sends them in order [broker-wide]', async () => {
      const listener = await logger();
      const publisher = await logger({ bufferMaxEvents: 20, publishTimeout: 30_000 });
      const received: number[] = [];
      listener.on('info', (data) => void received.push(data.n as number));
      const blocked = next<[BlockedInfo]>(publisher, 'blocked', 20_000);
      const restore = await memoryAlarm();
      let first: Promise<void>;
      let held: Array<Promise<void>>;
      let unblocked: Promise<[UnblockedInfo]>;
      try {
        // RabbitMQ blocks a connection when it next publishes: this event is written before the block is known.
        first = publisher.info({ n: 0 });
        expect((await blocked)[0].reason).to.match(/memory/);
        held = Array.from({ length: 20 }, (_, i) => publisher.info({ n: i + 1 }));
        const overflow = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => publisher.info({ n: 100 + i })));
        for (const result of overflow) {
          expect(result.status).to.equal('rejected');
          expect((result as PromiseRejectedResult).reason).to.include({ code: 'BUFFER_FULL' });
          expect((result as PromiseRejectedResult).reason.message).to.match(/the broker is blocking publishers \(low on memory\)/);
        }
        expect(publisher.stats()).to.include({ buffered: 20, dropped: 10, blocks: 1 });
        unblocked = next<[UnblockedInfo]>(publisher, 'unblocked', 20_000);
      } finally {
        await restore();
      }
      expect((await unblocked)[0].duration).to.be.a('number').at.least(0);
      await Promise.all([first, ...held]);
      await until(() => received.length >= 21, 'the 21 events to arrive', 20_000);
      expect(received).to.deep.equal(Array.from({ length: 21 }, (_, i) => i));
      expect(publisher.stats()).to.include({ buffered: 0, confirmed: 21 });
    });
  });
});
