// The bus's history stream on the real broker (lib/consume/history-stream.ts, history-options.ts): declared as a
// stream and bound to the bus's exchange with #; one already on the broker with other arguments used as it is, said
// once; one this logger's config does not bind noted in stats(); a malformed since and a config without history
// refused before anything reaches the broker.
import amqplib from 'amqplib';
import { expect } from 'chai';
import { EventBusLogger } from '../../lib/index.js';
import { AMQP_URL, HISTORY_CONFIG_PATH, bindingsOf, closeConnectionsOf, collectHistory, historyBusPerSpec, next, quiet, rabbitmqctl } from '../helpers.js';

describe('the history stream', function () {
  this.timeout(60_000);
  const bus = historyBusPerSpec('history-stream');

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
        expect((await collectHistory(first.history({ since: 'start' }))).map((e) => e.data.n)).to.deep.equal([1, 2]);
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
});
