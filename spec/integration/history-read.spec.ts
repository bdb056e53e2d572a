// history() on the real broker (lib/consume/history-read.ts): by every `since` form, levels and until, ending at
// the last offset when the call began, releasing its consumer, going on across a lost connection (or ending with
// CONNECT or STOPPED naming where to read again), two buses apart.
import { expect } from 'chai';
import type { EventBusLogger, HistoryEvent } from '../../lib/index.js';
import { closeConnectionsOf, collectHistory, historyBusPerSpec, next, rabbitmqctl } from '../helpers.js';
import { TcpProxy } from '../tcp-proxy.js';

// The consumers on the channels of the bus's connections. (RabbitMQ 3.10's `list_queues consumers` of a stream
// never goes down when a stream consumer is cancelled or its channel closed, and `list_consumers` lists none.)
async function consumersOfBus(bus: string): Promise<number> {
  const connections = await rabbitmqctl<Array<{ name: string; client_properties: unknown }>>('list_connections', 'name', 'client_properties');
  const mine = connections.filter((c) => JSON.stringify(c.client_properties).includes(`(${bus})`)).map((c) => `${c.name} (`);
  const channels = await rabbitmqctl<Array<{ name: string; consumer_count: number }>>('list_channels', 'name', 'consumer_count');
  return channels.filter((channel) => mine.some((m) => channel.name.startsWith(m))).reduce((sum, channel) => sum + channel.consumer_count, 0);
}

describe('history()', function () {
  this.timeout(60_000);
  const bus = historyBusPerSpec('history-read');

  let publisher: EventBusLogger<string>;
  const offsets: number[] = [];
  let before: Date;
  let after: Date;

  beforeEach(async () => {
    publisher = await bus.logger({ listen: false });
    offsets.length = 0;
    before = new Date(Date.now() - 2000);
    for (let n = 1; n <= 10; n++) await publisher.publish(n % 3 === 0 ? 'critical' : 'info', { n });
    after = new Date(Date.now() + 2000);
    for (const event of await collectHistory(publisher.history({ since: 'start' }))) offsets.push(event.meta.offset as number);
  });

  it("'start' gives every event once, in order, with its offset, and ends", async () => {
    const events = await collectHistory(publisher.history({ since: 'start' }));
    expect(events.map((e) => e.data.n)).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(events.map((e) => e.level)).to.deep.equal(['info', 'info', 'critical', 'info', 'info', 'critical', 'info', 'info', 'critical', 'info']);
    const seen = events.map((e) => e.meta.offset as number);
    expect(seen).to.deep.equal([...seen].sort((a, b) => a - b));
    expect(new Set(seen).size).to.equal(10);
  });

  it('an offset starts at that event', async () => {
    const events = await collectHistory(publisher.history({ since: offsets[6] as number }));
    expect(events.map((e) => e.data.n)).to.deep.equal([7, 8, 9, 10]);
    expect((await collectHistory(publisher.history({ since: String(offsets[9]) }))).map((e) => e.data.n)).to.deep.equal([10]);
  });

  it('an ISO time and a duration start at that time; a time after the last event gives nothing', async () => {
    expect((await collectHistory(publisher.history({ since: before.toISOString() }))).map((e) => e.data.n)).to.have.length(10);
    expect((await collectHistory(publisher.history({ since: '1h' }))).map((e) => e.data.n)).to.have.length(10);
    expect(await collectHistory(publisher.history({ since: after.toISOString() }))).to.deep.equal([]);
    expect(await collectHistory(publisher.history({ since: after }))).to.deep.equal([]);
  });

  it('levels filters; until stops at an offset; now gives nothing', async () => {
    expect((await collectHistory(publisher.history({ since: 'start', levels: ['critical'] }))).map((e) => e.data.n)).to.deep.equal([3, 6, 9]);
    expect((await collectHistory(publisher.history({ since: 'start', until: offsets[3] as number }))).map((e) => e.data.n)).to.deep.equal([1, 2, 3, 4]);
    expect(await collectHistory(publisher.history({ since: 'now' }))).to.deep.equal([]);
  });

  it('ends at the last offset when the call began: events published during the read are not waited for', async () => {
    const read = publisher.history({ since: 'start' });
    const first = await read.next();
    expect(first.value?.data).to.deep.equal({ n: 1 });
    for (let n = 11; n <= 15; n++) await publisher.info({ n });
    const rest: unknown[] = [];
    for await (const event of read) rest.push(event.data.n);
    expect(rest).to.deep.equal([2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('breaking out of the loop releases its consumer', async () => {
    expect(await consumersOfBus(bus.name)).to.equal(0);
    for await (const event of publisher.history({ since: 'start' })) {
      expect(event.data).to.deep.equal({ n: 1 });
      expect(await consumersOfBus(bus.name)).to.equal(1);
      break;
    }
    expect(await consumersOfBus(bus.name)).to.equal(0);
  });

  // Reads what is left of `read` into `got`; resolves with the error that ended the read, if one did.
  const readRest = async (read: AsyncIterableIterator<HistoryEvent<string>>, got: unknown[]): Promise<(Error & { code?: string }) | undefined> => {
    try {
      for await (const event of read) got.push(event.data.n);
    } catch (caught) {
      return caught as Error & { code?: string };
    }
    return undefined;
  };

  // prefetch 1: the broker sends a record or two ahead of the reader, so a lost connection cuts the read midway.
  const cutAfterThree = async (read: AsyncIterableIterator<HistoryEvent<string>>): Promise<unknown[]> => {
    const got: unknown[] = [];
    for (let i = 0; i < 3; i++) got.push((await read.next()).value?.data.n);
    expect(await closeConnectionsOf(bus.name, 'spec: history() across a lost connection')).to.be.at.least(1);
    return got;
  };

  it('goes on after a lost connection, from the event after the last one read: every event once, in order', async () => {
    const reader = await bus.logger({ listen: false, prefetch: 1 });
    const reconnected = next(reader, 'reconnected', 20_000);
    const read = reader.history({ since: 'start' });
    const got = await cutAfterThree(read);
    for await (const event of read) got.push(event.data.n);
    await reconnected;
    expect(got).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(await consumersOfBus(bus.name)).to.equal(0);
  });

  it('with resumeTimeout 0, a lost connection ends the read with CONNECT naming the offset to read again from', async () => {
    const reader = await bus.logger({ listen: false, prefetch: 1 });
    const reconnected = next(reader, 'reconnected', 20_000);
    const read = reader.history({ since: 'start', resumeTimeout: 0 });
    const got = await cutAfterThree(read);
    const error = await readRest(read, got);
    expect(error?.code).to.equal('CONNECT');
    const from = Number(/read again from offset (\d+)$/.exec(error?.message ?? '')?.[1]);
    expect(from, error?.message).to.equal((offsets[got.length - 1] as number) + 1);
    await reconnected;
    for (const event of await collectHistory(reader.history({ since: from }))) got.push(event.data.n);
    expect(got).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('a read cut by a lost connection while the logger stops ends with STOPPED, without waiting out resumeTimeout', async () => {
    const reader = await bus.logger({ listen: false, prefetch: 1 });
    const read = reader.history({ since: 'start', resumeTimeout: 45_000 });
    const got = await cutAfterThree(read);
    const stopped = reader.stop();
    const error = await readRest(read, got);
    await stopped;
    expect(error?.code, error?.message).to.equal('STOPPED');
    expect(error?.message).to.match(/the logger is stopping; read again from offset \d+$/);
  });

  it('a connection that does not come back within resumeTimeout ends the read with CONNECT saying why and where to read again', async () => {
    const proxy = await TcpProxy.start();
    try {
      const reader = await bus.logger({ url: proxy.url(), listen: false, prefetch: 1 });
      const read = reader.history({ since: 'start', resumeTimeout: 1000 });
      const got: unknown[] = [];
      for (let i = 0; i < 3; i++) got.push((await read.next()).value?.data.n);
      proxy.down();
      const error = await readRest(read, got);
      expect(error?.code).to.equal('CONNECT');
      expect(error?.message).to.match(/^Reading the history of ".*\.history" stopped: the connection was lost and the read could not go on \(not back within resumeTimeout \(1000 ms\)\); read again from offset \d+$/);
      expect(got).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].slice(0, got.length));
    } finally {
      await proxy.close();
    }
  });

  it('two buses never see each other’s history', async () => {
    bus.name = bus.fresh('history-other');
    const other = await bus.logger({ listen: false });
    await other.info({ other: true });
    expect((await collectHistory(other.history({ since: 'start' }))).map((e) => e.data)).to.deep.equal([{ other: true }]);
    expect((await collectHistory(publisher.history({ since: 'start' }))).map((e) => e.data.n)).to.have.length(10);
  });
});
