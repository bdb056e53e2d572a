// History on the real broker: the bus's stream declared and bound, history() by every `since` form, level filter,
// two buses apart, bad input, a catch-up listener through lost connections and a broker restart, retention, and the
// CLI's seam between history and live.
import { execFileSync } from 'node:child_process';
import amqplib from 'amqplib';
import { expect } from 'chai';
import { EventBusLogger, type EventData, type EventMeta, type GapInfo, type HistoryEvent } from '../../lib/index.js';
import { startCli } from '../cli/run-cli.js';
import { AMQP_URL, HISTORY_CONFIG_PATH, bindingsOf, closeConnectionsOf, historyBusPerSpec, historyConfig, next, quiet, rabbitmqctl, until } from '../helpers.js';
import { TcpProxy } from '../tcp-proxy.js';

async function collect<L extends string>(iterable: AsyncIterable<HistoryEvent<L>>): Promise<Array<HistoryEvent<L>>> {
  const events: Array<HistoryEvent<L>> = [];
  for await (const event of iterable) events.push(event);
  return events;
}

// The consumers on the channels of the bus's connections. (RabbitMQ 3.10's `list_queues consumers` of a stream
// never goes down when a stream consumer is cancelled or its channel closed, and `list_consumers` lists none.)
async function consumersOfBus(bus: string): Promise<number> {
  const connections = await rabbitmqctl<Array<{ name: string; client_properties: unknown }>>('list_connections', 'name', 'client_properties');
  const mine = connections.filter((c) => JSON.stringify(c.client_properties).includes(`(${bus})`)).map((c) => `${c.name} (`);
  const channels = await rabbitmqctl<Array<{ name: string; consumer_count: number }>>('list_channels', 'name', 'consumer_count');
  return channels.filter((channel) => mine.some((m) => channel.name.startsWith(m))).reduce((sum, channel) => sum + channel.consumer_count, 0);
}

function brokerRunning(): void {
  execFileSync('rabbitmqctl', ['start_app'], { stdio: 'ignore' });
}

describe('history', function () {
  this.timeout(60_000);
  const bus = historyBusPerSpec('history');

  it('declares <exchange>.history as a stream bound to the exchange with #; the shipped config declares none', async () => {
    await bus.logger({ listen: false });
    const streams = await rabbitmqctl<Array<{ name: string; type: string; durable: boolean }>>('list_queues', 'name', 'type', 'durable');
    expect(streams.find((q) => q.name === `${bus.name}.history`)).to.deep.include({ type: 'stream', durable: true });
    expect((await bindingsOf(bus.name)).map((b) => [b.destination_name, b.routing_key])).to.deep.include([`${bus.name}.history`, '#']);

    const plain = bus.fresh('history-none');
    const transient = new EventBusLogger<string>({ url: AMQP_URL, name: plain, listen: false });
    bus.track(transient);
    await transient.start();
    expect((await rabbitmqctl<Array<{ name: string }>>('list_queues', 'name')).map((q) => q.name)).to.not.include(`${plain}.history`);
  });

  describe('a stream already on the broker', () => {
    function warnings(): { list: Array<Error & { code?: string }>; done: () => void } {
      const list: Array<Error & { code?: string }> = [];
      const onWarning = (warning: Error & { code?: string }): void => {
        if (warning.code === 'EVENT_BUS_LOGGER_HISTORY') list.push(warning);
      };
      process.on('warning', onWarning);
      return { list, done: () => process.off('warning', onWarning) };
    }

    it('with other arguments: used as it is, the mismatch said once, never a 406 loop', async () => {
      const connection = await amqplib.connect(AMQP_URL);
      try {
        const channel = await connection.createChannel();
        await channel.assertQueue(`${bus.name}.history`, { durable: true, arguments: { 'x-queue-type': 'stream', 'x-max-age': '1h' } });
      } finally {
        await connection.close();
      }
      const seen = warnings();
      try {
        const first = await bus.logger({ listen: false });
        await first.info({ n: 1 });
        // Listening before the close: with no queue to declare, the logger is ready again before rabbitmqctl returns.
        const readyAgain = next(first, 'ready', 30_000);
        expect(await closeConnectionsOf(bus.name, 'spec: the history stream is declared again on reconnect')).to.be.at.least(1);
        await readyAgain;
        await first.info({ n: 2 });
        await quiet(100);
        expect(seen.list.map((w) => w.message)).to.have.length(1);
        expect(seen.list[0]?.message).to.match(new RegExp(`The history stream "${bus.name}.history" exists on the broker with other arguments than the config's; it is used as it is .*PRECONDITION_FAILED.*rabbitmqctl set_policy`));
        expect((await collect(first.history({ since: 'start' }))).map((e) => e.data.n)).to.deep.equal([1, 2]);
      } finally {
        seen.done();
      }
    });

    it('that this logger’s config does not bind: noted once in stats(), never a process warning', async () => {
      await bus.logger({ listen: false });
      const seen = warnings();
      try {
        const plain = new EventBusLogger<string>({ url: AMQP_URL, name: bus.name, listen: false });
        bus.track(plain);
        await plain.start();
        await quiet(100);
        expect(seen.list).to.deep.equal([]);
        expect(plain.stats().notices).to.have.length(1);
        expect(plain.stats().notices[0]).to.match(new RegExp(`The bus has a history stream "${bus.name}.history", but this logger's config declares no history`));
      } finally {
        seen.done();
      }
    });
  });

  describe('history()', () => {
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
      for (const event of await collect(publisher.history({ since: 'start' }))) offsets.push(event.meta.offset as number);
    });

    it("'start' gives every event once, in order, with its offset, and ends", async () => {
      const events = await collect(publisher.history({ since: 'start' }));
      expect(events.map((e) => e.data.n)).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(events.map((e) => e.level)).to.deep.equal(['info', 'info', 'critical', 'info', 'info', 'critical', 'info', 'info', 'critical', 'info']);
      const seen = events.map((e) => e.meta.offset as number);
      expect(seen).to.deep.equal([...seen].sort((a, b) => a - b));
      expect(new Set(seen).size).to.equal(10);
    });

    it('an offset starts at that event', async () => {
      const events = await collect(publisher.history({ since: offsets[6] as number }));
      expect(events.map((e) => e.data.n)).to.deep.equal([7, 8, 9, 10]);
      expect((await collect(publisher.history({ since: String(offsets[9]) }))).map((e) => e.data.n)).to.deep.equal([10]);
    });

    it('an ISO time and a duration start at that time; a time after the last event gives nothing', async () => {
      expect((await collect(publisher.history({ since: before.toISOString() }))).map((e) => e.data.n)).to.have.length(10);
      expect((await collect(publisher.history({ since: '1h' }))).map((e) => e.data.n)).to.have.length(10);
      expect(await collect(publisher.history({ since: after.toISOString() }))).to.deep.equal([]);
      expect(await collect(publisher.history({ since: after }))).to.deep.equal([]);
    });

    it('levels filters; until stops at an offset; now gives nothing', async () => {
      expect((await collect(publisher.history({ since: 'start', levels: ['critical'] }))).map((e) => e.data.n)).to.deep.equal([3, 6, 9]);
      expect((await collect(publisher.history({ since: 'start', until: offsets[3] as number }))).map((e) => e.data.n)).to.deep.equal([1, 2, 3, 4]);
      expect(await collect(publisher.history({ since: 'now' }))).to.deep.equal([]);
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
      for (const event of await collect(reader.history({ since: from }))) got.push(event.data.n);
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
      expect((await collect(other.history({ since: 'start' }))).map((e) => e.data)).to.deep.equal([{ other: true }]);
      expect((await collect(publisher.history({ since: 'start' }))).map((e) => e.data.n)).to.have.length(10);
    });
  });

  describe('bad input', () => {
    const badSince: unknown[] = ['', 'first', 'last', '10min', '1h30m', '-5', 'yesterday', '2026-11-29T03:00:00', -1, 2.5, null, {}, new Date(Number.NaN)];
    it('every malformed since is a TypeError naming the accepted forms, before anything reaches the broker', async () => {
      const reader = await bus.logger({ listen: false });
      for (const since of badSince) {
        expect(() => reader.history({ since: since as string }), String(since)).to.throw(TypeError, /expected "now", "start", a duration <int>s\|m\|h\|d/);
        const error = await new EventBusLogger({ url: AMQP_URL, name: bus.name, config: HISTORY_CONFIG_PATH, history: { since: since as string } }).start().catch((e: unknown) => e);
        expect(error, String(since)).to.be.instanceOf(TypeError);
      }
      expect(() => reader.history({ since: 'start', levels: ['nope'] })).to.throw(TypeError, /configured levels \(info, critical\)/);
      for (const resumeTimeout of [-1, Number.NaN, '5s']) {
        expect(() => reader.history({ since: 'start', resumeTimeout: resumeTimeout as number }), String(resumeTimeout)).to.throw(TypeError, /Expected `resumeTimeout` to be a number of milliseconds from 0/);
      }
      // The connection is still fine: a malformed x-stream-offset would have closed it on RabbitMQ 3.10.
      await reader.info({ still: 'connected' });
      expect(reader.stats().reconnects).to.equal(0);
    });

    it('a bus whose config declares no history: CONFIG errors that say how to turn it on', async () => {
      const plain = new EventBusLogger<string>({ url: AMQP_URL, name: bus.name, listen: false });
      bus.track(plain);
      await plain.start();
      expect(() => plain.history({ since: 'start' })).to.throw(/declares none; turn history on in the config: set "history": "history"/).with.property('code', 'CONFIG');
      const error = (await new EventBusLogger({ url: AMQP_URL, name: bus.name, history: { since: 'start' } }).start().catch((e: unknown) => e)) as Error & { code?: string };
      expect(error.code).to.equal('CONFIG');
      expect(error.message).to.match(/`history` needs a history stream, and the config of bus ".*" declares none; turn history on/);
    });
  });

  describe('catch-up listener', () => {
    it('reads from since, then follows live, with meta.offset; its hooks and subscribe() get the same events', async () => {
      const publisher = await bus.logger({ listen: false });
      for (let n = 1; n <= 5; n++) await publisher.info({ n });
      const offsets = (await collect(publisher.history({ since: 'start' }))).map((e) => e.meta.offset as number);
      const listener = await bus.logger({ history: { since: offsets[2] as number } }, false);
      const got: Array<[unknown, number | undefined]> = [];
      listener.on('info', (data, meta) => void got.push([data.n, meta.offset]));
      const subscribed: unknown[] = [];
      listener.subscribe(({ data }) => void subscribed.push(data.n));
      await listener.start();
      expect(listener.queue).to.equal(`${bus.name}.history`);
      await publisher.info({ n: 6 });
      await until(() => got.length >= 4, 'the events from offset 3 on, then the live one');
      await quiet(200);
      expect(got.map(([n]) => n)).to.deep.equal([3, 4, 5, 6]);
      expect(got.slice(0, 3).map(([, offset]) => offset)).to.deep.equal(offsets.slice(2));
      expect(subscribed).to.deep.equal([3, 4, 5, 6]);
    });

    it('drops re-sent duplicates by publisher and sequence, delivers a late re-send; takes events of other clients, with or without a timestamp', async () => {
      const publisher = await bus.logger({ listen: false });
      const connection = await amqplib.connect(AMQP_URL);
      try {
        const channel = await connection.createConfirmChannel();
        const send = (seq: number | undefined, extra: Record<string, unknown> = {}): void => {
          const headers = seq === undefined ? {} : { 'x-publisher': 'other-client', 'x-seq': seq };
          channel.publish(bus.name, 'info', Buffer.from(JSON.stringify({ seq: seq ?? null, ...extra })), { contentType: 'application/json', headers, ...extra });
        };
        // 1, 2, 2 again (its confirm was lost), 5 (3 and 4 lost on the way), 3 re-sent late, 3 again; a C client
        // with no headers and no timestamp; one with a timestamp.
        for (const seq of [1, 2, 2, 5, 3, 3]) send(seq, { timestamp: Math.floor(Date.now() / 1000) });
        send(undefined);
        send(undefined, { timestamp: Math.floor(Date.now() / 1000) });
        await channel.waitForConfirms();
      } finally {
        await connection.close();
      }
      const expected = [1, 2, 5, 3, null, null];
      expect((await collect(publisher.history({ since: 'start' }))).map((e) => e.data.seq)).to.deep.equal(expected);
      expect((await collect(publisher.history({ since: '1h' }))).map((e) => e.data.seq), 'since a duration').to.deep.equal(expected);
      const listener = await bus.logger({ history: { since: 'start' } }, false);
      const got: unknown[] = [];
      listener.on('info', (data) => void got.push(data.seq));
      await listener.start();
      await until(() => got.length >= expected.length, 'the events');
      await quiet(200);
      expect(got).to.deep.equal(expected);
    });

    it('listens only to its levels: the others are skipped quietly, not invalid', async () => {
      const publisher = await bus.logger({ listen: false });
      const listener = await bus.logger({ history: { since: 'start' }, levels: ['critical'] }, false);
      const got: unknown[] = [];
      const invalid: unknown[] = [];
      listener.on('critical', (data) => void got.push(data.n));
      listener.on('invalid', (info) => void invalid.push(info));
      await listener.start();
      for (let n = 1; n <= 4; n++) await publisher.publish(n % 2 ? 'info' : 'critical', { n });
      await until(() => got.length >= 2, 'the critical events');
      await quiet(200);
      expect(got).to.deep.equal([2, 4]);
      expect(invalid).to.deep.equal([]);
    });

    // Every confirmed event exactly once, in order; on one node what reached the stream is a prefix of what was sent.
    async function publishDuring(publisher: EventBusLogger<string>, fault: () => Promise<void>): Promise<number[]> {
      const confirmed: number[] = [];
      let stop = false;
      let n = 0;
      const running = (async () => {
        const inFlight = new Set<Promise<void>>();
        while (!stop) {
          const sent = ++n;
          const publish: Promise<void> = publisher.info({ n: sent }).then(
            () => void confirmed.push(sent),
            () => undefined,
          );
          const tracked: Promise<void> = publish.finally(() => inFlight.delete(tracked));
          inFlight.add(tracked);
          if (inFlight.size >= 20) await Promise.race(inFlight);
          if (sent % 20 === 0) await quiet(5);
        }
        await Promise.all(inFlight);
      })();
      await quiet(300);
      await fault();
      await quiet(300);
      stop = true;
      await running;
      return confirmed.sort((a, b) => a - b);
    }

    function expectExactlyOnceInOrder(received: number[], confirmed: number[]): void {
      expect(new Set(received).size, 'no duplicates').to.equal(received.length);
      for (let i = 1; i < received.length; i++) expect(received[i], `in order at ${i}`).to.be.greaterThan(received[i - 1] as number);
      const got = new Set(received);
      const missing = confirmed.filter((n) => !got.has(n));
      expect(missing, 'confirmed events not received').to.deep.equal([]);
    }

    it('through the broker closing its connections, twice, with a publisher running: every confirmed event exactly once, in order', async function () {
      const listener = await bus.logger({ history: { since: 'now' } }, false);
      const received: number[] = [];
      listener.on('info', (data) => void received.push(data.n as number));
      await listener.start();
      const publisher = await bus.logger({ listen: false, publishTimeout: 30_000 });
      const confirmed = await publishDuring(publisher, async () => {
        for (let round = 0; round < 2; round++) {
          const back = next(listener, 'ready', 30_000);
          expect(await closeConnectionsOf(bus.name, 'spec: history catch-up across lost connections')).to.be.at.least(1);
          await back;
          await quiet(200);
        }
      });
      expect(confirmed.length).to.be.greaterThan(50);
      await until(() => received.length >= confirmed.length && received.includes(confirmed.at(-1) as number), 'every confirmed event', 30_000);
      await quiet(300);
      expectExactlyOnceInOrder(received, confirmed);
      expect(listener.stats().reconnects).to.be.at.least(2);
    });

    it('through rabbitmqctl stop_app / start_app with a publisher buffering: every confirmed event exactly once, in order [broker-wide]', async function () {
      const listener = await bus.logger({ history: { since: 'now' } }, false);
      const received: number[] = [];
      listener.on('info', (data) => void received.push(data.n as number));
      await listener.start();
      const publisher = await bus.logger({ listen: false, publishTimeout: 45_000 });
      let confirmed: number[];
      try {
        confirmed = await publishDuring(publisher, async () => {
          const down = next(listener, 'disconnected', 30_000);
          try {
            execFileSync('rabbitmqctl', ['stop_app'], { stdio: 'ignore' });
            await down;
            await quiet(500);
          } finally {
            brokerRunning();
          }
          await next(listener, 'ready', 45_000);
        });
      } finally {
        brokerRunning();
      }
      await until(() => received.length >= confirmed.length && received.includes(confirmed.at(-1) as number), 'every confirmed event', 45_000);
      await quiet(300);
      expectExactlyOnceInOrder(received, confirmed);
      // After the restart the transient exchange and the stream's binding exist again: declared by these loggers.
      expect((await bindingsOf(bus.name)).map((b) => [b.destination_name, b.routing_key])).to.deep.include([`${bus.name}.history`, '#']);
    });

    it("since 'now', lost before its first event: what was published meanwhile still arrives", async function () {
      const proxy = await TcpProxy.start();
      try {
        const publisher = await bus.logger({ listen: false });
        await publisher.info({ n: 0 });
        const listener = await bus.logger({ url: proxy.url(), history: { since: 'now' } }, false);
        const received: unknown[] = [];
        listener.on('info', (data) => void received.push(data.n));
        await listener.start();
        const disconnected = next(listener, 'disconnected', 10_000);
        proxy.down();
        await disconnected;
        for (let n = 1; n <= 5; n++) await publisher.info({ n });
        const ready = next(listener, 'ready', 30_000);
        proxy.up();
        await ready;
        await until(() => received.length >= 5, 'the events of the outage', 10_000);
        await quiet(200);
        expect(received).to.deep.equal([1, 2, 3, 4, 5]);
      } finally {
        await bus.stopLoggers();
        await proxy.close();
      }
    });

    it("a stream trimmed by retention while the listener was away: 'gap' with reason retention and the offsets skipped", async function () {
      const proxy = await TcpProxy.start();
      try {
        const config = await historyConfig();
        // Tiny segments and a tiny size limit: retention trims whole segments when one rolls.
        Object.assign(config.vhosts['/'].queues.history.options.arguments, { 'x-max-length-bytes': 20_000, 'x-stream-max-segment-size-bytes': 4_000 });
        const publisher = await bus.logger({ listen: false, config });
        const listener = await bus.logger({ url: proxy.url(), config, history: { since: 'start' } }, false);
        const received: Array<[number, number]> = [];
        const gaps: GapInfo[] = [];
        listener.on('info', (data: EventData, meta: EventMeta<string>) => void received.push([data.n as number, meta.offset as number]));
        listener.on('gap', (gap) => void gaps.push(gap));
        await listener.start();
        await publisher.info({ n: 0, pad: 'x'.repeat(200) });
        await until(() => received.length === 1, 'the first event');
        const disconnected = next(listener, 'disconnected', 10_000);
        proxy.down();
        await disconnected;
        for (let n = 1; n <= 400; n++) await publisher.info({ n, pad: 'x'.repeat(200) });
        const firstKept = (await collect(publisher.history({ since: 'start' })))[0];
        expect(firstKept?.meta.offset, 'retention deleted the start of the stream').to.be.greaterThan(1);
        const ready = next(listener, 'ready', 30_000);
        proxy.up();
        await ready;
        await until(() => received.at(-1)?.[0] === 400, 'the events retention kept', 30_000);
        expect(gaps).to.have.length(1);
        const [gap] = gaps as [GapInfo];
        const resumedAt = (received[0]?.[1] as number) + 1;
        expect(gap).to.deep.include({ reason: 'retention', stream: `${bus.name}.history`, from: resumedAt, to: (firstKept?.meta.offset as number) - 1 });
        expect(gap.missed).to.equal((gap.to as number) - resumedAt + 1);
        // Every event after the gap, once, in order, from the first one retention kept.
        const after = received.slice(1).map(([n]) => n);
        expect(after[0]).to.equal(firstKept?.data.n);
        expect(after).to.deep.equal(Array.from({ length: 401 - (firstKept?.data.n as number) }, (_, i) => (firstKept?.data.n as number) + i));
        expect(listener.stats().missed).to.equal(gap.missed);
      } finally {
        await bus.stopLoggers();
        await proxy.close();
      }
    });
  });

  describe('tail --since', () => {
    it('follow mode: a publisher runs across the seam between history and live; every event once, in order, with its offset', async () => {
      const publisher = await bus.logger({ listen: false });
      for (let n = 1; n <= 200; n++) await publisher.info({ n });
      const tail = startCli(['tail', '--since', 'start', '--json', '--config', HISTORY_CONFIG_PATH, '--name', bus.name, '--url', AMQP_URL]);
      try {
        const publishing = (async () => {
          for (let n = 201; n <= 400; n++) await publisher.info({ n });
        })();
        await publishing;
        await tail.waitFor(() => tail.lines.length >= 400, '400 events', 30_000);
        await quiet(300);
        const records = tail.lines.map((line) => JSON.parse(line) as { data: { n: number }; offset: number });
        expect(records.map((r) => r.data.n)).to.deep.equal(Array.from({ length: 400 }, (_, i) => i + 1));
        expect(records.every((r) => typeof r.offset === 'number')).to.equal(true);
      } finally {
        tail.child.kill('SIGINT');
        await tail.exit();
      }
    });

    it('--no-follow prints the history and exits 0; --levels filters; usage errors exit 2', async () => {
      const publisher = await bus.logger({ listen: false });
      for (let n = 1; n <= 6; n++) await publisher.publish(n % 2 ? 'info' : 'critical', { n });
      const base = ['--config', HISTORY_CONFIG_PATH, '--name', bus.name, '--url', AMQP_URL];
      const all = startCli(['tail', '--since', 'start', '--no-follow', '--json', ...base]);
      expect((await all.exit()).code).to.equal(0);
      expect(all.lines.map((line) => (JSON.parse(line) as { data: { n: number } }).data.n)).to.deep.equal([1, 2, 3, 4, 5, 6]);
      const critical = startCli(['tail', '--since', 'start', '--no-follow', '--json', '--levels', 'critical', ...base]);
      expect((await critical.exit()).code).to.equal(0);
      expect(critical.lines.map((line) => (JSON.parse(line) as { data: { n: number } }).data.n)).to.deep.equal([2, 4, 6]);

      const bad = startCli(['tail', '--since', '10min', ...base]);
      expect((await bad.exit()).code).to.equal(2);
      expect(bad.stderr).to.match(/--since: invalid "10min"; expected "now", "start"/);
      const noSince = startCli(['tail', '--no-follow', ...base]);
      expect((await noSince.exit()).code).to.equal(2);
      expect(noSince.stderr).to.match(/--no-follow needs --since/);
      const noHistory = startCli(['tail', '--since', 'start', '--name', bus.name, '--url', AMQP_URL]);
      expect((await noHistory.exit()).code).to.equal(2);
      expect(noHistory.stderr).to.match(/declares none; turn history on in the config/);
    });
  });
});
