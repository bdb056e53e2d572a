// Shared by the web view's specs: starting `event-bus-logger web` (the real command, under tsx) and reading the
// address it prints, launching Debian's chromium through playwright-core (nothing is downloaded), and the set-up of
// a describe block of browser specs.
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContextOptions, type Page } from 'playwright-core';
import type { EventBusLogger, EventBusLoggerOptions } from '../../lib/index.js';
import { AMQP_URL, busPerSpec } from '../helpers.js';
import { killStarted, startCli, type CliProcess } from '../cli/run-cli.js';

/** A running `event-bus-logger web` and the address it printed. */
export interface WebCli {
  cli: CliProcess;
  url: string;
  port: number;
}

/** Starts `event-bus-logger web --port 0 --name <name> ...args` and waits for the address it prints. */
export async function startWeb(name: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<WebCli> {
  const cli = startCli(['web', '--url', AMQP_URL, '--name', name, '--port', '0', ...args], { env });
  await cli.waitFor(() => /serving the bus \S+ on http:\/\/\S+/.test(cli.stdout), 'the address it serves on', 45_000);
  const url = /serving the bus \S+ on (http:\/\/\S+)/.exec(cli.stdout)![1]!;
  return { cli, url, port: Number(new URL(url).port) };
}

/** Debian's chromium (CHROMIUM_PATH overrides). */
export function chromiumPath(): string {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter((path): path is string => Boolean(path));
  const found = candidates.find((path) => existsSync(path));
  if (found === undefined) throw new Error(`No chromium at ${candidates.join(', ')}: install Debian's chromium (apt-get install chromium), or set CHROMIUM_PATH`);
  return found;
}

/** A headless chromium; as root (CI) it cannot use its sandbox. */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
  });
}

/** What a browser spec of the web view has: chromium, the bus of the spec and a publisher on it. */
export interface BrowserSpec {
  readonly browser: Browser;
  /** The bus of the spec running now. */
  readonly name: string;
  /** A logger of the bus that only publishes. */
  readonly publisher: EventBusLogger<string>;
  /** A new page in chromium, closed after the spec. */
  newPage(options?: BrowserContextOptions): Promise<Page>;
}

/**
 * Registers the hooks of a describe block of browser specs: one chromium for the block; for each spec a bus of its
 * own (from `prefix`) and a publisher on it made with `options` (its appId, a config with history); after the spec,
 * its pages closed, the commands it started killed, the publisher stopped and the bus deleted.
 */
export function browserSpec(prefix: string, options: EventBusLoggerOptions<string> = {}): BrowserSpec {
  let browser: Browser | undefined;
  let publisher: EventBusLogger<string> | undefined;
  const pages: Page[] = [];
  before(async () => {
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
  });
  // Registered before the bus's own after-hook: pages and commands go before their bus does.
  afterEach(async () => {
    await Promise.all(pages.splice(0).map((page) => page.close()));
    await killStarted();
  });
  const bus = busPerSpec(prefix);
  beforeEach(async () => {
    publisher = await bus.logger({ listen: false, ...options });
  });
  return {
    get browser() {
      if (!browser) throw new Error('browserSpec: chromium is not launched yet (use it inside a spec or hook)');
      return browser;
    },
    get name() {
      return bus.name;
    },
    get publisher() {
      if (!publisher) throw new Error('browserSpec: the publisher is not started yet (use it inside a spec or hook)');
      return publisher;
    },
    async newPage(pageOptions) {
      if (!browser) throw new Error('browserSpec: chromium is not launched yet (use it inside a spec or hook)');
      const page = await browser.newPage(pageOptions);
      pages.push(page);
      return page;
    },
  };
}
