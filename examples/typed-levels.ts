// Levels are types: pass your config and TypeScript knows its levels. This config adds a "warning" binding.
//   npx tsx examples/typed-levels.ts
import { EventBusLogger } from '../lib/index.js';
import busConfig from './rascal-with-warning.json' with { type: 'json' };

await using logger = await EventBusLogger.create({ config: busConfig, name: 'typed_levels_example' });
// logger is EventBusLogger<'info' | 'critical' | 'warning'>, with a warning() method
logger.on('warning', (data, meta) => console.log(`${meta.level} from ${meta.host}:`, data));
const received = new Promise((resolve) => logger.once('warning', resolve));
await logger.warning({ disk: 91 }, 'disk almost full');
await received;
// @ts-expect-error 'debug' is not a level of this config: a compile error, and a TypeError at run time.
await logger.publish('debug', { nope: true }).catch((error: Error) => console.log(error.message));
