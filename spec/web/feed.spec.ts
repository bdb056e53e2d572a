// The web view's feed (lib/web/feed.ts) on a stand-in for a browser's response: bounded backlog, oversize data cut
// to a preview, a slow browser's frames dropped and counted, the backlog resumed after Last-Event-ID.
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { expect } from 'chai';
import { CHART_SECONDS, Feed } from '../../lib/web/feed.js';
import type { TailRecord } from '../../lib/bridges/event-record.js';

// What the feed uses of a ServerResponse: write(), writableLength, end(), 'drain' and 'close'.
class FakeResponse extends EventEmitter {
  writableLength = 0;
  written = '';
  ended = false;
  write(text: string): boolean {
    this.written += text;
    return true;
  }
  end(): void {
    this.ended = true;
  }
  /** The `data:` of every frame of `event`, parsed. */
  frames<T = Record<string, unknown>>(event: string): T[] {
    return this.written
      .split('\n\n')
      .filter((frame) => frame.includes(`event: ${event}\n`))
      .map((frame) => JSON.parse(/^data: (.*)$/m.exec(frame)![1]!) as T);
  }
}

const record = (n: number, data: Record<string, unknown> = { n }): TailRecord => ({
  time: new Date(0).toISOString(),
  level: 'info',
  host: 'h',
  pid: 1,
  appId: 'a',
  messageId: null,
  data,
});

describe('web view feed', () => {
  let feeds: Feed[];
  const feed = (options: ConstructorParameters<typeof Feed>[1] = {}): Feed => {
    const made = new Feed(() => ({ bus: 'spec' }), options);
    feeds.push(made);
    return made;
  };
  beforeEach(() => (feeds = []));
  afterEach(() => feeds.forEach((made) => made.close()));

  it('gives a new browser the hello, then the last events it keeps (bounded by count), then the live ones', () => {
    const live = feed({ backlogEvents: 3 });
    for (let n = 1; n <= 5; n++) live.event(record(n));
    const browser = new FakeResponse();
    live.connect(browser as unknown as ServerResponse, undefined);
    live.event(record(6));
    expect(browser.frames('hello')[0]).to.include({ bus: 'spec', boot: live.boot });
    expect(browser.frames<{ data: { n: number } }>('event').map((event) => event.data.n)).to.deep.equal([3, 4, 5, 6]);
  });

  it('bounds the backlog by bytes too', () => {
    const live = feed({ backlogEvents: 1000, backlogBytes: 2000 });
    for (let n = 1; n <= 50; n++) live.event(record(n, { n, pad: 'x'.repeat(200) }));
    const browser = new FakeResponse();
    live.connect(browser as unknown as ServerResponse, undefined);
    const kept = browser.frames<{ data: { n: number } }>('event').map((event) => event.data.n);
    expect(kept.length).to.be.within(1, 8);
    expect(kept.at(-1)).to.equal(50);
  });

  it('resumes after Last-Event-ID of the same server, and sends the whole backlog after a restart', () => {
    const live = feed();
    for (let n = 1; n <= 4; n++) live.event(record(n));
    const resumed = new FakeResponse();
    live.connect(resumed as unknown as ServerResponse, `${live.boot}.2`);
    expect(resumed.frames<{ data: { n: number } }>('event').map((event) => event.data.n)).to.deep.equal([3, 4]);
    const fromOtherServer = new FakeResponse();
    live.connect(fromOtherServer as unknown as ServerResponse, 'deadbeef.3');
    expect(fromOtherServer.frames('event')).to.have.length(4);
  });

  it('cuts data larger than maxDataBytes to a preview, saying how large it was', () => {
    const live = feed({ maxDataBytes: 100 });
    const browser = new FakeResponse();
    live.connect(browser as unknown as ServerResponse, undefined);
    live.event(record(1, { big: 'A'.repeat(5000) }));
    const [event] = browser.frames<{ data: unknown; truncated: { bytes: number; preview: string } }>('event');
    expect(event?.data).to.equal(null);
    expect(event?.truncated.bytes).to.equal(JSON.stringify({ big: 'A'.repeat(5000) }).length);
    expect(event?.truncated.preview).to.have.length(100);
  });

  it('drops the frames of a browser whose socket is full, counts them, and tells it once drained', () => {
    const live = feed({ clientBufferBytes: 1000 });
    const slow = new FakeResponse();
    const fast = new FakeResponse();
    live.connect(slow as unknown as ServerResponse, undefined);
    live.connect(fast as unknown as ServerResponse, undefined);
    live.event(record(1));
    slow.writableLength = 5000; // the browser stopped reading
    for (let n = 2; n <= 11; n++) live.event(record(n));
    slow.writableLength = 0;
    slow.emit('drain');
    live.event(record(12));
    expect(slow.frames<{ data: { n: number } }>('event').map((event) => event.data.n)).to.deep.equal([1, 12]);
    expect(slow.frames('dropped')).to.deep.equal([{ dropped: 10, total: 10 }]);
    expect(fast.frames('event')).to.have.length(12);
    expect(fast.frames('dropped')).to.deep.equal([]);
  });

  it('charts events per second by their own time, over the last 5 minutes, replayed ones included; a new page gets the chart and the replay', async () => {
    const live = feed({ backlogEvents: 2 });
    // Well inside one second, so that the events below all count from the same current second.
    while (Date.now() % 1000 > 700) await new Promise((resolve) => setTimeout(resolve, 50));
    const now = Date.now();
    const at = (ms: number, n: number): TailRecord => ({ ...record(n), time: new Date(ms).toISOString() });
    live.replayStarted('1h');
    for (const [ms, n] of [[now - 10_000, 1], [now - 10_000, 2], [now - 60_000, 3], [now - 3_600_000, 4]] as const) live.event(at(ms, n), { replayed: true });
    live.replayEnded();
    live.event(at(now + 60_000, 5)); // stamped ahead of this clock: the current second
    const chart = live.chart(now);
    expect(chart).to.have.lengthOf(CHART_SECONDS);
    expect(chart.at(-11)).to.equal(2);
    expect(chart.at(-61)).to.equal(1);
    expect(chart.at(-1)).to.equal(1);
    expect(chart.reduce((sum, count) => sum + count, 0), 'the event an hour old is off the chart').to.equal(4);
    expect(live.replay).to.deep.equal({ since: '1h', replayed: 4, done: true });
    const browser = new FakeResponse();
    live.connect(browser as unknown as ServerResponse, undefined);
    const hello = browser.frames<{ replay: unknown; chart: number[]; backlogEvents: number }>('hello')[0]!;
    expect(hello.replay).to.deep.equal({ since: '1h', replayed: 4, done: true });
    expect(hello.backlogEvents).to.equal(2);
    expect(hello.chart.reduce((sum, count) => sum + count, 0)).to.equal(4);
    expect(browser.frames('event')).to.have.lengthOf(2);
  });

  it('ends every stream on close', () => {
    const live = feed();
    const browser = new FakeResponse();
    live.connect(browser as unknown as ServerResponse, undefined);
    live.close();
    expect(browser.ended).to.equal(true);
    expect(live.clients).to.equal(0);
  });
});
