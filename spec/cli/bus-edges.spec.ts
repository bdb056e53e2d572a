// `tail` and `publish` where the bus or the link misbehaves: a bus whose exchange did not exist yet, and a link that
// stops carrying bytes (a bounded stop, and exit codes that say the connection had to be dropped).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { EventBusLogger, type EventData } from '../../lib/index.js';
import { AMQP_URL, next, shippedConfig } from '../helpers.js';
import { TcpProxy } from '../tcp-proxy.js';
import { killStarted, runCli, startCli } from './run-cli.js';
import { cliBusPerSpec } from './cli-bus.js';

describe('event-bus-logger (command line)', function () {
  this.timeout(30_000);
  const cli = cliBusPerSpec();

  describe('a bus that did not exist', () => {
    it('publish says so on standard error, naming the exchange, and sends anyway; not once it exists', async () => {
      const first = await runCli(['publish', 'info', '{"n":1}', ...cli.bus]);
      expect(first.code, first.stderr).to.equal(0);
      expect(first.stderr).to.equal(`event-bus-logger: the exchange "${cli.name}" did not exist on the broker: creating it, a new and empty bus (is --name right?)\n`);
      const second = await runCli(['publish', 'info', '{"n":2}', ...cli.bus]);
      expect(second).to.include({ code: 0, stderr: '' });
    });

    it('tail says so on standard error, and listens', async () => {
      const tail = await cli.listening();
      expect(tail.stderr).to.match(new RegExp(`^event-bus-logger: the exchange "${cli.name}" did not exist on the broker`, 'm'));
      const again = await cli.listening();
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
      const listener = await EventBusLogger.create({ url: AMQP_URL, name: cli.name, levels: ['info'] });
      try {
        const publish = startCli(['publish', 'info', '--url', proxy.url(), '--name', cli.name, '--config', config, '--publish-timeout', '1000']);
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
      const tail = startCli(['tail', '--url', proxy.url(), '--name', cli.name, '--config', config]);
      await tail.waitFor(() => tail.stderr.includes(`listening on ${cli.name} as `), 'the tail to listen');
      proxy.freeze();
      tail.child.kill('SIGINT');
      expect(await tail.exit(45_000)).to.deep.equal({ code: 0, signal: null });
      expect(tail.stderr).to.match(/^event-bus-logger: the broker did not answer the close within \d+ ms; the connection was dropped$/m);
    });
  });

});
