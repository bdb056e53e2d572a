// `event-bus-logger web` in a real browser: Debian's chromium driven by playwright-core, against the real command
// and the real broker. The first spec takes the README's screenshot (written to docs/web-view.png when
// UPDATE_SCREENSHOTS=1, else to a temporary file).
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { EventBusLogger } from '../../lib/index.js';
import { AMQP_URL, HISTORY_CONFIG_PATH, until } from '../helpers.js';
import { browserSpec, startWeb } from './web-helpers.js';

const SCREENSHOT = process.env.UPDATE_SCREENSHOTS === '1' ? fileURLToPath(new URL('../../docs/web-view.png', import.meta.url)) : join(tmpdir(), `web-view-${process.pid}.png`);
/** The rows the page keeps (lib/web/page/app.js). */
const MAX_ROWS = 2000;

describe('event-bus-logger web (in chromium)', function () {
  this.timeout(90_000);
  const web = browserSpec('web_browser', { appId: 'web-spec' });
  let page: Page;
  let pageErrors: string[];

  beforeEach(async () => {
    page = await web.newPage({ viewport: { width: 1100, height: 420 } });
    pageErrors = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
  });

  async function open(url: string): Promise<void> {
    await page.goto(url);
    await page.locator('#connection[data-state="connected"]').waitFor({ timeout: 15_000 });
  }

  const rows = (): ReturnType<Page['locator']> => page.locator('#events .row');

  it('shows an event published after the page loaded (and takes the README screenshot)', async () => {
    const { url } = await startWeb(web.name);
    await open(url);
    expect(await rows().count()).to.equal(0);
    await web.publisher.info({ user: 'ann', action: 'signed in' });
    await web.publisher.critical({ disk: '/var', used: '97%', host: 'db-2' });
    await web.publisher.info({ order: 4711, total: 42.5, currency: 'EUR' });
    await rows().nth(2).waitFor({ timeout: 10_000 });
    expect(await rows().nth(1).locator('.level').textContent()).to.equal('CRITICAL');
    expect(await rows().nth(1).locator('.data').textContent()).to.equal('{"disk":"/var","used":"97%","host":"db-2"}');
    expect(await rows().nth(1).locator('.source').textContent()).to.match(/\/web-spec$/);
    // The time to the millisecond (the wire carries it; the page showed whole seconds).
    expect(await rows().nth(1).locator('.time').textContent()).to.match(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/);
    // The critical row stands out as a row (its background and a bar at its left edge), not only by its label.
    const rowStyle = (n: number): Promise<string> => page.evaluate(`(() => { const style = getComputedStyle(document.querySelectorAll('#events .row')[${n}]); return style.backgroundColor + ' | ' + style.boxShadow; })()`);
    const [info, critical] = [await rowStyle(0), await rowStyle(1)];
    expect(critical, 'the critical row').to.not.equal(info);
    expect(critical, 'the critical row').to.match(/inset/);
    // Expandable: a click shows the whole event, readable.
    await rows().nth(2).click();
    expect(await rows().nth(2).locator('.full').textContent()).to.include('"order": 4711');
    await page.locator('#levels .count', { hasText: '2' }).waitFor({ timeout: 5000 });
    await page.screenshot({ path: SCREENSHOT });
    expect((await readFile(SCREENSHOT)).subarray(1, 4).toString()).to.equal('PNG');
    if (process.env.UPDATE_SCREENSHOTS !== '1') await rm(SCREENSHOT, { force: true });
    expect(pageErrors).to.deep.equal([]);
  });

  it('the level filter hides a level, and the text filter the events without the text', async () => {
    const { url } = await startWeb(web.name);
    await open(url);
    await web.publisher.info({ n: 1 });
    await web.publisher.critical({ n: 2, needle: 'haystack' });
    await web.publisher.info({ n: 3, needle: 'haystack' });
    await rows().nth(2).waitFor({ timeout: 10_000 });
    await page.locator('#levels input[value="critical"]').uncheck();
    expect(await rows().locator('.level:visible').allTextContents()).to.deep.equal(['INFO', 'INFO']);
    // An event arriving while its level is hidden stays hidden.
    await web.publisher.critical({ n: 4 });
    await rows().nth(3).waitFor({ state: 'attached', timeout: 10_000 });
    expect(await rows().nth(3).isVisible()).to.equal(false);
    await page.locator('#levels input[value="critical"]').check();
    await page.locator('#text-filter').fill('HAYSTACK');
    expect(await rows().locator('.data:visible').allTextContents()).to.deep.equal(['{"n":2,"needle":"haystack"}', '{"n":3,"needle":"haystack"}']);
  });

  it('follows the newest events until the reader scrolls up; then "N new events" counts them and brings the reader back', async () => {
    const { url } = await startWeb(web.name);
    await open(url);
    await Promise.all(Array.from({ length: 60 }, (_, n) => web.publisher.info({ n })));
    await rows().nth(59).waitFor({ timeout: 10_000 });
    // Conditions waited for in the page, checked at each frame, for as long as the spec may run (its timeout): a
    // loaded machine lays the rows out late, and the view follows once they are (no budget of their own).
    const AT_BOTTOM = `(() => { const events = document.getElementById('events'); return events.scrollTop + events.clientHeight >= events.scrollHeight - 4; })()`;
    // (Evaluated through the DevTools protocol: the page's CSP forbids the eval of waitForFunction's string, rightly.)
    const inPage = async (condition: string): Promise<void> =>
      void (await page.evaluate(`new Promise((resolve) => { const check = () => (${condition} ? resolve(true) : requestAnimationFrame(check)); check(); })`));
    await inPage(AT_BOTTOM);
    // The reader scrolls up, with the wheel.
    await page.locator('#events').hover();
    await page.mouse.wheel(0, -100_000);
    await inPage(`document.getElementById('events').scrollTop === 0`);
    for (let n = 60; n < 63; n++) await web.publisher.info({ n });
    await rows().nth(62).waitFor({ state: 'attached', timeout: 0 });
    await page.locator('#new-events', { hasText: '3 new event(s)' }).waitFor({ timeout: 0 });
    expect(await page.evaluate(AT_BOTTOM), 'the view stays where the reader left it').to.equal(false);
    await page.locator('#new-events').click();
    expect(await page.locator('#new-events').isVisible()).to.equal(false);
    await inPage(AT_BOTTOM);
  });

  it('renders hostile data as inert text: no script runs, no element is made, the text is there, the page goes on', async () => {
    const { url } = await startWeb(web.name);
    await open(url);
    const hostile = [
      { html: '<script>window.__pwned = "script"</script>' },
      { html: '<img src=x onerror="window.__pwned = \'img\'">' },
      { link: 'javascript:window.__pwned = "link"', '<svg onload=window.__pwned=1>': '"><iframe src=javascript:alert(1)>' },
      { big: 'A'.repeat(1024 * 1024 - 100) },
    ];
    for (const data of hostile) await web.publisher.critical(data);
    await web.publisher.info({ after: 'the hostile ones' });
    await rows().nth(hostile.length).waitFor({ timeout: 15_000 });
    for (let i = 0; i < hostile.length; i++) await rows().nth(i).click();
    expect(await page.evaluate(() => (globalThis as { __pwned?: unknown }).__pwned)).to.equal(undefined);
    expect(await page.locator('#events script, #events img, #events svg, #events iframe, #events a').count()).to.equal(0);
    const texts = await rows().locator('.data').allTextContents();
    expect(texts[0]).to.equal('{"html":"<script>window.__pwned = \\"script\\"</script>"}');
    expect(texts[1]).to.include('<img src=x onerror=');
    expect(await rows().nth(2).locator('.full').textContent()).to.include('"link": "javascript:window.__pwned = \\"link\\""');
    // The 1 MB string: cut by the server to a preview, said so, and the next event still shows.
    expect(texts[3]).to.match(/^\{"big":"AAAA.*\(\d+ bytes, cut by the server\)$/);
    expect(texts[4]).to.equal('{"after":"the hostile ones"}');
    expect(pageErrors).to.deep.equal([]);
  });

  it('reconnects after the server restarts, and shows the events that come after', async () => {
    const first = await startWeb(web.name);
    await open(first.url);
    await web.publisher.info({ n: 'before' });
    await rows().nth(0).waitFor({ timeout: 10_000 });
    first.cli.child.kill('SIGTERM');
    expect((await first.cli.exit()).code).to.equal(0);
    await page.locator('#connection[data-state="reconnecting"]').waitFor({ timeout: 10_000 });
    const second = await startWeb(web.name, ['--port', String(first.port)]);
    expect(second.port).to.equal(first.port);
    await page.locator('#connection[data-state="connected"]').waitFor({ timeout: 15_000 });
    await web.publisher.info({ n: 'after' });
    await rows().nth(1).waitFor({ timeout: 10_000 });
    expect(await rows().locator('.data').allTextContents()).to.deep.equal(['{"n":"before"}', '{"n":"after"}']);
    expect(await page.locator('#notices').textContent()).to.include('the server restarted');
  });

  it(`keeps at most ${MAX_ROWS} rows under a burst and says how many it let go`, async () => {
    const { url } = await startWeb(web.name);
    await open(url);
    const burst = 6000;
    for (let sent = 0; sent < burst; sent += 500) {
      await Promise.all(Array.from({ length: 500 }, (_, i) => web.publisher.info({ n: sent + i, pad: 'x'.repeat(50) })));
    }
    await until(async () => Number((/^(\d+) older/.exec((await page.locator('#let-go').textContent()) ?? '') ?? [])[1] ?? 0) >= 1, 'the page to say it let rows go', 30_000);
    const count = await rows().count();
    expect(count).to.be.at.most(MAX_ROWS);
    expect(count).to.be.at.least(1);
    // Still usable: a filter applies at once and an event sent afterwards shows.
    await web.publisher.critical({ last: true });
    await page.locator('#events .row .data', { hasText: '{"last":true}' }).waitFor({ timeout: 15_000 });
    expect(await rows().count()).to.be.at.most(MAX_ROWS);
    expect(pageErrors).to.deep.equal([]);
  });

  it('after --since: says how many events were replayed (the counts include them) while the page keeps the last 1,000, and charts them', async () => {
    const history = await EventBusLogger.create<string>({ url: AMQP_URL, name: web.name, config: HISTORY_CONFIG_PATH, listen: false, appId: 'web-spec' });
    try {
      const replayed = 1200;
      for (let sent = 0; sent < replayed; sent += 200) await Promise.all(Array.from({ length: 200 }, (_, i) => history.info({ n: sent + i })));
      const { url, cli } = await startWeb(web.name, ['--config', HISTORY_CONFIG_PATH, '--since', 'start']);
      await cli.waitFor(() => cli.stderr.includes('replayed 1200 event(s) of the history since start'), 'the end of the replay', 20_000);
      await open(url);
      await page.locator('#replay', { hasText: '1,200 event(s) replayed from the history since start' }).waitFor({ timeout: 20_000 });
      expect(await page.locator('#replay').textContent()).to.include('the counts include them; a page gets the last 1,000 events the server keeps');
      await page.locator('#levels .count', { hasText: '1200' }).waitFor({ timeout: 5000 });
      // The header says what history-info says: the first and last offsets and their times, how many events, and
      // the retention the config declares.
      const time = String.raw`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC`;
      await page.locator('#history', { hasText: new RegExp(`^history: offsets 0–1199 \\(1,200 events\\), ${time} to ${time}; retention: max age 7D, max size 1 GiB, segments of 16 MiB$`) }).waitFor({ timeout: 10_000 });
      await until(async () => (await rows().count()) >= 990, 'the rows the server keeps', 10_000);
      expect(await rows().count()).to.be.at.most(1000);
      expect(await rows().last().locator('.data').textContent()).to.equal(`{"n":${replayed - 1}}`);
      // The chart: drawn from the events the server has (published before this page opened), not from what the
      // page saw arrive.
      const barColumns = (): Promise<number> =>
        page.evaluate(`(() => {
          const canvas = document.getElementById('chart');
          const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
          const columns = new Set();
          for (let i = 0; i < data.length; i += 4) if (data[i + 3] > 0 && data[i + 1] - data[i] > 40 && data[i + 1] - data[i + 2] > 20) columns.add((i / 4) % canvas.width);
          return columns.size;
        })()`);
      await until(async () => (await barColumns()) > 0, 'bars for the replayed events', 5000);
      expect(await page.locator('#chart').getAttribute('aria-label')).to.match(/^events per second over the last 5 minutes, by the time they were published: max \d+ ev\/s/);
      expect(pageErrors).to.deep.equal([]);
    } finally {
      await history.stop();
    }
  });

  it('charts events per second: no bar while the bus is quiet, bars once events flow, scaled to the busiest second', async () => {
    const { url } = await startWeb(web.name);
    await open(url);
    // The bars on the canvas (#3a7, blended at their half-pixel edges; the label is grey): how many columns hold
    // one, and the tallest, in pixels. The canvas is 60 px high; the busiest second's bar is 48.
    type Canvas = { width: number; height: number; getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } };
    const bars = (): Promise<{ columns: number; tallest: number }> =>
      page.locator('#chart').evaluate((element) => {
        const canvas = element as unknown as Canvas;
        const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
        const heights = new Map<number, number>();
        for (let i = 0; i < data.length; i += 4) {
          const [r, g, b, a] = [data[i] as number, data[i + 1] as number, data[i + 2] as number, data[i + 3] as number];
          const column = (i / 4) % canvas.width;
          if (a > 0 && g - r > 40 && g - b > 20) heights.set(column, (heights.get(column) ?? 0) + 1);
        }
        return { columns: heights.size, tallest: Math.max(0, ...heights.values()) };
      });
    await until(async () => /^\d+ ev\/s$/.test((await page.locator('#rate').textContent()) ?? ''), 'the first tick', 5000);
    expect((await bars()).columns, 'bars before any event').to.equal(0);
    for (let second = 0; second < 3; second++) {
      await Promise.all(Array.from({ length: 40 }, (_, n) => web.publisher.info({ second, n })));
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    await until(async () => (await bars()).columns > 0, 'bars on the chart', 10_000);
    expect((await bars()).tallest, 'the busiest second fills the chart').to.be.within(44, 48);
    expect(await page.locator('#rate').textContent()).to.match(/^\d+ ev\/s$/);
    expect(pageErrors).to.deep.equal([]);
  });
});
