// lib/topology.ts: the Rascal config read into the bus (exchange, levels, queue options, URLs, what Rascal declares),
// and the history part of the config with the `history` option that needs it.
import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveOptions } from '../../lib/options.js';
import { loadTopology } from '../../lib/topology.js';
import { QUEUE_CAP, shippedConfig } from '../helpers.js';

const HISTORY_CONFIG = new URL('../../config/rascal-with-history.json', import.meta.url).pathname;

describe('topology (lib/topology.ts): loadTopology', () => {
  const savedUrl = process.env.AMQP_URL;
  afterEach(() => {
    if (savedUrl === undefined) delete process.env.AMQP_URL;
    else process.env.AMQP_URL = savedUrl;
  });

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

describe('topology (lib/topology.ts) and options: the history config', () => {
  it('history: { since } parses since; a bad one is a TypeError naming the forms', () => {
    expect(resolveOptions({ history: { since: '10m' } }).history?.since.kind).to.equal('time');
    expect(resolveOptions({}).history).to.equal(undefined);
    expect(() => resolveOptions({ history: { since: '10 minutes' } })).to.throw(TypeError, /Invalid `history.since` "10 minutes"; expected "now", "start"/);
    expect(() => resolveOptions({ history: {} as never })).to.throw(/Expected `history` to be \{ since \}/);
    expect(() => resolveOptions({ history: { since: 'start' }, listen: false })).to.throw(/`history` and `listen: false` contradict/);
    expect(() => resolveOptions({ history: { since: 'start' }, resumable: true })).to.throw(/`history` and `resumable` contradict/);
  });

  it('the shipped config declares no history; its history stream name follows the bus', async () => {
    const topology = await loadTopology({ name: 'bus_a' });
    expect(topology.history).to.equal(undefined);
    expect(topology.historyName).to.equal('bus_a.history');
  });

  it('config/rascal-with-history.json: <exchange>.history, a durable stream bound with #, out of what Rascal declares', async () => {
    const topology = await loadTopology({ config: HISTORY_CONFIG, name: 'bus_b' });
    expect(topology.history).to.deep.equal({
      stream: 'bus_b.history',
      options: { durable: true, arguments: { 'x-queue-type': 'stream', 'x-max-age': '7D', 'x-max-length-bytes': 1073741824, 'x-stream-max-segment-size-bytes': 16777216 } },
      bindingKeys: ['#'],
    });
    const vhost = (topology.rascalConfig.vhosts as Record<string, { queues: object; bindings: object }>)['/'];
    expect(vhost?.queues).to.not.have.property('history');
    expect(vhost?.bindings).to.not.have.property('history');
    expect(topology.levels).to.deep.equal(['info', 'critical']);
  });

  const badHistory: Array<[string, (config: any) => void, RegExp]> = [
    ['a history key that is not a string', (c) => (c.eventBusLogger.history = 3), /Expected `eventBusLogger.history` .* got `3` \(number\)/],
    ['a history key with no queue', (c) => (c.eventBusLogger.history = 'nope'), /names the history stream "nope" .* has no queue "nope"; turn history on/],
    ['a history queue that is not a stream', (c) => delete c.vhosts['/'].queues.history.options.arguments['x-queue-type'], /must be a stream: expected `options.arguments\["x-queue-type"\]` "stream"/],
    ['a non-durable stream', (c) => (c.vhosts['/'].queues.history.options.durable = false), /sets `durable: false`; a stream must be durable/],
    ['an unbound stream', (c) => delete c.vhosts['/'].bindings.history, /is bound to nothing; add a binding .*"bindingKey": "#"/],
  ];
  for (const [what, edit, message] of badHistory) {
    it(`rejects ${what} with a CONFIG error`, async () => {
      const config = JSON.parse(JSON.stringify((await import(HISTORY_CONFIG, { with: { type: 'json' } })).default));
      edit(config);
      const error = await loadTopology({ config }).then(() => undefined, (e: unknown) => e as Error & { code?: string });
      expect(error?.code).to.equal('CONFIG');
      expect(error?.message).to.match(message);
    });
  }

  it('the shipped config is transient: no stream anywhere in it', async () => {
    expect(JSON.stringify(await shippedConfig())).to.not.include('stream');
  });
});
