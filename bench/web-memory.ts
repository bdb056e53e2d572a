// The web view under load: `event-bus-logger web` serves one chromium page and one browser that never reads its
// stream, while a publisher sends 5,000 events/s for 10 s. Prints the server's RSS (idle, peak, after) and the
// page's rows, rows let go, JS heap and slowest answer to a script call during the burst.
//
//   npx tsx bench/web-memory.ts [--rate 5000] [--seconds 10]
import { spawn } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { EventBusLogger } from '../lib/index.js';

const { values } = parseArgs({ options: { rate: { type: 'string', default: '5000' }, seconds: { type: 'string', default: '10' } } });
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const CLI = fileURLToPath(new URL('../lib/cli.ts', import.meta.url));
const name = `web_memory_${process.pid}`;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function rssMb(pid: number): number {
  const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) / 1024;
}

const server = spawn(process.execPath, ['--import', 'tsx', CLI, 'web', '--url', AMQP_URL, '--name', name, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
let printed = '';
server.stdout.setEncoding('utf8').on('data', (chunk: string) => (printed += chunk));
for (let i = 0; i < 200 && !/on (http:\S+)/.test(printed); i++) await sleep(100);
const url = /on (http:\S+)/.exec(printed)?.[1];
if (url === undefined) throw new Error(`the server printed no address: ${printed}`);
const port = Number(new URL(url).port);

const executablePath = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) => path && existsSync(path));
const browser = await chromium.launch({ executablePath, headless: true, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] });
const publisher = await EventBusLogger.create<string>({ url: AMQP_URL, name, listen: false, appId: 'web-memory' });
try {
  const page = await browser.newPage();
  await page.goto(url);
  await page.locator('#connection[data-state="connected"]').waitFor();
  // A browser that connects and never reads: the server must drop its frames rather than keep them.
  let stalledStream: import('node:http').IncomingMessage | undefined;
  const stalled = request({ host: '127.0.0.1', port, path: '/events', headers: { Host: `127.0.0.1:${port}` } }, (response) => {
    response.pause();
    stalledStream = response;
  });
  stalled.end();
  await sleep(2000);
  const idle = rssMb(server.pid!);

  let peak = idle;
  let slowest = 0;
  let sent = 0;
  let failed = 0;
  const perSecond: number[] = [];
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb(server.pid!))), 100);
  const secondly = setInterval(() => perSecond.push(rssMb(server.pid!)), 1000);
  // The page answers a script call at any time during the burst: the slowest answer says how usable it stayed.
  let bursting = true;
  const probing = (async () => {
    while (bursting) {
      const asked = Date.now();
      await page.locator('#events .row').count();
      slowest = Math.max(slowest, Date.now() - asked);
      await sleep(100);
    }
  })();
  const started = Date.now();
  const perTick = RATE / 100;
  const pending = new Set<Promise<void>>();
  for (let tick = 0; tick < SECONDS * 100; tick++) {
    for (let i = 0; i < perTick; i++) {
      const published = publisher.info({ n: sent++, user: 'ann', path: '/api/orders', status: 200, ms: 12.5 }).catch(() => void failed++);
      pending.add(published);
      void published.finally(() => pending.delete(published));
    }
    await sleep(Math.max(0, started + (tick + 1) * 10 - Date.now()));
  }
  const elapsed = (Date.now() - started) / 1000;
  await Promise.all(pending);
  bursting = false;
  await probing;
  await sleep(3000);
  clearInterval(sampler);
  clearInterval(secondly);
  const after = rssMb(server.pid!);
  const rows = await page.locator('#events .row').count();
  const letGo = await page.locator('#let-go').textContent();
  const heapMb = Number(await page.evaluate('performance.memory ? performance.memory.usedJSHeapSize : 0')) / 1024 / 1024;
  // The stalled browser reads at last: what it gets is what the server kept for it, and the count it dropped.
  let caughtUp = '';
  stalledStream?.setEncoding('utf8').on('data', (chunk: string) => (caughtUp += chunk));
  stalledStream?.resume();
  await sleep(2000);
  stalled.destroy();
  const framesKept = caughtUp.split('\nevent: event\n').length - 1;
  const droppedTotal = Math.max(0, ...[...caughtUp.matchAll(/"total":(\d+)/g)].map((match) => Number(match[1])));
  const line = (label: string, value: string): void => console.log(`${label.padEnd(48)} ${value}`);
  console.log(`web view under load: ${sent} events published in ${elapsed.toFixed(1)} s (${Math.round(sent / elapsed)}/s, asked ${RATE}/s), ${failed} failed`);
  line('server RSS idle (page + stalled browser)', `${idle.toFixed(1)} MB`);
  line('server RSS peak during the burst', `${peak.toFixed(1)} MB (+${(peak - idle).toFixed(1)} MB)`);
  line('server RSS 3 s after', `${after.toFixed(1)} MB`);
  line('server RSS each second (MB)', perSecond.map((mb) => mb.toFixed(0)).join(' '));
  line('stalled browser: events it got / server dropped', `${framesKept} / ${droppedTotal}`);
  line('page rows kept', `${rows}`);
  line('page', letGo ?? '');
  line('page JS heap after', `${heapMb.toFixed(1)} MB`);
  line('slowest answer of the page during the burst', `${slowest} ms`);
} finally {
  await publisher.stop();
  await browser.close();
  server.kill('SIGTERM');
  await new Promise((resolve) => server.on('close', resolve));
  const connection = await (await import('amqplib')).default.connect(AMQP_URL);
  await (await connection.createChannel()).deleteExchange(name);
  await connection.close();
}
