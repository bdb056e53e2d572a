// The README's pino transport example, as it appears there (spec/bridges/pino.spec.ts checks they match, and runs it).
// Needs the package built (npm run build) for `target: 'event-bus-logger/pino'` to resolve.
import { once } from 'node:events';
import pino from 'pino';

const transport = pino.transport({
  target: 'event-bus-logger/pino',
  options: {
    name: 'logger_metaclass',                 // the bus
    appId: 'billing',                         // default: 'pino'
    levels: { warn: 'critical' },             // optional: overrides of the level map below; values: the config's levels
  },
});
// The transport could not start (bad options or config, a refused login): the reason, also on standard error.
transport.on('error', (error: Error) => console.error(`logging to the bus failed: ${error.message}`));
const log = pino(transport);

log.info({ user: 'ann' }, 'signed in');   // published at 'info'
log.warn('disk almost full');             // published at 'critical', as the levels option says
log.error(new Error('boom'), 'it broke'); // published at 'critical'

// Before exiting: end the transport; 'finish' comes once every record is confirmed and the connection closed.
transport.end();
await once(transport, 'finish');
