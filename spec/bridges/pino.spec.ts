// The pino transport (lib/bridges/pino.ts): a real pino instance logging through `pino.transport({ target })` to the real
// broker, and a listener on the same bus.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import pino from 'pino';
import { EventBusLogger, type EventData, type EventMeta } from '../../lib/index.js';
import { defaultLevelMap, levelMapper } from '../../lib/bridges/pino.js';
import { AMQP_URL, configWithLevel, deleteExchange, rawConnection, uniqueName, until } from '../helpers.js';
import { TcpProxy } from '../tcp-proxy.js';
import { CliProcess, ROOT } from '../cli/run-cli.js';

// Under tsx the transport runs from its TypeScript source through this shim, which registers tsx in pino's
// worker thread (see the shim). Built, it is `target: 'event-bus-logger/pino'`.
const TARGET = fileURLToPath(new URL('./fixtures/pino-target.mjs', import.meta.url));

const APP = fileURLToPath(new URL('./fixtures/pino-app.ts', import.meta.url));
const EXAMPLE = fileURLToPath(new URL('../../examples/pino-transport.ts', import.meta.url));
const EXAMPLE_TARGET = fileURLToPath(new URL('./fixtures/pino-example-target.mjs', import.meta.url));

// The password of the URL the broker refuses: no message may show it.
const PASSWORD = 'pino-secret';

/** Start-up failures of the transport, each with (a pattern of) the reason the user must see. */
const STARTUP_FAILURES: Array<{ what: string; options: () => Record<string, unknown>; message: RegExp }> = [
  {
    what: 'a level map to a level the config lacks',
    options: () => ({ levels: { 40: 'warning' } }),
    message: /The pino level "40" maps to "warning", which is not a configured level \(info, critical\)/,
  },
  {
    // A broker that cannot be reached is an outage, not a start-up failure (see 'a broker that comes up later').
    what: 'a broker that refuses the login',
    options: () => ({ url: `amqp://guest:${PASSWORD}@127.0.0.1:5672` }),
    message: /Cannot open the event bus at amqp:\/\/guest:\*\*\*@127\.0\.0\.1:5672: the broker refused the login/,
  },
  {
    what: 'a missing config file',
    options: () => ({ config: join(tmpdir(), `no-such-config-${process.pid}.json`) }),
    message: /Cannot read the config file \S*no-such-config-\d+\.json: ENOENT/,
  },
];

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
  this.timeout(60_000);
  let name: string;
  let listener: EventBusLogger<string> | undefined;
  let transports: Transport[];
  let received: Array<{ level: string; data: EventData; meta: EventMeta<string> }>;

  let apps: CliProcess[];

  beforeEach(() => {
    name = uniqueName('cli_pino');
    transports = [];
    received = [];
    apps = [];
  });

  afterEach(async () => {
    for (const app of apps) if (app.running) app.child.kill('SIGKILL');
    await Promise.all(apps.map((app) => app.exited));
    await Promise.all(transports.map((transport) => close(transport).catch(() => undefined)));
    await listener?.stop();
    listener = undefined;
    await deleteExchange(name).catch(() => undefined);
  });

  async function listen(config?: object): Promise<EventBusLogger<string>> {
    listener = await EventBusLogger.create<string>({ url: AMQP_URL, name, ...(config ? { config: config as never } : {}) });
    for (const level of listener.levels) listener.on(level, (data, meta) => void received.push({ level, data, meta }));
    // The transport publishes from a worker thread, whose publishes do not wait for this thread's binds.
    await listener.listening();
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
    const config = await configWithLevel('warning');
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

  it('delivers the records logged while the broker could not be reached yet, once it is up (a broker that comes up later)', async () => {
    await listen();
    const proxy = await TcpProxy.start();
    try {
      proxy.down();
      const stream = transport({ url: proxy.url() });
      const errors: Error[] = [];
      stream.on('error', (error: Error) => void errors.push(error));
      const log = pino(stream);
      for (let n = 1; n <= 3; n++) log.info({ n }, 'before the broker');
      // The transport's first try was refused, and it is trying again.
      await proxy.whenRefused(2);
      expect(received, 'nothing while the broker is unreachable').to.deep.equal([]);
      proxy.up();
      log.info({ n: 4 }, 'after it came');
      await until(() => received.length >= 4, 'the four records', 30_000);
      expect(received.map((event) => event.data.n)).to.deep.equal([1, 2, 3, 4]);
      await close(stream);
      expect(errors).to.deep.equal([]);
    } finally {
      await proxy.close();
    }
  });

  // Start-up failures: the transport's stream emits 'error' with the reason (also on standard error), reads and
  // drops the records, and ends normally, so that end() and the exit flush do not hang on a worker that never reads.
  for (const failure of STARTUP_FAILURES) {
    it(`on ${failure.what}: emits 'error' with the reason, drops the records, and still finishes on end() (long-running app)`, async () => {
      const stream = transport(failure.options());
      const errors: Error[] = [];
      stream.on('error', (error: Error) => void errors.push(error));
      const log = pino(stream);
      log.info('before the failure is known');
      await until(() => errors.length > 0, "the 'error' event", 20_000);
      expect(errors[0]?.message).to.match(failure.message);
      log.info('after it: dropped, no crash');
      // events.once rejects on a further 'error' as well.
      const finished = once(stream, 'finish', { signal: AbortSignal.timeout(20_000) });
      stream.end();
      await finished;
      expect(errors).to.have.lengthOf(1);
      expect(errors[0]?.message).to.match(failure.message).and.not.include(PASSWORD);
      if (!(stream as unknown as { closed: boolean }).closed) await once(stream, 'close', { signal: AbortSignal.timeout(20_000) });
    });

    for (const mode of ['end', 'exit'] as const) {
      const how = mode === 'end' ? 'ends the transport right after logging' : 'just returns (pino ends the transport on exit)';
      it(`on ${failure.what}: an app that ${how} gets the reason on 'error' and on standard error, and exits`, async () => {
        const app = runPinoApp(failure.options(), mode);
        const { code } = await app.exit(45_000);
        const output = `${app.stdout}${app.stderr}`;
        expect(app.stdout, app.stderr).to.match(new RegExp(`^error event: .*${failure.message.source}`, 'm'));
        expect(app.stderr).to.match(failure.message);
        expect(app.stderr).to.include('3 log record(s) dropped');
        if (mode === 'end') expect(app.stdout).to.include('finish');
        expect(output).not.to.include(PASSWORD).and.not.include('_flushSync').and.not.include('took too long');
        expect(code, output).to.equal(0);
      });
    }
  }

  it("runs the README's example (examples/pino-transport.ts) as it is written there", async () => {
    const example = readFileSync(EXAMPLE, 'utf8');
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('### pino: `event-bus-logger/pino`'));
    const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    // The file is the README's block plus a header comment.
    expect(block).to.equal(example.replace(/^(\/\/.*\n)+/, ''));

    await listen();
    const app = runPinoApp(undefined, 'end', EXAMPLE);
    const { code } = await app.exit(45_000);
    expect(code, app.stderr).to.equal(0);
    expect(app.stderr).to.equal('');
    await until(() => received.length >= 3, 'three records', 10_000);
    expect(received.map((event) => [event.level, event.data.msg])).to.deep.equal([
      ['info', 'signed in'],
      ['critical', 'disk almost full'],
      ['critical', 'it broke'],
    ]);
    expect(received[0]?.meta.appId).to.equal('billing');
  });

  // Runs the fixture app (or the README's example) as a child process: node --import tsx.
  function runPinoApp(options: Record<string, unknown> | undefined, mode: 'end' | 'exit', script = APP): CliProcess {
    const args = script === APP ? [JSON.stringify({ url: AMQP_URL, name, ...options }), mode] : [];
    const preload = script === APP ? [] : ['--import', EXAMPLE_TARGET];
    const child = spawn(process.execPath, ['--import', 'tsx', ...preload, script, ...args], {
      cwd: ROOT,
      env: { ...process.env, PINO_EXAMPLE_BUS: name },
      stdio: 'pipe',
    });
    const app = new CliProcess(child);
    apps.push(app);
    return app;
  }
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
