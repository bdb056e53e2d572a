import { expect } from 'chai';
import { hostname } from 'node:os';
import { EventBusLogger, type EventBusLoggerOptions, type EventData, type EventMeta, type GapInfo } from '../../lib/index.js';
import { AMQP_URL, configWithLevel, deleteExchange, next, queueInfo, quiet, shippedConfig, uniqueName, until } from '../helpers.js';

const LEVELS = ['info', 'critical'] as const;

describe('delivery', () => {
  let name: string;
  const loggers: EventBusLogger<string>[] = [];
  async function logger<L extends string = (typeof LEVELS)[number]>(options: EventBusLoggerOptions<L> = {}): Promise<EventBusLogger<L>> {
    const created = new EventBusLogger<L>({ url: AMQP_URL, name, ...options });
    loggers.push(created as unknown as EventBusLogger<string>);
    await created.start();
    return created;
  }

  beforeEach(() => {
    name = uniqueName('delivery');
  });

  afterEach(async () => {
    await Promise.all(loggers.splice(0).map((l) => l.stop()));
    await deleteExchange(name);
  });

  for (const level of LEVELS) {
    const other = LEVELS.find((l) => l !== level) as string;
    it(`delivers ${level} events to '${level}' listeners only`, async () => {
      const bus = await logger();
      const seen: string[] = [];
      bus.on(other as 'info', () => seen.push(other));
      const received = next<[EventData, EventMeta]>(bus, level);
      await bus[level]({ [level]: true });
      const [data, meta] = await received;
      expect(data).to.deep.equal({ [level]: true });
      expect(meta).to.include({ level, routingKey: level, host: hostname(), pid: process.pid, seq: 1, redelivered: false });
      expect(meta.publisher).to.match(new RegExp(`^[\\w-]{6}@${hostname().replace(/\./g, '\\.')}:${process.pid}$`));
      // Version 3 of the wire format: the millisecond of the publish (3 digits), then the level's tag, then the sequence.
      const millisecond = String(meta.timestamp.getUTCMilliseconds()).padStart(3, '0');
      expect(meta.messageId).to.equal(`${meta.publisher}/${millisecond}${LEVELS.indexOf(level)}.1`);
      expect(meta.appId).to.be.a('string').and.not.equal('');
      expect(Math.abs(meta.timestamp.getTime() - Date.now())).to.be.below(60_000);
      await quiet(200);
      expect(seen).to.deep.equal([]);
    });
  }

  it('calls the subclass hooks, as the original handle_info/handle_critical', async () => {
    const calls: Array<[string, EventData]> = [];
    class MetaclassLogger extends EventBusLogger {
      protected override handleInfo(data: EventData): void {
        calls.push(['info', data]);
      }
      protected override handleCritical(data: EventData): void {
        calls.push(['critical', data]);
      }
    }
    const metaclass = await MetaclassLogger.create({ url: AMQP_URL, name });
    loggers.push(metaclass as unknown as EventBusLogger<string>);
    expect(metaclass).to.be.instanceOf(MetaclassLogger);
    let emitted = 0;
    metaclass.on('info', () => emitted++);
    await metaclass.info({ info: true });
    await metaclass.critical({ critical: true });
    await until(() => calls.length === 2, 'both hooks');
    expect(calls).to.deep.equal([['info', { info: true }], ['critical', { critical: true }]]);
    expect(emitted, 'an overridden hook replaces the default emit').to.equal(0);
  });

  it('calls the generic handle(level, data, meta) hook for every level', async () => {
    const calls: string[] = [];
    class AllLevels extends EventBusLogger {
      protected override handle(level: 'info' | 'critical', data: EventData): void {
        calls.push(`${level}:${JSON.stringify(data)}`);
      }
    }
    const all = await AllLevels.create({ url: AMQP_URL, name });
    loggers.push(all as unknown as EventBusLogger<string>);
    await all.info({ a: 1 });
    await all.critical({ b: 2 });
    await until(() => calls.length === 2, 'two events');
    expect(calls).to.deep.equal(['info:{"a":1}', 'critical:{"b":2}']);
  });

  it('delivers every event to every logger on the bus', async () => {
    const first = await logger();
    const second = await logger();
    const got = { first: [] as unknown[], second: [] as unknown[] };
    for (const [key, l] of [['first', first], ['second', second]] as const) {
      for (const level of LEVELS) l.on(level, (data: EventData) => got[key].push(data));
    }
    await first.info({ n: 1 });
    await second.critical({ n: 2 });
    await until(() => got.first.length === 2 && got.second.length === 2, 'both loggers to get both events');
    expect(got.first).to.deep.equal([{ n: 1 }, { n: 2 }]);
    expect(got.second).to.deep.equal([{ n: 1 }, { n: 2 }]);
  });

  it('a logger with levels: [critical] never sees info', async () => {
    const publisher = await logger();
    const criticalOnly = await logger({ levels: ['critical'] });
    const seen: string[] = [];
    criticalOnly.on('info', () => seen.push('info'));
    criticalOnly.on('critical', () => seen.push('critical'));
    await publisher.info({ info: true });
    await publisher.critical({ critical: true });
    await until(() => seen.includes('critical'), 'the critical event');
    await quiet(200);
    expect(seen).to.deep.equal(['critical']);
  });

  it('delivers a level added in the config to its listeners', async () => {
    const bus = await logger<'info' | 'critical' | 'warning'>({ config: await configWithLevel('warning') });
    expect(bus.levels).to.deep.equal(['info', 'critical', 'warning']);
    const received = next<[EventData, EventMeta]>(bus, 'warning');
    await bus.publish('warning', { disk: 91 });
    const [data, meta] = await received;
    expect(data).to.deep.equal({ disk: 91 });
    expect(meta.level).to.equal('warning');
  });

  it('keeps order per publisher and numbers each level from 1', async () => {
    const bus = await logger();
    const seqs: number[] = [];
    bus.on('info', (_data, meta) => seqs.push(meta.seq as number));
    await Promise.all(Array.from({ length: 200 }, (_, i) => bus.info({ i })));
    await until(() => seqs.length === 200, '200 events');
    expect(seqs).to.deep.equal(Array.from({ length: 200 }, (_, i) => i + 1));
  });
  it('handles at most `prefetch` events at once when listeners return promises; the broker keeps the rest', async function () {
    this.timeout(60_000); // its rabbitmqctl polls take seconds each while other suites run beside it
    const listener = await logger({ prefetch: 5 });
    const publisher = await logger({ listen: false });
    const release: Array<() => void> = [];
    const started: number[] = [];
    listener.on('info', (data) => {
      started.push(data.n as number);
      return new Promise<void>((resolve) => release.push(resolve));
    });
    await Promise.all(Array.from({ length: 40 }, (_, n) => publisher.info({ n })));
    await until(() => started.length === 5, 'five listeners to start');
    await quiet(300);
    expect(started, 'no more than the prefetch while none has finished').to.deep.equal([0, 1, 2, 3, 4]);
    const queue = await queueInfo(listener.queue as string);
    expect(queue).to.include({ messages_unacknowledged: 5 });
    // One listener hangs; the others finish as they come: the four other slots keep the events flowing.
    release.splice(1).forEach((resolve) => resolve());
    const keepReleasing = setInterval(() => release.splice(1).forEach((resolve) => resolve()), 5);
    try {
      await until(() => started.length === 40, 'every event to be handled', 10_000);
    } finally {
      clearInterval(keepReleasing);
    }
    // The last events may have started after the interval's last turn: release them too (all but the hanging one).
    release.splice(1).forEach((resolve) => resolve());
    expect([...started].sort((a, b) => a - b)).to.deep.equal(Array.from({ length: 40 }, (_, n) => n));
    // rabbitmqctl takes a second or more per call on a loaded machine: give the polls room.
    await until(async () => (await queueInfo(listener.queue as string))?.messages_unacknowledged === 1, 'only the hanging event to stay unacked', 45_000);
    release[0]!();
    await until(async () => (await queueInfo(listener.queue as string))?.messages_unacknowledged === 0, 'the last ack', 15_000);
    expect(listener.stats()).to.include({ reconnects: 0, listenerErrors: 0 });
  });
  it('a listener that falls behind its queue cap loses the oldest events, and says how many through gap', async () => {
    const config = await shippedConfig();
    config.vhosts['/'].queues.listener.options.arguments['x-max-length'] = 10;
    const listener = await logger({ config, prefetch: 1 });
    const publisher = await logger({ listen: false });
    const seqs: number[] = [];
    let release!: () => void;
    const stuck = new Promise<void>((resolve) => (release = resolve));
    listener.on('info', (_data, meta) => {
      seqs.push(meta.seq as number);
      return meta.seq === 1 ? stuck : undefined; // busy with the first event while 29 more arrive
    });
    const gaps: GapInfo[] = [];
    listener.on('gap', (gap) => gaps.push(gap));
    await Promise.all(Array.from({ length: 30 }, (_, n) => publisher.info({ n })));
    await until(async () => (await queueInfo(listener.queue as string))?.messages === 11, 'the queue to hold the cap and the unacked one');
    release();
    await until(() => seqs.length === 11, 'the first event and the 10 newest');
    expect(seqs).to.deep.equal([1, ...Array.from({ length: 10 }, (_, i) => 21 + i)]);
    expect(gaps).to.deep.equal([{ publisher: gaps[0]?.publisher, level: 'info', expected: 2, received: 21, missed: 19 }]);
  });
});
