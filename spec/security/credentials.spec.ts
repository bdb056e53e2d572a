// The password never shows: every failing path is run with DEBUG=* (the library's traces and Rascal's) and all
// of its output, its errors, events and stats are searched for it; the command line keeps it off `ps`.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { EventBusLogger, EventBusLoggerError } from '../../lib/index.js';
import { AMQP_URL, deleteExchange, next, rabbitmqctl, rejection, uniqueName } from '../helpers.js';
import { runCli, startCli, killStarted } from '../cli/run-cli.js';
import { Scratch, type BrokerUser } from './access.js';

const execFileAsync = promisify(execFile);

// start() in a child process with DEBUG=*: everything it printed, whatever it printed.
async function startWithTraces(url: string): Promise<{ output: string; code: string }> {
  const { stdout, stderr } = await execFileAsync(process.execPath, ['--import', 'tsx', 'spec/fixtures/start-bad-broker.ts', url], {
    timeout: 30_000,
    env: { ...process.env, DEBUG: '*', DEBUG_DEPTH: '10' },
  });
  const result = JSON.parse(stdout.trim().split('\n').pop() as string) as { code: string };
  return { output: stdout + stderr, code: result.code };
}

describe('credentials', function () {
  this.timeout(120_000);
  const scratch = new Scratch();
  let bus: string;
  let app: BrokerUser;
  let denied: BrokerUser;
  let owner: EventBusLogger;

  before(async () => {
    bus = uniqueName('cred');
    owner = await EventBusLogger.create({ url: AMQP_URL, name: bus, listen: false });
    app = await scratch.user('spec_cred');
    await app.permit({ configure: '.*', write: '.*', read: '.*' });
    denied = await scratch.user('spec_cred_denied');
    await denied.permit({ write: '^nothing$' });
  });

  after(async () => {
    await killStarted();
    await owner.stop();
    await deleteExchange(bus).catch(() => undefined);
    await scratch.cleanup();
  });

  it('never shows it on any failing path of start(), with DEBUG=* traces', async () => {
    const vhost = await scratch.vhost();
    const paths: Array<[string, string, string]> = [
      ['bad host', `amqp://${app.name}:${app.password}@127.0.0.1:1`, 'CONNECT'],
      ['refused login', `amqp://${app.name}:${app.password}x@127.0.0.1:5672`, 'ACCESS'],
      ['vhost refused', app.url(vhost), 'ACCESS'],
      ['access refused', denied.url(), 'ACCESS'],
    ];
    for (const [what, url, code] of paths) {
      const { output, code: got } = await startWithTraces(url);
      expect(got, what).to.equal(code);
      expect(output, what).to.contain('rascal'); // the traces were on
      for (const secret of [app.password, denied.password]) expect(output, `${what}: ${output}`).not.to.contain(secret);
    }
  });

  it('never shows it in the CLI output of failing commands, with DEBUG=*', async () => {
    for (const url of [`amqp://${app.name}:${app.password}@127.0.0.1:1`, `amqp://${app.name}:${app.password}x@127.0.0.1:5672`, denied.url()]) {
      for (const args of [['tail', '--name', bus], ['publish', 'info', '{"n":1}', '--name', bus]]) {
        const result = await runCli(args, { env: { AMQP_URL: url, DEBUG: '*' } });
        expect(result.code).to.equal(3);
        expect(result.stderr).to.contain('rascal');
        for (const secret of [app.password, denied.password]) expect(result.stdout + result.stderr).not.to.contain(secret);
      }
    }
  });

  it('never shows it in errors, events or stats() when a publish is refused at run time', async () => {
    const logger = await EventBusLogger.create({ url: denied.url(), name: bus, listen: false });
    try {
      const seen: unknown[] = [];
      for (const event of ['disconnected', 'reconnected', 'ready', 'error'] as const) logger.on(event, (payload: unknown) => seen.push(payload));
      const disconnected = next(logger, 'disconnected', 10_000);
      const error = await rejection<EventBusLoggerError>(logger.info({ n: 1 }));
      expect(error.code).to.equal('ACCESS');
      await disconnected;
      const everything = JSON.stringify([error.message, String(error.cause), seen, logger.stats()]);
      expect(everything).to.contain(denied.name);
      expect(everything).not.to.contain(denied.password);
    } finally {
      await logger.stop();
    }
  });

  it('the CLI reads the URL from --url-file, so `ps` never shows the password', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ebl-url-'));
    try {
      const urlFile = join(dir, 'url');
      writeFileSync(urlFile, `# the broker\n${app.url()}\n`, { mode: 0o600 });
      const tail = startCli(['tail', '--name', bus, '--url-file', urlFile]);
      await tail.waitFor(() => tail.stderr.includes('listening on'), '"listening on"', 20_000);
      const commandLine = readFileSync(`/proc/${tail.child.pid}/cmdline`, 'utf8');
      expect(commandLine).to.contain(urlFile);
      expect(commandLine).not.to.contain(app.password);
      // Connected as the user of the file.
      const connections = await rabbitmqctl<Array<{ user: string }>>('list_connections', 'user');
      expect(connections.map((connection) => connection.user)).to.include(app.name);
      tail.child.kill('SIGTERM');
      expect((await tail.exit()).code).to.equal(0);
      expect(tail.stdout + tail.stderr).not.to.contain(app.password);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--url with a password works but warns, without repeating the password', async () => {
    const result = await runCli(['publish', 'info', '{"n":1}', '--name', bus, '--url', app.url()]);
    expect(result.code).to.equal(0);
    expect(result.stderr).to.contain('warning: --url holds a password').and.contain('--url-file');
    expect(result.stderr).not.to.contain(app.password);
    const withoutPassword = await runCli(['publish', 'info', '{"n":1}', '--name', bus, '--url-file', '/nonexistent/url']);
    expect(withoutPassword.code).to.equal(2);
    expect(withoutPassword.stderr).to.contain('--url-file: cannot read /nonexistent/url (ENOENT)');
  });
});
