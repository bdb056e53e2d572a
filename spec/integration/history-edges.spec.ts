// History at its edges on the real broker, each spec faulting only its own bus's stream: a stream deleted under a
// read (the broker cancels the consumer), an offset the stream does not reach yet (a `since` too far, or a stream
// deleted and declared anew, whose offsets start again at 0), for history(), a catch-up listener and tail.
import { expect } from 'chai';
import type { GapInfo, HistoryEvent } from '../../lib/index.js';
import { startCli } from '../cli/run-cli.js';
import { AMQP_URL, HISTORY_CONFIG_PATH, deleteQueue, historyBusPerSpec, next, quiet, until } from '../helpers.js';
import { TcpProxy } from '../tcp-proxy.js';

// Reads what is left of `read`; resolves with what it got and the error that ended it, if one did.
async function readRest(read: AsyncIterableIterator<HistoryEvent<string>>, got: unknown[] = []): Promise<{ got: unknown[]; error?: Error & { code?: string } }> {
  try {
    for await (const event of read) got.push(event.data.n);
  } catch (caught) {
    return { got, error: caught as Error & { code?: string } };
  }
  return { got };
}

describe('history at its edges', function () {
  this.timeout(60_000);
  const bus = historyBusPerSpec('history-edges');

  it('history() whose stream is deleted mid-read ends with CONNECT within resumeTimeout, naming the offset to read again from', async () => {
    const publisher = await bus.logger({ listen: false, prefetch: 1 });
    for (let n = 1; n <= 10; n++) await publisher.info({ n });
    const read = publisher.history({ since: 'start', resumeTimeout: 1500 });
    const got: unknown[] = [];
    for (let i = 0; i < 3; i++) got.push((await read.next()).value?.data.n);
    await deleteQueue(`${bus.name}.history`);
    const { error } = await readRest(read, got);
    expect(got.slice(0, 3)).to.deep.equal([1, 2, 3]);
    expect(error?.code, error?.message).to.equal('CONNECT');
    expect(error?.message).to.match(new RegExp(`^Reading the history of "${bus.name}\\.history" stopped: the connection was lost and the read could not go on \\(.*\\); read again from offset ${got.length}$`));
  });

  it('history() cut by a reset of its own connection goes on from the event after the last one read, the range checked first', async () => {
    const publisher = await bus.logger({ listen: false });
    for (let n = 1; n <= 10; n++) await publisher.info({ n });
    const proxy = await TcpProxy.start();
    try {
      const reader = await bus.logger({ url: proxy.url(), listen: false, prefetch: 1 });
      const read = reader.history({ since: 'start' });
      const got: unknown[] = [];
      for (let i = 0; i < 3; i++) got.push((await read.next()).value?.data.n);
      proxy.cut();
      expect(await readRest(read, got)).to.deep.equal({ got: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] });
    } finally {
      await bus.stopLoggers();
      await proxy.close();
    }
  });

  describe('a broker slow to deliver (a proxy holds what it sends for 2 s from its first delivery on)', () => {
    let proxy: TcpProxy;
    beforeEach(async () => {
      proxy = await TcpProxy.start();
      proxy.slowDeliveries(2000);
    });
    afterEach(async () => {
      await bus.stopLoggers();
      await proxy.close();
    });

    it("is not an empty stream: history({ since: 'start' }) gives every event", async () => {
      const publisher = await bus.logger({ listen: false });
      for (let n = 1; n <= 5; n++) await publisher.info({ n });
      const reader = await bus.logger({ url: proxy.url(), listen: false });
      expect(await readRest(reader.history({ since: 'start' }))).to.deep.equal({ got: [1, 2, 3, 4, 5] });
    });

    it("a catch-up listener since 'now' starts after the last event, never replays the stream", async () => {
      const publisher = await bus.logger({ listen: false });
      for (let n = 1; n <= 5; n++) await publisher.info({ n });
      const listener = await bus.logger({ url: proxy.url(), history: { since: 'now' } }, false);
      const received: unknown[] = [];
      listener.on('info', (data) => void received.push(data.n));
      await listener.start();
      await publisher.info({ n: 6 });
      await until(() => received.length >= 1, 'the new event', 15_000);
      await quiet(2500);
      expect(received).to.deep.equal([6]);
    });
  });

  it('history() from an offset the stream does not reach yet rejects with OUT_OF_RANGE naming its first and last offsets', async () => {
    const publisher = await bus.logger({ listen: false });
    for (let n = 1; n <= 5; n++) await publisher.info({ n });
    const { error } = await readRest(publisher.history({ since: 200_000 }));
    expect(error?.code).to.equal('OUT_OF_RANGE');
    expect(error?.message).to.equal(
      `Offset 200000 does not exist yet in the history stream "${bus.name}.history": it holds offsets 0 to 4, and its next event will be 5. (A stream deleted and declared anew numbers its events from 0 again.) Read from "start", from a time, or from an offset up to 5`,
    );
    expect(await readRest(publisher.history({ since: 5 }))).to.deep.equal({ got: [] });
  });

  it("a catch-up listener from an offset beyond the end: 'gap' with reason out-of-range, then every new event", async () => {
    const publisher = await bus.logger({ listen: false });
    for (let n = 1; n <= 5; n++) await publisher.info({ n });
    const listener = await bus.logger({ history: { since: 200_000 } }, false);
    const received: unknown[] = [];
    const gaps: GapInfo[] = [];
    listener.on('info', (data) => void received.push(data.n));
    listener.on('gap', (gap) => void gaps.push(gap));
    await listener.start();
    expect(gaps).to.deep.equal([{ reason: 'out-of-range', stream: `${bus.name}.history`, from: 0, to: 4, missed: 0, publisher: '', level: '', expected: 200_000, received: 5 }]);
    for (let n = 6; n <= 8; n++) await publisher.info({ n });
    await until(() => received.length >= 3, 'the new events');
    expect(received).to.deep.equal([6, 7, 8]);
  });

  it('a catch-up listener whose stream is deleted and declared anew goes on with the new stream’s events', async () => {
    const publisher = await bus.logger({ listen: false });
    const listener = await bus.logger({ history: { since: 'start' } }, false);
    const received: unknown[] = [];
    const gaps: GapInfo[] = [];
    listener.on('info', (data) => void received.push(data.n));
    listener.on('gap', (gap) => void gaps.push(gap));
    await listener.start();
    for (let n = 1; n <= 5; n++) await publisher.info({ n });
    await until(() => received.length >= 5, 'the first events');
    const ready = next(listener, 'ready', 30_000);
    await deleteQueue(`${bus.name}.history`);
    await ready;
    // Its offsets start again at 0: offset 5, where the listener would resume, does not exist yet.
    expect(gaps).to.deep.include({ reason: 'out-of-range', stream: `${bus.name}.history`, missed: 0, publisher: '', level: '', expected: 5, received: 0 });
    for (let n = 6; n <= 8; n++) await publisher.info({ n });
    await until(() => received.length >= 8, 'the events of the new stream', 10_000);
    expect(received).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('tail --since an offset beyond the end says so on standard error and follows; with --no-follow it exits 2', async () => {
    const publisher = await bus.logger({ listen: false });
    for (let n = 1; n <= 3; n++) await publisher.info({ n });
    const base = ['--config', HISTORY_CONFIG_PATH, '--name', bus.name, '--url', AMQP_URL, '--json'];
    const tail = startCli(['tail', '--since', '99999999999', ...base]);
    try {
      await tail.waitFor(() => /then following live/.test(tail.stderr), 'tail to be ready', 20_000);
      expect(tail.stderr).to.include(`offset 99999999999 does not exist yet in ${bus.name}.history (it holds offsets 0..2; deleted and declared anew?): going on from its end, offset 3`);
      await publisher.info({ n: 4 });
      await tail.waitFor(() => tail.lines.length >= 1, 'the new event', 10_000);
      expect(tail.lines.map((line) => (JSON.parse(line) as { data: { n: number } }).data.n)).to.deep.equal([4]);
    } finally {
      tail.child.kill('SIGINT');
      await tail.exit();
    }
    const once = startCli(['tail', '--since', '99999999999', '--no-follow', ...base]);
    expect((await once.exit()).code).to.equal(2);
    expect(once.stderr).to.match(/Offset 99999999999 does not exist yet in the history stream ".*\.history": it holds offsets 0 to 3/);
  });
});
