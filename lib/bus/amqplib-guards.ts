// Two throws of amqplib that land outside any call of ours when a connection fails at the wrong moment: inside
// Rascal's callback chains, where a throw is an uncaught exception that takes the app down. Each is patched once, on
// amqplib's class (found from an object of ours, so it is the copy Rascal uses), to hand the error to the callback
// the caller gave instead; a call without a callback throws as before.
import createDebug from 'debug';
import { describeError } from '../errors.js';
import type { AmqpConnection } from '../rascal.js';

const debug = createDebug('event-bus-logger:connection');

// amqplib's close() throws (IllegalOperationError 'Connection closing') on a connection whose socket failed a moment
// ago; Rascal's shutdown calls it inside its own callback chain, where that throw is an uncaught exception that
// takes the app down (seen when a connection was cut during a start or a history read). Patched once, on amqplib's
// connection class (a reconnect's new connection may never carry a channel of ours before a shutdown): a close given
// a callback hands it the error instead. A close without a callback throws as before. The callback is called on a
// later turn, after the immediates already queued: Rascal's disconnect sets its connection to undefined in it, and
// its disconnection handler, queued by the same lost connection with setImmediate, reads that connection when it
// runs (called at once, the callback made it read undefined: a TypeError, an uncaught exception).
const GUARDED = Symbol.for('event-bus-logger.closeWithoutThrowing');
export function closeWithoutThrowing(connection: AmqpConnection): void {
  const prototype = Object.getPrototypeOf(connection) as { close?: (callback?: (error: Error | null) => void) => void; [GUARDED]?: true };
  if (typeof prototype.close !== 'function' || prototype[GUARDED]) return;
  const close = prototype.close;
  prototype.close = function (this: unknown, callback?: (error: Error | null) => void): void {
    try {
      close.call(this, callback);
    } catch (error) {
      if (!callback) throw error;
      debug('close of a connection already closing: %s', describeError(error));
      setImmediate(() => callback(error as Error));
    }
  };
  prototype[GUARDED] = true;
}

// A channel's RPC (open, declare, consume, close...) sends its method at once when no other RPC waits, and amqplib's
// send throws (IllegalOperationError 'Connection closed') on a connection whose socket failed a moment ago. Rascal
// opens the channels it gives out from its own queue (`Vhost.createChannel`), so a reconnect racing a drop threw
// there uncaught (found by check:faults). The patched RPC hands the error to its callback on the next tick, and
// leaves the channel as it was (no reply waiting), so nothing answers it twice.
const RPC_GUARDED = Symbol.for('event-bus-logger.rpcWithoutThrowing');
type Rpc = (this: { reply: unknown }, method: unknown, fields: unknown, expect: unknown, callback?: (error: Error | null) => void) => unknown;
export function rpcWithoutThrowing(channel: object): void {
  let prototype = Object.getPrototypeOf(channel) as ({ _rpc?: Rpc; [RPC_GUARDED]?: true } & object) | null;
  while (prototype && !Object.prototype.hasOwnProperty.call(prototype, '_rpc')) prototype = Object.getPrototypeOf(prototype) as typeof prototype;
  if (!prototype || typeof prototype._rpc !== 'function' || prototype[RPC_GUARDED]) return;
  const rpc = prototype._rpc;
  prototype._rpc = function (method, fields, expect, callback) {
    const waiting = this.reply;
    try {
      return rpc.call(this, method, fields, expect, callback);
    } catch (error) {
      if (typeof callback !== 'function') throw error;
      this.reply = waiting;
      debug('a channel RPC on a closed connection: %s', describeError(error));
      process.nextTick(callback, error as Error);
      return undefined;
    }
  };
  prototype[RPC_GUARDED] = true;
}
