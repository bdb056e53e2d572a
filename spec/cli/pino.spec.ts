// The pino transport (lib/pino.ts): a real pino instance logging through `pino.transport({ target })` to the real
// broker, and a listener on the same bus.
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import pino from 'pino';
import { EventBusLogger, type EventData, type EventMeta } from '../../lib/index.js';
import { defaultLevelMap, levelMapper } from '../../lib/pino.js';
import { AMQP_URL, deleteExchange, next, rawConnection, uniqueName, until } from '../helpers.js';

// Under tsx the transport runs from its TypeScript source through this shim, which registers tsx in pino's
// worker thread (see the shim). Built, it is `target: 'event-bus-logger/pino'`.
const TARGET = fileURLToPath(new URL('./fixtures/pino-target.mjs', import.meta.url));

const shipped = JSON.parse(readFileSync(new URL('../../config/rascal.json', import.meta.url), 'utf8')) as {
  vhosts: { '/': { bindings: Record<string, unknown> } };
};
/** The shipped config plus a 'warning' level. */
function configWithWarning(): typeof shipped {
  const config = structuredClone(shipped);
  config.vhosts['/'].bindings.warning = { source: 'logger_metaclass', destination: 'listener', destinationType: 'queue', bindingKey: 'warning' };
  return config;
}

type Transport = ReturnType<typeof pino.transport>;

// Ends a transport as the docs say (end, then 'finish': every record confirmed), then waits for its worker to exit.
async function close(transport: Transport): Promise<void> {
  const state = transport as unknown as { closed?: boolean; destroyed?: boolean };
  if (state.closed) return;
  const closed = once(transport, 'close', { signal: AbortSignal.timeout(15_000) });
  closed.catch(() => undefined);
  if (!state.destroyed) {
    const finished = once(transport, 'finish', { signal: AbortSignal.timeout(15_000) });
    transport.end();
    await finished;
  }
  await closed;
}

describe('event-bus-logger/pino (pino transport)', function () {
  this.timeout(30_000);
  let name: string;
  let listener: EventBusLogger<string> | undefined;
  let transports: Transport[];
  let received: Array<{ level: string; data: EventData; meta: EventMeta<string> }>;

  beforeEach(() => {
    name = uniqueName('cli_pino');
    transports = [];
    received = [];
  });

  afterEach(async () => {
    await Promise.all(transports.map((transport) => close(transport).catch(() => undefined)));
    await listener?.stop();
    listener = undefined;
    await deleteExchange(name).catch(() => undefined);
  });

  async function listen(config?: object): Promise<EventBusLogger<string>> {
    listener = await EventBusLogger.create<string>({ url: AMQP_URL, name, ...(config ? { config: config as never } : {}) });
    for (const level of listener.levels) listener.on(level, (data, meta) => void received.push({ level, data, meta }));
    return listener;
  }

  function transport(options: Record<string, unknown>): Transport {
    const stream = pino.transport({ target: TARGET, options: { url: AMQP_URL, name, ...options } });
    transports.push(stream);
    return stream;
  }

  it('publishes each record at its mapped level with the record as the body (shipped levels: info, critical)', async () => {
    await listen();
    const stream = transport({});
    const log = pino({ level: 'trace' }, stream);
    log.debug('debugging');
    log.info({ user: 'ann' }, 'hello');
    log.warn('careful');
    log.error(new Error('boom'), 'it broke');
    log.fatal('down');
    await close(stream);
    await until(() => received.length >= 5, 'five records', 10_000);
    expect(received.map((event) => [event.level, event.data.msg])).to.deep.equal([
      ['info', 'debugging'],
      ['info', 'hello'],
      ['info', 'careful'],
      ['critical', 'it broke'],
      ['critical', 'down'],
    ]);
    const hello = received[1] as (typeof received)[number];
    expect(hello.data).to.include({ level: 30, user: 'ann', pid: process.pid });
    expect(hello.data.time).to.be.a('number');
    expect(hello.meta.appId).to.equal('pino');
    expect((received[3] as (typeof received)[number]).data.err).to.include({ type: 'Error', message: 'boom' });
  });

  it("maps warn to 'warning' when the bus has it, and follows the levels option", async () => {
    const config = configWithWarning();
    await listen(config);
    const stream = transport({ config, appId: 'billing', levels: { debug: 'critical', 50: 'warning' } });
    const log = pino({ level: 'debug' }, stream);
    log.info('i');
    log.warn('w');
    log.error('e');
    log.debug('d');
    await close(stream);
    await until(() => received.length >= 4, 'four records', 10_000);
    expect(received.map((event) => [event.level, event.data.msg])).to.deep.equal([
      ['info', 'i'],
      ['warning', 'w'],
      ['warning', 'e'],
      ['critical', 'd'],
    ]);
    expect(received.every((event) => event.meta.appId === 'billing')).to.equal(true);
  });

  // A queue of our own, bound to every level and never consumed: its depth is what the broker holds.
  async function depthAtFinish(options: Record<string, unknown>, count: number): Promise<number> {
    const connection = await rawConnection();
    try {
      const channel = await connection.createChannel();
      const { queue } = await channel.assertQueue('', { exclusive: true });
      await channel.bindQueue(queue, name, '#');
      const stream = transport(options);
      const log = pino(stream);
      for (let n = 0; n < count; n++) log.info({ n }, 'record');
      const finished = once(stream, 'finish', { signal: AbortSignal.timeout(20_000) });
      stream.end();
      await finished;
      // No waiting: a confirm means the broker has routed the record.
      return (await channel.checkQueue(queue)).messageCount;
    } finally {
      await connection.close();
    }
  }

  for (const [what, options, count] of [
    ['many in flight', {}, 5000],
    ['few in flight', { maxInFlight: 4 }, 1000],
  ] as const) {
    it(`has every record confirmed by the broker when 'finish' comes, in order (${what})`, async () => {
      await listen();
      expect(await depthAtFinish(options, count)).to.equal(count);
      await until(() => received.length >= count, `${count} records`, 15_000);
      expect(received.map((event) => event.data.n)).to.deep.equal(Array.from({ length: count }, (_, n) => n));
    });
  }

  it('fails the transport stream, naming the configured levels, on a level map to an unknown level', async () => {
    const stream = transport({ levels: { warn: 'warning' } });
    pino(stream);
    const [error] = await next<[Error]>(stream as never, 'error', 15_000);
    expect(error.message).to.include('"warn"').and.include('"warning"').and.include('info, critical');
  });

  it('fails the transport stream when the broker cannot be reached, with the password masked', async () => {
    const stream = transport({ url: 'amqp://guest:secret@127.0.0.1:1' });
    pino(stream);
    const [error] = await next<[Error]>(stream as never, 'error', 15_000);
    expect(error.message).to.include('guest:***@127.0.0.1:1').and.not.include('secret');
  });
});

describe('pino level map (levelMapper)', () => {
  it('defaults trace, debug and info to info; warn to warning if configured, else info; error and fatal to critical', () => {
    expect(defaultLevelMap(['info', 'critical'])).to.deep.equal({ trace: 'info', debug: 'info', info: 'info', warn: 'info', error: 'critical', fatal: 'critical' });
    expect(defaultLevelMap(['info', 'warning', 'critical']).warn).to.equal('warning');
    const map = levelMapper(['info', 'critical']);
    expect([10, 20, 30, 40, 50, 60].map(map)).to.deep.equal(['info', 'info', 'info', 'info', 'critical', 'critical']);
  });

  it('takes overrides by pino level name or number, and labels (formatters.level) as well as numbers', () => {
    const map = levelMapper(['info', 'notice', 'critical'], { debug: 'notice', 40: 'critical' });
    expect(map(20)).to.equal('notice');
    expect(map('debug')).to.equal('notice');
    expect(map(40)).to.equal('critical');
    expect(map('warn')).to.equal('critical');
  });

  it("sends a custom pino level where the nearest standard level below it goes, unless mapped (pino's labels known)", () => {
    const labels = { labels: { 35: 'audit', 55: 'page' }, values: { audit: 35, page: 55 } };
    const map = levelMapper(['info', 'notice', 'critical'], { page: 'notice' }, () => labels);
    expect(map(35)).to.equal('info');
    expect(map('audit')).to.equal('info');
    expect(map(55)).to.equal('notice');
    expect(map(5)).to.equal('info');
    expect(map(undefined)).to.equal('info');
  });

  it('throws a CONFIG error naming the configured levels when the map names another', () => {
    expect(() => levelMapper(['info', 'critical'], { warn: 'warning' })).to.throw(/"warn" maps to "warning".*info, critical/);
    expect(() => levelMapper(['info', 'warning'])).to.throw(/"error" maps by default to "critical"/);
  });
});
