// The publisher's window and buffer on a healthy broker (issue 20 §2): at most `window` events sent and unsettled,
// the rest waiting in the buffer in order; `publishTimeout` counted from an event's first write, and the wait in the
// buffer bounded by `bufferMaxWait` with its own code. On a stubbed confirm channel, with sinon's fake clock.
import { EventEmitter } from 'node:events';
import { expect } from 'chai';
import sinon from 'sinon';
import { BUFFERED_EVENT_OVERHEAD, Publisher, type PublisherLimits } from '../../lib/publisher.js';
import type { AmqpConfirmChannel } from '../../lib/rascal.js';
import { newPublisherId, publishProperties, type PublishProperties } from '../../lib/wire-format.js';

type Confirm = (error: Error | null) => void;
type Outcome = 'pending' | 'resolved' | `rejected ${string}`;

/** A confirm channel that answers only when the spec says so: `confirm(n)` acks (or nacks) event n's last write. */
function heldChannel() {
  const writes: number[] = [];
  const confirms = new Map<number, Confirm>();
  const channel = Object.assign(new EventEmitter(), {
    publish(_exchange: string, _key: string, body: Buffer, _properties: PublishProperties, confirm: Confirm) {
      const n = (JSON.parse(body.toString()) as { n: number }).n;
      writes.push(n);
      confirms.set(n, confirm);
      return true;
    },
  }) as unknown as AmqpConfirmChannel;
  const answer = (n: number, error: Error | null = null): void => {
    const confirm = confirms.get(n);
    if (!confirm) throw new Error(`event ${n} was not written`);
    confirms.delete(n);
    confirm(error);
  };
  return { channel, writes, confirm: (n: number) => answer(n), nack: (n: number) => answer(n, new Error('message nacked')) };
}

const id = newPublisherId();

/** A publisher with `limits`, and a function publishing event n whose outcome the spec reads with `outcome(n)`. */
function publisher(limits: Partial<PublisherLimits>) {
  const p = new Publisher({ exchange: 'bus', publishTimeout: 1000, bufferMaxEvents: 1000, bufferMaxBytes: 1 << 24, bufferMaxWait: 60_000, ...limits });
  const outcomes = new Map<number, Outcome>();
  const publish = (...ns: number[]): void => {
    for (const n of ns) {
      outcomes.set(n, 'pending');
      p.publish('info', Buffer.from(JSON.stringify({ n })), publishProperties('app', id, 0, n, false)).then(
        () => outcomes.set(n, 'resolved'),
        (error: Error & { code?: string }) => outcomes.set(n, `rejected ${error.code} ${error.message}`),
      );
    }
  };
  return { p, publish, outcome: (n: number) => outcomes.get(n) };
}

describe('Publisher: the window and the buffer on a healthy broker', () => {
  let clock: sinon.SinonFakeTimers;
  beforeEach(() => {
    clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'performance'] });
  });
  afterEach(() => clock.restore());

  it('sends at most `window` unsettled events; the rest wait in order and go as confirms come', async () => {
    const { channel, writes, confirm } = heldChannel();
    const { p, publish, outcome } = publisher({ window: 3 });
    p.attach(channel);
    publish(1, 2, 3, 4, 5, 6);
    expect(writes).to.deep.equal([1, 2, 3]);
    expect(p.buffered).to.equal(3);
    confirm(2);
    expect(writes, 'the window counts from the oldest unsettled event, 1').to.deep.equal([1, 2, 3]);
    confirm(1);
    expect(writes, '1 and 2 settled: 4 and 5 go').to.deep.equal([1, 2, 3, 4, 5]);
    for (const n of [3, 4, 5]) confirm(n);
    expect(writes).to.deep.equal([1, 2, 3, 4, 5, 6]);
    confirm(6);
    await clock.tickAsync(0);
    expect([1, 2, 3, 4, 5, 6].map(outcome)).to.deep.equal(Array(6).fill('resolved'));
    expect(await p.idle(0)).to.equal(true);
  });

  it("times publishTimeout from an event's first write, not from the call", async () => {
    const { channel, writes, confirm } = heldChannel();
    const { p, publish, outcome } = publisher({ window: 1, publishTimeout: 100 });
    p.attach(channel);
    publish(1, 2);
    await clock.tickAsync(90);
    confirm(1);
    expect(writes, '2 is written at 90 ms').to.deep.equal([1, 2]);
    await clock.tickAsync(95);
    expect(outcome(2), '95 ms after its write, 185 ms after the call').to.equal('pending');
    await clock.tickAsync(10);
    expect(outcome(2)).to.match(/^rejected PUBLISH_TIMEOUT Event not confirmed by the broker within publishTimeout \(100 ms\) of being sent; it may or may not have reached the bus$/);
    expect(outcome(1)).to.equal('resolved');
  });

  it("starts an event's publishTimeout when the turn's writes go out, not during the application's loop of calls", async () => {
    const { channel, writes } = heldChannel();
    const { p, publish, outcome } = publisher({ publishTimeout: 100 });
    p.attach(channel);
    publish(1);
    // The rest of a long synchronous loop of calls: the write leaves for the socket only once it returns.
    clock.tick(500);
    expect(writes).to.deep.equal([1]);
    await clock.tickAsync(90);
    expect(outcome(1), '90 ms after the turn ended, 590 ms after the call').to.equal('pending');
    await clock.tickAsync(20);
    expect(outcome(1)).to.match(/^rejected PUBLISH_TIMEOUT /);
  });

  it('refuses a burst far past the caps with one shared error while the buffer stays full', async () => {
    const { p } = publisher({ bufferMaxEvents: 1 });
    const publishOne = (n: number): Promise<unknown> => p.publish('info', Buffer.from('{}'), publishProperties('app', id, 0, n, false)).catch((error: Error) => error);
    void publishOne(1); // waits in the outage buffer
    const [second, third] = await Promise.all([publishOne(2), publishOne(3)]);
    expect(second).to.be.instanceOf(Error).and.to.include({ code: 'BUFFER_FULL' });
    expect(third, 'the same error object').to.equal(second);
    expect(p.counters).to.include({ published: 3, dropped: 2, rejected: 2 });
    p.close(new Error('done'));
  });

  it('rejects an event that waited bufferMaxWait in the buffer with BUFFER_TIMEOUT, saying it was never sent', async () => {
    const { channel, writes, confirm } = heldChannel();
    const { p, publish, outcome } = publisher({ window: 1, bufferMaxWait: 50, publishTimeout: 1000 });
    p.attach(channel);
    publish(1, 2, 3);
    await clock.tickAsync(49);
    expect([outcome(2), outcome(3)]).to.deep.equal(['pending', 'pending']);
    await clock.tickAsync(2);
    expect(outcome(2)).to.equal('rejected BUFFER_TIMEOUT Event not sent: it waited bufferMaxWait (50 ms) in the buffer while events were published faster than the broker confirms them (1 awaiting confirms); it never reached the bus');
    expect(outcome(3)).to.match(/^rejected BUFFER_TIMEOUT /);
    expect(outcome(1), 'the one written has its publishTimeout').to.equal('pending');
    confirm(1);
    await clock.tickAsync(0);
    expect(outcome(1)).to.equal('resolved');
    expect(writes).to.deep.equal([1]);
    expect(p.counters).to.include({ published: 3, confirmed: 1, rejected: 2 });
  });

  it('bounds the wait in the buffer during an outage by bufferMaxWait too', async () => {
    const { publish, outcome } = publisher({ bufferMaxWait: 50, publishTimeout: 10 });
    publish(1);
    await clock.tickAsync(49);
    expect(outcome(1), 'publishTimeout does not apply to an event never sent').to.equal('pending');
    await clock.tickAsync(2);
    expect(outcome(1)).to.equal('rejected BUFFER_TIMEOUT Event not sent: it waited bufferMaxWait (50 ms) in the buffer while the broker was unreachable; it never reached the bus');
  });

  it('refuses at the call with BUFFER_FULL once the buffer behind a full window is at its cap, saying why', async () => {
    const { channel, writes } = heldChannel();
    const { p, publish, outcome } = publisher({ window: 2, bufferMaxEvents: 3 });
    p.attach(channel);
    publish(1, 2, 3, 4, 5, 6);
    await clock.tickAsync(0);
    expect(writes).to.deep.equal([1, 2]);
    expect([1, 2, 3, 4, 5].map(outcome)).to.deep.equal(Array(5).fill('pending'));
    expect(outcome(6)).to.equal(`rejected BUFFER_FULL Event not sent: events are published faster than the broker confirms them (2 awaiting confirms) and the buffer is full (3 events, ${3 * (7 + BUFFERED_EVENT_OVERHEAD)} bytes; limits bufferMaxEvents=3, bufferMaxBytes=${1 << 24})`);
    p.close(new Error('done'));
  });

  it('counts each buffered event as its body plus the bookkeeping beside it against bufferMaxBytes', async () => {
    const { p, publish, outcome } = publisher({ bufferMaxBytes: 2 * (7 + BUFFERED_EVENT_OVERHEAD) });
    publish(1, 2, 3);
    await clock.tickAsync(0);
    expect([outcome(1), outcome(2)]).to.deep.equal(['pending', 'pending']);
    expect(outcome(3)).to.match(/^rejected BUFFER_FULL Event not sent: the broker is unreachable and the outage buffer is full \(2 events/);
    p.close(new Error('done'));
  });

  it('holds the window at a nacked event until its retry is settled, so the retry is never more than the window behind', async () => {
    const { channel, writes, confirm, nack } = heldChannel();
    const { p, publish, outcome } = publisher({ window: 3 });
    p.attach(channel);
    publish(1, 2, 3, 4, 5);
    nack(1);
    confirm(2);
    confirm(3);
    expect(writes, '4 waits for 1').to.deep.equal([1, 2, 3]);
    await clock.tickAsync(25);
    expect(writes, 'the retry of 1').to.deep.equal([1, 2, 3, 1]);
    confirm(1);
    expect(writes).to.deep.equal([1, 2, 3, 1, 4, 5]);
    confirm(4);
    confirm(5);
    await clock.tickAsync(0);
    expect([1, 2, 3, 4, 5].map(outcome)).to.deep.equal(Array(5).fill('resolved'));
    expect(p.counters).to.include({ republished: 1 });
  });
});
