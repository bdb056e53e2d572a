import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULTS, resolveOptions } from '../../lib/options.js';
import { loadTopology } from '../../lib/topology.js';
import { QUEUE_CAP, shippedConfig } from '../helpers.js';

describe('options and config', () => {
  const savedUrl = process.env.AMQP_URL;
  afterEach(() => {
    if (savedUrl === undefined) delete process.env.AMQP_URL;
    else process.env.AMQP_URL = savedUrl;
  });

  describe('resolveOptions', () => {
    it('fills in the documented defaults', () => {
      const resolved = resolveOptions({});
      expect(resolved).to.deep.include({
        publishTimeout: DEFAULTS.publishTimeout,
        startTimeout: DEFAULTS.startTimeout,
        waitForBroker: false,
        stopTimeout: DEFAULTS.stopTimeout,
        prefetch: DEFAULTS.prefetch,
        maxMessageBytes: DEFAULTS.maxMessageBytes,
        mandatory: false,
        bufferMaxEvents: DEFAULTS.bufferMaxEvents,
        bufferMaxBytes: DEFAULTS.bufferMaxBytes,
        resumable: undefined,
      });
      expect(resolved.appId).to.be.a('string').and.not.equal('');
    });

    const bad: Array<[Record<string, unknown>, string]> = [
      [{ prefetch: 0 }, 'Expected `prefetch` to be an integer from 1 and up, got `0` (number)'],
      [{ publishTimeout: '5s' }, 'Expected `publishTimeout` to be an integer from 1 and up, got `5s` (string)'],
      [{ waitForBroker: 'yes' }, 'Expected `waitForBroker` to be a boolean, got `yes` (string)'],
      [{ bufferMaxEvents: -1 }, 'Expected `bufferMaxEvents` to be an integer from 0 and up, got `-1` (number)'],
      [{ resumable: { grace: 0 } }, 'Expected `grace` to be an integer from 1 and up, got `0` (number)'],
      [{ colour: true }, 'Unknown option `colour`; expected one of:'],
    ];
    for (const [options, message] of bad) {
      it(`rejects ${JSON.stringify(options)} naming the key and the expectation`, () => {
        expect(() => resolveOptions(options as never)).to.throw(message);
      });
    }
  });

  describe('loadTopology', () => {
    it('reads the shipped config: levels info and critical, exchange logger_metaclass', async () => {
      const topology = await loadTopology({});
      expect(topology.levels).to.deep.equal(['info', 'critical']);
      expect(topology.listenLevels).to.deep.equal(['info', 'critical']);
      expect(topology.exchange).to.equal('logger_metaclass');
      expect(topology.exchangeOptions).to.deep.equal({ durable: false, autoDelete: false });
      expect(topology.queueOptions).to.deep.equal({ exclusive: true, durable: false, arguments: QUEUE_CAP });
    });

    it('hands Rascal the exchange but not the listener queue or its bindings', async () => {
      const { rascalConfig } = await loadTopology({ name: 'renamed' });
      const vhost = (rascalConfig.vhosts as Record<string, any>)['/'];
      expect(Object.keys(vhost.exchanges)).to.deep.equal(['renamed']);
      expect(vhost.queues).to.deep.equal({});
      expect(vhost.bindings).to.deep.equal({});
      expect(rascalConfig).to.not.have.property('eventBusLogger');
    });

    it('takes the url option first, then AMQP_URL, then the config, and masks passwords', async () => {
      process.env.AMQP_URL = 'amqp://env:envpass@env-host:5672';
      const fromOption = await loadTopology({ url: ['amqp://a:apass@one:5672', 'amqp://b:bpass@two:5672'] });
      expect(fromOption.loggableUrls).to.deep.equal(['amqp://a:***@one:5672', 'amqp://b:***@two:5672']);
      const connections = (fromOption.rascalConfig.vhosts as any)['/'].connections;
      expect(connections.map((c: { url: string }) => c.url)).to.deep.equal(['amqp://a:apass@one:5672', 'amqp://b:bpass@two:5672']);
      expect(connections[0].socketOptions).to.deep.include({ noDelay: true });
      expect((await loadTopology({})).loggableUrls).to.deep.equal(['amqp://env:***@env-host:5672']);
      delete process.env.AMQP_URL;
      expect((await loadTopology({})).loggableUrls).to.deep.equal(['amqp://guest:***@localhost:5672']);
    });

    it('never modifies the config object it is given', async () => {
      const config = await shippedConfig();
      const copy = structuredClone(config);
      await loadTopology({ config: config as never, name: 'other', url: 'amqp://x:y@h:1' });
      expect(config).to.deep.equal(copy);
    });

    it('reads a config from a path, and names the file when it is not JSON', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'ebl-'));
      try {
        const config = await shippedConfig();
        config.vhosts['/'].bindings.audit = { source: 'logger_metaclass', destination: 'listener' };
        await writeFile(join(dir, 'ok.json'), JSON.stringify(config));
        expect((await loadTopology({ config: join(dir, 'ok.json') })).levels).to.deep.equal(['info', 'critical', 'audit']);
        await writeFile(join(dir, 'bad.json'), '{ nope');
        let error: Error | undefined;
        await loadTopology({ config: join(dir, 'bad.json') }).catch((e: Error) => (error = e));
        expect(error?.message).to.match(new RegExp(`^The config file ${join(dir, 'bad.json')} is not valid JSON`));
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    const broken: Array<[string, (config: Record<string, any>) => void, RegExp]> = [
      ['a binding key that differs from its level name', (c) => (c.vhosts['/'].bindings.info.bindingKey = 'information'), /a level's binding key must equal its name "info"/],
      ['no level at all', (c) => (c.vhosts['/'].bindings = {}), /binds no level to the listener queue "listener"/],
      ['autoDelete on the listener queue', (c) => (c.vhosts['/'].queues.listener.options.autoDelete = true), /sets `autoDelete`; remove it/],
      ['a non-topic exchange', (c) => (c.vhosts['/'].exchanges.logger_metaclass.type = 'fanout'), /to be of type "topic"/],
      ['a missing queue', (c) => (c.eventBusLogger.queue = 'nope'), /has no queue "nope"/],
    ];
    for (const [what, breakIt, message] of broken) {
      it(`rejects ${what}`, async () => {
        const config = await shippedConfig();
        breakIt(config);
        let error: (Error & { code?: string }) | undefined;
        await loadTopology({ config: config as never }).catch((e: Error) => (error = e));
        expect(error?.code).to.equal('CONFIG');
        expect(error?.message).to.match(message);
      });
    }

    it('listens to no level with listen: false, and refuses levels beside it', async () => {
      expect((await loadTopology({ listen: false })).listenLevels).to.deep.equal([]);
      let error: Error | undefined;
      await loadTopology({ listen: false, levels: ['info'] }).catch((e: Error) => (error = e));
      expect(error?.message).to.match(/^`levels` and `listen: false` contradict each other/);
    });

    it('rejects an exchange name reserved by RabbitMQ', async () => {
      let error: Error | undefined;
      await loadTopology({ name: 'amq.topic' }).catch((e: Error) => (error = e));
      expect(error?.message).to.match(/not starting with "amq\."/);
    });
  });
});
