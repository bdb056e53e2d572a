// Least privilege on the local broker: users with only the permissions their role needs (docs/security.md),
// created and deleted here with rabbitmqctl.
import { expect } from 'chai';
import { EventBusLogger, EventBusLoggerError, type EventData } from '../../lib/index.js';
import { AMQP_URL, deleteExchange, next, rejection, uniqueName, until } from '../helpers.js';
import { runCli } from '../cli/run-cli.js';
import { Scratch, ctl } from './access.js';

const escape = (name: string): string => `^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`;
// Read on the exchange (to bind) and on its own server-named queue (to consume).
const listenerRead = (bus: string): string => `^(amq\\.gen-.*|${escape(bus).slice(1, -1)})$`;

describe('least privilege', function () {
  this.timeout(60_000);
  const scratch = new Scratch();
  const loggers: Array<EventBusLogger<any>> = [];
  let bus: string;

  const track = <T extends EventBusLogger<any>>(logger: T): T => {
    loggers.push(logger);
    return logger;
  };

  beforeEach(() => {
    bus = uniqueName('sec');
  });

  afterEach(async () => {
    await Promise.all(loggers.splice(0).map((logger) => logger.stop()));
    await deleteExchange(bus).catch(() => undefined);
    await scratch.cleanup();
  });

  describe('a publish-only application (write on the exchange, no configure, no read)', () => {
    it('publishes to an existing exchange: declaring it is refused, so the logger checks it exists instead', async () => {
      const owner = track(await EventBusLogger.create({ url: AMQP_URL, name: bus }));
      const app = await scratch.user('spec_pub');
      await app.permit({ write: escape(bus) });
      const publisher = track(await EventBusLogger.create({ url: app.url(), name: bus, listen: false }));
      const received = next<[EventData]>(owner, 'info', 10_000);
      await publisher.info({ from: 'publish-only' });
      expect((await received)[0]).to.deep.equal({ from: 'publish-only' });
    });

    it('rejects start() with ACCESS when the exchange does not exist, saying it may not declare it', async () => {
      const app = await scratch.user('spec_pub');
      await app.permit({ write: escape(bus) });
      const error = await rejection<EventBusLoggerError>(EventBusLogger.create({ url: app.url(), name: bus, listen: false }));
      expect(error).to.be.instanceOf(EventBusLoggerError);
      expect(error.code).to.equal('ACCESS');
      expect(error.message).to.contain(`The exchange "${bus}" does not exist`).and.contain('may not declare it');
      expect(error.message).not.to.contain(app.password);
    });

    it('a publish refused by the broker (no write permission) rejects with ACCESS, is not sent again, and the next one fails the same way', async () => {
      const owner = track(await EventBusLogger.create({ url: AMQP_URL, name: bus, listen: false }));
      const app = await scratch.user('spec_pub');
      await app.permit({ write: '^nothing-here$' });
      const publisher = track(await EventBusLogger.create({ url: app.url(), name: bus, listen: false, publishTimeout: 8000 }));
      const first = await rejection<EventBusLoggerError>(publisher.info({ n: 1 }));
      expect(first.code).to.equal('ACCESS');
      expect(first.message).to.contain('publishing to the exchange (needs write on it)').and.contain(`exchange '${bus}'`).and.contain(`user '${app.name}'`);
      await until(() => publisher.isReady, 'the channel reopened', 10_000);
      const second = await rejection<EventBusLoggerError>(publisher.info({ n: 2 }));
      expect(second.code).to.equal('ACCESS');
      // Sent once each: nothing went back into the buffer to be refused again on every new channel.
      expect(publisher.stats().republished).to.equal(0);
      expect(publisher.stats().buffered).to.equal(0);
      void owner;
    });
  });

  describe('a publish-only application whose exchange disappears (a broker restart loses a transient exchange)', () => {
    it('keeps its events in the bounded buffer, says why, and sends them once a process allowed to declare it has', async () => {
      const vhost = await scratch.vhost();
      const guestUrl = `${AMQP_URL}/${encodeURIComponent(vhost)}`;
      const listener = track(await EventBusLogger.create({ url: guestUrl, name: bus }));
      const app = await scratch.user('spec_pub');
      await app.permit({ write: escape(bus) }, vhost);
      const publisher = track(await EventBusLogger.create({ url: app.url(vhost), name: bus, listen: false, publishTimeout: 30_000 }));
      await listener.stop();
      // What a broker restart does to a transient exchange, without restarting the shared broker.
      await ctl('eval', `rabbit_exchange:delete(rabbit_misc:r(<<"${vhost}">>, exchange, <<"${bus}">>), false, <<"spec">>).`);
      const disconnected = next(publisher, 'disconnected', 20_000);
      await ctl('close_all_connections', '-p', vhost, 'spec: broker restart');
      await disconnected;
      const pending = publisher.info({ kept: true });
      await until(() => publisher.stats().buffered === 1, 'the event to wait in the buffer', 10_000);
      await until(() => (publisher.stats().lastError ?? '').includes(`The exchange "${bus}" does not exist`), 'lastError to say the exchange is missing', 20_000);
      const owner = track(await EventBusLogger.create({ url: guestUrl, name: bus }));
      const received = next<[EventData]>(owner, 'info', 30_000);
      await pending;
      expect((await received)[0]).to.deep.equal({ kept: true });
    });
  });

  describe('a listener (configure and write on amq.gen-*, read on the exchange and on amq.gen-*)', () => {
    it('receives the events of the bus', async () => {
      const owner = track(await EventBusLogger.create({ url: AMQP_URL, name: bus, listen: false }));
      const app = await scratch.user('spec_listen');
      await app.permit({ configure: '^amq\\.gen-', write: '^amq\\.gen-', read: listenerRead(bus) });
      const listener = track(await EventBusLogger.create({ url: app.url(), name: bus }));
      const received = next<[EventData]>(listener, 'critical', 10_000);
      await owner.critical({ to: 'listener' });
      expect((await received)[0]).to.deep.equal({ to: 'listener' });
    });

    it('a listener added after start whose bind is refused: listening() rejects with ACCESS, publishing goes on', async () => {
      const owner = track(await EventBusLogger.create({ url: AMQP_URL, name: bus, listen: true }));
      const app = await scratch.user('spec_listen');
      // May publish and declare its queue, may not bind it (no read on the exchange).
      await app.permit({ configure: '^amq\\.gen-', write: listenerRead(bus), read: '^amq\\.gen-' });
      const logger = track(await EventBusLogger.create({ url: app.url(), name: bus }));
      logger.on('critical', () => undefined);
      const error = await rejection<EventBusLoggerError>(logger.listening());
      expect(error.code).to.equal('ACCESS');
      expect(error.message).to.contain('binding the queue to the exchange').and.contain(`exchange '${bus}'`);
      const received = next<[EventData]>(owner, 'info', 20_000);
      await logger.info({ still: 'publishing' });
      expect((await received)[0]).to.deep.equal({ still: 'publishing' });
    });

    it('without read on the exchange, start() rejects at once with ACCESS naming the operation and the exchange', async () => {
      track(await EventBusLogger.create({ url: AMQP_URL, name: bus, listen: false }));
      const app = await scratch.user('spec_listen');
      await app.permit({ configure: '^amq\\.gen-', write: '^amq\\.gen-', read: '^amq\\.gen-' });
      const logger = new EventBusLogger({ url: app.url(), name: bus });
      // A listener attached before start() is bound by start(): the refusal comes from there.
      logger.on('critical', () => undefined);
      const error = await rejection<EventBusLoggerError>(logger.start());
      expect(error.code).to.equal('ACCESS');
      expect(error.message).to.contain('binding the queue to the exchange').and.contain(`exchange '${bus}'`).and.contain(`user '${app.name}'`);
      expect(error.message).not.to.contain(app.password);
    });

    it('without configure on server-named queues, start() rejects with ACCESS naming the queue', async () => {
      track(await EventBusLogger.create({ url: AMQP_URL, name: bus, listen: false }));
      const app = await scratch.user('spec_listen');
      await app.permit({ write: '^amq\\.gen-', read: listenerRead(bus) });
      // listen: true declares the queue at start, listened to or not.
      const error = await rejection<EventBusLoggerError>(EventBusLogger.create({ url: app.url(), name: bus, listen: true }));
      expect(error.code).to.equal('ACCESS');
      expect(error.message).to.contain('declaring the queue').and.match(/queue 'amq\.gen-/);
    });

    it('a permission revoked while it runs: disconnected, then retries with backoff saying why, and comes back once allowed again', async () => {
      const vhost = await scratch.vhost();
      const guestUrl = `${AMQP_URL}/${encodeURIComponent(vhost)}`;
      track(await EventBusLogger.create({ url: guestUrl, name: bus, listen: false }));
      const app = await scratch.user('spec_listen');
      const allowed = { configure: '^amq\\.gen-', write: '^amq\\.gen-', read: listenerRead(bus) };
      await app.permit(allowed, vhost);
      // listen: true binds at every (re)connect, listened to or not: the reconnect meets the refusal.
      const listener = track(await EventBusLogger.create({ url: app.url(vhost), name: bus, listen: true }));
      await app.permit({ ...allowed, read: '^amq\\.gen-' }, vhost);
      const disconnected = next(listener, 'disconnected', 20_000);
      await ctl('close_all_connections', '-p', vhost, 'spec: permission revoked');
      await disconnected;
      await until(() => /Access refused by the broker: binding the queue/.test(listener.stats().lastError ?? ''), 'lastError to name the refusal', 20_000);
      expect(listener.isReady).to.equal(false);
      const reconnected = next(listener, 'reconnected', 30_000);
      await app.permit(allowed, vhost);
      await reconnected;
      expect(listener.isReady).to.equal(true);
    });
  });

  describe("the permission lines of docs/security.md", () => {
    it('the owner declares the exchange; a worker (publishes and listens) then works without configure on it', async () => {
      const owner = await scratch.user('spec_owner');
      await owner.permit({ configure: escape(bus) });
      track(await EventBusLogger.create({ url: owner.url(), name: bus, listen: false }));
      const worker = await scratch.user('spec_worker');
      const both = listenerRead(bus);
      await worker.permit({ configure: '^amq\\.gen-', write: both, read: both });
      const logger = track(await EventBusLogger.create({ url: worker.url(), name: bus }));
      const received = next<[EventData]>(logger, 'info', 10_000);
      await logger.info({ from: 'worker' });
      expect((await received)[0]).to.deep.equal({ from: 'worker' });
    });
  });

  describe('connection-level refusals', () => {
    it('a vhost the user may not open rejects start() with ACCESS', async () => {
      const vhost = await scratch.vhost();
      const app = await scratch.user('spec_novhost');
      const error = await rejection<EventBusLoggerError>(EventBusLogger.create({ url: app.url(vhost), name: bus, waitForBroker: true, startTimeout: 15_000 }));
      expect(error.code).to.equal('ACCESS');
      expect(error.message).to.contain(`user "${app.name}" has no permission on it`);
      // At once, not after retrying for startTimeout.
      expect(error.message).not.to.match(/attempts in/);
    });

    it('a wrong password rejects start() with ACCESS at once, in the background mode (the default) and fail-fast', async () => {
      const app = await scratch.user('spec_badpw');
      await app.permit({ configure: '.*', write: '.*', read: '.*' });
      for (const failFast of [false, true]) {
        const error = await rejection<EventBusLoggerError>(EventBusLogger.create({ url: app.url().replace(app.password, 'not-the-password'), name: bus, failFast }));
        expect(error.code, `failFast: ${failFast}`).to.equal('ACCESS');
        expect(error.message).to.contain('the broker refused the login');
        expect(error.message).not.to.match(/attempts in/);
      }
    });
  });

  describe('the command line', () => {
    it('publish works for a publish-only user when the exchange exists', async () => {
      const owner = track(await EventBusLogger.create({ url: AMQP_URL, name: bus }));
      const app = await scratch.user('spec_cli_pub');
      await app.permit({ write: escape(bus) });
      const received = next<[EventData]>(owner, 'info', 15_000);
      const result = await runCli(['publish', 'info', '{"n":1}', '--name', bus], { env: { AMQP_URL: app.url() } });
      expect(result.stderr).to.equal('');
      expect(result.code).to.equal(0);
      expect((await received)[0]).to.deep.equal({ n: 1 });
    });

    it('tail and publish exit 3 with the same words when access is refused', async () => {
      track(await EventBusLogger.create({ url: AMQP_URL, name: bus, listen: false }));
      const app = await scratch.user('spec_cli');
      await app.permit({ configure: '^amq\\.gen-', write: '^amq\\.gen-', read: '' });
      const env = { AMQP_URL: app.url() };
      const tail = await runCli(['tail', '--name', bus], { env });
      expect(tail.code).to.equal(3);
      expect(tail.stderr).to.contain('Access refused by the broker: binding the queue to the exchange').and.contain(`exchange '${bus}'`);
      const publish = await runCli(['publish', 'info', '{"n":1}', '--name', bus], { env });
      expect(publish.code).to.equal(3);
      expect(publish.stderr).to.contain('Access refused by the broker: publishing to the exchange (needs write on it)');
      expect(tail.stderr + tail.stdout + publish.stderr + publish.stdout).not.to.contain(app.password);
    });
  });
});
