import { expect } from 'chai';
import type amqplib from 'amqplib';
import { EventBusLogger } from '../../lib/index.js';
import { AMQP_URL, QUEUE_CAP, bindingsOf, deleteExchange, passive, rabbitmqctl, rawConnection, uniqueName } from '../helpers.js';

describe('topology on the broker', () => {
  let name: string;
  let logger: EventBusLogger;
  let raw: amqplib.ChannelModel;

  beforeEach(async () => {
    name = uniqueName('topology');
    // listen: true: the queue exists with or without listeners (on demand, spec/integration/listening.spec.ts).
    logger = await EventBusLogger.create({ url: AMQP_URL, name, listen: true });
    raw = await rawConnection();
  });

  afterEach(async () => {
    await logger.stop();
    await raw.close();
    await deleteExchange(name);
  });

  it('declares the bus as a non-durable topic exchange', async () => {
    expect(await passive(raw, (channel) => channel.checkExchange(name))).to.equal(undefined);
    // Re-declaring with the same arguments passes; with another type or durability the broker refuses.
    expect(await passive(raw, (channel) => channel.assertExchange(name, 'topic', { durable: false, autoDelete: false }))).to.equal(undefined);
    expect((await passive(raw, (channel) => channel.assertExchange(name, 'fanout', { durable: false })))?.message).to.match(/PRECONDITION_FAILED/);
    expect((await passive(raw, (channel) => channel.assertExchange(name, 'topic', { durable: true })))?.message).to.match(/PRECONDITION_FAILED/);
  });

  it('consumes from a server-named exclusive queue bound once per level', async () => {
    const queue = logger.queue as string;
    expect(queue).to.match(/^amq\.gen-/);
    // Another connection may not touch an exclusive queue.
    expect((await passive(raw, (channel) => channel.checkQueue(queue)))?.message).to.match(/RESOURCE_LOCKED/);
    const bindings = await bindingsOf(name);
    expect(bindings.map((b) => `${b.destination_name} ${b.routing_key}`).sort()).to.deep.equal([`${queue} critical`, `${queue} info`]);
  });

  it('caps the queue at 100,000 events and 64 MiB, dropping the oldest, as the shipped config says', async () => {
    // rabbitmqctl lists a queue's arguments as [key, AMQP type, value].
    const queues = await rabbitmqctl<Array<{ name: string; arguments: Array<[string, string, unknown]> }>>('list_queues', 'name', 'arguments');
    const mine = queues.find((queue) => queue.name === logger.queue);
    expect(Object.fromEntries((mine?.arguments ?? []).map(([key, , value]) => [key, value]))).to.deep.equal(QUEUE_CAP);
  });

  it('deletes the queue on stop and leaves the exchange', async () => {
    const queue = logger.queue as string;
    await logger.stop();
    expect((await passive(raw, (channel) => channel.checkQueue(queue)))?.message).to.match(/NOT_FOUND/);
    expect(await passive(raw, (channel) => channel.checkExchange(name))).to.equal(undefined);
  });

  it('binds only the levels it listens to', async () => {
    const critical = await EventBusLogger.create({ url: AMQP_URL, name, levels: ['critical'], listen: true });
    try {
      const bindings = await bindingsOf(name);
      expect(bindings.filter((b) => b.destination_name === critical.queue).map((b) => b.routing_key)).to.deep.equal(['critical']);
    } finally {
      await critical.stop();
    }
  });

  it('with listen: false declares no queue and binds nothing, and still publishes', async () => {
    const publishOnly = await EventBusLogger.create({ url: AMQP_URL, name, listen: false });
    try {
      expect(publishOnly.queue).to.equal(undefined);
      const bindings = await bindingsOf(name);
      expect(bindings.map((b) => b.destination_name)).to.deep.equal([logger.queue, logger.queue]);
      const got = new Promise((resolve) => logger.once('info', resolve));
      await publishOnly.info({ from: 'publish-only' });
      expect(await got).to.deep.equal({ from: 'publish-only' });
    } finally {
      await publishOnly.stop();
    }
  });
});
