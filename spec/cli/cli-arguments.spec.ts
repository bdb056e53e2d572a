// The command line's arguments: bad flags and values (exit 2 with what was expected), timeouts passed on, --help,
// --version, and a URL that does not speak AMQP.
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { expect } from 'chai';
import { runCli } from './run-cli.js';
import { cliBusPerSpec } from './cli-bus.js';

describe('event-bus-logger (command line)', function () {
  this.timeout(30_000);
  const cli = cliBusPerSpec();

  describe('arguments', () => {
    it('exits 2 on a bad --publish-timeout or --start-timeout, naming the flag, the value and what is expected', async () => {
      for (const [command, flag, value] of [
        ['publish', '--publish-timeout', '0'],
        ['publish', '--start-timeout', '5s'],
        ['tail', '--publish-timeout', '-1'],
        ['tail', '--start-timeout', '1.5'],
      ] as const) {
        const args = command === 'publish' ? ['publish', 'info', '{}', ...cli.bus, `${flag}=${value}`] : ['tail', ...cli.bus, `${flag}=${value}`];
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
        const result = await runCli(['publish', 'info', '{}', '--url', `amqp://guest:guest@127.0.0.1:${port}`, '--name', cli.name, '--start-timeout', '1000']);
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
          const result = await runCli([...command, '--url', `amqp://guest:guest@127.0.0.1:${port}`, '--name', cli.name]);
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
