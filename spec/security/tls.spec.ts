// TLS against a RabbitMQ node of our own with a TLS listener that asks for client certificates (mutual TLS),
// started by spec/security/tls-node.sh with certificates made by openssl for this run. The expired certificate is
// served by a plain Node TLS server: RabbitMQ serves one certificate per listener, and the handshake fails before
// any AMQP is spoken.
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import pino from 'pino';
import { EventBusLogger, EventBusLoggerError, type EventData } from '../../lib/index.js';
import { next, rejection, shippedConfig, uniqueName } from '../helpers.js';
import { runCli } from '../cli/run-cli.js';

const execFileAsync = promisify(execFile);
const NODE_SCRIPT = new URL('./tls-node.sh', import.meta.url).pathname;
// Under tsx the transport runs from its TypeScript source through the pino specs' shim.
const PINO_TARGET = new URL('../bridges/fixtures/pino-target.mjs', import.meta.url).pathname;

describe('TLS', function () {
  this.timeout(60_000);
  const base = mkdtempSync(join(tmpdir(), 'ebl-tls-'));
  const certs = join(base, 'certs');
  const env = { ...process.env, TLS_NODE_BASE: base };
  const file = (name: string): string => join(certs, name);
  // A password nobody could guess: the handshake fails before it is checked, and it must show nowhere.
  const password = `Tls${randomBytes(12).toString('hex')}`;
  const url = (host = 'localhost', port = 5676): string => `amqps://guest:guest@${host}:${port}`;
  const secretUrl = (host = 'localhost', port = 5676): string => `amqps://guest:${password}@${host}:${port}`;
  let good: { caFile: string; certFile: string; keyFile: string };
  let expiredServer: Server | undefined;
  const loggers: Array<EventBusLogger<any>> = [];

  before(async function () {
    this.timeout(180_000);
    await execFileAsync('bash', [NODE_SCRIPT, 'up'], { env, timeout: 170_000 });
    good = { caFile: file('ca.pem'), certFile: file('client.pem'), keyFile: file('client.key') };
  });

  after(async function () {
    this.timeout(60_000);
    expiredServer?.close();
    await execFileAsync('bash', [NODE_SCRIPT, 'down'], { env, timeout: 50_000 });
  });

  afterEach(async () => {
    await Promise.all(loggers.splice(0).map((logger) => logger.stop()));
  });

  const roundTrip = async (logger: EventBusLogger): Promise<void> => {
    loggers.push(logger);
    const received = next<[EventData]>(logger, 'info', 10_000);
    await logger.info({ over: 'tls' });
    expect((await received)[0]).to.deep.equal({ over: 'tls' });
  };

  it('connects with mutual TLS (the tls option: CA, client certificate and key as file paths) and carries events', async () => {
    await roundTrip(await EventBusLogger.create({ url: url(), name: uniqueName('tls'), tls: good }));
  });

  it("reads the files from the config's eventBusLogger.tls, which wins over Rascal's socketOptions; the option wins over both", async () => {
    const config = await shippedConfig();
    config.eventBusLogger.tls = good;
    config.vhosts['/'].connection.url = url();
    config.vhosts['/'].connection.socketOptions.ca = readFileSync(file('other-ca.pem'), 'utf8');
    await roundTrip(await EventBusLogger.create({ config, name: uniqueName('tls') }));
    config.eventBusLogger.tls = { ...good, caFile: file('other-ca.pem') };
    await roundTrip(await EventBusLogger.create({ config, name: uniqueName('tls'), tls: { caFile: file('ca.pem') } }));
  });

  it('verifies the server by default: a wrong CA rejects start() at once with CONNECT saying so, even with waitForBroker', async () => {
    const error = await rejection<EventBusLoggerError>(EventBusLogger.create({ url: secretUrl(), tls: { ...good, caFile: file('other-ca.pem') }, waitForBroker: true, startTimeout: 30_000 }));
    expect(error.code).to.equal('CONNECT');
    expect(error.message).to.contain('TLS: the broker\'s certificate is not signed by a trusted CA');
    expect(error.message).not.to.match(/attempts in/);
    expect(error.message).not.to.contain(password);
  });

  it('a host-name mismatch rejects start() with CONNECT saying so', async () => {
    const error = await rejection<EventBusLoggerError>(EventBusLogger.create({ url: secretUrl('127.0.0.1'), tls: good, waitForBroker: true, startTimeout: 30_000 }));
    expect(error.code).to.equal('CONNECT');
    expect(error.message).to.contain('TLS: the broker\'s certificate is for another host name');
    expect(error.message).not.to.match(/attempts in/);
  });

  it('an expired certificate rejects start() with CONNECT saying so', async () => {
    expiredServer = createServer({ cert: readFileSync(file('expired.pem')), key: readFileSync(file('expired.key')) }, (socket) => socket.destroy());
    expiredServer.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => expiredServer?.listen(0, '127.0.0.1', resolve));
    const port = (expiredServer.address() as { port: number }).port;
    const error = await rejection<EventBusLoggerError>(EventBusLogger.create({ url: secretUrl('localhost', port), tls: good, waitForBroker: true, startTimeout: 30_000 }));
    expect(error.code).to.equal('CONNECT');
    expect(error.message).to.contain('TLS: the broker\'s certificate has expired');
  });

  it('without a client certificate the broker refuses the handshake, and start() says it wants one', async () => {
    const error = await rejection<EventBusLoggerError>(EventBusLogger.create({ url: secretUrl(), tls: { caFile: file('ca.pem') } }));
    expect(error.code).to.equal('CONNECT');
    expect(error.message).to.contain('it wants a client certificate');
  });

  it('never falls back to plain AMQP: certificates with an amqp:// URL are a CONFIG error', async () => {
    const error = await rejection<EventBusLoggerError>(EventBusLogger.create({ url: `amqp://guest:${password}@localhost:5677`, tls: good }));
    expect(error.code).to.equal('CONFIG');
    expect(error.message).to.contain('plain amqp:// URL').and.not.contain(password);
  });

  it('the pino transport reads AMQP_CACERT, AMQP_CERT and AMQP_KEY', async () => {
    const name = uniqueName('tls');
    const listener = await EventBusLogger.create({ url: url(), name, tls: good });
    loggers.push(listener);
    const received = next<[EventData]>(listener, 'info', 15_000);
    const saved = { AMQP_CACERT: process.env.AMQP_CACERT, AMQP_CERT: process.env.AMQP_CERT, AMQP_KEY: process.env.AMQP_KEY };
    Object.assign(process.env, { AMQP_CACERT: good.caFile, AMQP_CERT: good.certFile, AMQP_KEY: good.keyFile });
    let transport: ReturnType<typeof pino.transport> | undefined;
    try {
      // The worker thread takes a copy of the environment as it starts.
      transport = pino.transport({ target: PINO_TARGET, options: { url: url(), name } });
      pino(transport).info({ via: 'pino' }, 'over tls');
      expect((await received)[0]).to.include({ via: 'pino' });
    } finally {
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
      if (transport) {
        const finished = once(transport, 'close', { signal: AbortSignal.timeout(15_000) });
        transport.end();
        await finished;
      }
    }
  });

  describe('the command line', () => {
    it('takes --cacert, --cert and --key, and AMQP_CACERT, AMQP_CERT and AMQP_KEY', async () => {
      const name = uniqueName('tls');
      const byFlags = await runCli(['publish', 'info', '{"n":1}', '--name', name, '--cacert', good.caFile, '--cert', good.certFile, '--key', good.keyFile], { env: { AMQP_URL: url() } });
      expect(byFlags.stderr).not.to.contain('Cannot');
      expect(byFlags.code).to.equal(0);
      const byEnv = await runCli(['publish', 'info', '{"n":2}', '--name', name], { env: { AMQP_URL: url(), AMQP_CACERT: good.caFile, AMQP_CERT: good.certFile, AMQP_KEY: good.keyFile } });
      expect(byEnv.code).to.equal(0);
    });

    it('exits 3 on a TLS failure, saying which, with DEBUG=* showing the password nowhere', async () => {
      for (const [args, words] of [
        [['--cacert', file('other-ca.pem'), '--cert', good.certFile, '--key', good.keyFile], 'not signed by a trusted CA'],
        [['--cacert', good.caFile], 'wants a client certificate'],
      ] as const) {
        const result = await runCli(['tail', ...args], { env: { AMQP_URL: secretUrl(), DEBUG: '*' } });
        expect(result.code).to.equal(3);
        expect(result.stderr).to.contain(words);
        expect(result.stdout + result.stderr).not.to.contain(password);
        expect(result.stdout + result.stderr).not.to.contain('PRIVATE KEY');
      }
    });
  });
});
