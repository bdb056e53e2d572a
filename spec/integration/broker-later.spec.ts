// A broker that comes up only after the logger started (a proxy of our own that refuses connections, then
// forwards): by default an outage, not an error. Also a stop() while connecting in the background or during start()
// (C5), and a connection lost during the first set-up (C6). Every fault is on this spec's own proxy.
import net from 'node:net';
import { expect } from 'chai';
import { EventBusLogger, EventBusLoggerError, type DisconnectedInfo, type EventData, type ReadyInfo } from '../../lib/index.js';
import { AMQP_URL, deleteExchange, next, quiet, rejection, uniqueName, until } from '../helpers.js';
import { TcpProxy } from '../tcp-proxy.js';

/** Whether `promise` settles within `ms`: a deadline far beyond the bound it checks, never a timing assertion. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const settled = await Promise.race([promise.then(() => true, () => true), late]);
  clearTimeout(timer);
  return settled;
}

describe('a broker that comes up after the logger started', function () {
  this.timeout(60_000);
  let proxy: TcpProxy;
  let name: string;
  const loggers: EventBusLogger[] = [];
  const track = <T extends EventBusLogger>(logger: T): T => (loggers.push(logger), logger);

  beforeEach(async () => {
    proxy = await TcpProxy.start();
    proxy.down();
    name = uniqueName('later');
  });

  afterEach(async () => {
    await Promise.all(loggers.splice(0).map((logger) => logger.stop()));
    await proxy.close();
    await deleteExchange(name).catch(() => undefined);
  });

  it("create() resolves, 'disconnected' and stats() say why; publishes made meanwhile are delivered and listeners attached meanwhile receive once it is up ('ready')", async () => {
    const early = track(await EventBusLogger.create({ url: proxy.url(), name }));
    const [disconnected] = await next<[DisconnectedInfo]>(early, 'disconnected');
    expect(disconnected.reason).to.match(/^Cannot connect to the event bus at amqp:\/\/guest:\*\*\*@127\.0\.0\.1:\d+: connect ECONN/);
    expect(early.isReady).to.equal(false);
    expect(early.stats()).to.include({ connected: false, buffered: 0 });
    expect(early.stats().lastError).to.equal(disconnected.reason);
    // Attached during the outage.
    const heard: EventData[] = [];
    early.on('info', (data) => void heard.push(data));
    const published = [early.info({ n: 1 }), early.info({ n: 2 })];
    expect(early.stats().confirmed, 'nothing confirmed while the broker is unreachable').to.equal(0);
    // A logger of another service, on the broker directly, sees the events once they are out.
    const other = track(await EventBusLogger.create({ url: AMQP_URL, name }));
    const seen: EventData[] = [];
    other.on('info', (data) => void seen.push(data));
    // It is trying again in the background.
    await proxy.whenRefused(2);
    expect(seen, 'nothing while the broker is unreachable').to.deep.equal([]);
    const ready = next<[ReadyInfo]>(early, 'ready', 30_000);
    proxy.up();
    const [info] = await ready;
    expect(info.url).to.contain(`127.0.0.1:${proxy.port}`);
    await Promise.all(published);
    await until(() => seen.length === 2 && heard.length === 2, 'both events at both loggers', 10_000);
    expect(seen).to.deep.equal([{ n: 1 }, { n: 2 }]);
    expect(heard).to.deep.equal([{ n: 1 }, { n: 2 }]);
    expect(early.stats()).to.include({ connected: true, confirmed: 2, rejected: 0, reconnects: 0 });
  });

  it('fail-fast: create() rejects with CONNECT, as before', async () => {
    const error = await rejection<EventBusLoggerError>(EventBusLogger.create({ url: proxy.url(), name, failFast: true }));
    expect(error.code).to.equal('CONNECT');
    expect(error.message).to.match(/^Cannot connect to the event bus at amqp:\/\/guest:\*\*\*@127\.0\.0\.1:\d+ \(1 attempt in \d+ ms\)/);
  });

  it('stop() while connecting in the background resolves, fails what waited with STOPPED, and ends the tries', async () => {
    const early = await EventBusLogger.create({ url: proxy.url(), name, stopTimeout: 500 });
    const published = early.info({ n: 1 });
    // Its bound is stopTimeout plus about a second; the deadline is ten times that.
    expect(await settlesWithin(early.stop(), 15_000), 'stop() resolved').to.equal(true);
    expect((await rejection<EventBusLoggerError>(published)).code).to.equal('STOPPED');
    proxy.up();
    await quiet(1500);
    expect(proxy.connections, 'no try after stop()').to.equal(0);
  });

  describe('a first try that gets no answer', () => {
    let silent: net.Server;
    let port: number;
    const sockets = new Set<net.Socket>();
    beforeEach(async () => {
      // Accepts the TCP connection and never answers the AMQP handshake.
      silent = net.createServer((socket) => {
        sockets.add(socket);
        socket.on('error', () => undefined);
      });
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      port = (silent.address() as net.AddressInfo).port;
    });
    afterEach(async () => {
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      await new Promise((resolve) => silent.close(resolve));
    });

    it('stop() during start() resolves without waiting out the start, and start() rejects with STOPPED (C5)', async () => {
      const logger = new EventBusLogger({ url: `amqp://guest:guest@127.0.0.1:${port}`, name, startTimeout: 60_000, stopTimeout: 200, failFast: true });
      const starting = logger.start();
      starting.catch(() => undefined);
      await quiet(300);
      expect(await settlesWithin(logger.stop(), 12_000), 'stop() resolved').to.equal(true);
      expect((await rejection<EventBusLoggerError>(starting)).code).to.equal('STOPPED');
    });

    it('by default, start() resolves within startTimeout and the logger goes on trying', async () => {
      const logger = track(new EventBusLogger({ url: `amqp://guest:guest@127.0.0.1:${port}`, name, startTimeout: 1000 }));
      expect(await settlesWithin(logger.start(), 10_000), 'start() resolved').to.equal(true);
      expect(logger.stats().connected).to.equal(false);
    });
  });

  describe('a connection lost during the first set-up (C6)', () => {
    beforeEach(() => {
      proxy.up();
      // queue.declare: the logger's own queue, a set-up step after Rascal connected and declared the exchange.
      proxy.cutOnMethod(50, 10);
    });

    it("fail-fast: start() rejects with CONNECT saying so (never a bare Error), and emits no 'disconnected'", async () => {
      const logger = new EventBusLogger({ url: proxy.url(), name, failFast: true });
      const events: string[] = [];
      for (const event of ['disconnected', 'ready', 'reconnected'] as const) logger.on(event, () => void events.push(event));
      const error = await rejection<EventBusLoggerError>(logger.start());
      expect(error).to.be.instanceOf(EventBusLoggerError);
      expect(error.code).to.equal('CONNECT');
      expect(error.message).to.contain('the connection was lost while setting up this logger');
      await quiet(200);
      expect(events).to.deep.equal([]);
    });

    it("by default: start() resolves, 'disconnected' begins the outage and 'ready' ends it once the logger is set up", async () => {
      const logger = track(new EventBusLogger({ url: proxy.url(), name }));
      const events: string[] = [];
      for (const event of ['disconnected', 'ready', 'reconnected'] as const) logger.on(event, () => void events.push(event));
      const ready = next(logger, 'ready', 30_000);
      await logger.start();
      await ready;
      expect(events).to.deep.equal(['disconnected', 'ready']);
      const got = next<[EventData]>(logger, 'info');
      await logger.info({ after: 'set-up' });
      expect((await got)[0]).to.deep.equal({ after: 'set-up' });
    });
  });
});
