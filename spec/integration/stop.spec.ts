// stop() over a link that stopped carrying bytes without closing (a stalled proxy, a frozen NAT entry): the broker
// never answers the close, and stop() must still resolve, bounded by stopTimeout, leaving nothing open. And start()
// over a link that froze mid-set-up: it rejects within startTimeout instead of waiting forever.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { EventBusLogger, type DisconnectedInfo } from '../../lib/index.js';
import { deleteExchange, next, rabbitmqctl, rejection, shippedConfig, uniqueName, until } from '../helpers.js';
import { TcpProxy } from '../tcp-proxy.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/stop-frozen.ts', import.meta.url));

// How many connections the broker holds whose client-given name names this bus.
async function connectionsNaming(bus: string): Promise<number> {
  const connections = await rabbitmqctl<Array<{ client_properties: Array<[string, string, unknown]> }>>('list_connections', 'client_properties');
  return connections.filter(({ client_properties }) => Array.isArray(client_properties) && client_properties.some(([key, , value]) => key === 'connection_name' && String(value).includes(bus))).length;
}

// The shipped config with the connection heartbeat set: 0 turns it off, so nothing notices the frozen link.
async function configWithHeartbeat(seconds: number): ReturnType<typeof shippedConfig> {
  const config = await shippedConfig();
  config.vhosts['/'].connection.options.heartbeat = seconds;
  return config;
}

describe('stop() over a frozen link', function () {
  this.timeout(60_000);
  let name: string;
  let proxy: TcpProxy;

  beforeEach(async () => {
    name = uniqueName('stop');
    proxy = await TcpProxy.start();
  });

  afterEach(async () => {
    await proxy.close();
    await deleteExchange(name);
  });

  it('resolves after a publish timed out on a link no heartbeat watches, and says the connection was dropped', async () => {
    const logger = await EventBusLogger.create({ url: proxy.url(), name, config: await configWithHeartbeat(0), publishTimeout: 1000, stopTimeout: 1000 });
    proxy.freeze();
    const error = await rejection(logger.info({ into: 'the frozen link' }));
    expect(error.code).to.equal('PUBLISH_TIMEOUT');
    let stopped = 0;
    logger.on('stopped', () => stopped++);
    await logger.stop();
    expect(stopped).to.equal(1);
    expect(logger.stats().lastError).to.match(/did not answer the close within \d+ ms; the connection was dropped/);
    expect((await rejection(logger.info({ after: 'stop' }))).code).to.equal('STOPPED');
  });

  it('resolves when the heartbeat noticed the frozen link first', async () => {
    const logger = await EventBusLogger.create({ url: proxy.url(), name, config: await configWithHeartbeat(1), publishTimeout: 1000, stopTimeout: 1000 });
    const disconnected = next<[DisconnectedInfo]>(logger, 'disconnected', 15_000);
    proxy.freeze();
    const [down] = await disconnected;
    expect(down.reason).to.match(/heartbeat/i);
    // Rascal is reconnecting through the proxy (new connections pass) while it shuts down.
    await logger.stop();
    expect(logger.isReady).to.equal(false);
    // The broker drops the frozen connection by its own heartbeat; no connection opened meanwhile may stay.
    await until(async () => (await connectionsNaming(name)) === 0, 'no connection of this logger on the broker', 20_000);
  });

  it('resolves when the heartbeat notices the frozen link while stop() waits for the close', async () => {
    const logger = await EventBusLogger.create({ url: proxy.url(), name, config: await configWithHeartbeat(1), publishTimeout: 1000, stopTimeout: 5000 });
    proxy.freeze();
    expect((await rejection(logger.info({ into: 'the frozen link' }))).code).to.equal('PUBLISH_TIMEOUT');
    await logger.stop();
    expect(logger.isReady).to.equal(false);
  });

  it('leaves no timer or socket open: the process exits by itself', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, proxy.url(), name], { stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
    try {
      while (!stdout.includes('started\n')) {
        if (child.exitCode !== null) throw new Error(`The fixture exited early: ${stdout} ${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      proxy.freeze();
      child.stdin.write('go\n');
      const [code] = await exited;
      expect(code, stderr).to.equal(0);
      const result = JSON.parse(stdout.split('\n')[1] as string) as { code: string; lastError: string };
      expect(result.code).to.equal('PUBLISH_TIMEOUT');
      expect(result.lastError).to.match(/the connection was dropped/);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });

  it('fail-fast: start() rejects with CONNECT within startTimeout when the link freezes during set-up, and drops the connection', async () => {
    // queue.declare: the logger's own queue, its first set-up step after Rascal connected and declared the exchange.
    proxy.freezeOnMethod(50, 10);
    const starting = EventBusLogger.create({ url: proxy.url(), name, config: await configWithHeartbeat(0), startTimeout: 2000, stopTimeout: 1000, failFast: true });
    const error = await rejection(starting);
    expect(error.code).to.equal('CONNECT');
    expect(error.message).to.match(/^Connected to the event bus at amqp:\/\/guest:\*+@127\.0\.0\.1:\d+.*, but setting up this logger \(channels, exchange, queue\) did not finish within startTimeout \(2000 ms\)/);
    // The client side of the frozen connection is closed (no heartbeat would ever have noticed it).
    await until(() => proxy.clientsOpen === 0, 'the frozen connection to be dropped', 5000);
  });
});
