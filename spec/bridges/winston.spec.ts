// The winston transport (lib/bridges/winston.ts): a real winston logger writing through `EventBusTransport` to the
// real broker, and a listener on the same bus.
import { once } from 'node:events';
import { expect } from 'chai';
import sinon from 'sinon';
import winston from 'winston';
import { EventBusLogger, type EventData, type EventMeta } from '../../lib/index.js';
import { EventBusTransport, defaultWinstonLevelMap, winstonLevelMapper } from '../../lib/bridges/winston.js';
import { AMQP_URL, configWithLevel, deleteExchange, rawConnection, uniqueName, until } from '../helpers.js';
import { TcpProxy } from '../tcp-proxy.js';

// triple-beam's symbol for the record's level, which winston sets on every record it hands a transport.
const LEVEL = Symbol.for('level');
const record = (message: string, extra: Record<string, unknown> = {}): Record<string | symbol, unknown> => ({ level: 'info', [LEVEL]: 'info', message, ...extra });

const ended = new WeakSet<winston.Logger>();

// Ends a winston logger as the README says: end(), then 'finish' (winston waits for its transports' 'finish').
async function end(log: winston.Logger): Promise<void> {
  if (ended.has(log)) return;
  ended.add(log);
  const finished = once(log, 'finish', { signal: AbortSignal.timeout(20_000) });
  log.end();
  await finished;
}

describe('event-bus-logger/winston (winston transport)', function () {
  this.timeout(60_000);
  let name: string;
  let listener: EventBusLogger<string> | undefined;
  let logs: winston.Logger[];
  let received: Array<{ level: string; data: EventData; meta: EventMeta<string> }>;

  beforeEach(() => {
    name = uniqueName('winston');
    logs = [];
    received = [];
  });

  afterEach(async () => {
    sinon.restore();
    await Promise.all(logs.map((log) => end(log).catch(() => undefined)));
    await listener?.stop();
    listener = undefined;
    await deleteExchange(name).catch(() => undefined);
  });

  async function listen(config?: object): Promise<EventBusLogger<string>> {
    listener = await EventBusLogger.create<string>({ url: AMQP_URL, name, ...(config ? { config: config as never } : {}) });
    listener.subscribe(({ level, data, meta }) => void received.push({ level, data, meta }));
    return listener;
  }

  function logger(options: ConstructorParameters<typeof EventBusTransport>[0] = {}): { log: winston.Logger; transport: EventBusTransport } {
    const transport = new EventBusTransport({ url: AMQP_URL, name, ...options });
    const log = winston.createLogger({ level: 'silly', transports: [transport] });
    logs.push(log);
    return { log, transport };
  }

  it('publishes each record as { level, message, ...meta } at its mapped level (shipped levels: info, critical)', async () => {
    await listen();
    const { log } = logger();
    log.debug('debugging');
    log.info('signed in', { user: 'ann' });
    log.warn('careful');
    log.error('it broke', { orderId: 42 });
    log.log('http', 'GET /');
    await end(log);
    await until(() => received.length >= 5, 'five records', 10_000);
    expect(received.map(({ level, data }) => [level, data.level, data.message])).to.deep.equal([
      ['info', 'debug', 'debugging'],
      ['info', 'info', 'signed in'],
      ['info', 'warn', 'careful'],
      ['critical', 'error', 'it broke'],
      ['info', 'http', 'GET /'],
    ]);
    expect(received[1]?.data).to.deep.equal({ level: 'info', message: 'signed in', user: 'ann' });
    expect(received[3]?.data.orderId).to.equal(42);
    expect(received[0]?.meta.appId).to.equal('winston');
  });

  it("maps warn to 'warning' when the config has it, and takes overrides from `levels`", async () => {
    const config = await configWithLevel('warning');
    await listen(config);
    const { log } = logger({ config: config as never, levels: { debug: 'critical' }, appId: 'billing' });
    log.warn('disk almost full');
    log.debug('loud debug');
    log.info('plain');
    await end(log);
    await until(() => received.length >= 3, 'three records', 10_000);
    expect(received.map(({ level, data }) => [level, data.message])).to.deep.equal([
      ['warning', 'disk almost full'],
      ['critical', 'loud debug'],
      ['info', 'plain'],
    ]);
    expect(received[0]?.meta.appId).to.equal('billing');
  });

  it('serialises Errors: a logged Error, an Error as meta, and one nested in the meta', async () => {
    await listen();
    const { log } = logger();
    log.error(Object.assign(new Error('boom'), { code: 'E_BOOM' }));
    log.warn('nested', { err: Object.assign(new Error('inner'), { status: 503 }) });
    await end(log);
    await until(() => received.length >= 2, 'two records', 10_000);
    const [top, nested] = received;
    expect(top?.level).to.equal('critical');
    expect(top?.data).to.include({ level: 'error', name: 'Error', message: 'boom', code: 'E_BOOM' });
    expect(top?.data.stack).to.match(/^Error: boom\n\s+at /);
    expect(nested?.data.err).to.include({ name: 'Error', message: 'inner', status: 503 });
    expect((nested?.data.err as { stack: string }).stack).to.match(/^Error: inner\n/);
  });

  it("'finish' comes only once every record is confirmed by the broker (a queue with no consumer holds all of them)", async () => {
    // A queue bound to every level with nobody consuming it: a confirmed event is in it, so at 'finish' it must
    // hold every record already.
    const connection = await rawConnection();
    try {
      const channel = await connection.createChannel();
      await channel.assertExchange(name, 'topic', { durable: false });
      const { queue } = await channel.assertQueue('', { exclusive: true });
      await channel.bindQueue(queue, name, '#');
      const { log } = logger({ maxInFlight: 50 });
      const count = 3000;
      for (let i = 0; i < count; i++) log.info('record', { i });
      await end(log);
      const { messageCount } = await channel.checkQueue(queue);
      expect(messageCount).to.equal(count);
      // In order, and each once.
      const seen: number[] = [];
      for (;;) {
        const message = await channel.get(queue, { noAck: true });
        if (message === false) break;
        seen.push((JSON.parse(message.content.toString()) as { i: number }).i);
      }
      expect(seen).to.deep.equal(Array.from({ length: count }, (_, i) => i));
    } finally {
      await connection.close();
    }
  });

  it('reports a record that cannot be published (winston emits the transport\'s warn) and goes on with the next', async () => {
    await listen();
    const stderr = sinon.spy(process.stderr, 'write');
    const { log } = logger();
    const warnings: unknown[] = [];
    log.on('warn', (error: unknown) => warnings.push(error));
    log.info('bad', { roles: new Set(['admin']) });
    log.info('good');
    await end(log);
    await until(() => received.length >= 1, 'the good record', 10_000);
    expect(received.map(({ data }) => data.message)).to.deep.equal(['good']);
    expect(warnings).to.have.length(1);
    expect(String(warnings[0])).to.match(/data\.roles is a Set/);
    expect(stderr.args.map(([text]) => String(text)).join('')).to.match(/event-bus-logger\/winston: a log record was not published: .*data\.roles is a Set/);
  });

  it('delivers the records logged while the broker could not be reached yet, once it is up (a broker that comes up later)', async () => {
    await listen();
    const proxy = await TcpProxy.start();
    try {
      proxy.down();
      const { log, transport } = logger({ url: proxy.url() });
      const warnings: unknown[] = [];
      log.on('warn', (error: unknown) => warnings.push(error));
      for (let n = 1; n <= 3; n++) log.info('before the broker', { n });
      await transport.ready;
      // The transport's first try was refused, and it is trying again.
      await proxy.whenRefused(2);
      expect(received, 'nothing while the broker is unreachable').to.deep.equal([]);
      proxy.up();
      log.info('after it came', { n: 4 });
      await until(() => received.length >= 4, 'the four records', 30_000);
      expect(received.map((event) => event.data.n)).to.deep.equal([1, 2, 3, 4]);
      await end(log);
      expect(warnings).to.deep.equal([]);
    } finally {
      await proxy.close();
    }
  });

  it('a transport that cannot start reports why (ready rejects, warn, standard error), drops the records and still ends', async () => {
    const stderr = sinon.spy(process.stderr, 'write');
    // A broker that refuses the login (one that cannot be reached is an outage: see 'a broker that comes up later').
    const { log, transport } = logger({ url: 'amqp://guest:winston-secret@127.0.0.1:5672' });
    const warnings: unknown[] = [];
    log.on('warn', (error: unknown) => warnings.push(error));
    log.info('lost');
    log.error('lost too');
    const error = await transport.ready.then(
      () => undefined,
      (reason: unknown) => reason as Error,
    );
    expect(error?.message).to.match(/Cannot open the event bus at amqp:\/\/guest:\*\*\*@127\.0\.0\.1:5672: the broker refused the login/);
    await end(log);
    expect(warnings.map(String).join('\n')).to.match(/event-bus-logger\/winston did not start: Cannot open the event bus/);
    const written = stderr.args.map(([text]) => String(text)).join('');
    expect(written).to.match(/the transport did not start, its log records are dropped/);
    expect(written).to.match(/2 log record\(s\) dropped/);
    expect(written).not.to.include('winston-secret');
  });

  describe("winston's transport contract", () => {
    it('log(info) works without a callback; with one, calls it at once', async () => {
      await listen();
      const { transport } = logger();
      await transport.ready;
      transport.log(record('no callback'));
      let calledBack = false;
      transport.log(record('with callback'), () => (calledBack = true));
      expect(calledBack).to.equal(true);
      await until(() => received.length >= 2, 'both records', 10_000);
      expect(received.map(({ data }) => data.message)).to.deep.equal(['no callback', 'with callback']);
    });

    it("emits 'logged' with each record the broker confirmed, and 'warn' instead for one it could not publish", async () => {
      await listen();
      const { log, transport } = logger();
      const logged: unknown[] = [];
      transport.on('logged', (info: { message: unknown }) => logged.push(info.message));
      log.on('warn', () => undefined);
      log.info('one');
      log.info('bad', { roles: new Set(['admin']) });
      log.info('two');
      log.error('three');
      await end(log);
      expect(logged).to.deep.equal(['one', 'two', 'three']);
    });
  });

  it('holds at most maxQueued records beyond the window, drops the rest counted (warn once, standard error), and sends those it held after the outage', async () => {
    const proxy = await TcpProxy.start();
    try {
      await listen();
      const stderr = sinon.spy(process.stderr, 'write');
      const { log, transport } = logger({ url: proxy.url(), maxInFlight: 10, maxQueued: 100 });
      const warnings: unknown[] = [];
      log.on('warn', (error: unknown) => warnings.push(error));
      const logged: unknown[] = [];
      transport.on('logged', (info: { i: unknown }) => logged.push(info.i));
      await transport.ready;
      // No confirm comes back: 10 records in flight, 100 waiting, the other 390 dropped.
      proxy.freeze();
      for (let i = 0; i < 500; i++) transport.log(record('record', { i }));
      expect(transport.dropped).to.equal(390);
      expect(warnings.map(String)).to.deep.equal(['Error: 100 log records (maxQueued) already wait for the bus; records logged meanwhile are dropped']);
      expect(stderr.args.map(([text]) => String(text)).join('')).to.match(/event-bus-logger\/winston: a log record was not published: 100 log records \(maxQueued\)/);
      // The link breaks: the transport reconnects and sends what it held, in order.
      proxy.cut();
      await end(log);
      expect(logged).to.deep.equal(Array.from({ length: 110 }, (_, i) => i));
      await until(() => received.length >= 110, 'the 110 records held', 20_000);
      expect(received.map(({ data }) => data.i)).to.deep.equal(Array.from({ length: 110 }, (_, i) => i));
      expect(stderr.args.map(([text]) => String(text)).join('')).to.match(/390 log record\(s\) dropped: 100 \(maxQueued\) already waited for the bus/);
    } finally {
      await proxy.close();
    }
  });

  it('a level map to a level the config lacks fails the start, naming the levels', async () => {
    const { log, transport } = logger({ levels: { warn: 'warning' } });
    log.on('warn', () => undefined);
    const error = await transport.ready.then(
      () => undefined,
      (reason: unknown) => reason as Error & { code?: string },
    );
    expect(error?.code).to.equal('CONFIG');
    expect(error?.message).to.include('The winston level "warn" maps to "warning", which is not a configured level (info, critical)');
  });
});

describe('winston level map', () => {
  it('maps every level of winston\'s npm, syslog and cli sets to a configured level, warn to warning when there is one', () => {
    for (const configured of [['info', 'critical'], ['info', 'critical', 'warning']]) {
      const map = winstonLevelMapper(configured);
      const all = [...Object.keys(winston.config.npm.levels), ...Object.keys(winston.config.syslog.levels), ...Object.keys(winston.config.cli.levels)];
      for (const level of all) expect(configured, level).to.include(map(level));
      expect(map('warn')).to.equal(configured.includes('warning') ? 'warning' : 'info');
      for (const level of ['emerg', 'alert', 'crit', 'error']) expect(map(level), level).to.equal('critical');
      expect(map('a-custom-level')).to.equal('info');
    }
    expect(defaultWinstonLevelMap(['info', 'critical']).warn).to.equal('info');
  });
});
