// The web view's search panel in chromium, against the real command and broker: results streamed from the history
// into the panel's table with the server's progress, the live view going on beside it; and /search over HTTP: a bad
// query refused with a message, a search on a bus without history refused, the matches bounded.
import { get } from 'node:http';
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { HISTORY_CONFIG_PATH } from '../helpers.js';
import { killStarted } from '../cli/run-cli.js';
import { SEARCH_LIMIT } from '../../lib/web/search.js';
import { browserSpec, startWeb } from './web-helpers.js';

describe('event-bus-logger web: searching the history', function () {
  this.timeout(120_000);
  const web = browserSpec('web_search', { config: HISTORY_CONFIG_PATH, appId: 'web-spec' });
  let page: Page;

  beforeEach(async () => {
    // A browser half an hour off a whole-hour zone (+05:30), so a pick's time zone shows in what it fills in.
    page = await web.newPage({ viewport: { width: 1100, height: 600 }, timezoneId: 'Asia/Kolkata', locale: 'en-US' });
  });

  it('streams the matches of since, until and a query (path=value terms and text) into its table, with the progress, while the live view goes on', async () => {
    for (let n = 1; n <= 30; n++) await (n % 10 === 0 ? web.publisher.critical({ n, note: n === 20 ? 'Disk FULL' : 'cpu' }) : web.publisher.info({ n, user: { id: n % 3 } }));
    const { url } = await startWeb(web.name, ['--config', HISTORY_CONFIG_PATH]);
    await page.goto(url);
    await page.locator('#connection[data-state="connected"]').waitFor({ timeout: 15_000 });
    // Labelled controls: found by their labels and roles, as assistive technology finds them.
    await page.getByLabel('Since', { exact: true }).fill('start');
    await page.getByLabel('Query').fill('level=critical disk');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.locator('#search-progress', { hasText: /^done: / }).waitFor({ timeout: 30_000 });
    const rows = page.locator('#search-results tbody tr');
    expect(await rows.count()).to.equal(1);
    expect(await rows.nth(0).locator('td').nth(4).textContent()).to.equal('{"n":20,"note":"Disk FULL"}');
    expect(await page.locator('#search-progress').textContent()).to.match(/^done: offset 29 of 29 · scanned 30 · matched 1 · [\d,]+ events\/s/);
    // A dot path, and until (an offset): the info events of user 0 up to offset 9.
    await page.getByLabel('Until', { exact: true }).fill('9');
    await page.getByLabel('Query').fill('user.id=0');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.locator('#search-progress', { hasText: /^done: / }).waitFor({ timeout: 30_000 });
    expect(await rows.locator('td:nth-child(5)').allTextContents()).to.deep.equal(['{"n":3,"user":{"id":0}}', '{"n":6,"user":{"id":0}}', '{"n":9,"user":{"id":0}}']);
    // The live view went on beside it.
    await web.publisher.info({ live: true });
    await page.locator('#events .row .data', { hasText: '{"live":true}' }).waitFor({ timeout: 15_000 });
    expect(await page.getByRole('button', { name: 'Stop' }).isDisabled()).to.equal(true);
    // A since the grammar does not know: the server's words, in the panel's status line.
    await page.getByLabel('Since', { exact: true }).fill('yesterday');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.locator('#search-progress', { hasText: /^the search could not begin: Invalid `since` "yesterday"/ }).waitFor({ timeout: 15_000 });
  });

  it('a pick in the date-time picker beside Since or Until (mouse or keyboard) fills the field with that time, with its zone, and the search covers that range', async () => {
    // Three batches a whole second apart: the picker works to the second.
    const nextSecond = async (): Promise<number> => {
      const second = Math.ceil((Date.now() + 1) / 1000) * 1000;
      await new Promise((resolve) => setTimeout(resolve, second - Date.now() + 20));
      return second;
    };
    for (let n = 0; n < 3; n++) await web.publisher.info({ batch: 'before', n });
    const from = await nextSecond();
    for (let n = 0; n < 3; n++) await web.publisher.info({ batch: 'picked', n });
    const to = await nextSecond();
    for (let n = 0; n < 3; n++) await web.publisher.info({ batch: 'after', n });
    const { url } = await startWeb(web.name, ['--config', HISTORY_CONFIG_PATH]);
    await page.goto(url);
    await page.locator('#connection[data-state="connected"]').waitFor({ timeout: 15_000 });
    // What the pickers show and take: the wall-clock time in the browser's zone (+05:30), to the second.
    const kolkata = (ms: number): string => new Date(ms + 5.5 * 3_600_000).toISOString().slice(0, 19);
    const since = page.getByLabel('Since', { exact: true });
    const until = page.getByLabel('Until', { exact: true });
    const sincePicker = page.getByLabel('Since: pick a date and time');
    const untilPicker = page.getByLabel('Until: pick a date and time');
    // A picker's value, to the second: chromium leaves out the seconds when they are 0 ('…T16:47' for 16:47:00).
    const picked = async (picker: typeof since): Promise<string> => (await picker.inputValue()).replace(/T(\d\d:\d\d)$/, 'T$1:00');
    // Since: a pick (as the picker's calendar makes one) fills the field with that instant, its zone written out.
    await sincePicker.fill(kolkata(from));
    expect(await since.inputValue()).to.equal(`${kolkata(from)}+05:30`);
    // Until: picked with the keyboard alone, Tab from the field to its picker, then month, day, year, Tab, hour,
    // minute, second and AM/PM typed into the picker's parts (chromium's en-US picker).
    await until.focus();
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.id')).to.equal('search-until-pick');
    const wall = kolkata(to);
    const [date, time] = wall.split('T') as [string, string];
    const [year, month, day] = date.split('-');
    const [hour, minute, second] = time.split(':').map(Number) as [number, number, number];
    await page.keyboard.type(`${month}${day}${year}`);
    await page.keyboard.press('Tab');
    await page.keyboard.type(`${String(hour % 12 === 0 ? 12 : hour % 12).padStart(2, '0')}${String(minute).padStart(2, '0')}${String(second).padStart(2, '0')}${hour < 12 ? 'A' : 'P'}`);
    expect(await picked(untilPicker)).to.equal(wall);
    expect(await until.inputValue()).to.equal(`${wall}+05:30`);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.locator('#search-progress', { hasText: /^done: / }).waitFor({ timeout: 30_000 });
    const data = page.locator('#search-results tbody tr td:nth-child(5)');
    expect(await data.allTextContents()).to.deep.equal([0, 1, 2].map((n) => `{"batch":"picked","n":${n}}`));
    // Typing still takes the whole grammar: a duration empties the picker and searches from then.
    await since.fill('10m');
    expect(await sincePicker.inputValue()).to.equal('');
    await until.fill('');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.locator('#search-progress', { hasText: /^done: / }).waitFor({ timeout: 30_000 });
    expect(await data.count()).to.equal(9);
    // A time typed with its zone shows in the picker, in the browser's zone.
    await since.fill(new Date(from).toISOString());
    expect(await picked(sincePicker)).to.equal(kolkata(from));
    // A time typed without a zone is refused, as tail --since refuses it: the page does not guess the zone.
    await since.fill(kolkata(from));
    expect(await sincePicker.inputValue()).to.equal('');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.locator('#search-progress', { hasText: /^the search could not begin: Invalid `since` "\d{4}-/ }).waitFor({ timeout: 15_000 });
  });

  it('streams the matches into the table while the server scans, with the progress; Stop, and a page that closes, stop the server reading the stream', async () => {
    // Events of 8 KB, and a page on a network of 64 KB/s: the 9 MB of matches take minutes to reach it, so the search
    // is still running (the server's writes waiting for the socket to drain) while the first rows show.
    const pad = 'x'.repeat(8192);
    await Promise.all(Array.from({ length: SEARCH_LIMIT + 100 }, (_, n) => web.publisher.info({ n, pad })));
    const { url, cli } = await startWeb(web.name, ['--config', HISTORY_CONFIG_PATH], { DEBUG: 'event-bus-logger:web-search' });
    await page.goto(url);
    await page.locator('#connection[data-state="connected"]').waitFor({ timeout: 15_000 });
    const devtools = await page.context().newCDPSession(page);
    await devtools.send('Network.enable');
    await devtools.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: 64 * 1024, uploadThroughput: -1 });
    const rows = page.locator('#search-results tbody tr');
    const status = page.locator('#search-progress');
    const stop = page.getByRole('button', { name: 'Stop' });
    const stopped = (): number => cli.stderr.match(/stopped reading at offset \d+ \(\d+ scanned, \d+ matched\): the browser left/g)?.length ?? 0;
    await page.getByLabel('Since', { exact: true }).fill('start');
    await page.getByRole('button', { name: 'Search' }).click();
    // Rows and the progress (offset, scanned, matched, rate, time left) while the search runs.
    await rows.nth(2).waitFor({ timeout: 30_000 });
    await status.filter({ hasText: /^offset [\d,]+ of 1,099 · scanned [\d,]+ · matched [\d,]+ · [\d,]+ events\/s · [\d a-z]+ left$/ }).waitFor({ timeout: 30_000 });
    // The live view goes on beside the search.
    await web.publisher.critical({ live: 'during the search' });
    await page.locator('#events .row .data', { hasText: '{"live":"during the search"}' }).waitFor({ timeout: 30_000 });
    expect(await stop.isEnabled()).to.equal(true);
    expect(cli.stderr).to.not.match(/stopped reading/);
    // Stop: the page says so, and the server stops reading the stream before the end and the limit.
    await stop.click();
    expect(await status.textContent()).to.match(/^stopped: /);
    expect(await stop.isDisabled()).to.equal(true);
    await cli.waitFor(() => stopped() === 1, 'the search to stop reading once stopped', 15_000);
    const matched = Number(/\((\d+) scanned, (\d+) matched\): the browser left/.exec(cli.stderr)![2]);
    expect(matched).to.be.below(SEARCH_LIMIT);
    // A page closed in the middle of a search: the server stops reading too.
    await page.getByRole('button', { name: 'Search' }).click();
    await rows.nth(2).waitFor({ timeout: 30_000 });
    expect(stopped()).to.equal(1);
    await page.close();
    await cli.waitFor(() => stopped() === 2, 'the search to stop reading once the page closed', 15_000);
    expect(cli.stderr).to.not.match(/: the (end of the range|limit)$/m);
    // Each wait for the socket to drain cleaned up after itself (a leak of listeners shows as this warning).
    expect(cli.stderr).to.not.include('MaxListenersExceededWarning');
  });

  it('cuts an event whose data is over 16 KiB to a preview, as the live feed does, and the table says so', async () => {
    await web.publisher.info({ big: 'A'.repeat(100_000) });
    await web.publisher.info({ small: true });
    const { url } = await startWeb(web.name, ['--config', HISTORY_CONFIG_PATH]);
    const stream = await (await fetch(new URL('/search?since=start', url))).text();
    const matches = [...stream.matchAll(/^event: match\ndata: (.*)$/gm)].map((match) => JSON.parse(match[1]!) as { data: unknown; truncated?: { bytes: number; preview: string } });
    expect(matches).to.have.length(2);
    expect(matches[0]!.data).to.equal(null);
    expect(matches[0]!.truncated!.bytes).to.equal(JSON.stringify({ big: 'A'.repeat(100_000) }).length);
    expect(matches[0]!.truncated!.preview).to.equal(`{"big":"${'A'.repeat(16 * 1024 - 8)}`);
    expect(matches[1]!.data).to.deep.equal({ small: true });
    expect(stream.length).to.be.below(20_000);
    await page.goto(url);
    await page.getByLabel('Since', { exact: true }).fill('start');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.locator('#search-progress', { hasText: /^done: / }).waitFor({ timeout: 30_000 });
    expect(await page.locator('#search-results tbody tr td:nth-child(5)').allTextContents()).to.deep.equal([`{"big":"${'A'.repeat(16 * 1024 - 8)}… (100010 bytes, cut by the server)`, '{"small":true}']);
  });

  it('/search refuses a bad query with 400 and what was expected; a bus without history with 404', async () => {
    const { url } = await startWeb(web.name, ['--config', HISTORY_CONFIG_PATH]);
    const bad = await fetch(new URL('/search?since=start&q=a..b%3D1', url));
    expect(bad.status).to.equal(400);
    expect(await bad.text()).to.match(/expects path=value/);
    const badSince = await fetch(new URL('/search?since=yesterday', url));
    expect(badSince.status).to.equal(400);
    await killStarted();
    const plain = await startWeb(web.name);
    const none = await fetch(new URL('/search?since=start', plain.url));
    expect(none.status).to.equal(404);
    expect(await none.text()).to.include('a config that has history');
  });

  it('/search sends at most SEARCH_LIMIT matches, and stops reading the stream when the browser leaves', async () => {
    // Events of 8 KB: 9 MB, more than the sockets buffer (4 MB for the sender here), so a reader that does not read holds the search up.
    const pad = 'x'.repeat(8192);
    await Promise.all(Array.from({ length: SEARCH_LIMIT + 100 }, (_, n) => web.publisher.info({ n, pad })));
    // The server says on its debug channel when a search stops reading the stream, and why (consumers on a stream
    // are not counted or listed by RabbitMQ 3.10).
    const { url, cli } = await startWeb(web.name, ['--config', HISTORY_CONFIG_PATH], { DEBUG: 'event-bus-logger:web-search' });
    const all = await (await fetch(new URL('/search?since=start', url))).text();
    expect(all.match(/^event: match$/gm)?.length).to.equal(SEARCH_LIMIT);
    expect(all).to.match(/event: done\ndata: \{"reason":"limit","limit":1000\}\n\n$/);
    await cli.waitFor(() => /stopped reading at offset \d+ \(\d+ scanned, 1000 matched\): the limit/.test(cli.stderr), 'the limited search to stop reading');
    // A browser that opens a search, reads the first bytes and no more, and leaves.
    let first!: () => void;
    const started = new Promise<void>((resolve) => (first = resolve));
    const request = get(new URL('/search?since=start', url), (response) => response.once('data', () => { response.pause(); first(); }));
    request.on('error', () => undefined);
    await started;
    request.destroy();
    await cli.waitFor(() => /stopped reading at offset \d+ \(\d+ scanned, \d+ matched\): the browser left/.test(cli.stderr), 'the search to stop reading once the browser left', 15_000);
    const [, matched] = /\((\d+) scanned, (\d+) matched\): the browser left/.exec(cli.stderr)!.slice(1);
    expect(Number(matched)).to.be.below(SEARCH_LIMIT);
  });
});
