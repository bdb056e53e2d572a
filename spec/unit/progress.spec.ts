// tail's progress line on a terminal: the text (how far, scanned, matched, rate, time left) and the escape codes
// that redraw it in place and erase it; nothing at all when standard error is not a terminal.
import { expect } from 'chai';
import sinon from 'sinon';
import type { HistoryProgress } from '../../lib/consume/history-event.js';
import { ERASE_LINE, ProgressLine, REDRAW_EVERY, progressText } from '../../lib/cli/progress.js';

class FakeTerminal {
  written: string[] = [];
  constructor(
    readonly isTTY: boolean,
    readonly columns = 120,
  ) {}
  write(text: string): boolean {
    this.written.push(text);
    return true;
  }
}

describe('progress line', () => {
  let clock: sinon.SinonFakeTimers;
  beforeEach(() => {
    clock = sinon.useFakeTimers();
  });
  afterEach(() => clock.restore());

  it('says the offset of the last read, of the end, scanned, matched, events/s and the time left', () => {
    const progress: HistoryProgress = { offset: 30_000, end: 100_000, scanned: 20_000, matched: 12 };
    // 20,000 offsets (10,000 -> 30,000) in 2 s: 70,000 to go take 7 s.
    expect(progressText(progress, 2000, 10_000)).to.equal('offset 30,000 of 100,000 · scanned 20,000 · matched 12 · 10,000 events/s · 7 s left');
    expect(progressText({ offset: 500, end: 2_000_000, scanned: 500, matched: 0 }, 1000, 0)).to.equal('offset 500 of 2,000,000 · scanned 500 · matched 0 · 500 events/s · 1 h 7 min left');
    expect(progressText({ offset: undefined, end: undefined, scanned: 0, matched: 0 }, 0, undefined)).to.equal('reading · scanned 0 · matched 0');
  });

  it('on a terminal: drawn at once, redrawn in place every REDRAW_EVERY ms, erased when stopped', () => {
    const terminal = new FakeTerminal(true);
    const progress: HistoryProgress = { offset: undefined, end: undefined, scanned: 0, matched: 0 };
    const line = new ProgressLine(terminal, () => progress, () => clock.now).start();
    expect(terminal.written).to.deep.equal([`${ERASE_LINE}reading · scanned 0 · matched 0`]);
    Object.assign(progress, { offset: 0, end: 9, scanned: 1 });
    clock.tick(REDRAW_EVERY);
    Object.assign(progress, { offset: 4, scanned: 5, matched: 2 });
    clock.tick(REDRAW_EVERY);
    line.stop();
    clock.tick(REDRAW_EVERY * 4);
    expect(terminal.written.slice(1)).to.deep.equal([
      `${ERASE_LINE}offset 0 of 9 · scanned 1 · matched 0 · 4 events/s`,
      `${ERASE_LINE}offset 4 of 9 · scanned 5 · matched 2 · 10 events/s · 1 s left`,
      ERASE_LINE,
    ]);
  });

  it('is erased before tail prints a line, cut to the width of the terminal, and erased only once', () => {
    const terminal = new FakeTerminal(true, 30);
    const line = new ProgressLine(terminal, () => ({ offset: 123_456, end: 999_999, scanned: 1, matched: 1 }), () => clock.now);
    line.draw();
    line.clear();
    line.clear();
    line.stop();
    expect(terminal.written).to.deep.equal([`${ERASE_LINE}offset 123,456 of 999,999 · \u2026`, ERASE_LINE]);
  });

  it('writes nothing when standard error is not a terminal (a pipe, a file)', () => {
    const terminal = new FakeTerminal(false);
    const line = new ProgressLine(terminal, () => ({ offset: 1, end: 2, scanned: 1, matched: 1 }), () => clock.now).start();
    clock.tick(REDRAW_EVERY * 4);
    line.draw();
    line.stop();
    expect(line.enabled).to.equal(false);
    expect(terminal.written).to.deep.equal([]);
  });
});
