// One socket write per round of amqplib's frame multiplexer, rather than one per frame. amqplib queues each
// channel's frames and, once per turn of the event loop, writes them to the socket one by one: a sequential
// publisher that also listens sends, in one round, the ack of the event it just received and its next publish, as
// two writes (two system calls, two reads for the broker). Corking the socket for the round sends them as one.
// This wraps a private method of amqplib's connection (`muxer._readIncoming`, amqplib 0.10 to 2.x): where it is
// missing, nothing is changed and frames go out as before.
import createDebug from 'debug';

const debug = createDebug('event-bus-logger:publisher');

interface Corkable {
  cork(): void;
  uncork(): void;
}

interface Muxer {
  out?: unknown;
  _readIncoming?: unknown;
}

const coalesced = new WeakSet<object>();

/**
 * Makes the connection of `channel` (an amqplib channel) write each multiplexer round with one write. Once per
 * connection; returns whether the connection now coalesces its writes.
 */
export function coalesceWrites(channel: unknown): boolean {
  const connection = (channel as { connection?: { muxer?: Muxer } } | undefined)?.connection;
  const muxer = connection?.muxer;
  if (!muxer || typeof muxer !== 'object') return false;
  if (coalesced.has(muxer)) return true;
  const readIncoming = muxer._readIncoming;
  const out = muxer.out as Partial<Corkable> | undefined;
  if (typeof readIncoming !== 'function' || typeof out?.cork !== 'function' || typeof out.uncork !== 'function') {
    debug('amqplib connection without the expected multiplexer: frames are written one by one');
    return false;
  }
  const socket = out as Corkable;
  muxer._readIncoming = function coalescedRound(this: unknown): unknown {
    socket.cork();
    try {
      return (readIncoming as () => unknown).call(this);
    } finally {
      socket.uncork();
    }
  };
  coalesced.add(muxer);
  return true;
}
