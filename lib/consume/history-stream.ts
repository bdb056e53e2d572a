// The bus's history: a RabbitMQ stream (`<exchange>.history`) bound to the exchange with `#`, which any number of
// readers read from any point over plain AMQP 0-9-1. This file holds the session setup steps that declare and bind
// it (or, on a bus whose config has none, note once in stats() that someone else's stream goes unbound here). The readers are
// history-listener.ts (a catch-up listener) and history-read.ts (`history()`).
import type { Bus } from '../bus/connection.js';
import type { SetupContext } from '../bus/session.js';
import { describeError } from '../errors.js';
import { call } from '../rascal.js';
import type { HistoryTopology } from '../topology.js';
import { closeQuietly, scratchChannel } from './stream.js';

/** Warns once per key and process-wide code, through `process.emitWarning` (printed on standard error by default). */
export type WarnOnce = (key: string, message: string) => void;

export function warnOnce(): WarnOnce {
  const warned = new Set<string>();
  return (key, message) => {
    if (warned.has(key)) return;
    warned.add(key);
    process.emitWarning(message, { code: 'EVENT_BUS_LOGGER_HISTORY' });
  };
}

/**
 * The setup step that declares the history stream and binds it to the exchange, on every (re)open: the exchange is
 * transient, so after a broker restart its binding exists again only once someone declares it. A stream that
 * already exists with other arguments (a 406: arguments cannot change) is used as it is, and said once.
 */
export function declareHistory(bus: Pick<Bus, 'channel'>, exchange: string, history: HistoryTopology, warn: WarnOnce) {
  return async ({ channels: { consumer } }: SetupContext): Promise<void> => {
    const scratch = await scratchChannel(bus);
    try {
      await call<unknown>((cb) => scratch.assertQueue(history.stream, history.options, cb));
    } catch (error) {
      if (!/PRECONDITION_FAILED|406/.test(describeError(error))) throw error;
      warn(
        'mismatch',
        `The history stream "${history.stream}" exists on the broker with other arguments than the config's; it is used as it is (${describeError(error)}). A stream's arguments cannot change: change its retention with a policy (rabbitmqctl set_policy), or delete the stream to declare it anew.`,
      );
    } finally {
      await closeQuietly(scratch);
    }
    for (const key of history.bindingKeys) await call<unknown>((cb) => consumer.bindQueue(history.stream, exchange, key, {}, cb));
  };
}

/**
 * The setup step of a logger whose config has no history: the first time, checks whether the bus has a history
 * stream all the same (declared by another process's config) and notes once that this logger does not bind it.
 * A note, not a warning: a publisher on the default config is healthy, and a library prints nothing then (the
 * logger keeps it for `stats().notices` and traces it under `DEBUG`).
 */
export function checkUnboundHistory(bus: Pick<Bus, 'channel'>, stream: string, note: (message: string) => void) {
  let checked = false;
  return async (): Promise<void> => {
    if (checked) return;
    checked = true;
    const scratch = await scratchChannel(bus);
    try {
      await call<unknown>((cb) => scratch.checkQueue(stream, cb));
      note(unboundHistoryNote(stream));
    } catch {
      // No such stream (404): nothing to say.
    } finally {
      await closeQuietly(scratch);
    }
  };
}

/** What is said of a history stream on the bus that this logger's config does not bind. */
export function unboundHistoryNote(stream: string): string {
  return `The bus has a history stream "${stream}", but this logger's config declares no history: this logger does not bind it, so after a broker restart events reach it only once a process with the history config starts.`;
}
