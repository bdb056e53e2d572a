// Shared by the web view's specs: starting `event-bus-logger web` (the real command, under tsx) and reading the
// address it prints, and launching Debian's chromium through playwright-core (nothing is downloaded).
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { AMQP_URL } from '../helpers.js';
import { startCli, type CliProcess } from '../cli/run-cli.js';

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
