// The frames of one round of amqplib's multiplexer leave in one socket write: amqplib's own Mux, a Writable that
// records each write it is asked for.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { EventEmitter } from 'node:events';
import { PassThrough, Writable } from 'node:stream';
import { expect } from 'chai';
import { coalesceWrites } from '../../lib/coalesce-writes.js';
import { Publisher } from '../../lib/publisher.js';
import type { AmqpConfirmChannel } from '../../lib/rascal.js';
import { newPublisherId, publishProperties } from '../../lib/wire-format.js';

const require = createRequire(import.meta.url);
const { Mux } = require(join(dirname(require.resolve('amqplib')), 'lib', 'mux.js')) as {
  Mux: new (out: Writable) => { pipeFrom(readable: PassThrough): void; _readIncoming(): void };
};

/** A socket stand-in: each entry of `writes` is one write it was asked for (one system call for a socket). */
function socket(): { out: Writable; writes: string[][] } {
  const writes: string[][] = [];
  const out = new Writable({
    write(chunk: Buffer, _encoding, done) {
      writes.push([chunk.toString()]);
      done();
    },
    writev(chunks, done) {
      writes.push(chunks.map(({ chunk }) => (chunk as Buffer).toString()));
      done();
    },
  });
  return { out, writes };
}

/** amqplib's Mux over a recording socket, with two channels' frame streams piped in (publishes first). */
function connection(coalesce: boolean) {
  const { out, writes } = socket();
  const muxer = new Mux(out);
  const coalesced = coalesce ? coalesceWrites({ connection: { muxer } }) : undefined;
  if (coalesce) expect(coalesced).to.not.equal(undefined);
  const publishes = new PassThrough({ objectMode: true });
  const acks = new PassThrough({ objectMode: true });
  muxer.pipeFrom(publishes);
  muxer.pipeFrom(acks);
  return { writes, coalesced, publishes, acks };
}

/** What was written when a setImmediate queued now runs: where amqplib's own round would have written. */
function writtenAtImmediate(writes: string[][]): Promise<string[][]> {
  return new Promise((resolve) => setImmediate(() => resolve(writes.map((w) => [...w]))));
}

/** Resolves after two turns of the event loop's check phase: amqplib's multiplexer round (a setImmediate) has run. */
async function afterImmediates(): Promise<void> {
  for (let turn = 0; turn < 2; turn++) await new Promise((resolve) => setImmediate(resolve));
}

/** Two channels of one connection each queue a frame; resolves after the multiplexer's round. */
async function round(coalesce: boolean): Promise<string[][]> {
  const { writes, publishes, acks } = connection(coalesce);
  acks.write(Buffer.from('ack'));
  publishes.write(Buffer.from('publish'));
  await afterImmediates();
  return writes;
}

describe('coalescing writes', () => {
  it('sends the frames of one multiplexer round in one write, in order', async () => {
    expect(await round(false), 'amqplib alone: one write per frame').to.deep.equal([['ack'], ['publish']]);
    expect(await round(true)).to.deep.equal([['ack', 'publish']]);
  });

  it('writes a publish at the end of the tick with writeSoon, before amqplib\'s setImmediate, once per tick', async () => {
    const { writes, coalesced, publishes, acks } = connection(true);
    // Queued before the frames, as amqplib's own round would be.
    const atImmediate = writtenAtImmediate(writes);
    acks.write(Buffer.from('ack'));
    publishes.write(Buffer.from('publish'));
    coalesced?.writeSoon();
    coalesced?.writeSoon();
    expect(await atImmediate, 'sent before the event loop went on').to.deep.equal([['ack', 'publish']]);
    await afterImmediates();
    expect(writes, 'amqplib\'s round finds nothing left').to.deep.equal([['ack', 'publish']]);
  });

  it('writeSoon sends an ack queued by a later microtask in the same write', async () => {
    const { writes, coalesced, publishes, acks } = connection(true);
    // As in a socket read holding a confirm, then a delivery: the awaiting publisher resumes first and publishes,
    // then the ack round of the delivery runs.
    queueMicrotask(() => {
      publishes.write(Buffer.from('publish'));
      coalesced?.writeSoon();
    });
    queueMicrotask(() => acks.write(Buffer.from('ack')));
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).to.deep.equal([['publish', 'ack']]);
  });

  it('the publisher sends each publish within its tick', async () => {
    const { out, writes } = socket();
    const muxer = new Mux(out);
    const frames = new PassThrough({ objectMode: true });
    muxer.pipeFrom(frames);
    // A confirm channel as amqplib's: a publish queues its frame on the channel's stream; never confirmed here.
    const channel = Object.assign(new EventEmitter(), {
      connection: { muxer },
      publish: (_exchange: string, level: string) => frames.write(Buffer.from(level)),
    }) as unknown as AmqpConfirmChannel;
    const publisher = new Publisher({ exchange: 'bus', publishTimeout: 1000, bufferMaxEvents: 10, bufferMaxBytes: 1 << 20, bufferMaxWait: 60_000 });
    publisher.attach(channel);
    // Queued before the frame, as amqplib's own round would be.
    const atImmediate = writtenAtImmediate(writes);
    void publisher.publish('info', Buffer.from('{}'), publishProperties('app', newPublisherId(), 0, 1, false));
    expect(await atImmediate).to.deep.equal([['info']]);
    publisher.close(new Error('done'));
  });

  it('without writeSoon, amqplib writes the round at its setImmediate', async () => {
    const { writes, publishes } = connection(true);
    publishes.write(Buffer.from('publish'));
    await new Promise((resolve) => process.nextTick(resolve));
    expect(writes).to.deep.equal([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).to.deep.equal([['publish']]);
  });

  it('wraps a connection once, and leaves one without the expected multiplexer as it is', () => {
    const muxer = new Mux(socket().out);
    const first = coalesceWrites({ connection: { muxer } });
    expect(first).to.not.equal(undefined);
    const wrapped = muxer._readIncoming;
    expect(coalesceWrites({ connection: { muxer } })).to.equal(first);
    expect(muxer._readIncoming).to.equal(wrapped);
    for (const channel of [undefined, {}, { connection: {} }, { connection: { muxer: { out: {} } } }, { connection: { muxer: { _readIncoming() {}, out: {} } } }]) {
      expect(coalesceWrites(channel), JSON.stringify(channel)).to.equal(undefined);
    }
  });
});
