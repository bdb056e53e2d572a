import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import type amqplib from 'amqplib';
import { EventBusLogger, EventBusLoggerError, type InvalidInfo } from '../../lib/index.js';
import { AMQP_URL, deleteExchange, next, queueInfo, quiet, rawConnection, rejection, shippedConfig, uniqueName, until } from '../helpers.js';

const execFileAsync = promisify(execFile);

// start() in a child process, fail-fast unless `mode` is 'background' (see the fixture).
async function startInChild(url: string, mode?: 'background'): Promise<{ message: string; code: string; elapsed: number; started?: boolean; connected?: boolean; lastError?: string; disconnected?: string }> {
  const started = Date.now();
  // The child must exit on its own: a handle left open would hang it until the 30 s kill.
  const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', 'spec/fixtures/start-bad-broker.ts', url, ...(mode ? [mode] : [])], { timeout: 30_000 });
  return { ...JSON.parse(stdout.trim().split('\n').pop() as string), elapsed: Date.now() - started };
}

describe('bad input', () => {
  describe('an unreachable broker', () => {
    it('by default, start() resolves and says why it is not connected; stop() ends the tries and leaves no handle open', async () => {
      const result = await startInChild('amqp://guest:s3cret-pw@127.0.0.1:1', 'background');
      expect(result).to.include({ started: true, connected: false });
      for (const reason of [result.lastError, result.disconnected]) {
        expect(reason).to.match(/^Cannot connect to the event bus at amqp:\/\/guest:\*\*\*@127\.0\.0\.1:1: connect ECONNREFUSED\b/);
      }
      expect(JSON.stringify(result)).not.to.contain('s3cret-pw');
    });

    it('fail-fast: rejects start() when nothing listens on the port, names the URL with the password masked, and leaves no handle open', async () => {
      const result = await startInChild('amqp://guest:s3cret-pw@127.0.0.1:1');
      expect(result.code).to.equal('CONNECT');
      expect(result.message).to.contain('amqp://guest:***@127.0.0.1:1');
      expect(result.message).to.contain('ECONNREFUSED');
      expect(result.message).not.to.contain('s3cret-pw');
    });

    it('names the URL once in the connect error', async () => {
      const result = await startInChild('amqp://guest:s3cret-pw@127.0.0.1:1');
      expect(result.message.split('amqp://')).to.have.lengthOf(2);
      expect(result.message).to.match(/^Cannot connect to the event bus at amqp:\/\/guest:\*\*\*@127\.0\.0\.1:1 \(1 attempt in \d+ ms\): connect ECONNREFUSED\b/);
    });

    it('with several URLs, says which one failed how', async () => {
      const logger = new EventBusLogger({ url: ['amqp://guest:s3cret-pw@127.0.0.1:1', 'amqp://guest:s3cret-pw@127.0.0.1:2'], failFast: true });
      const error = await rejection<EventBusLoggerError>(logger.start());
      expect(error.code).to.equal('CONNECT');
      expect(error.message).to.match(/\): amqp:\/\/guest:\*\*\*@127\.0\.0\.1:[12]: connect ECONNREFUSED/);
      expect(error.message).not.to.contain('s3cret-pw');
    });

    it('rejects start() on a vhost that does not exist, naming it, without the password, also by default', async () => {
      const vhost = `no-such-vhost-${randomUUID()}`;
      // The right password (the broker checks it before the vhost), which must not show either.
      const result = await startInChild(`amqp://guest:guest@127.0.0.1:5672/${vhost}`, 'background');
      expect(result.code).to.equal('ACCESS');
      expect(result.message).to.contain(`the vhost "${vhost}" does not exist, or user "guest" has no permission on it`);
      expect(result.message).not.to.match(/ConnectionOpenOk|guest:guest/);
      expect(result.message.split(vhost)).to.have.lengthOf(3); // in the URL, once, and in the reason
    });

    it('rejects start() on wrong credentials with ACCESS, at once, also by default, without showing them', async () => {
      const result = await startInChild('amqp://guest:wrong-s3cret@127.0.0.1:5672', 'background');
      expect(result.code).to.equal('ACCESS');
      expect(result.message).to.match(/the broker refused the login .*ACCESS.REFUSED/);
      expect(result.message).to.contain('guest:***@127.0.0.1:5672');
      expect(result.message).not.to.contain('wrong-s3cret');
    });

    it('gives up within startTimeout when waiting for a broker that never comes', async () => {
      const logger = new EventBusLogger({ url: 'amqp://u:hidden@127.0.0.1:1', failFast: true, waitForBroker: true, startTimeout: 1500 });
      const error = await logger.start().then(() => undefined, (e: unknown) => e as EventBusLoggerError);
      expect(error).to.be.instanceOf(EventBusLoggerError);
      expect(error?.code).to.equal('CONNECT');
      expect(error?.message).to.match(/attempts in \d+ ms/);
      expect(error?.message).not.to.contain('hidden');
    });
  });

  describe('on a running bus', () => {
    let name: string;
    let logger: EventBusLogger;
    let raw: amqplib.ChannelModel;
    let foreign: amqplib.Channel;

    beforeEach(async () => {
      name = uniqueName('bad_input');
      logger = await EventBusLogger.create({ url: AMQP_URL, name, maxMessageBytes: 1024 });
      raw = await rawConnection();
      foreign = await raw.createChannel();
    });

    afterEach(async () => {
      await logger.stop();
      await raw.close();
      await deleteExchange(name);
    });

    it('rejects an unknown level with a TypeError naming the configured levels', async () => {
      const error = await rejection(logger.publish('warning' as 'info', { x: 1 }));
      expect(error).to.be.instanceOf(TypeError);
      expect(error?.message).to.equal('Unknown level "warning"; expected one of the configured levels: info, critical');
    });

    it('rejects data that is not a JSON object, or too large, and sends nothing', async () => {
      // (A string alone is a message: { msg }, spec/unit/call-forms.spec.ts.)
      for (const bad of [null, 42, true, [1, 2]]) {
        const error = await rejection(logger.info(bad as never));
        expect(error, String(bad)).to.be.instanceOf(TypeError);
        expect(error?.message).to.match(/^Expected the event data to be a plain object/);
      }
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      expect((await rejection(logger.info(cyclic)))?.message).to.match(/cannot be serialised to JSON/);
      const big = await rejection(logger.info({ blob: 'x'.repeat(2000) }));
      expect(big).to.be.instanceOf(RangeError);
      expect(big?.message).to.match(/over maxMessageBytes \(1024\)/);
      expect(logger.stats().published).to.equal(0);
    });

    it('refuses data that is not a plain object (a Date, a Map, a class instance) and loses nothing: no invalid, no gap', async () => {
      const received: unknown[] = [];
      const invalid: InvalidInfo[] = [];
      const gaps: unknown[] = [];
      logger.on('info', (data) => received.push(data));
      logger.on('invalid', (info) => invalid.push(info));
      logger.on('gap', (info) => gaps.push(info));
      class Point {
        x = 1;
      }
      const date = await rejection(logger.info(new Date('2026-01-02T03:04:05.000Z') as never));
      expect(date).to.be.instanceOf(TypeError);
      expect(date?.message).to.equal('Expected the event data to be a plain object like { info: true }, got a Date `2026-01-02T03:04:05.000Z`');
      expect((await rejection(logger.info(new Map([['a', 1]]) as never)))?.message).to.match(/got a Map `Map\(1\) \{ 'a' => 1 \}`$/);
      expect((await rejection(logger.info(new Point() as never)))?.message).to.match(/got a Point `Point \{ x: 1 \}`$/);
      const nested = await rejection(logger.info({ user: { roles: new Set(['admin']) } }));
      expect(nested).to.be.instanceOf(TypeError);
      expect(nested?.message).to.match(/^data\.user\.roles is a Set: /);
      await logger.info({ after: 'the refused ones' });
      await until(() => received.length === 1, 'the valid event');
      await quiet(200);
      expect(received).to.deep.equal([{ after: 'the refused ones' }]);
      expect(invalid).to.deep.equal([]);
      expect(gaps).to.deep.equal([]);
      expect(logger.stats()).to.include({ published: 1, invalid: 0, missed: 0 });
    });

    it('sends an Error in the data as name, message, stack, cause and its own fields', async () => {
      const got = next<[Record<string, Record<string, unknown>>]>(logger, 'critical');
      const error = Object.assign(new Error('disk full', { cause: new Error('ENOSPC') }), { code: 'E_DISK' });
      // Two lines of stack each: this bus's maxMessageBytes is 1024.
      for (const e of [error, error.cause as Error]) e.stack = e.stack?.split('\n').slice(0, 2).join('\n');
      await logger.critical({ err: error });
      const [data] = await got;
      expect(data.err).to.deep.include({ name: 'Error', message: 'disk full', stack: error.stack, code: 'E_DISK' });
      expect(data.err?.cause).to.include({ name: 'Error', message: 'ENOSPC' });
    });

    it('a publish promise nobody awaits never becomes an unhandled rejection', async () => {
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown): void => {
        unhandled.push(reason);
      };
      process.on('unhandledRejection', onUnhandled);
      try {
        void logger.publish('nope' as 'info', {});
        void logger.info(null as never);
        await new Promise((resolve) => setTimeout(resolve, 50));
        expect(unhandled).to.deep.equal([]);
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
    });

    it('with mandatory, rejects a publish nobody listens to as UNROUTABLE, and confirms one somebody does', async () => {
      const bus = uniqueName('mandatory');
      const criticalOnly = await EventBusLogger.create({ url: AMQP_URL, name: bus, levels: ['critical'], mandatory: true });
      try {
        // Its own critical listener is a route (the publish below waits for its bind); info it may not listen to.
        criticalOnly.on('critical', () => undefined);
        criticalOnly.on('info', () => undefined);
        const error = await rejection(criticalOnly.info({ nobody: 'listens' }));
        expect(error.code).to.equal('UNROUTABLE');
        expect(error.message).to.match(/no queue is bound to exchange "mandatory_[^"]+" for level "info"/);
        await criticalOnly.critical({ somebody: 'listens' });
        expect(criticalOnly.stats()).to.include({ confirmed: 1, rejected: 1 });
      } finally {
        await criticalOnly.stop();
        await deleteExchange(bus);
      }
    });

    it('reports invalid JSON as invalid, acks it, and keeps receiving', async () => {
      const invalid: InvalidInfo[] = [];
      logger.on('invalid', (info) => invalid.push(info));
      const received: unknown[] = [];
      logger.on('info', (data) => received.push(data));
      // A foreign client's publishes do not wait for this logger's bind.
      await logger.listening();
      foreign.publish(name, 'info', Buffer.from('{not json'), { contentType: 'application/json' });
      foreign.publish(name, 'info', Buffer.alloc(2000, 'a'), {});
      foreign.publish(name, 'info', Buffer.from('{"foreign":true}'));
      await until(() => received.length === 1, 'the valid event after the bad ones');
      expect(received).to.deep.equal([{ foreign: true }]);
      expect(invalid.map((i) => i.reason)).to.have.length(2);
      expect(invalid[0]?.reason).to.match(/^body is not valid JSON/);
      expect(invalid[0]?.content.toString()).to.equal('{not json');
      expect(invalid[0]?.routingKey).to.equal('info');
      expect(invalid[1]?.reason).to.match(/over maxMessageBytes/);
      // Acked: nothing waits in the queue or unacknowledged for a redelivery.
      expect(await queueInfo(logger.queue as string)).to.include({ messages: 0, messages_unacknowledged: 0 });
      expect(logger.stats().invalid).to.equal(2);
    });

  });

  describe('a bad config', () => {
    async function configWith(level: string): Promise<object> {
      const config = await shippedConfig();
      config.vhosts['/'].bindings[level] = { source: 'logger_metaclass', destination: 'listener', destinationType: 'queue', bindingKey: level };
      return config;
    }

    for (const reserved of ['error', 'newListener', 'ready', 'invalid', 'blocked']) {
      it(`rejects a level named like the lifecycle event "${reserved}"`, async () => {
        const error = await rejection(EventBusLogger.create({ config: await configWith(reserved) as never }));
        expect(error?.code).to.equal('CONFIG');
        expect(error?.message).to.contain(`level "${reserved}" is reserved`);
      });
    }

    for (const wildcard of ['a.b', 'all*', 'any#']) {
      it(`rejects a level containing a topic wildcard or separator: "${wildcard}"`, async () => {
        const error = await rejection(EventBusLogger.create({ config: await configWith(wildcard) as never }));
        expect(error?.code).to.equal('CONFIG');
        expect(error?.message).to.match(/may hold only letters, digits/);
      });
    }

    it('rejects an unknown level in the levels option, naming the configured ones', async () => {
      const error = await rejection(EventBusLogger.create({ levels: ['debug' as 'info'] }));
      expect(error?.message).to.equal('Unknown level `debug` (string) in `levels`; expected one of the configured levels: info, critical');
    });

    it('rejects a bad option value naming the key and what was expected', async () => {
      const error = await rejection(EventBusLogger.create({ publishTimeout: 0 }));
      expect(error?.message).to.equal('Expected `publishTimeout` to be an integer from 1 and up, got `0` (number)');
    });
  });
});
