// The web view's accessibility, in chromium: axe-core (the accessibility engine, node_modules/axe-core) finds no
// WCAG 2.1 A or AA violation, in the light and the dark colour scheme, with rows of each kind on the page; every
// part of the page is in a landmark; and the page is usable with the keyboard alone.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { browserSpec, startWeb } from './web-helpers.js';

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

interface Violation {
  id: string;
  help: string;
  nodes: Array<{ target: string[]; failureSummary?: string }>;
}

// axe runs in the page (evaluated through the DevTools protocol: the page's CSP forbids inline script, rightly).
async function violations(page: Page, rules: { runOnly?: string[]; only?: string[] } = {}): Promise<string[]> {
  await page.evaluate(AXE_SOURCE);
  const runOnly = rules.only ? { type: 'rule', values: rules.only } : { type: 'tag', values: WCAG_TAGS };
  const found = (await page.evaluate(`axe.run(document, ${JSON.stringify({ runOnly, resultTypes: ['violations'] })}).then((result) => result.violations)`)) as Violation[];
  return found.flatMap((violation) => violation.nodes.map((node) => `${violation.id} (${violation.help}) at ${node.target.join(' ')}: ${node.failureSummary ?? ''}`));
}

describe('event-bus-logger web: accessibility (in chromium, with axe-core)', function () {
  this.timeout(90_000);
  const web = browserSpec('web_a11y', { appId: 'a11y-spec' });
  let page: Page;

  async function pageWithEvents(colorScheme: 'light' | 'dark'): Promise<void> {
    const { url } = await startWeb(web.name);
    page = await web.newPage({ viewport: { width: 1100, height: 500 }, colorScheme });
    await page.goto(url);
    await page.locator('#connection[data-state="connected"]').waitFor({ timeout: 15_000 });
    await web.publisher.info({ user: 'ann', action: 'signed in' });
    await web.publisher.critical({ disk: '/var', used: '97%' });
    await web.publisher.info({ order: 4711 });
    await page.locator('#events .row').nth(2).waitFor({ timeout: 10_000 });
    // An expanded row, a notice, and the counts and chart after a tick: every kind of text on the page.
    await page.locator('#events .row').nth(1).click();
    await page.locator('#events .row .full').waitFor();
    await page.locator('#levels .count', { hasText: '2' }).waitFor({ timeout: 5000 });
  }

  for (const colorScheme of ['light', 'dark'] as const) {
    it(`has no WCAG 2.1 A or AA violation (${colorScheme} colour scheme): contrast of every text, labels, names`, async () => {
      await pageWithEvents(colorScheme);
      expect(await violations(page)).to.deep.equal([]);
    });
  }

  it('puts all of its content in landmarks (banner, main, named regions)', async () => {
    await pageWithEvents('light');
    expect(await violations(page, { only: ['region', 'landmark-one-main', 'landmark-unique', 'page-has-heading-one'] })).to.deep.equal([]);
  });

  it('is usable with the keyboard alone: the filters, then the rows (one tab stop; arrows, Home and End move; Enter expands)', async () => {
    await pageWithEvents('light');
    // What has the focus: its tag, id, value, and whether it is in a row.
    const focused = (): Promise<string> =>
      page.evaluate(`(() => {
        const element = document.activeElement;
        return element ? element.tagName.toLowerCase() + (element.id ? '#' + element.id : '') + (element.getAttribute('value') ? '[value=' + element.getAttribute('value') + ']' : '') + (element.closest('.row') ? ' in a row' : '') : '';
      })()`);
    // From the top: Tab reaches each control in order.
    await page.locator('body').focus();
    const stops: string[] = [];
    for (let i = 0; i < 8; i++) {
      await page.keyboard.press('Tab');
      stops.push(await focused());
    }
    expect(stops).to.include('input[value=info]').and.include('input[value=critical]').and.include('input#text-filter');
    // A level box toggles with Space.
    await page.locator('#levels input[value="critical"]').focus();
    await page.keyboard.press('Space');
    expect(await page.locator('#events .row:visible .level').allTextContents()).to.deep.equal(['INFO', 'INFO']);
    await page.keyboard.press('Space');
    // The rows: one tab stop, arrows move between them, Enter expands and collapses.
    const rowStop = stops.findIndex((stop) => stop.endsWith(' in a row'));
    expect(rowStop, `a row among the tab stops: ${stops.join(', ')}`).to.be.at.least(0);
    await page.locator('#text-filter').focus();
    while (!(await focused()).endsWith(' in a row')) await page.keyboard.press('Tab');
    const focusedRow = (): Promise<number> => page.evaluate(`[...document.querySelectorAll('#events .row')].findIndex((row) => row.contains(document.activeElement))`);
    const start = await focusedRow();
    await page.keyboard.press('Home');
    expect(await focusedRow()).to.equal(0);
    await page.keyboard.press('ArrowDown');
    expect(await focusedRow()).to.equal(1);
    await page.keyboard.press('End');
    expect(await focusedRow()).to.equal(2);
    expect(start).to.be.within(0, 2);
    await page.keyboard.press('Enter');
    expect(await page.locator('#events .row').nth(2).locator('.full').count()).to.equal(1);
    expect(await page.locator('#events .row').nth(2).locator('[aria-expanded]').getAttribute('aria-expanded')).to.equal('true');
    await page.keyboard.press('Enter');
    expect(await page.locator('#events .row').nth(2).locator('.full').count()).to.equal(0);
    // Every focusable thing shows where the focus is.
    expect(await violations(page)).to.deep.equal([]);
  });
});
