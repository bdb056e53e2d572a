// A stand-in for Rascal's connection in unit specs: channels are sinon stubs that answer at once.
import { EventEmitter } from 'node:events';
import sinon from 'sinon';
import type { AmqpChannel, AmqpConfirmChannel, AmqpMessage } from '../../lib/rascal.js';
import type { Bus, BusConnectionEvents, OpenBus } from '../../lib/bus/connection.js';
import { TypedEventEmitter } from '../../lib/events.js';

export type StubChannel = sinon.SinonStubbedInstance<AmqpConfirmChannel> & EventEmitter;

function stubChannel(queueName: () => string): StubChannel {
  const emitter = new EventEmitter();
  const channel = Object.assign(emitter, {
    assertExchange: sinon.stub().callsArgWith(3, null, {}),
    assertQueue: sinon.stub().callsFake((_name: string, _options: unknown, cb: (e: null, r: { queue: string }) => void) => cb(null, { queue: queueName() })),
    bindQueue: sinon.stub().callsArgWith(4, null, {}),
    unbindQueue: sinon.stub().callsArgWith(4, null, {}),
    prefetch: sinon.stub().callsArgWith(2, null, {}),
    consume: sinon.stub().callsArgWith(3, null, { consumerTag: 'ctag' }),
    cancel: sinon.stub().callsArgWith(1, null, {}),
    deleteQueue: sinon.stub().callsArgWith(2, null, {}),
    // No queue exists on the fake broker: a passive check fails as a 404 does.
    checkQueue: sinon.stub().callsFake((name: string, cb: (e: Error) => void) => cb(new Error(`NOT_FOUND - no queue '${name}'`))),
    ack: sinon.stub(),
    close: sinon.stub().callsFake((cb: () => void) => cb()),
    publish: sinon.stub().returns(true),
  });
  return channel as unknown as StubChannel;
}

export class FakeBus extends TypedEventEmitter<BusConnectionEvents> implements Bus {
  isUp = true;
  url = 'amqp://guest:***@fake:5672';
  lastError: string | undefined;
  readonly channels: StubChannel[] = [];
  readonly confirmChannels: StubChannel[] = [];
  private queues = 0;
  private deliveryTags = new Map<StubChannel, number>();
  closed = false;

  exchangeName(key: string): string {
    return key;
  }

  async channel(): Promise<AmqpChannel> {
    const channel = stubChannel(() => `amq.gen-fake-${++this.queues}`);
    this.channels.push(channel);
    return channel;
  }

  async confirmChannel(): Promise<AmqpConfirmChannel> {
    const channel = stubChannel(() => 'unused');
    this.confirmChannels.push(channel);
    return channel;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  // The newest channel that consumes (a passive check may have opened a scratch channel since).
  private consumerChannel(): StubChannel {
    return (this.channels.filter((channel) => channel.consume.called).at(-1) ?? this.channels.at(-1)) as StubChannel;
  }

  /** The delivery tags of the newest consumer channel's acks, each with its allUpTo flag: `[[3, true], [5, false]]`. */
  acks(): Array<[number, boolean]> {
    const consumer = this.consumerChannel();
    return consumer.ack.getCalls().map((call) => [call.args[0].fields.deliveryTag, call.args[1] === true]);
  }

  /** The consumer callback of the newest consumer channel. */
  deliver(routingKey: string, body: string | Buffer, properties: AmqpMessage['properties'] = { contentType: 'application/json' }): AmqpMessage {
    const consumer = this.consumerChannel();
    const onMessage = consumer.consume.lastCall.args[1] as (message: AmqpMessage) => void;
    // Delivery tags count from 1 on each channel, as the broker's do.
    const deliveryTag = (this.deliveryTags.get(consumer) ?? 0) + 1;
    this.deliveryTags.set(consumer, deliveryTag);
    const message: AmqpMessage = {
      content: Buffer.isBuffer(body) ? body : Buffer.from(body),
      fields: { routingKey, redelivered: false, deliveryTag, exchange: 'x' },
      properties,
    };
    onMessage(message);
    return message;
  }

  /** The newest confirm channel. */
  get confirm(): StubChannel {
    return this.confirmChannels.at(-1) as StubChannel;
  }

  /** The broker blocks publishing (a resource alarm), as RabbitMQ's connection.blocked says. */
  block(reason = 'low on memory'): void {
    this.emit('blocked', { reason });
  }

  unblock(): void {
    this.emit('unblocked');
  }

  goDown(reason = 'connection lost'): void {
    this.isUp = false;
    this.emit('down', { reason });
  }

  comeUp(): void {
    this.isUp = true;
    this.emit('up');
  }
}

/** An OpenBus that hands out `bus`. */
export function opener(bus: FakeBus): OpenBus {
  return async () => bus;
}
