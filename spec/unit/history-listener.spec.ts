// A catch-up listener on a stub stream (no broker): where it starts reading, and what it says when it cannot start
// where it was asked. 'now' never means offset 0 (C4); retention between the probe and the consume is a 'gap' (C13);
// an offset the stream does not reach yet is a 'gap' with reason 'out-of-range', and reading goes on from the end.
import { expect } from 'chai';
import { Delivery } from '../../lib/consume/delivery.js';
import { HistoryListener } from '../../lib/consume/history-listener.js';
import { SequenceWindow } from '../../lib/consume/sequence.js';
import type { GapInfo } from '../../lib/events.js';
import type { StreamStart } from '../../lib/since.js';
import { Stats } from '../../lib/stats.js';
import type { AmqpChannel } from '../../lib/rascal.js';
import type { SessionChannels } from '../../lib/bus/session.js';
import { StubStream, type ConsumePlan, type OffsetArgument } from './stub-stream.js';

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

interface Started {
  listener: HistoryListener;
  received: number[];
  gaps: GapInfo[];
  stats: Stats;
  lost: string[];
  /** The `x-stream-offset` of the listener's own consume (the probes' come before it). */
  readFrom: OffsetArgument | undefined;
}

describe('catch-up listener: HistoryListener on a stub stream', function () {
  this.timeout(15_000);
  const streams: StubStream[] = [];
  afterEach(() => {
    for (const stream of streams.splice(0)) stream.stop();
  });

  // Runs the listener's setup step on a consumer channel of `stream`, as the session does.
  async function start(stream: StubStream, since: StreamStart, listener?: HistoryListener, parts: Partial<Started> & { probeAnswerWait?: number } = {}): Promise<Started> {
    streams.push(stream);
    const received: number[] = parts.received ?? [];
    const gaps: GapInfo[] = parts.gaps ?? [];
    const stats = parts.stats ?? new Stats();
    const lost: string[] = [];
    const sequence = new SequenceWindow();
    const report = ((name: string, info: GapInfo) => {
      if (name === 'gap') gaps.push(info);
    }) as never;
    const delivery = new Delivery<string>({
      levels: new Set(['info']),
      maxMessageBytes: 1 << 20,
      stats,
      report,
      sequence,
      handle: (_level, data) => void received.push(data.n as number),
    });
    listener ??= new HistoryListener({ bus: stream.bus, stream: 'bus.history', since, prefetch: 10, skip: new Set(), delivery, sequence, report, stats, ...(parts.probeAnswerWait ? { probeAnswerWait: parts.probeAnswerWait } : {}) });
    const consumer = stream.channel();
    const before = stream.consumes.length;
    await listener.setup({ channels: { consumer } as unknown as SessionChannels & { consumer: AmqpChannel }, isCurrent: () => true, lost: (why) => void lost.push(why) });
    // The listener's consume is the last one; the probes' come before.
    return { listener, received, gaps, stats, lost, readFrom: stream.consumes.length > before ? stream.consumes.at(-1) : undefined };
  }

  const delivered = async (started: Started, count: number): Promise<void> => {
    for (let i = 0; i < 200 && started.received.length < count; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  };

  describe("since 'now' (C4)", () => {
    // Records published a minute before the listener started: 'now' is after all of them.
    const aMinuteAgo = (): number => Math.floor(Date.now() / 1000) - 60;

    it('reads from the offset after the last, even when the probe of the last record is slow', async () => {
      const stream = new StubStream(range(0, 99), (argument: OffsetArgument): ConsumePlan => (argument === 'last' ? { delay: 1600 } : {}));
      stream.timestampOf = aMinuteAgo;
      const started = await start(stream, { kind: 'now' });
      expect(started.readFrom).to.equal(100);
      stream.offsets.push(100);
      expect(started.received).to.deep.equal([]);
    });

    it('on a stream that looks empty: from its next record ("next"), never offset 0', async () => {
      const started = await start(new StubStream([]), { kind: 'now' });
      expect(started.readFrom).to.equal('next');
    });

    it('a first set-up that runs late (a background start, a set-up cut by a lost connection) reads what was published since start(), from that time', async () => {
      // The listener is built at start(); its first set-up runs later, when 90..99 are already on the stream.
      const stream = new StubStream(range(0, 99));
      const startedAt = Math.floor(Date.now() / 1000);
      stream.timestampOf = (offset) => (offset < 90 ? startedAt - 60 : startedAt + 2);
      const started = await start(stream, { kind: 'now' });
      expect(started.readFrom).to.deep.equal({ '!': 'timestamp', value: startedAt });
      await delivered(started, 10);
      expect(started.received).to.deep.equal(range(90, 99));
      expect(started.gaps).to.deep.equal([]);
    });

    it('a broker that does not answer the probe fails the setup (the session tries again), never reads from 0', async () => {
      const stream = new StubStream(range(0, 99), () => ({ silent: true }));
      const error = await start(stream, { kind: 'now' }, undefined, { probeAnswerWait: 200 }).then(() => undefined, (caught: Error) => caught);
      expect(error?.message).to.equal('the broker did not answer the probe consumers (basic.consume) on "bus.history" within 200 ms');
      expect(stream.consumes).to.deep.equal(['first', 'last']);
    });
  });

  describe('an offset the stream does not reach yet', () => {
    it("'gap' with reason 'out-of-range' naming the stream's offsets; then reads on from its end", async () => {
      const stream = new StubStream(range(40, 99));
      const started = await start(stream, { kind: 'offset', offset: 200_000 });
      expect(started.gaps).to.deep.equal([
        { reason: 'out-of-range', stream: 'bus.history', from: 40, to: 99, missed: 0, publisher: '', level: '', expected: 200_000, received: 100 },
      ]);
      expect(started.readFrom).to.equal(100);
      expect(started.stats.missed).to.equal(0);
    });

    it('on an empty stream (deleted and declared anew): the same, then from its next record', async () => {
      const started = await start(new StubStream([]), { kind: 'offset', offset: 100 });
      expect(started.gaps).to.deep.equal([{ reason: 'out-of-range', stream: 'bus.history', missed: 0, publisher: '', level: '', expected: 100, received: 0 }]);
      expect(started.readFrom).to.equal('next');
    });

    it('the offset after the last is no gap', async () => {
      const started = await start(new StubStream(range(0, 99)), { kind: 'offset', offset: 100 });
      expect(started.gaps).to.deep.equal([]);
      expect(started.readFrom).to.equal(100);
    });
  });

  describe('retention', () => {
    it("deleted before the probe: 'gap' with reason retention, the duplicate check cleared", async () => {
      const started = await start(new StubStream(range(40, 45)), { kind: 'offset', offset: 10 });
      await delivered(started, 6);
      expect(started.received).to.deep.equal(range(40, 45));
      // Once: the first record read (40) is where the probe said the stream begins.
      expect(started.gaps).to.deep.equal([{ reason: 'retention', stream: 'bus.history', from: 10, to: 39, missed: 30, publisher: '', level: '', expected: 10, received: 40 }]);
      expect(started.stats.missed).to.equal(30);
    });

    it("deleted between the probe and the consume: the first record after the one asked for is a 'gap' too (C13)", async () => {
      // The probe still sees 0..9; by the time the listener consumes from 3, retention deleted up to 5.
      const stream = new StubStream(range(0, 9), (argument) => (argument === 3 ? { offsets: range(6, 9) } : {}));
      const started = await start(stream, { kind: 'offset', offset: 3 });
      await delivered(started, 4);
      expect(started.gaps).to.deep.equal([{ reason: 'retention', stream: 'bus.history', from: 3, to: 5, missed: 3, publisher: '', level: '', expected: 3, received: 6 }]);
      expect(started.received).to.deep.equal(range(6, 9));
      expect(started.stats.missed).to.equal(3);
    });
  });
});
