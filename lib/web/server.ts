// The HTTP side of `event-bus-logger web` (node:http): one static page (lib/web/page/, served as is, no build step)
// and the live feed as Server-Sent Events at /events.
//
// Safe by default: every response forbids inline script and any other origin (Content-Security-Policy); a request
// whose Host header is not the address served is refused (DNS rebinding), and off the loopback every request needs
// the access token: `?token=...` once (it is then kept in an HttpOnly cookie and the address bar loses it), or the
// cookie; without either, 401.
import { createHash, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Feed } from './feed.js';
import { serveSearch, type SearchReader } from './search.js';

export interface WebServerOptions {
  /** The address to bind. @default '127.0.0.1' */
  host?: string;
  /** The port; 0 picks a free one. @default 8080 */
  port?: number;
  /** The access token; required (and only used) when `host` is not a loopback address. */
  token?: string | undefined;
  /** Reads the history for the page's search (GET /search); without it, /search says the bus has no history. */
  search?: SearchReader | undefined;
}

/** The cookie that keeps the access token after the first visit. */
export const TOKEN_COOKIE = 'event_bus_logger_token';

const SECURITY_HEADERS = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
} as const;

const PAGE_FILES = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
  '/search.js': { file: 'search.js', type: 'text/javascript; charset=utf-8' },
} as const;

/**
 * A name others can reach this machine by, for the address printed when bound to every address (0.0.0.0, ::):
 * its first IPv4 address off the loopback, else its first IPv6 one (not link-local), else its host name.
 */
export function reachableHost(interfaces: ReturnType<typeof networkInterfaces> = networkInterfaces(), name: string = hostname()): string {
  const addresses = Object.values(interfaces).flatMap((list) => list ?? []).filter((address) => !address.internal);
  const ipv4 = addresses.find((address) => address.family === 'IPv4');
  if (ipv4) return ipv4.address;
  const ipv6 = addresses.find((address) => address.family === 'IPv6' && !address.address.toLowerCase().startsWith('fe80:'));
  return ipv6 ? `[${ipv6.address}]` : name;
}

/** Whether `host` is a loopback address (only this machine can reach it). */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

const isWildcard = (host: string): boolean => host === '0.0.0.0' || host === '::';

// The page's files: next to this module under tsx (lib/web/page), in the package's lib/web/page once built
// (dist/lib/web/server.js).
function readPage(): Map<string, { body: Buffer; type: string }> {
  const candidates = [new URL('./page/', import.meta.url), new URL('../../../lib/web/page/', import.meta.url)];
  const dir = candidates.find((url) => existsSync(new URL('index.html', url)));
  if (dir === undefined) throw new Error(`The web page's files are missing (looked in ${candidates.map((url) => fileURLToPath(url)).join(' and ')})`);
  return new Map(Object.entries(PAGE_FILES).map(([path, { file, type }]) => [path, { body: readFileSync(new URL(file, dir)), type }]));
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

export class WebServer {
  readonly #server: Server;
  readonly #feed: Feed;
  readonly #page = readPage();
  readonly #host: string;
  readonly #token: string | undefined;
  readonly #search: SearchReader | undefined;
  #allowedHosts: Set<string> | undefined;
  #port = 0;

  private constructor(feed: Feed, host: string, token: string | undefined, search: SearchReader | undefined) {
    this.#feed = feed;
    this.#search = search;
    this.#host = host;
    this.#token = isLoopback(host) ? undefined : token;
    if (!isLoopback(host) && (token === undefined || token === '')) throw new Error(`An access token is needed to serve on ${host}`);
    this.#server = createServer((request, response) => this.#handle(request, response));
  }

  /** Starts serving `feed`; resolves once listening. */
  static async start(feed: Feed, options: WebServerOptions = {}): Promise<WebServer> {
    const server = new WebServer(feed, options.host ?? '127.0.0.1', options.token, options.search);
    await new Promise<void>((resolve, reject) => {
      server.#server.once('error', reject);
      server.#server.listen(options.port ?? 8080, server.#host, () => {
        server.#server.off('error', reject);
        resolve();
      });
    });
    server.#port = (server.#server.address() as AddressInfo).port;
    server.#allowedHosts = server.#hostsServed();
    return server;
  }

  /** The port it listens on. */
  get port(): number {
    return this.#port;
  }

  /**
   * The page's address, with `?token=` when one is needed. Bound to every address, it names this machine as others
   * reach it (its address off the loopback), so the printed address works for a colleague too.
   */
  get url(): string {
    const host = isWildcard(this.#host) ? reachableHost() : this.#host.includes(':') ? `[${this.#host}]` : this.#host;
    return `http://${host}:${this.#port}/${this.#token === undefined ? '' : `?token=${encodeURIComponent(this.#token)}`}`;
  }

  /** Stops listening and ends every open stream. */
  async close(): Promise<void> {
    this.#feed.close();
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  // The Host headers a browser sends for this server: its address (and `localhost` on the loopback), with the port.
  // Bound to every address (0.0.0.0, ::), any name may reach it: the token is then the guard.
  #hostsServed(): Set<string> | undefined {
    if (isWildcard(this.#host)) return undefined;
    const names = [this.#host.includes(':') ? `[${this.#host}]` : this.#host];
    if (isLoopback(this.#host)) names.push('localhost');
    return new Set(names.flatMap((name) => (this.#port === 80 ? [name, `${name}:80`] : [`${name}:${this.#port}`])));
  }

  #handle(request: IncomingMessage, response: ServerResponse): void {
    for (const [header, value] of Object.entries(SECURITY_HEADERS)) response.setHeader(header, value);
    const host = (request.headers.host ?? '').toLowerCase();
    if (this.#allowedHosts !== undefined && !this.#allowedHosts.has(host)) {
      return plain(response, 403, `Refused: the Host header ${JSON.stringify(host.slice(0, 100))} is not an address this server serves (${[...this.#allowedHosts].join(', ')})\n`);
    }
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (this.#token !== undefined) {
      const given = url.searchParams.get('token');
      if (given !== null && this.#tokenMatches(given)) {
        // Keep the token in a cookie the page's script cannot read, and take it out of the address bar.
        response.setHeader('Set-Cookie', `${TOKEN_COOKIE}=${encodeURIComponent(given)}; HttpOnly; SameSite=Strict; Path=/`);
        url.searchParams.delete('token');
        response.writeHead(303, { Location: `${url.pathname}${url.search}` });
        response.end();
        return;
      }
      const cookie = cookieValue(request.headers.cookie, TOKEN_COOKIE);
      if (cookie === undefined || !this.#tokenMatches(cookie)) {
        return plain(response, 401, 'Unauthorized: open the address with ?token=<the access token> (printed when the server started)\n');
      }
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('Allow', 'GET, HEAD');
      return plain(response, 405, 'Only GET and HEAD\n');
    }
    if (url.pathname === '/events') {
      response.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
      if (request.method === 'HEAD') return void response.end();
      request.socket.setNoDelay(true);
      const lastEventId = request.headers['last-event-id'];
      this.#feed.connect(response, typeof lastEventId === 'string' ? lastEventId : undefined);
      return;
    }
    if (url.pathname === '/search') {
      if (request.method === 'HEAD') return void response.writeHead(200).end();
      request.socket.setNoDelay(true);
      void serveSearch(url, request, response, this.#search);
      return;
    }
    if (url.pathname === '/favicon.ico') return void response.writeHead(204).end();
    const file = this.#page.get(url.pathname);
    if (file === undefined) return plain(response, 404, 'Not found\n');
    response.writeHead(200, { 'Content-Type': file.type, 'Content-Length': file.body.length });
    response.end(request.method === 'HEAD' ? undefined : file.body);
  }

  #tokenMatches(given: string): boolean {
    return timingSafeEqual(digest(given), digest(this.#token ?? ''));
  }
}

function plain(response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
  response.end(text);
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) {
      try {
        return decodeURIComponent(value.join('='));
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}
