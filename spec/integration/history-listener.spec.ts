// The catch-up listener on the real broker (lib/consume/history-listener.ts; a logger with `history: { since }`):
// from since, then live, with meta.offset; duplicates dropped, a late re-send delivered; its levels only; every
// confirmed event exactly once and in order through lost connections and a broker restart; what was published while
// it was away; a 'gap' when retention trimmed it meanwhile. What every consumer keeps is consumers.spec.ts's.
import { execFileSync } from 'node:child_process';
import amqplib from 'amqplib';
import { expect } from 'chai';
import type { EventBusLogger, EventData, EventMeta, GapInfo } from '../../lib/index.js';
import { AMQP_URL, bindingsOf, closeConnectionsOf, collectHistory, historyBusPerSpec, historyConfig, next, quiet, until } from '../helpers.js';
import { TcpProxy } from '../tcp-proxy.js';

function brokerRunning(): void {
  execFileSync('rabbitmqctl', ['start_app'], { stdio: 'ignore' });
}

describe('catch-up listener', function () {
  this.timeout(60_000);
  const bus = historyBusPerSpec('history-listener');

  it('reads from since, then follows live, with meta.offset; its hooks and subscribe() get the same events', async () => {
    const publisher = await bus.logger({ listen: false });
    for (let n = 1; n <= 5; n++) await publisher.info({ n });
    const offsets = (await collectHistory(publisher.history({ since: 'start' }))).map((e) => e.meta.offset as number);
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
    expect((await collectHistory(publisher.history({ since: 'start' }))).map((e) => e.data.seq)).to.deep.equal(expected);
    expect((await collectHistory(publisher.history({ since: '1h' }))).map((e) => e.data.seq), 'since a duration').to.deep.equal(expected);
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
      const firstKept = (await collectHistory(publisher.history({ since: 'start' })))[0];
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
