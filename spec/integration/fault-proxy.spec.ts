// The fault proxy of `npm run check:faults` (check/faults/proxy.ts): each fault it injects does to a real amqplib
// client on the real broker what the checker's schedules say it does. Its own queue, its own connections.
import { expect } from 'chai';
import amqp, { type ChannelModel, type ConsumeMessage } from 'amqplib';
import { Method } from '../../check/faults/frames.js';
import { FaultProxy } from '../../check/faults/proxy.js';

const confirmOf = (channel: amqp.ConfirmChannel, queue: string, body: string): Promise<string> =>
  new Promise((resolve) => channel.sendToQueue(queue, Buffer.from(body), {}, (error) => resolve(error ? 'nack' : 'ack')));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('the fault proxy of check:faults', function () {
  this.timeout(20_000);
  let proxy: FaultProxy;
  let connection: ChannelModel;
  let publisher: amqp.ConfirmChannel;
  let queue: string;

  beforeEach(async () => {
    proxy = await FaultProxy.start();
    connection = await amqp.connect(proxy.url());
    publisher = await connection.createConfirmChannel();
    queue = (await publisher.assertQueue('', { exclusive: true })).queue;
  });

  afterEach(async () => {
    await connection.close().catch(() => undefined);
    await proxy.close();
  });

  // Reads every message of the queue through a second channel until `count` came, or 5 s passed.
  async function drain(count: number): Promise<string[]> {
    const channel = await connection.createChannel();
    const got: string[] = [];
    await channel.consume(queue, (message) => message && got.push(message.content.toString()), { noAck: true });
    for (let waited = 0; got.length < count && waited < 5000; waited += 20) await sleep(20);
    return got;
  }

  it('unrouteNext: the publish never reaches the broker and is nacked; the confirms after it keep their tags', async () => {
    proxy.unrouteNext(1);
    const confirms = await Promise.all(['1', '2', '3'].map((body) => confirmOf(publisher, queue, body)));
    expect(confirms).to.deep.equal(['nack', 'ack', 'ack']);
    expect(await confirmOf(publisher, queue, '4')).to.equal('ack');
    expect(await drain(3)).to.deep.equal(['2', '3', '4']);
    expect(proxy.unrouted).to.deep.equal(['1']);
  });

  it('brokerNacked (on a cluster): the bodies of the publishes the broker nacks, beside the proxy\'s own nack', async () => {
    proxy.brokerNacked = [];
    // A queue that takes nothing: the broker nacks every publish routed to it.
    const full = (await publisher.assertQueue('', { exclusive: true, arguments: { 'x-max-length': 0, 'x-overflow': 'reject-publish' } })).queue;
    proxy.unrouteNext(1);
    const confirms = await Promise.all([[queue, '1'], [full, '2'], [queue, '3'], [full, '4']].map(([to, body]) => confirmOf(publisher, to!, body!)));
    expect(confirms).to.deep.equal(['nack', 'nack', 'ack', 'nack']);
    expect(proxy.unrouted).to.deep.equal(['1']);
    expect(proxy.brokerNacked).to.deep.equal(['2', '4']);
  });

  it('cancelAtDelivery: the broker cancels the consumer, and the client hears of it after the deliveries before it', async () => {
    const channel = await connection.createChannel();
    const seen: Array<string | null> = [];
    await channel.consume(queue, (message: ConsumeMessage | null) => seen.push(message && message.content.toString()), { noAck: true });
    proxy.cancelAtDelivery(1);
    await confirmOf(publisher, queue, 'a');
    for (let waited = 0; !seen.includes(null) && waited < 5000; waited += 20) await sleep(20);
    expect(seen).to.deep.equal(['a', null]);
    // The broker holds no consumer on the queue any more: a message now stays in it.
    await confirmOf(publisher, queue, 'b');
    expect((await publisher.checkQueue(queue)).consumerCount).to.equal(0);
  });

  it('channelErrorAtDelivery: the broker closes that channel with a 406, and only that channel', async () => {
    const channel = await connection.createChannel();
    const closed = new Promise<Error>((resolve) => channel.on('error', resolve));
    await channel.consume(queue, (message) => message && channel.ack(message));
    proxy.channelErrorAtDelivery(1);
    await confirmOf(publisher, queue, 'x');
    expect((await closed).message).to.match(/406 \(PRECONDITION-FAILED\)/);
    expect(await confirmOf(publisher, queue, 'y')).to.equal('ack');
  });

  it('holdNext: the frame and everything after it wait, and then arrive in order', async () => {
    proxy.holdNext(Method.BasicAck, 3000);
    const order: string[] = [];
    const first = confirmOf(publisher, queue, '1').then(() => order.push('1'));
    await sleep(300);
    expect(order).to.deep.equal([]);
    await Promise.all([first, confirmOf(publisher, queue, '2').then(() => order.push('2'))]);
    expect(order).to.deep.equal(['1', '2']);
  });
});
