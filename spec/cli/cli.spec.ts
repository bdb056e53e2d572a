// The `event-bus-logger` command, run as a child process against the real broker, each spec on its own bus.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { expect } from 'chai';
import { EventBusLogger, type EventData } from '../../lib/index.js';
import { AMQP_URL, configWithLevel, deleteExchange, memoryAlarm, next, quiet, rawConnection, shippedConfig, uniqueName, until } from '../helpers.js';
import { TcpProxy } from '../tcp-proxy.js';
import { hasScript, killStarted, runCli, startCli, startCliOnTerminal, type CliProcess } from './run-cli.js';

// Matches any ANSI escape sequence.
const ESCAPE = /\u001b\[[0-9;]*m/;

describe('event-bus-logger (command line)', function () {
  this.timeout(30_000);
  let name: string;
  let bus: string[];

  beforeEach(() => {
    name = uniqueName('cli');
    bus = ['--url', AMQP_URL, '--name', name];
  });

  afterEach(async () => {
    await killStarted();
    await deleteExchange(name).catch(() => undefined);
  });

  async function listening(args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<CliProcess> {
    const tail = startCli(['tail', ...bus, ...args], { env });
    await tail.waitFor(() => tail.stderr.includes(`listening on ${name} as `), 'the tail to listen');
    return tail;
  }

  describe('tail', () => {
    it('prints, as NDJSON when stdout is not a terminal, the event publish sent', async () => {
      const tail = await listening();
      const publish = await runCli(['publish', 'info', '{"disk":"ok","n":1}', ...bus]);
      expect(publish, publish.stderr).to.include({ code: 0 });
      await tail.waitFor(() => tail.lines.length >= 1, 'an event line');
      const record = JSON.parse(tail.lines[0] as string);
      expect(Object.keys(record)).to.deep.equal(['time', 'level', 'host', 'pid', 'appId', 'messageId', 'data']);
      expect(record).to.deep.include({ level: 'info', host: hostname(), appId: 'event-bus-logger', data: { disk: 'ok', n: 1 } });
      expect(record.pid).to.be.a('number');
      expect(record.messageId).to.match(/^[\w-]{6}@.+:\d+\/\d+\.1$/); // <publisher>/<level tag>.<seq>
      expect(Date.now() - Date.parse(record.time)).to.be.within(-1000, 60_000);
      expect(tail.stderr).to.match(new RegExp(`^listening on ${name} as amq\\.gen-\\S+ \\(levels info, critical\\)$`, 'm'));
    });

    it('prints NDJSON with --json, only for the --levels it listens to', async () => {
      const tail = await listening(['--json', '--levels', 'critical']);
      expect(tail.stderr).to.include('(levels critical)');
      // info goes first and is confirmed first: were the tail bound to it, it would print it first.
      expect((await runCli(['publish', 'info', '{"n":1}', ...bus])).code).to.equal(0);
      expect((await runCli(['publish', 'critical', '{"n":2}', ...bus])).code).to.equal(0);
      await tail.waitFor(() => tail.lines.length >= 1, 'the critical event');
      const records = tail.lines.map((line) => JSON.parse(line));
      expect(records).to.have.lengthOf(1);
      expect(records[0]).to.deep.include({ level: 'critical', data: { n: 2 } });
    });

    it('exits 0 on SIGTERM and on SIGINT, once stopped', async () => {
      for (const signal of ['SIGTERM', 'SIGINT'] as const) {
        const tail = await listening();
        tail.child.kill(signal);
        expect(await tail.exit(10_000)).to.deep.equal({ code: 0, signal: null });
      }
    });

    it("--levels '*' and --all-levels print every event on the bus, of levels this config does not name too", async () => {
      // A publisher whose config adds 'warning' (and a raw client sending at the routing key 'error'): a default tail
      // binds only info and critical, and never sees them.
      const wider = await EventBusLogger.create<string>({ url: AMQP_URL, name, config: await configWithLevel('warning'), listen: false, appId: 'wider' });
      try {
        // Started side by side: each is a node process starting tsx.
        const [plain, every, all] = [['--json'], ['--json', '--levels', '*'], ['--json', '--all-levels']].map((args) => startCli(['tail', ...bus, ...args]));
        for (const tail of [plain, every, all]) await tail!.waitFor(() => tail!.stderr.includes(`listening on ${name} as `), 'the tail to listen', 30_000);
        expect(every!.stderr).to.match(/\(levels info, critical, #\)/);
        await wider.publish('warning', { n: 1 });
        const raw = await rawConnection();
        try {
          const channel = await raw.createConfirmChannel();
          channel.publish(name, 'error', Buffer.from('{"n":2}'), { contentType: 'application/json', timestamp: Math.floor(Date.now() / 1000) });
          await channel.waitForConfirms();
        } finally {
          await raw.close();
        }
        await wider.critical({ n: 3 });
        for (const tail of [every!, all!]) {
          await tail.waitFor(() => tail.lines.length >= 3, 'the three events');
          expect(tail.lines.map((line) => JSON.parse(line) as { level: string; data: { n: number } }).map(({ level, data }) => `${level} ${data.n}`)).to.deep.equal(['warning 1', 'error 2', 'critical 3']);
          expect(tail.stderr).to.not.include('invalid message');
        }
        await plain!.waitFor(() => plain!.lines.length >= 1, 'the critical event');
        await quiet(300);
        expect(plain!.lines.map((line) => (JSON.parse(line) as { level: string }).level)).to.deep.equal(['critical']);
        expect((await runCli(['tail', ...bus, '--all-levels', '--levels', 'info'])).stderr).to.match(/--all-levels and --levels info contradict each other/);
      } finally {
        await wider.stop();
      }
    });

    it("the API: levels '*' hands subscribe() an event of any level, and never emits one as the logger's own event", async () => {
      const listener = await EventBusLogger.create<string>({ url: AMQP_URL, name, levels: '*' });
      const errors: unknown[] = [];
      listener.on('error', (error) => errors.push(error));
      const got: string[] = [];
      listener.subscribe(({ level, data }) => void got.push(`${level} ${String(data.n)}`));
      await listener.listening();
      // A client of another config sends at the routing key 'error', a name no level may take here.
      const raw = await rawConnection();
      try {
        const channel = await raw.createConfirmChannel();
        channel.publish(name, 'error', Buffer.from('{"n":1}'), { contentType: 'application/json', timestamp: Math.floor(Date.now() / 1000) });
        channel.publish(name, 'info', Buffer.from('{"n":2}'), { contentType: 'application/json', timestamp: Math.floor(Date.now() / 1000) });
        await channel.waitForConfirms();
        await until(() => got.length >= 2, 'both events');
        expect(got).to.deep.equal(['error 1', 'info 2']);
        expect(errors).to.deep.equal([]);
      } finally {
        await raw.close();
        await listener.stop();
      }
    });

    it('exits 2 on an unknown level in --levels, naming the configured levels', async () => {
      const result = await runCli(['tail', ...bus, '--levels', 'info,debug']);
      expect(result.code).to.equal(2);
      expect(result.stderr).to.match(/^event-bus-logger: .*"?debug"?.*info, critical/m);
    });

    it('exits 3 when the broker cannot be reached, with the password masked', async () => {
      const result = await runCli(['tail', '--name', name], { env: { AMQP_URL: 'amqp://guest:secret@127.0.0.1:1' } });
      expect(result.code).to.equal(3);
      expect(result.stderr).to.include('amqp://guest:***@127.0.0.1:1').and.not.include('secret');
      expect(result.stderr.trim().split('\n')).to.have.lengthOf(1);
    });

    (hasScript ? describe : describe.skip)('on a terminal (through util-linux script)', () => {
      async function onTerminal(args: string[], env: NodeJS.ProcessEnv): Promise<CliProcess> {
        const tail = startCliOnTerminal(['tail', ...bus, ...args], env);
        await tail.waitFor(() => tail.stdout.includes(`listening on ${name} as `), 'the tail to listen');
        expect((await runCli(['publish', 'critical', '{"disk":"full"}', ...bus])).code).to.equal(0);
        await tail.waitFor(() => tail.stdout.includes('"disk"'), 'the event line');
        tail.child.stdin.write('\u0003'); // Ctrl-C
        expect((await tail.exit(10_000)).code).to.equal(0);
        return tail;
      }

      it('prints one coloured readable line per event, and exits 0 on Ctrl-C', async () => {
        const tail = await onTerminal([], { NO_COLOR: '' });
        const line = tail.stdout.split(/\r?\n/).find((l) => l.includes('"disk"')) as string;
        expect(line).to.match(ESCAPE);
        // eslint-disable-next-line no-control-regex
        expect(line.replace(/\u001b\[[0-9;]*m/g, '')).to.match(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z CRITICAL ${hostname()}/event-bus-logger \\{"disk":"full"\\}$`));
      });

      it('prints no colour when NO_COLOR is set', async () => {
        const tail = await onTerminal([], { NO_COLOR: '1' });
        const line = tail.stdout.split(/\r?\n/).find((l) => l.includes('"disk"')) as string;
        expect(line).to.match(/CRITICAL/).and.not.match(ESCAPE);
      });

      it('prints NDJSON on a terminal with --json', async () => {
        const tail = await onTerminal(['--json'], { NO_COLOR: '' });
        const line = tail.stdout.split(/\r?\n/).find((l) => l.includes('"disk"')) as string;
        expect(JSON.parse(line)).to.deep.include({ level: 'critical', data: { disk: 'full' } });
      });
    });
  });

  describe('publish', () => {
    it('says on stderr when the broker blocks publishing, and sends the event once it stops [broker-wide]', async () => {
      const tail = await listening();
      const restore = await memoryAlarm();
      let publish: CliProcess;
      try {
        publish = startCli(['publish', 'critical', '{"during":"alarm"}', ...bus], { input: '' });
        await publish.waitFor(() => publish.stderr.includes('the broker blocks publishing (low on memory); waiting up to publishTimeout'), 'the blocked line', 20_000);
        expect(tail.lines).to.deep.equal([]);
      } finally {
        await restore();
      }
      expect(await publish.exit(20_000)).to.deep.equal({ code: 0, signal: null });
      expect(publish.stderr).to.match(/the broker accepts publishes again after \d+ ms/);
      await tail.waitFor(() => tail.lines.length >= 1, 'the event');
      expect(JSON.parse(tail.lines[0] as string)).to.deep.include({ level: 'critical', data: { during: 'alarm' } });
    });

    it('sends one event per line of standard input, in order, skipping blank lines', async () => {
      const tail = await listening();
      const input = '{"n":1}\n\n   \n{"n":2}\r\n{"n":3,"s":"three"}\n';
      const publish = await runCli(['publish', 'critical', ...bus], { input });
      expect(publish, publish.stderr).to.include({ code: 0, stderr: '' });
      await tail.waitFor(() => tail.lines.length >= 3, 'three event lines');
      const records = tail.lines.map((line) => JSON.parse(line));
      expect(records.map((r) => r.data)).to.deep.equal([{ n: 1 }, { n: 2 }, { n: 3, s: 'three' }]);
      expect(records.map((r) => r.level)).to.deep.equal(['critical', 'critical', 'critical']);
    });

    it('sends many lines from standard input, every one confirmed', async () => {
      const tail = await listening();
      const count = 500;
      const input = Array.from({ length: count }, (_, n) => JSON.stringify({ n })).join('\n');
      const publish = await runCli(['publish', 'info', ...bus], { input });
      expect(publish, publish.stderr).to.include({ code: 0 });
      await tail.waitFor(() => tail.lines.length >= count, `${count} event lines`);
      expect(tail.lines.map((line) => JSON.parse(line).data.n)).to.deep.equal(Array.from({ length: count }, (_, n) => n));
    });

    it('exits 2 on a line of bad JSON, naming the line, having sent the lines before it', async () => {
      const tail = await listening();
      const publish = await runCli(['publish', 'info', ...bus], { input: '{"n":1}\n\n{"n":\n{"n":3}\n' });
      expect(publish.code).to.equal(2);
      expect(publish.stderr).to.match(/^event-bus-logger: line 3: not valid JSON/);
      expect(publish.stderr.trim().split('\n')).to.have.lengthOf(1);
      await tail.waitFor(() => tail.lines.length >= 1, 'the event of line 1');
      expect(JSON.parse(tail.lines[0] as string).data).to.deep.equal({ n: 1 });
    });

    it('exits 2 on a JSON argument that is not a JSON object', async () => {
      const bad = await runCli(['publish', 'info', '{"n":', ...bus]);
      expect(bad.code).to.equal(2);
      expect(bad.stderr).to.match(/^event-bus-logger: the JSON argument: not valid JSON/);
      const array = await runCli(['publish', 'info', '[1,2]', ...bus]);
      expect(array.code).to.equal(2);
      expect(array.stderr).to.include('expected a JSON object').and.include('an array');
    });

    it('exits 2 on an unknown level, naming the configured levels', async () => {
      const result = await runCli(['publish', 'warn', '{"n":1}', ...bus]);
      expect(result.code).to.equal(2);
      expect(result.stderr.trim()).to.equal('event-bus-logger: unknown level "warn"; the configured levels are: info, critical');
    });

    it('exits 3 when the broker cannot be reached, with the password masked', async () => {
      const result = await runCli(['publish', 'info', '{"n":1}', '--name', name], { env: { AMQP_URL: 'amqp://guest:secret@127.0.0.1:1' } });
      expect(result.code).to.equal(3);
      expect(result.stderr).to.match(/^event-bus-logger: Cannot connect .*amqp:\/\/guest:\*\*\*@127\.0\.0\.1:1/);
      expect(result.stderr).not.to.include('secret');
      expect(result.stderr.trim().split('\n')).to.have.lengthOf(1);
    });

    it('takes the broker from AMQP_URL when --url is not given', async () => {
      const result = await runCli(['publish', 'info', '{"n":1}', '--name', name], { env: { AMQP_URL: 'amqp://guest:hidden@127.0.0.1:1' } });
      expect(result.code).to.equal(3);
      expect(result.stderr).to.include('guest:***@127.0.0.1:1').and.not.include('hidden');
    });
  });

  describe('a bus that did not exist', () => {
    it('publish says so on standard error, naming the exchange, and sends anyway; not once it exists', async () => {
      const first = await runCli(['publish', 'info', '{"n":1}', ...bus]);
      expect(first.code, first.stderr).to.equal(0);
      expect(first.stderr).to.equal(`event-bus-logger: the exchange "${name}" did not exist on the broker: creating it, a new and empty bus (is --name right?)\n`);
      const second = await runCli(['publish', 'info', '{"n":2}', ...bus]);
      expect(second).to.include({ code: 0, stderr: '' });
    });

    it('tail says so on standard error, and listens', async () => {
      const tail = await listening();
      expect(tail.stderr).to.match(new RegExp(`^event-bus-logger: the exchange "${name}" did not exist on the broker`, 'm'));
      const again = await listening();
      expect(again.stderr).not.to.include('did not exist');
    });
  });

  describe('over a link that stops carrying bytes', () => {
    let proxy: TcpProxy;
    let configDir: string;
    let config: string;

    beforeEach(async () => {
      proxy = await TcpProxy.start();
      // Heartbeats off: nothing notices the frozen link, so only the bounded stop() can end the command.
      const withoutHeartbeat = await shippedConfig();
      withoutHeartbeat.vhosts['/'].connection.options.heartbeat = 0;
      configDir = mkdtempSync(join(tmpdir(), 'event-bus-logger-cli-'));
      config = join(configDir, 'rascal.json');
      writeFileSync(config, JSON.stringify(withoutHeartbeat));
    });

    afterEach(async () => {
      await killStarted();
      await proxy.close();
      rmSync(configDir, { recursive: true, force: true });
    });

    it('publish exits 1 once the publish timed out, saying the connection had to be dropped', async function () {
      this.timeout(60_000);
      const listener = await EventBusLogger.create({ url: AMQP_URL, name, levels: ['info'] });
      try {
        const publish = startCli(['publish', 'info', '--url', proxy.url(), '--name', name, '--config', config, '--publish-timeout', '1000']);
        // The first line through the live link tells the command is connected; the link freezes once its confirm
        // went back through the proxy (the listener may have the event before the command has the confirm).
        const first = next<[EventData]>(listener, 'info', 20_000);
        const confirmed = proxy.serverSent(60, 80); // basic.ack
        publish.child.stdin.write('{"n":1}\n');
        expect((await first)[0]).to.deep.equal({ n: 1 });
        await confirmed;
        proxy.freeze();
        publish.child.stdin.end('{"n":2}\n');
        expect(await publish.exit(45_000)).to.deep.equal({ code: 1, signal: null });
        // The whole of standard error in the message: chai would cut it short.
        expect(publish.stderr, `standard error: ${publish.stderr}`).to.match(/line 2: Event not confirmed by the broker within publishTimeout \(1000 ms\)/);
        expect(publish.stderr).to.match(/^event-bus-logger: the broker did not answer the close within \d+ ms; the connection was dropped$/m);
      } finally {
        await listener.stop();
      }
    });

    it('tail exits 0 on SIGINT, saying the connection had to be dropped', async function () {
      this.timeout(60_000);
      const tail = startCli(['tail', '--url', proxy.url(), '--name', name, '--config', config]);
      await tail.waitFor(() => tail.stderr.includes(`listening on ${name} as `), 'the tail to listen');
      proxy.freeze();
      tail.child.kill('SIGINT');
      expect(await tail.exit(45_000)).to.deep.equal({ code: 0, signal: null });
      expect(tail.stderr).to.match(/^event-bus-logger: the broker did not answer the close within \d+ ms; the connection was dropped$/m);
    });
  });

  describe('arguments', () => {
    it('exits 2 on a bad --publish-timeout or --start-timeout, naming the flag, the value and what is expected', async () => {
      for (const [command, flag, value] of [
        ['publish', '--publish-timeout', '0'],
        ['publish', '--start-timeout', '5s'],
        ['tail', '--publish-timeout', '-1'],
        ['tail', '--start-timeout', '1.5'],
      ] as const) {
        const args = command === 'publish' ? ['publish', 'info', '{}', ...bus, `${flag}=${value}`] : ['tail', ...bus, `${flag}=${value}`];
        const result = await runCli(args);
        expect(result.code, args.join(' ')).to.equal(2);
        expect(result.stderr).to.equal(`event-bus-logger: ${flag} expects a whole number of milliseconds from 1 up, e.g. ${flag} 5000; got "${value}"\n`);
      }
    });

    it('passes --start-timeout on: a broker that never answers fails with exit 3 once it has passed', async () => {
      // A socket that accepts and never speaks AMQP: the connect waits for the broker's first frame.
      const server = createServer(() => undefined);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const port = (server.address() as AddressInfo).port;
        const result = await runCli(['publish', 'info', '{}', '--url', `amqp://guest:guest@127.0.0.1:${port}`, '--name', name, '--start-timeout', '1000']);
        expect(result.code, result.stderr).to.equal(3);
        expect(result.stderr).to.include('no answer within startTimeout (1000 ms)');
      } finally {
        server.close();
        server.unref();
      }
    });

    it('exits 2 with a one-line reason on bad arguments', async () => {
      for (const args of [
        ['tail', '--bogus'],
        ['publish'],
        ['publish', 'info', '{}', 'extra'],
        ['publish', 'info', '{}', '--json'],
        ['tail', 'extra'],
        ['frobnicate'],
        [],
      ]) {
        const result = await runCli(args);
        expect(result.code, args.join(' ')).to.equal(2);
        expect(result.stderr, args.join(' ')).to.match(/^event-bus-logger: .+\n$/);
        expect(result.stdout, args.join(' ')).to.equal('');
      }
    });

    it('documents every option, its default and the exit codes in --help, -h and help', async () => {
      const help = await runCli(['--help']);
      expect(help.code).to.equal(0);
      for (const text of ['tail', 'publish', '--url', 'AMQP_URL', 'amqp://guest:guest@localhost:5672', '--name', 'logger_metaclass', '--config', 'config/rascal.json', '--levels', '--json', '--app-id', '--publish-timeout <ms>', '--start-timeout <ms>', '--version', 'Exit codes', '0  done', '1  ', '2  usage', '3  the broker cannot be reached']) {
        expect(help.stdout).to.include(text);
      }
      expect((await runCli(['-h'])).stdout).to.equal(help.stdout);
      expect((await runCli(['help'])).stdout).to.equal(help.stdout);
    });

    it('prints the package version with --version and -V', async () => {
      const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
      expect(await runCli(['--version'])).to.include({ code: 0, stdout: `${version}\n` });
      expect(await runCli(['-V'])).to.include({ code: 0, stdout: `${version}\n` });
    });

    it("prints one command's help with <command> --help, -h, or help <command>", async function () {
      this.timeout(60_000);
      // What each help holds: spec/cli/cli-help.spec.ts. Here: that the command line reaches it.
      const general = (await runCli(['--help'])).stdout;
      expect(general).to.include('tail, publish and web say').and.not.include('Both commands');
      for (const args of [['tail', '--help'], ['publish', '-h'], ['help', 'web']]) {
        const command = args[0] === 'help' ? args[1] : args[0];
        const help = await runCli(args);
        expect(help.code, args.join(' ')).to.equal(0);
        expect(help.stdout, args.join(' ')).to.match(new RegExp(`^Usage:\n  event-bus-logger ${command} [^\n]*\n\n`)).and.include(`Options of ${command}:`);
      }
      const unknown = await runCli(['help', 'frobnicate']);
      expect(unknown.code).to.equal(2);
      expect(unknown.stderr).to.match(/^event-bus-logger: no help for "frobnicate": the commands are tail, publish, web/);
    });

    it('says so when the broker URL points at something that is not AMQP (an HTTP server, the management port)', async () => {
      const server = createHttpServer((_request, response) => response.end('<html>RabbitMQ Management</html>'));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const port = (server.address() as AddressInfo).port;
        for (const command of [['tail'], ['publish', 'info', '{}']]) {
          const result = await runCli([...command, '--url', `amqp://guest:guest@127.0.0.1:${port}`, '--name', name]);
          expect(result.code, result.stderr).to.equal(3);
          expect(result.stderr).to.include(`at amqp://guest:***@127.0.0.1:${port}`).and.include('does not speak AMQP: it answered as an HTTP server does').and.include('15672').and.include('5672');
          expect(result.stderr).to.not.include('Frame size');
        }
      } finally {
        server.close();
        server.unref();
      }
    });
  });
});
