// Whether the bus's exchange exists, asked on a connection of its own before anything declares it: the CLI's
// notice that a --name makes a new, empty bus. Apart from the connection (lib/bus/connection.ts); its words for a
// failed connect are the connection's (lib/bus/connect-failures.ts).
import createDebug from 'debug';
import { EventBusLoggerError, describeError } from '../errors.js';
import { createBroker } from '../rascal.js';
import { within } from '../deadline.js';
import { RASCAL_CONNECT_FAILURE, connectFailure, permanentConnectError } from './connect-failures.js';

const debug = createDebug('event-bus-logger:connection');

/**
 * Whether the exchange `exchange` exists on the broker, asked before anything declares it: a passive check, on a
 * connection of its own since a failed check closes its channel. Undefined when the broker refuses the check for
 * another reason. Rejects with code `CONNECT`, as {@link BusConnection.open} would, when the broker cannot be reached
 * or does not answer within `timeout` ms.
 */
export async function exchangeExists(config: Record<string, unknown>, vhostName: string, exchange: string, loggableUrls: string[], timeout: number): Promise<boolean | undefined> {
  const checkConfig = structuredClone(config) as { vhosts: Record<string, Record<string, unknown>> };
  const vhost = checkConfig.vhosts[vhostName] as Record<string, unknown>;
  const declared = (vhost.exchanges as Record<string, Record<string, unknown>> | undefined)?.[exchange] ?? {};
  vhost.exchanges = { [exchange]: { ...declared, assert: false, check: true } };
  for (const key of ['queues', 'bindings', 'publications', 'subscriptions']) delete vhost[key];
  const started = performance.now();
  const creating = createBroker(checkConfig);
  try {
    const broker = await within(creating, timeout, () => new Error(`no answer within startTimeout (${timeout} ms)`));
    await broker.shutdown().catch(() => undefined);
    return true;
  } catch (error) {
    const reason = describeError(error);
    if (!RASCAL_CONNECT_FAILURE.test(reason) && /\b404\b|NOT_FOUND/.test(reason)) return false;
    if (RASCAL_CONNECT_FAILURE.test(reason) || reason.startsWith('no answer within')) {
      // A broker created after the deadline must still be closed.
      creating.then((late) => late.shutdown()).catch(() => undefined);
      // The words of the logger's own connect: a refused login, vhost or certificate says so.
      throw permanentConnectError(error, loggableUrls) ?? new EventBusLoggerError('CONNECT', `Cannot connect to the event bus at ${loggableUrls.join(', ')} (1 attempt in ${Math.round(performance.now() - started)} ms): ${connectFailure(error, loggableUrls.length)}`);
    }
    debug('exchange check: %s', reason);
    return undefined;
  }
}
