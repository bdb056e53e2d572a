// `event-bus-logger web` over plain HTTP: the headers every response carries, the Host check (DNS rebinding), the
// access token off the loopback, the live stream, bad flags and a clean stop.
import { request } from 'node:http';
import { expect } from 'chai';
import { EventBusLogger } from '../../lib/index.js';
import { AMQP_URL, HISTORY_CONFIG_PATH, deleteExchange, deleteQueue, rawConnection, uniqueName } from '../helpers.js';
import { killStarted, runCli } from '../cli/run-cli.js';
import { reachableHost } from '../../lib/web/server.js';
import { startWeb } from './web-helpers.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

// A request with exactly the headers given (Host included), as a rebinding page or curl would send it.
function get(port: number, path: string, headers: Record<string, string>, readMs = 0, host = '127.0.0.1'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, headers, method: 'GET' }, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      const done = (): void => resolve({ status: response.statusCode ?? 0, headers: response.headers, body });
      if (readMs > 0) {
        setTimeout(() => {
          done();
          req.destroy();
        }, readMs);
      } else response.on('end', done);
    });
    req.on('error', reject);
    req.end();
  });
}

interface EventStream {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Everything received so far. */
  readonly body: string;
  /** The frames received so far whose event is `event` (event, notice, hello). */
  frames(event: string): string[];
  /** Resolves once `predicate` holds of the body; rejects with `what` after `ms`. */
  until(what: string, predicate: (stream: EventStream) => boolean, ms?: number): Promise<void>;
  /** Resolves when the server ends the stream. */
  readonly ended: Promise<void>;
  close(): void;
}

// /events opened as a browser would; resolves once the server's hello frame arrived, so the stream is live.
function openStream(port: number, ms = 10_000): Promise<EventStream> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/events', headers: { Host: `127.0.0.1:${port}` }, method: 'GET' }, (response) => {
      let body = '';
      const waiters = new Set<() => void>();
      let endStream: () => void = () => undefined;
      const stream: EventStream = {
        status: response.statusCode ?? 0,
        headers: response.headers,
        get body() {
          return body;
        },
        frames: (event) => body.split('\n\n').filter((frame) => frame.includes(`event: ${event}`)),
        until: (what, predicate, waitMs = 10_000) =>
          new Promise<void>((done, fail) => {
            const check = (): void => {
              if (!predicate(stream)) return;
              clearTimeout(timer);
              waiters.delete(check);
              done();
            };
            const timer = setTimeout(() => {
              waiters.delete(check);
              fail(new Error(`Timed out after ${waitMs} ms waiting for ${what}; the stream got:\n${body}`));
            }, waitMs);
            waiters.add(check);
            check();
          }),
        ended: new Promise<void>((done) => (endStream = done)),
        close: () => req.destroy(),
      };
      response.setEncoding('utf8').on('data', (chunk: string) => {
        body += chunk;
        for (const check of [...waiters]) check();
      });
      response.on('end', () => endStream());
      response.on('close', () => endStream());
      stream.until('the hello frame', (s) => s.frames('hello').length > 0, ms).then(() => resolve(stream), reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('event-bus-logger web (HTTP)', function () {
  this.timeout(60_000);
  let name: string;

  beforeEach(() => {
    name = uniqueName('web_http');
  });

  afterEach(async () => {
    await killStarted();
    await deleteExchange(name).catch(() => undefined);
  });

  it('serves the page on 127.0.0.1 with a CSP that forbids inline script, and refuses a foreign Host header', async () => {
    const { port } = await startWeb(name);
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`]) {
      const page = await get(port, '/', { Host: host });
      expect(page.status, host).to.equal(200);
      expect(page.body).to.include('<script type="module" src="/app.js"></script>');
      const csp = String(page.headers['content-security-policy']);
      expect(csp).to.include("script-src 'self'").and.include("default-src 'none'");
      expect(csp).not.to.include('unsafe-inline');
      expect(page.headers['x-content-type-options']).to.equal('nosniff');
    }
    for (const host of [`evil.example:${port}`, 'evil.example', `127.0.0.1:${port + 1}`, `127.0.0.1.evil.example:${port}`]) {
      const refused = await get(port, '/', { Host: host });
      expect(refused.status, host).to.equal(403);
      expect(refused.body).to.include('is not an address this server serves');
      expect((await get(port, '/events', { Host: host })).status, `${host} /events`).to.equal(403);
    }
  });

  it('streams an event published after a browser connected, with the backlog first', async () => {
    const { port } = await startWeb(name);
    const publisher = await EventBusLogger.create<string>({ url: AMQP_URL, name, listen: false });
    try {
      await publisher.info({ before: true });
      const stream = await openStream(port);
      await publisher.critical({ after: '<b>bold</b>' });
      await stream.until('the backlog event and the live one', (s) => s.frames('event').length >= 2);
      stream.close();
      const { status, headers } = stream;
      expect(status).to.equal(200);
      expect(headers['content-type']).to.match(/^text\/event-stream/);
      const events = stream.frames('event');
      expect(events).to.have.length(2);
      expect(events[0]).to.include('"data":{"before":true}');
      expect(events[1]).to.include('"level":"critical"').and.include('"data":{"after":"<b>bold</b>"}');
    } finally {
      await publisher.stop();
    }
  });

  it('off the loopback, needs the token: 401 without it, then ?token= sets an HttpOnly cookie that lets the browser in', async () => {
    const token = 'web-spec-token-7f3a';
    const { cli, port, url } = await startWeb(name, ['--host', '0.0.0.0'], { EVENT_BUS_LOGGER_TOKEN: token });
    // An address a colleague can use: this machine's address off the loopback, not localhost.
    expect(url).to.equal(`http://${reachableHost()}:${port}/?token=${token}`);
    expect(new URL(url).hostname).to.not.match(/^(localhost|127\.|\[::1\])/);
    expect((await get(port, `/?token=${token}`, { Host: new URL(url).host }, 0, new URL(url).hostname.replace(/^\[|\]$/g, ''))).status, 'the printed address answers').to.equal(303);
    expect(cli.stdout.split(token).length - 1, 'the token is printed once').to.equal(1);
    const host = { Host: `10.1.2.3:${port}` };
    for (const path of ['/', '/events', '/app.js', '/?token=wrong']) {
      const refused = await get(port, path, host);
      expect(refused.status, path).to.equal(401);
      expect(refused.body).not.to.include(token);
    }
    expect((await get(port, '/', { ...host, Cookie: 'event_bus_logger_token=wrong' })).status).to.equal(401);
    const entry = await get(port, `/?token=${token}`, host);
    expect(entry.status).to.equal(303);
    expect(entry.headers.location).to.equal('/');
    const cookie = String(entry.headers['set-cookie']);
    expect(cookie).to.include(`event_bus_logger_token=${token}`).and.include('HttpOnly').and.include('SameSite=Strict');
    const page = await get(port, '/', { ...host, Cookie: `event_bus_logger_token=${token}` });
    expect(page.status).to.equal(200);
    expect(page.body).to.include('<div id="events"');
    expect((await get(port, '/events', { ...host, Cookie: `other=1; event_bus_logger_token=${token}` }, 500)).status).to.equal(200);
  });

  it('names this machine as others reach it for --host 0.0.0.0: an IPv4 address off the loopback, else IPv6, else the host name', () => {
    const address = (family: 'IPv4' | 'IPv6', value: string, internal = false) => ({ address: value, family, internal, netmask: '', mac: '', cidr: null, ...(family === 'IPv6' ? { scopeid: 0 } : {}) }) as never;
    expect(reachableHost({ lo: [address('IPv4', '127.0.0.1', true)], eth0: [address('IPv6', 'fd00::2'), address('IPv4', '192.0.2.2')] }, 'box')).to.equal('192.0.2.2');
    expect(reachableHost({ lo: [address('IPv4', '127.0.0.1', true)], eth0: [address('IPv6', 'fe80::1'), address('IPv6', 'fd00::2')] }, 'box')).to.equal('[fd00::2]');
    expect(reachableHost({ lo: [address('IPv4', '127.0.0.1', true)] }, 'box')).to.equal('box');
  });

  it('off the loopback without a token given (or an empty EVENT_BUS_LOGGER_TOKEN), generates one and prints it in the address', async () => {
    const { url, port } = await startWeb(name, ['--host', '0.0.0.0'], { EVENT_BUS_LOGGER_TOKEN: '' });
    const token = new URL(url).searchParams.get('token');
    expect(token).to.match(/^[\w-]{32}$/);
    expect((await get(port, '/', { Host: `localhost:${port}` })).status).to.equal(401);
    expect((await get(port, `/?token=${token}`, { Host: `localhost:${port}` })).status).to.equal(303);
  });

  it('stops on SIGTERM and SIGINT with exit 0, ending open streams', async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const { cli, port } = await startWeb(name);
      const stream = await openStream(port);
      cli.child.kill(signal);
      expect((await cli.exit()).code, signal).to.equal(0);
      await stream.ended;
      expect(stream.body).to.include('event: hello');
    }
  });

  it('streams notices: an invalid message and a gap, as they happen', async () => {
    const { port } = await startWeb(name);
    const stream = await openStream(port);
    const connection = await rawConnection();
    try {
      const channel = await connection.createConfirmChannel();
      channel.publish(name, 'info', Buffer.from('{not json'), { contentType: 'application/json' });
      // A publisher whose sequence jumps from 1 to 5: three events missed.
      for (const seq of [1, 5]) channel.publish(name, 'info', Buffer.from('{"n":1}'), { contentType: 'application/json', headers: { 'x-publisher': 'web-spec-publisher', 'x-seq': seq } });
      await channel.waitForConfirms();
    } finally {
      await connection.close();
    }
    const invalid = (frame: string): boolean => frame.includes('"kind":"invalid"') && frame.includes('not valid JSON');
    const gap = (frame: string): boolean => frame.includes('"kind":"gap"') && frame.includes('missed 3 info event(s)');
    await stream.until('the invalid and the gap notices', (s) => s.frames('notice').some(invalid) && s.frames('notice').some(gap));
    stream.close();
    const notices = stream.frames('notice');
    expect(notices.some((frame) => frame.includes('"kind":"invalid"') && frame.includes('not valid JSON'))).to.equal(true, notices.join('\n'));
    expect(notices.some((frame) => frame.includes('"kind":"gap"') && frame.includes('missed 3 info event(s)'))).to.equal(true, notices.join('\n'));
  });

  it('is documented in --help: the command and its options', async () => {
    const help = await runCli(['--help']);
    for (const text of ['web [--port 8080] [--host 127.0.0.1]', '--port <n>', '--host <address>', '--token <value>', 'EVENT_BUS_LOGGER_TOKEN']) expect(help.stdout).to.include(text);
  });

  it('rejects bad flags with exit 2, naming what was expected', async () => {
    const bad = await runCli(['web', '--port', 'eighty', '--name', name]);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.include('--port expects a port number from 0 to 65535');
    const misplaced = await runCli(['tail', '--port', '8080', '--name', name]);
    expect(misplaced.code).to.equal(2);
    expect(misplaced.stderr).to.include('--port is not an option of tail');
  });

  describe('--since (a bus with history)', () => {
    afterEach(async () => {
      await deleteQueue(`${name}.history`);
    });

    it('starts with the replay of the history from --since, then follows live: every event once, in order', async () => {
      const publisher = await EventBusLogger.create<string>({ url: AMQP_URL, name, config: HISTORY_CONFIG_PATH, listen: false });
      try {
        await publisher.info({ n: 1 });
        await publisher.critical({ n: 2 });
        const { port, cli } = await startWeb(name, ['--config', HISTORY_CONFIG_PATH, '--since', 'start']);
        const stream = await openStream(port);
        await publisher.info({ n: 3 });
        await stream.until('the two replayed events and the live one', (s) => s.frames('event').length >= 3);
        stream.close();
        const events = stream.frames('event');
        expect(events.map((frame) => /"data":\{"n":(\d+)\}/.exec(frame)?.[1])).to.deep.equal(['1', '2', '3']);
        expect(cli.stderr + cli.stdout).to.not.include('Error');
      } finally {
        await publisher.stop();
      }
    });

    it('exits 2 before connecting for a malformed --since, or --since on a bus whose config has no history', async () => {
      const malformed = await runCli(['web', '--since', 'yesterday', '--name', name, '--port', '0']);
      expect(malformed.code).to.equal(2);
      expect(malformed.stderr).to.include('--since: invalid');
      const historyless = await runCli(['web', '--since', 'start', '--name', name, '--port', '0', '--url', AMQP_URL]);
      expect(historyless.code).to.equal(2);
      expect(historyless.stderr).to.include('declares none').and.include('turn history on');
    });
  });
});
