// C1 of the 2026-12-02 review, end to end on stubs: the publisher retries a nacked event after the events behind it
// went out (1, 2, 3, then 1 again on the wire), and a live listener must deliver the retry when it is the only copy
// it got (its queue lived on the cluster node whose death caused the nack), and drop it when it had the first.
import { EventEmitter } from 'node:events';
import { expect } from 'chai';
import sinon from 'sinon';
import { Acks } from '../../lib/consume/acks.js';
import { Delivery } from '../../lib/consume/delivery.js';
import type { Report } from '../../lib/events.js';
import { Publisher } from '../../lib/publisher.js';
import type { AmqpChannel, AmqpConfirmChannel, AmqpMessage } from '../../lib/rascal.js';
import { Stats } from '../../lib/stats.js';
import { newPublisherId, publishProperties, type EventData, type PublishProperties } from '../../lib/wire-format.js';

type Level = 'info' | 'critical';

/** A live listener: its delivery pipeline, and the events its listener got (by `n`). */
function listener() {
  const got: number[] = [];
  const stats = new Stats();
  const delivery = new Delivery<Level>({
    levels: new Set(['info', 'critical']), maxMessageBytes: 1024, stats, report: sinon.spy() as Report,
    handle: (_level, data: EventData) => void got.push(data.n as number),
  });
  const consume = delivery.consumer(new Acks({ ack: sinon.stub() } as unknown as AmqpChannel), () => undefined);
  let tag = 0;
  const receive = (level: string, body: Buffer, properties: PublishProperties): void =>
    consume({ content: body, fields: { routingKey: level, redelivered: false, deliveryTag: ++tag, exchange: 'bus' }, properties } as AmqpMessage);
  return { got, stats, receive };
}

describe('A nacked event retried after later ones (C1)', () => {
  it('reaches a live listener exactly once, whether its queue missed the first copy or not', async () => {
    const missedFirst = listener();
    const gotAll = listener();
    const wire: number[] = [];
    let attempts = 0;
    const channel = Object.assign(new EventEmitter(), {
      publish(_exchange: string, level: string, body: Buffer, properties: PublishProperties, confirm: (error: Error | null) => void) {
        const n = (JSON.parse(body.toString()) as { n: number }).n;
        wire.push(n);
        const first = attempts++ === 0;
        // The first copy of event 1 reached only the queue on the healthy node; the broker nacks it.
        if (!first) missedFirst.receive(level, body, properties);
        gotAll.receive(level, body, properties);
        setImmediate(() => confirm(first ? new Error('message nacked') : null));
        return true;
      },
    }) as unknown as AmqpConfirmChannel;
    const publisher = new Publisher({ exchange: 'bus', publishTimeout: 5000, bufferMaxEvents: 100, bufferMaxBytes: 1 << 20, bufferMaxWait: 60_000 });
    publisher.attach(channel);
    const id = newPublisherId();
    await Promise.all([1, 2, 3].map((n) => publisher.publish('info', Buffer.from(JSON.stringify({ n })), publishProperties('app', id, 0, n, false))));
    expect(wire, 'the retry went out after 2 and 3').to.deep.equal([1, 2, 3, 1]);
    expect(missedFirst.got, 'the listener that missed the first copy').to.deep.equal([2, 3, 1]);
    expect(gotAll.got, 'the listener that had it').to.deep.equal([1, 2, 3]);
    expect(gotAll.stats.duplicates).to.equal(1);
  });
});
