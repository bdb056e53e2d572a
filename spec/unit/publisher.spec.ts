// The publisher's answer to a nack, on a stubbed confirm channel: retry until publishTimeout, reject NACKED only
// when the last attempt was nacked (a node of a cluster that just died makes the broker nack for a moment).
import { EventEmitter } from 'node:events';
import { expect } from 'chai';
import sinon from 'sinon';
import { Publisher } from '../../lib/publisher.js';
import type { AmqpConfirmChannel } from '../../lib/rascal.js';
import { newPublisherId, publishProperties, type PublishProperties } from '../../lib/wire-format.js';
import { rejection, until } from '../helpers.js';

type Confirm = (error: Error | null) => void;

/** A confirm channel whose publishes are answered by `answer` (attempt number from 1): 'ack', 'nack' or 'none'. */
function confirmChannel(answer: (attempt: number) => 'ack' | 'nack' | 'none') {
  const attempts: number[] = [];
  const publish = sinon.stub().callsFake((_exchange: string, _key: string, _body: Buffer, properties: PublishProperties, confirm: Confirm) => {
    // The event's sequence number: the end of its messageId (`<publisher>/<level tag>.<seq>`).
    const seq = Number(properties.messageId.slice(properties.messageId.lastIndexOf('.') + 1));
    attempts.push(seq);
    const reply = answer(attempts.filter((other) => other === seq).length);
    if (reply === 'ack') setImmediate(() => confirm(null));
    if (reply === 'nack') setImmediate(() => confirm(new Error('message nacked')));
    return true;
  });
  const channel = Object.assign(new EventEmitter(), { publish }) as unknown as AmqpConfirmChannel;
  return { channel, publish, attempts };
}

function properties(seq: number): PublishProperties {
  return publishProperties('app', newPublisherId(), 0, seq, false);
}

function publisher(publishTimeout: number): Publisher {
  return new Publisher({ exchange: 'bus', publishTimeout, bufferMaxEvents: 100, bufferMaxBytes: 1 << 20, bufferMaxWait: 60_000 });
}

describe('Publisher: nacks', () => {
  it('retries a nacked event and resolves when a later attempt is confirmed', async () => {
    const { channel, attempts } = confirmChannel((attempt) => (attempt <= 2 ? 'nack' : 'ack'));
    const p = publisher(5000);
    p.attach(channel);
    await p.publish('info', Buffer.from('{}'), properties(1));
    expect(attempts).to.deep.equal([1, 1, 1]);
    expect(p.counters).to.include({ published: 1, confirmed: 1, rejected: 0, republished: 2 });
  });

  it('rejects with NACKED, saying how often, when every attempt until publishTimeout was nacked', async () => {
    const { channel, attempts } = confirmChannel(() => 'nack');
    const p = publisher(300);
    p.attach(channel);
    const error = await rejection<Error & { code?: string }>(p.publish('info', Buffer.from('{}'), properties(1)));
    expect(error.code).to.equal('NACKED');
    expect(error.message).to.match(/refused it \(message nacked\), \d+ times within publishTimeout \(300 ms\)/);
    expect(attempts.length).to.be.greaterThan(1);
    expect(p.counters).to.include({ confirmed: 0, rejected: 1 });
    expect(await p.idle(100)).to.equal(true);
  });

  it('rejects with PUBLISH_TIMEOUT, not NACKED, when the last attempt was sent and never answered', async () => {
    const { channel, attempts } = confirmChannel((attempt) => (attempt === 1 ? 'nack' : 'none'));
    const p = publisher(300);
    p.attach(channel);
    const error = await rejection<Error & { code?: string }>(p.publish('info', Buffer.from('{}'), properties(1)));
    expect(error.code).to.equal('PUBLISH_TIMEOUT');
    expect(attempts).to.deep.equal([1, 1]);
  });

  it('keeps confirming the events after a nacked one while it waits for its retry', async () => {
    const { channel, attempts } = confirmChannel((attempt) => (attempt === 1 ? 'nack' : 'ack'));
    const p = publisher(5000);
    p.attach(channel);
    const settled: number[] = [];
    await Promise.all([1, 2, 3].map((seq) => p.publish('info', Buffer.from('{}'), properties(seq)).then(() => settled.push(seq))));
    // each was nacked once, then confirmed on its retry
    expect(attempts.slice(0, 3)).to.deep.equal([1, 2, 3]);
    expect(attempts).to.have.length(6);
    expect(settled).to.have.members([1, 2, 3]);
  });

  it('sends a retry that falls in an outage on the next channel', async () => {
    let nacked = false;
    const { channel } = confirmChannel(() => (nacked ? 'none' : ((nacked = true), 'nack')));
    const p = publisher(5000);
    p.attach(channel);
    const done = p.publish('info', Buffer.from('{}'), properties(1));
    await until(() => nacked, 'the nack');
    p.detach();
    await until(() => p.buffered === 1, 'the retry to wait in the buffer');
    const next = confirmChannel(() => 'ack');
    p.attach(next.channel);
    await done;
    expect(next.attempts).to.deep.equal([1]);
  });

  it('close() rejects an event waiting for its retry', async () => {
    const { channel, attempts } = confirmChannel(() => 'nack');
    const p = publisher(5000);
    p.attach(channel);
    const done = p.publish('info', Buffer.from('{}'), properties(1));
    await until(() => attempts.length === 1, 'the first attempt');
    p.close(Object.assign(new Error('stopped'), { code: 'STOPPED' }));
    expect((await rejection<Error & { code?: string }>(done)).code).to.equal('STOPPED');
    expect(await p.idle(10)).to.equal(true);
  });
});

describe('Publisher: rejections nobody awaits', () => {
  // Node reports a rejection without a handler once the microtasks of its turn have run; give it a few turns.
  async function unhandledDuring(work: () => Promise<void>): Promise<unknown[]> {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      await work();
      await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    return unhandled;
  }

  it('never reports a BUFFER_FULL, PUBLISH_TIMEOUT, NACKED or closed publish as an unhandled rejection, and still rejects it', async () => {
    const settled: string[] = [];
    const note = (promise: Promise<void>): void => {
      // Read later, after the turn in which an unhandled rejection would have been reported.
      setTimeout(() => void promise.catch((error: Error & { code?: string }) => settled.push(error.code ?? error.message)), 100);
    };
    const unhandled = await unhandledDuring(async () => {
      const full = new Publisher({ exchange: 'bus', publishTimeout: 5000, bufferMaxEvents: 0, bufferMaxBytes: 1 << 20, bufferMaxWait: 60_000 });
      void full.publish('info', Buffer.from('{}'), properties(1)); // no channel, no room: BUFFER_FULL at once
      note(full.publish('info', Buffer.from('{}'), properties(2)));
      const silent = publisher(50);
      silent.attach(confirmChannel(() => 'none').channel);
      note(silent.publish('info', Buffer.from('{}'), properties(1))); // PUBLISH_TIMEOUT
      const nacking = publisher(50);
      nacking.attach(confirmChannel(() => 'nack').channel);
      // NACKED, or PUBLISH_TIMEOUT when its 50 ms run out while a retry of the nack is still out (a loaded machine).
      const nacked = nacking.publish('info', Buffer.from('{}'), properties(1));
      setTimeout(() => void nacked.catch((error: Error & { code?: string }) => settled.push(error.code === 'PUBLISH_TIMEOUT' ? 'NACKED' : (error.code ?? error.message))), 100);
      const closing = publisher(5000);
      void closing.publish('info', Buffer.from('{}'), properties(1)); // buffered: no channel yet
      closing.close(Object.assign(new Error('stopped'), { code: 'STOPPED' }));
      note(closing.publish('info', Buffer.from('{}'), properties(2))); // after close
      await new Promise((resolve) => setTimeout(resolve, 200));
    });
    expect(unhandled).to.deep.equal([]);
    expect(settled).to.have.members(['BUFFER_FULL', 'PUBLISH_TIMEOUT', 'NACKED', 'STOPPED']);
  });
});
