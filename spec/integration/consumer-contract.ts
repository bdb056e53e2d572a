// The contract every consumer of the bus keeps, stated once and run against each kind (consumers.spec.ts): the live
// queue (a logger's `on(level, fn)`) and the catch-up listener (a logger with `history: { since }`). On the real
// broker, each consumer through a TCP proxy of its own, so that its faults and its connections are its own:
// - it receives every event published after it is ready, once, in each publisher's order;
// - a listener that throws or rejects does not stop the next event (it is reported through 'error');
// - a listener removed gets no more events;
// - a lost connection (its TCP link reset, or closed by the broker) is recovered and reported: 'disconnected',
//   'reconnected', then 'ready', and events flow again;
// - stop() ends it: 'stopped', its connection closed, nothing more received.
// What only one kind does (the live queue's bindings, the catch-up listener's offsets and gaps) is in its own spec.
import { expect } from 'chai';
import type { EventBusLogger, EventBusLoggerError, EventBusLoggerOptions, EventData } from '../../lib/index.js';
import { busPerSpec, closeConnectionsOf, next, until } from '../helpers.js';
import { TcpProxy } from '../tcp-proxy.js';

/** Makes (not starts) a logger of the bus consuming with the kind under test, from the options the contract gives. */
export type MakeConsumer = (options: EventBusLoggerOptions<string>) => EventBusLogger<string>;

type Level = 'info' | 'critical';
/** What a listener records of an event: its publisher (the `from` field the contract's publishers put in) and number. */
type Seen = [from: unknown, n: unknown];

const seen = (data: EventData): Seen => [data.from, data.n];

// How long a spec waits for what it expects (never a measure of speed: the shared machine may be loaded).
const WAIT = 20_000;

export function consumerContract(name: string, makeConsumer: MakeConsumer): void {
  describe(`consumer contract: ${name}`, function () {
    this.timeout(60_000);
    const bus = busPerSpec('contract');
    let proxy: TcpProxy;

    beforeEach(async () => {
      proxy = await TcpProxy.start();
    });

    // After the bus's hook (registered first, so it runs first): the loggers stop before their proxy goes.
    afterEach(async () => {
      await proxy.close();
    });

    /** The consumer under test, through this spec's proxy, started once `listen` added its listeners. */
    async function consumer(listen: (logger: EventBusLogger<string>) => void): Promise<EventBusLogger<string>> {
      const created = bus.track(makeConsumer({ url: proxy.url(), name: bus.name, appId: 'contract-consumer' }));
      listen(created);
      await created.start();
      return created;
    }

    /** A publisher of the bus, straight to the broker; its events carry `from: appId`. */
    async function publisher(appId: string): Promise<{ logger: EventBusLogger<string>; send: (level: Level, n: number | string) => Promise<void> }> {
      const logger = await bus.logger({ listen: false, appId });
      return { logger, send: (level, n) => logger.publish(level, { from: appId, n }) };
    }

    /** The numbers `got` holds of one publisher, in the order received. */
    const of = (got: Seen[], from: string): unknown[] => got.filter(([who]) => who === from).map(([, n]) => n);

    it('receives every event published after it is ready, once, in each publisher’s order', async () => {
      const got: Seen[] = [];
      await consumer((logger) => {
        for (const level of ['info', 'critical'] as const) logger.on(level, (data) => void got.push(seen(data)));
      });
      const first = await publisher('contract-first');
      const second = await publisher('contract-second');
      const count = 100;
      const numbers = Array.from({ length: count }, (_, i) => i + 1);
      // Both at once, every publish in flight together, the levels mixed: one order per publisher, across its levels.
      await Promise.all([first, second].flatMap(({ send }) => numbers.map((n) => send(n % 3 === 0 ? 'critical' : 'info', n))));
      // Each publisher's last event: once it is in, anything of that publisher received twice or out of order is too.
      await Promise.all([first.send('info', 'last'), second.send('critical', 'last')]);
      await until(() => of(got, 'contract-first').includes('last') && of(got, 'contract-second').includes('last'), 'both publishers’ last events', WAIT);
      expect(of(got, 'contract-first')).to.deep.equal([...numbers, 'last']);
      expect(of(got, 'contract-second')).to.deep.equal([...numbers, 'last']);
      expect(got).to.have.length(2 * (count + 1));
    });

    it('a listener that throws or rejects does not stop the next event: each failure is reported, the other listeners run', async () => {
      const calls = { throwing: [] as unknown[], rejecting: [] as unknown[], other: [] as unknown[] };
      const errors: Error[] = [];
      const logger = await consumer((logger) => {
        logger.on('error', (error) => void errors.push(error));
        logger.on('info', (data) => {
          calls.throwing.push(data.n);
          throw new Error(`listener broke at ${String(data.n)}`);
        });
        logger.on('info', async (data) => {
          calls.rejecting.push(data.n);
          throw new Error(`async listener broke at ${String(data.n)}`);
        });
        logger.on('info', (data) => void calls.other.push(data.n));
      });
      const { send } = await publisher('contract-publisher');
      for (const n of [1, 2, 3]) await send('info', n);
      await until(() => calls.other.length === 3 && errors.length === 6, 'three events and six failures', WAIT);
      expect(calls).to.deep.equal({ throwing: [1, 2, 3], rejecting: [1, 2, 3], other: [1, 2, 3] });
      expect(errors.map((error) => error.message)).to.include.members([
        'A listener of "info" threw: listener broke at 3',
        'A listener of "info" failed: async listener broke at 3',
      ]);
      expect(errors.every((error) => (error as EventBusLoggerError).code === 'LISTENER')).to.equal(true);
      expect(logger.stats().listenerErrors).to.equal(6);
    });

    it('a listener removed gets no more events, whether its level keeps another listener or not', async () => {
      const got = { kept: [] as unknown[], removedInfo: [] as unknown[], removedCritical: [] as unknown[] };
      const removedInfo = (data: EventData): void => void got.removedInfo.push(data.n);
      const removedCritical = (data: EventData): void => void got.removedCritical.push(data.n);
      const logger = await consumer((logger) => {
        logger.on('info', (data) => void got.kept.push(data.n));
        logger.on('info', removedInfo);
        logger.on('critical', removedCritical);
      });
      const { send } = await publisher('contract-publisher');
      await send('info', 1);
      await send('critical', 1);
      await until(() => got.removedCritical.length === 1, 'the first events', WAIT);
      logger.off('info', removedInfo);
      logger.off('critical', removedCritical);
      await logger.listening();
      for (const [level, n] of [['info', 2], ['critical', 2], ['info', 3]] as const) await send(level, n);
      // One publisher, one order: critical 2 came before info 3, had it been delivered to the listener removed.
      await until(() => got.kept.includes(3), 'the events after the removal', WAIT);
      expect(got).to.deep.equal({ kept: [1, 2, 3], removedInfo: [1], removedCritical: [1] });
    });

    const faults: Array<[string, () => Promise<void>]> = [
      ['its TCP link reset', async () => proxy.cut()],
      ['the broker closing its connection (CONNECTION_FORCED)', async () => void expect(await closeConnectionsOf(bus.name, 'spec: consumer contract', 'contract-consumer')).to.equal(1)],
    ];
    for (const [fault, inflict] of faults) {
      it(`recovers from a lost connection (${fault}) and says so: 'disconnected', 'reconnected', then 'ready'; events flow again`, async () => {
        const got: Seen[] = [];
        const logger = await consumer((logger) => logger.on('info', (data) => void got.push(seen(data))));
        const { send } = await publisher('contract-publisher');
        await send('info', 1);
        await until(() => got.length === 1, 'the event before the fault', WAIT);
        const said: string[] = [];
        for (const event of ['disconnected', 'reconnected', 'ready'] as const) logger.on(event, () => void said.push(event));
        const ready = next(logger, 'ready', 30_000);
        await inflict();
        await ready;
        expect(said).to.deep.equal(['disconnected', 'reconnected', 'ready']);
        expect(logger.isReady).to.equal(true);
        for (const n of [2, 3]) await send('info', n);
        await until(() => of(got, 'contract-publisher').includes(3), 'the events after the reconnect', WAIT);
        // What a catch-up listener also reads of the outage is its own spec's; here, those after 'ready', once each.
        expect(of(got, 'contract-publisher').slice(-2)).to.deep.equal([2, 3]);
        expect(of(got, 'contract-publisher').filter((n) => n === 2 || n === 3)).to.deep.equal([2, 3]);
        expect(logger.stats().reconnects).to.equal(1);
      });
    }

    it("stop() ends it: 'stopped' once, its connection closed, nothing received after", async () => {
      const got: unknown[] = [];
      const logger = await consumer((logger) => logger.on('info', (data) => void got.push(data.n)));
      const observer = await bus.logger({ appId: 'contract-observer' });
      const observed: unknown[] = [];
      observer.on('info', (data) => void observed.push(data.n));
      await observer.listening();
      const { send } = await publisher('contract-publisher');
      await send('info', 1);
      await until(() => got.length === 1 && observed.length === 1, 'the event before stop()', WAIT);
      let stopped = 0;
      logger.on('stopped', () => void stopped++);
      await logger.stop();
      expect(stopped).to.equal(1);
      expect(logger.isReady).to.equal(false);
      await until(() => proxy.connections === 0, 'its connection to close', WAIT);
      await send('info', 2);
      await until(() => observed.includes(2), 'the event after stop() on the bus', WAIT);
      expect(got).to.deep.equal([1]);
    });
  });
}
