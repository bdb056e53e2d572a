// The frames of one round of amqplib's multiplexer leave in one socket write: amqplib's own Mux, a Writable that
// records each write it is asked for.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { expect } from 'chai';
import { coalesceWrites } from '../../lib/coalesce-writes.js';

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

/** Two channels of one connection each queue a frame; resolves after the multiplexer's round. */
async function round(coalesce: boolean): Promise<string[][]> {
  const { out, writes } = socket();
  const muxer = new Mux(out);
  if (coalesce) expect(coalesceWrites({ connection: { muxer } })).to.equal(true);
  const publishes = new PassThrough({ objectMode: true });
  const acks = new PassThrough({ objectMode: true });
  muxer.pipeFrom(publishes);
  muxer.pipeFrom(acks);
  acks.write(Buffer.from('ack'));
  publishes.write(Buffer.from('publish'));
  await new Promise((resolve) => setTimeout(resolve, 20));
  return writes;
}

describe('coalescing writes', () => {
  it('sends the frames of one multiplexer round in one write, in order', async () => {
    expect(await round(false), 'amqplib alone: one write per frame').to.deep.equal([['ack'], ['publish']]);
    expect(await round(true)).to.deep.equal([['ack', 'publish']]);
  });

  it('wraps a connection once, and leaves one without the expected multiplexer as it is', () => {
    const muxer = new Mux(socket().out);
    expect(coalesceWrites({ connection: { muxer } })).to.equal(true);
    const wrapped = muxer._readIncoming;
    expect(coalesceWrites({ connection: { muxer } })).to.equal(true);
    expect(muxer._readIncoming).to.equal(wrapped);
    for (const channel of [undefined, {}, { connection: {} }, { connection: { muxer: { out: {} } } }, { connection: { muxer: { _readIncoming() {}, out: {} } } }]) {
      expect(coalesceWrites(channel), JSON.stringify(channel)).to.equal(false);
    }
  });
});
