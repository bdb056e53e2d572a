// history() on a stub stream (no broker): a read ends loudly, never silently or never. A broker cancel resumes or
// fails with CONNECT (C2); a slow probe is not an empty stream (C3); a read started during an outage fails within
// resumeTimeout (C8); an offset the stream does not reach yet is an OUT_OF_RANGE error naming its offsets.
import { expect } from 'chai';
import { HistoryRead, type HistoryReadParts } from '../../lib/consume/history-read.js';
import { EventBusLoggerError } from '../../lib/errors.js';
import type { StreamStart } from '../../lib/since.js';
import { StubStream, type ConsumePlan, type OffsetArgument } from './stub-stream.js';

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

// A read of `stream` from `since` with the options a logger would give it.
function read(stream: StubStream, since: StreamStart, options: Partial<HistoryReadParts> = {}): HistoryRead<string> {
  return new HistoryRead<string>({
    bus: stream.bus,
    stream: 'bus.history',
    since,
    until: undefined,
    levels: new Set(['info', 'critical']),
    wanted: new Set(['info', 'critical']),
    maxMessageBytes: 1 << 20,
    prefetch: 10,
    resumeTimeout: 1000,
    stopping: () => false,
    ...options,
  });
}

// Reads to the end, or to the error that ends it; a read still pending after `guard` ms is a failure of its own
// (what the defects did: hang), not a duration under test.
async function outcome(history: HistoryRead<string>, guard = 8000): Promise<{ got: unknown[]; error?: EventBusLoggerError }> {
  const got: unknown[] = [];
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_resolve, reject) => (timer = setTimeout(() => reject(new Error(`still pending after ${guard} ms, having read ${JSON.stringify(got)}`)), guard)));
  try {
    const reading = (async () => {
      try {
        for await (const event of history) got.push(event.data.n);
        return { got };
      } catch (error) {
        return { got, error: error as EventBusLoggerError };
      }
    })();
    return await Promise.race([reading, hung]);
  } finally {
    clearTimeout(timer);
  }
}

describe('history(): HistoryRead on a stub stream', function () {
  this.timeout(15_000);
  const streams: StubStream[] = [];
  const stub = (offsets: number[], plan?: (argument: OffsetArgument, consume: number, prefetch: number) => ConsumePlan): StubStream => {
    const stream = new StubStream(offsets, plan);
    streams.push(stream);
    return stream;
  };
  afterEach(() => {
    for (const stream of streams.splice(0)) stream.stop();
  });

  it("'start' gives every record once and ends; every channel it opened is closed", async () => {
    const stream = stub(range(0, 5));
    expect(await outcome(read(stream, { kind: 'start' }))).to.deep.equal({ got: [0, 1, 2, 3, 4, 5] });
    expect(stream.channels.every((channel) => channel.closed)).to.equal(true);
  });

  it('acks the stream (its credit) with one `multiple` ack per half of the prefetch', async () => {
    const stream = stub(range(0, 9));
    expect(await outcome(read(stream, { kind: 'start' }, { prefetch: 4 }))).to.deep.equal({ got: range(0, 9) });
    const reader = stream.channels.find((channel) => channel.acked.length > 0);
    expect(reader?.acked).to.deep.equal([[2, true], [4, true], [6, true], [8, true], [10, true]]);
  });

  describe('a consumer cancelled by the broker (C2)', () => {
    it('resumes after the last record read when the stream is still there', async () => {
      // The read's first consume gets 0..2 and a cancel (its node went); the next one, from 3, the rest. (A read's
      // channel has the read's prefetch; a probe's, 1.)
      const stream = stub(range(0, 5), (argument, _consume, prefetch) => (argument === 'first' && prefetch > 1 ? { offsets: [0, 1, 2], cancel: true } : {}));
      expect(await outcome(read(stream, { kind: 'start' }))).to.deep.equal({ got: [0, 1, 2, 3, 4, 5] });
      expect(stream.consumes.at(-1)).to.equal(3);
    });

    it('a connection lost while the read sets up its consumer resumes it, never failing with amqplib’s bare error', async () => {
      // The read's first consume (its channel has the read's prefetch; a probe's, 1) is refused as the channel ends.
      let refused = false;
      const stream = stub(range(0, 5), (_argument, _consume, prefetch) => (prefetch > 1 && !refused ? ((refused = true), { ends: true }) : {}));
      expect(await outcome(read(stream, { kind: 'start' }))).to.deep.equal({ got: [0, 1, 2, 3, 4, 5] });
    });

    it('a connection lost while the probe runs (its channel ends, no reason of its own) probes again: every record, no bare error', async () => {
      // The first probe's first consume (a probe's channel has prefetch 1) ends with its channel; the next probe works.
      let ended = false;
      const stream = stub(range(0, 5), (_argument, _consume, prefetch) => (prefetch === 1 && !ended ? ((ended = true), { ends: true }) : {}));
      expect(await outcome(read(stream, { kind: 'start' }))).to.deep.equal({ got: [0, 1, 2, 3, 4, 5] });
    });

    it('a probe the broker refuses (the stream deleted) fails the read at once with CONNECT naming the broker’s reason, not probed again', async () => {
      const stream = stub(range(0, 5), (_argument, _consume, prefetch) => (prefetch === 1 ? { refuse: "NOT_FOUND - no queue 'bus.history'" } : {}));
      const { got, error } = await outcome(read(stream, { kind: 'start' }, { resumeTimeout: 5000 }));
      expect(got).to.deep.equal([]);
      expect(error?.code, error?.message).to.equal('CONNECT');
      expect(error?.message).to.match(/could not begin: .*NOT_FOUND - no queue 'bus\.history'/);
      // Two consumes of the one probe (first, last) and the read's own beside it; no second probe.
      expect(stream.consumes.length, JSON.stringify(stream.consumes)).to.be.at.most(3);
    });

    it('a probe whose channel the broker closed with a passing error (a 406, not a 404) probes again: every record', async () => {
      // check:faults found it: a channel error on the read's connection hit the probe, and the read failed at once.
      let closed = false;
      const stream = stub(range(0, 5), (_argument, _consume, prefetch) => (prefetch === 1 && !closed ? ((closed = true), { refuse: 'PRECONDITION_FAILED - a channel error', code: 406 }) : {}));
      expect(await outcome(read(stream, { kind: 'start' }))).to.deep.equal({ got: [0, 1, 2, 3, 4, 5] });
    });

    it('fails with CONNECT within resumeTimeout when the stream is gone, naming the offset to read again from', async () => {
      // The read's first consume (its channel has the read's prefetch; a probe's, 1) gets 0..2, then the stream is
      // deleted: the probe beside it found the stream, the probe before a resume and any later consume do not.
      let reads = 0;
      let probes = 0;
      const gone = { refuse: "NOT_FOUND - no queue 'bus.history'" };
      const stream = stub(range(0, 5), (_argument, _consume, prefetch) => {
        if (prefetch > 1) return ++reads === 1 ? { offsets: [0, 1, 2], cancel: true } : gone;
        return ++probes > 2 ? gone : {};
      });
      const { got, error } = await outcome(read(stream, { kind: 'start' }, { resumeTimeout: 300 }));
      expect(got).to.deep.equal([0, 1, 2]);
      expect(error?.code, error?.message).to.equal('CONNECT');
      expect(error?.message).to.match(/NOT_FOUND - no queue 'bus\.history'.*read again from offset 3$/);
    });
  });

  describe('a slow broker is never an empty stream (C3)', () => {
    it('a probe whose last record comes after the empty-stream wait still finds the end', async () => {
      const stream = stub(range(0, 5), (argument, consume) => (argument === 'last' && consume < 2 ? { delay: 1600 } : {}));
      expect(await outcome(read(stream, { kind: 'start' }, { resumeTimeout: 5000 }))).to.deep.equal({ got: [0, 1, 2, 3, 4, 5] });
    });

    it('a broker that never answers the probe fails the read with CONNECT, saying so', async () => {
      const stream = stub(range(0, 5), () => ({ silent: true }));
      const { got, error } = await outcome(read(stream, { kind: 'start' }, { resumeTimeout: 300 }));
      expect(got).to.deep.equal([]);
      expect(error?.code).to.equal('CONNECT');
      expect(error?.message).to.match(/^Reading the history of "bus\.history" could not begin: the broker did not answer the probe consumers \(basic\.consume\) on "bus\.history" within 300 ms$/);
    });

    it('a probe the broker does not answer fails the read within resumeTimeout, though its channel’s close is not answered either', async () => {
      const stream = stub(range(0, 5), () => ({ silent: true }));
      stream.closeUnanswered = true;
      const { got, error } = await outcome(read(stream, { kind: 'start' }, { resumeTimeout: 300 }), 3000);
      expect(got).to.deep.equal([]);
      expect(error?.code, error?.message).to.equal('CONNECT');
      stream.dropAll();
    });

    it('a read ended while its connection is lost settles when the channel closes, without the close’s answer', async () => {
      const stream = stub(range(0, 5));
      const history = read(stream, { kind: 'start' });
      expect((await history.next()).value?.data).to.deep.equal({ n: 0 });
      stream.closeUnanswered = true;
      const ending = history.return();
      stream.dropAll();
      let timer: NodeJS.Timeout | undefined;
      const guard = new Promise((resolve) => (timer = setTimeout(resolve, 3000, 'still pending')));
      expect(await Promise.race([ending.then(() => 'settled'), guard])).to.equal('settled');
      clearTimeout(timer);
    });

    it('a stream that holds records but sends none to the read fails it with CONNECT, not an empty read', async () => {
      const stream = stub(range(0, 5), (_argument, _consume, prefetch) => (prefetch > 1 ? { offsets: [] } : {}));
      const { got, error } = await outcome(read(stream, { kind: 'start' }, { resumeTimeout: 300 }));
      expect(got).to.deep.equal([]);
      expect(error?.code, error?.message).to.equal('CONNECT');
      expect(error?.message).to.match(/sent no record within 300 ms, though the stream holds offsets up to 5/);
    });

    it('an empty stream: the broker answered and sent nothing, so the read ends with nothing', async () => {
      expect(await outcome(read(stub([]), { kind: 'start' }))).to.deep.equal({ got: [] });
    });

    it('a `since` time after the last record ends at once, from the last record’s own timestamp', async () => {
      const stream = stub(range(0, 5));
      stream.timestampOf = (offset) => 1_000_000 + offset;
      expect(await outcome(read(stream, { kind: 'time', time: new Date(1_000_006_000) }))).to.deep.equal({ got: [] });
      // The read's consume starts beside the probe; it is closed unread.
      expect(stream.channels.every((channel) => channel.closed)).to.equal(true);
    });

    it('a `since` time before the last record waits for a slow first record', async () => {
      const stream = stub(range(0, 5), (argument) => (typeof argument === 'object' ? { delay: 1600 } : {}));
      stream.timestampOf = (offset) => 1_000_000 + offset;
      expect(await outcome(read(stream, { kind: 'time', time: new Date(1_000_003_000) }, { resumeTimeout: 5000 }))).to.deep.equal({ got: [3, 4, 5] });
    });
  });

  it('started during an outage: fails with CONNECT within resumeTimeout (C8)', async () => {
    const stream = stub(range(0, 5));
    stream.outage = true;
    const { error } = await outcome(read(stream, { kind: 'start' }, { resumeTimeout: 300 }));
    expect(error?.code).to.equal('CONNECT');
    expect(error?.message).to.match(/could not begin: the broker did not answer with a channel on "bus\.history" within 300 ms/);
    stream.isUp = false;
    const { error: atOnce } = await outcome(read(stream, { kind: 'start' }, { resumeTimeout: 0 }));
    expect(atOnce?.message).to.match(/could not begin: the connection is down \(resumeTimeout 0\)/);
  });

  describe('an offset the stream does not reach yet', () => {
    it('rejects with OUT_OF_RANGE naming the stream’s first and last offsets', async () => {
      const { error } = await outcome(read(stub(range(40, 99)), { kind: 'offset', offset: 200_000 }));
      expect(error).to.be.instanceOf(EventBusLoggerError);
      expect(error?.code).to.equal('OUT_OF_RANGE');
      expect(error?.message).to.equal(
        'Offset 200000 does not exist yet in the history stream "bus.history": it holds offsets 40 to 99, and its next event will be 100. (A stream deleted and declared anew numbers its events from 0 again.) Read from "start", from a time, or from an offset up to 100',
      );
      const { error: empty } = await outcome(read(stub([]), { kind: 'offset', offset: 5 }));
      expect(empty?.message).to.match(/^Offset 5 does not exist yet in the history stream "bus\.history": it is empty\./);
    });

    it('the offset after the last, and an offset retention deleted, are not errors', async () => {
      expect(await outcome(read(stub(range(40, 99)), { kind: 'offset', offset: 100 }))).to.deep.equal({ got: [] });
      expect(await outcome(read(stub(range(40, 45)), { kind: 'offset', offset: 3 }))).to.deep.equal({ got: [40, 41, 42, 43, 44, 45] });
    });

    it('a read resumed on a stream deleted and declared anew fails with OUT_OF_RANGE', async () => {
      const stream = stub(range(0, 5), (argument, _consume, prefetch) => {
        if (argument === 'first' && prefetch > 1) {
          // Deleted (the cancel) and declared anew by another process: empty again.
          setImmediate(() => (stream.offsets = []));
          return { offsets: [0, 1, 2], cancel: true };
        }
        return {};
      });
      const { got, error } = await outcome(read(stream, { kind: 'start' }, { resumeTimeout: 5000 }));
      expect(got).to.deep.equal([0, 1, 2]);
      expect(error?.code, error?.message).to.equal('OUT_OF_RANGE');
      expect(error?.message).to.match(/^Offset 3 does not exist yet in the history stream "bus\.history": it is empty\./);
    });
  });
});
