// The registry of benchmarked clients: each adapter imports common.ts, and only this file imports the adapters,
// so the imports run one way. Adapters load lazily: a client that does not build breaks only its own rows.
import type { ClientAdapter, ClientName } from './common.js';

const ADAPTERS: Record<ClientName, () => Promise<ClientAdapter>> = {
  amqplib: async () => (await import('./amqplib.js')).adapter,
  'amqplib-minimal': async () => (await import('./amqplib-minimal.js')).adapter,
  rascal: async () => (await import('./rascal.js')).adapter,
  library: async () => (await import('./library.js')).adapter,
};

/** Loads the adapter of the client `name`. */
export function loadAdapter(name: ClientName): Promise<ClientAdapter> {
  return ADAPTERS[name]();
}
