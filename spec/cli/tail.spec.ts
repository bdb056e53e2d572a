// `event-bus-logger tail`, run as a child process against the real broker, each spec on its own bus: what it prints
// (NDJSON on a pipe or with --json, a coloured line on a terminal), which levels, how it exits.
import { hostname } from 'node:os';
import { expect } from 'chai';
import { EventBusLogger } from '../../lib/index.js';
import { AMQP_URL, configWithLevel, quiet, rawConnection, until } from '../helpers.js';
import { hasScript, runCli, startCli, startCliOnTerminal, type CliProcess } from './run-cli.js';
import { cliBusPerSpec } from './cli-bus.js';

// Matches any ANSI escape sequence.
const ESCAPE = /\u001b\[[0-9;]*m/;

describe('event-bus-logger (command line)', function () {
  this.timeout(30_000);
  const cli = cliBusPerSpec();

  describe('tail', () => {
    it('prints, as NDJSON when stdout is not a terminal, the event publish sent', async () => {
      const tail = await cli.listening();
      const publish = await runCli(['publish', 'info', '{"disk":"ok","n":1}', ...cli.bus]);
      expect(publish, publish.stderr).to.include({ code: 0 });
      await tail.waitFor(() => tail.lines.length >= 1, 'an event line');
      const record = JSON.parse(tail.lines[0] as string);
      expect(Object.keys(record)).to.deep.equal(['time', 'level', 'host', 'pid', 'appId', 'messageId', 'data']);
      expect(record).to.deep.include({ level: 'info', host: hostname(), appId: 'event-bus-logger', data: { disk: 'ok', n: 1 } });
      expect(record.pid).to.be.a('number');
      expect(record.messageId).to.match(/^[\w-]{6}@.+:\d+\/\d+\.1$/); // <publisher>/<level tag>.<seq>
      expect(Date.now() - Date.parse(record.time)).to.be.within(-1000, 60_000);
      expect(tail.stderr).to.match(new RegExp(`^listening on ${cli.name} as amq\\.gen-\\S+ \\(levels info, critical\\)$`, 'm'));
    });

    it('prints NDJSON with --json, only for the --levels it listens to', async () => {
      const tail = await cli.listening(['--json', '--levels', 'critical']);
      expect(tail.stderr).to.include('(levels critical)');
      // info goes first and is confirmed first: were the tail bound to it, it would print it first.
      expect((await runCli(['publish', 'info', '{"n":1}', ...cli.bus])).code).to.equal(0);
      expect((await runCli(['publish', 'critical', '{"n":2}', ...cli.bus])).code).to.equal(0);
      await tail.waitFor(() => tail.lines.length >= 1, 'the critical event');
      const records = tail.lines.map((line) => JSON.parse(line));
      expect(records).to.have.lengthOf(1);
      expect(records[0]).to.deep.include({ level: 'critical', data: { n: 2 } });
    });

    it('exits 0 on SIGTERM and on SIGINT, once stopped', async () => {
      for (const signal of ['SIGTERM', 'SIGINT'] as const) {
        const tail = await cli.listening();
        tail.child.kill(signal);
        expect(await tail.exit(10_000)).to.deep.equal({ code: 0, signal: null });
      }
    });

    it("--levels '*' and --all-levels print every event on the bus, of levels this config does not name too", async () => {
      // A publisher whose config adds 'warning' (and a raw client sending at the routing key 'error'): a default tail
      // binds only info and critical, and never sees them.
      const wider = await EventBusLogger.create<string>({ url: AMQP_URL, name: cli.name, config: await configWithLevel('warning'), listen: false, appId: 'wider' });
      try {
        // Started side by side: each is a node process starting tsx.
        const [plain, every, all] = [['--json'], ['--json', '--levels', '*'], ['--json', '--all-levels']].map((args) => startCli(['tail', ...cli.bus, ...args]));
        for (const tail of [plain, every, all]) await tail!.waitFor(() => tail!.stderr.includes(`listening on ${cli.name} as `), 'the tail to listen', 30_000);
        expect(every!.stderr).to.match(/\(levels info, critical, #\)/);
        await wider.publish('warning', { n: 1 });
        const raw = await rawConnection();
        try {
          const channel = await raw.createConfirmChannel();
          channel.publish(cli.name, 'error', Buffer.from('{"n":2}'), { contentType: 'application/json', timestamp: Math.floor(Date.now() / 1000) });
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
        expect((await runCli(['tail', ...cli.bus, '--all-levels', '--levels', 'info'])).stderr).to.match(/--all-levels and --levels info contradict each other/);
      } finally {
        await wider.stop();
      }
    });

    it("the API: levels '*' hands subscribe() an event of any level, and never emits one as the logger's own event", async () => {
      const listener = await EventBusLogger.create<string>({ url: AMQP_URL, name: cli.name, levels: '*' });
      const errors: unknown[] = [];
      listener.on('error', (error) => errors.push(error));
      const got: string[] = [];
      listener.subscribe(({ level, data }) => void got.push(`${level} ${String(data.n)}`));
      await listener.listening();
      // A client of another config sends at the routing key 'error', a name no level may take here.
      const raw = await rawConnection();
      try {
        const channel = await raw.createConfirmChannel();
        channel.publish(cli.name, 'error', Buffer.from('{"n":1}'), { contentType: 'application/json', timestamp: Math.floor(Date.now() / 1000) });
        channel.publish(cli.name, 'info', Buffer.from('{"n":2}'), { contentType: 'application/json', timestamp: Math.floor(Date.now() / 1000) });
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
      const result = await runCli(['tail', ...cli.bus, '--levels', 'info,debug']);
      expect(result.code).to.equal(2);
      expect(result.stderr).to.match(/^event-bus-logger: .*"?debug"?.*info, critical/m);
    });

    it('exits 3 when the broker cannot be reached, with the password masked', async () => {
      const result = await runCli(['tail', '--name', cli.name], { env: { AMQP_URL: 'amqp://guest:secret@127.0.0.1:1' } });
      expect(result.code).to.equal(3);
      expect(result.stderr).to.include('amqp://guest:***@127.0.0.1:1').and.not.include('secret');
      expect(result.stderr.trim().split('\n')).to.have.lengthOf(1);
    });

    (hasScript ? describe : describe.skip)('on a terminal (through util-linux script)', () => {
      async function onTerminal(args: string[], env: NodeJS.ProcessEnv): Promise<CliProcess> {
        const tail = startCliOnTerminal(['tail', ...cli.bus, ...args], env);
        await tail.waitFor(() => tail.stdout.includes(`listening on ${cli.name} as `), 'the tail to listen');
        expect((await runCli(['publish', 'critical', '{"disk":"full"}', ...cli.bus])).code).to.equal(0);
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

});
