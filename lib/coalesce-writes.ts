// How a connection's frames reach its socket. amqplib queues each channel's frames and writes them from a
// `setImmediate`, one socket write per frame. Two changes, both on amqplib's frame multiplexer (a private object of
// its connection, `muxer._readIncoming`, amqplib 0.10 to 2.x; where it is missing nothing is changed):
// - one write per round: a sequential publisher that also listens sends, in one round, the ack of the event it just
//   received and its next publish, as two writes (two system calls, two reads for the broker); corking the socket
//   for the round sends them as one;
// - a publish leaves at the end of the current tick (`writeSoon`) rather than at the event loop's check phase: an
//   awaited publish is sent a few microseconds earlier, which is what a sequential publisher waits for (measured
//   with `bench/sequential-pairs.mjs`). amqplib's own `setImmediate` still runs, and finds nothing left to write.
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

/** The writes of one amqplib connection. */
export interface ConnectionWrites {
  /**
   * Writes every frame queued on the connection's channels at the end of the current tick, in one socket write.
   * Call it after a publish: the channel's stream tells the multiplexer in a `process.nextTick` queued by the
   * publish itself; this write runs in a tick queued after the microtasks queued so far, so it finds that frame and
   * any other queued meanwhile (an ack).
   */
  writeSoon(): void;
}

const wrapped = new WeakMap<object, ConnectionWrites>();

/**
 * Makes the connection of `channel` (an amqplib channel) write each multiplexer round with one write. Once per
 * connection; returns its {@link ConnectionWrites}, or `undefined` when the connection does not have the expected
 * multiplexer (its frames then go out as amqplib sends them).
 */
export function coalesceWrites(channel: unknown): ConnectionWrites | undefined {
  const connection = (channel as { connection?: { muxer?: Muxer } } | undefined)?.connection;
  const muxer = connection?.muxer;
  if (!muxer || typeof muxer !== 'object') return undefined;
  const known = wrapped.get(muxer);
  if (known) return known;
  const readIncoming = muxer._readIncoming;
  const out = muxer.out as Partial<Corkable> | undefined;
  if (typeof readIncoming !== 'function' || typeof out?.cork !== 'function' || typeof out.uncork !== 'function') {
    debug('amqplib connection without the expected multiplexer: frames are written one by one');
    return undefined;
  }
  const socket = out as Corkable;
  const round = function coalescedRound(this: unknown): unknown {
    socket.cork();
    try {
      return (readIncoming as () => unknown).call(this);
    } finally {
      socket.uncork();
    }
  };
  muxer._readIncoming = round;
  let scheduled = false;
  // Functions made once: this runs for every publish.
  const writeNow = (): void => {
    scheduled = false;
    round.call(muxer);
  };
  // A tick queued from a microtask runs after every microtask queued so far: the ack of the event received in the
  // same socket read (queued after the await that resumed the publisher, or before it) leaves with the publish.
  const writeAfterMicrotasks = (): void => void process.nextTick(writeNow);
  const writes: ConnectionWrites = {
    writeSoon() {
      if (scheduled) return;
      scheduled = true;
      queueMicrotask(writeAfterMicrotasks);
    },
  };
  wrapped.set(muxer, writes);
  return writes;
}
