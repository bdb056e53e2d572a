// The bus's exchange for a user who may not declare it: a publish-only application without the configure
// permission on it (docs/security.md). When the broker refuses the declare, the exchange is checked instead.
import { accessError, describeError, missingExchangeError, type EventBusLoggerError } from '../errors.js';
import type { AmqpChannel } from '../rascal.js';

/** A copy of `config` in which Rascal checks that the vhost's exchanges exist rather than declaring them. */
export function checkExchangesOnly(config: unknown, vhostName: string): unknown {
  const copy = structuredClone(config) as { vhosts?: Record<string, { exchanges?: Record<string, Record<string, unknown>> }> };
  const exchanges = copy.vhosts?.[vhostName]?.exchanges ?? {};
  for (const [key, exchange] of Object.entries(exchanges)) exchanges[key] = { ...exchange, assert: false, check: true };
  return copy;
}

/**
 * Declares the bus's exchange on `channel`, or, when `declare` is false (the broker refused this user the declare:
 * no configure permission on it, as a publish-only application should have), checks that it exists; rejects with
 * code `ACCESS` when it does not, or when the broker refuses either.
 */
export async function ensureExchange(channel: AmqpChannel, exchange: string, options: Record<string, unknown>, vhost: string, declare: boolean): Promise<void> {
  try {
    await new Promise<void>((resolve, reject) => {
      const callback = (error: Error | null): void => (error ? reject(error) : resolve());
      if (declare) channel.assertExchange(exchange, 'topic', options, callback);
      else channel.checkExchange(exchange, callback);
    });
  } catch (error) {
    if (!declare && /NOT_FOUND/.test(describeError(error))) throw missingExchangeError(exchange, vhost);
    throw accessError(error) ?? error;
  }
}

/**
 * What a failed connect means for access control: `'check'` when the broker refused the exchange's declare (connect
 * again, checking it exists instead), an `ACCESS` error for any other refusal or for an exchange that is missing
 * while only checked, undefined for any other failure.
 */
export function refusedAtConnect(error: unknown, checking: boolean): EventBusLoggerError | 'check' | undefined {
  const refused = accessError(error);
  if (refused && !checking && refused.message.includes('declaring the exchange')) return 'check';
  if (refused) return refused;
  const missing = checking ? /NOT_FOUND - no exchange '(.*)' in vhost '(.*)'/.exec(describeError(error)) : null;
  return missing ? missingExchangeError(missing[1] as string, missing[2] as string) : undefined;
}
