// Type test, compiled by `npm run typecheck` (never run): the call forms of the publish methods (pino's) and a
// method for every configured level. Each `@ts-expect-error` line must stay an error.
import { EventBusLogger } from '../../lib/index.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
import busConfig from '../../examples/rascal-with-warning.json' with { type: 'json' };

export async function everyFormCompiles(): Promise<void> {
  const logger = await EventBusLogger.create();
  const err = new TypeError('boom');
  await logger.info({ info: true });
  await logger.info('server started');
  await logger.info({ user: 'ann' }, 'signed in');
  await logger.info(err);
  await logger.critical(err);
  await logger.critical(err, 'payment failed');
  await logger.publish('critical', { user: 'ann' }, 'signed in');
  await logger.publish('info', 'server started');
  await logger.publish('critical', err);
}

export async function aWrongFormDoesNot(): Promise<void> {
  const logger = await EventBusLogger.create();
  // @ts-expect-error a number is no form
  await logger.info(42);
  // @ts-expect-error nor is an array
  await logger.info([1, 2]);
  // @ts-expect-error no printf-style arguments
  await logger.info('disk %s', 'full');
  // @ts-expect-error the message is a string
  await logger.info({ user: 'ann' }, 42);
  // @ts-expect-error at most two arguments
  await logger.critical({ user: 'ann' }, 'signed in', 'twice');
  // @ts-expect-error nothing at all
  await logger.info();
  // @ts-expect-error the level first
  await logger.publish({ info: true });
}

export async function aMethodPerLevel(): Promise<void> {
  const typed = await EventBusLogger.create({ config: busConfig });
  await typed.warning({ disk: 91 });
  await typed.warning('disk almost full');
  await typed.warning({ disk: 91 }, 'disk almost full');
  await typed.warning(new Error('disk'), 'disk almost full');
  // @ts-expect-error the message is a string
  await typed.warning({ disk: 91 }, 91);
  const shipped = await EventBusLogger.create();
  // @ts-expect-error the shipped config has no 'warning' level
  await shipped.warning({ disk: 91 });
  // Levels unknown to the compiler: no method is invented for every name (an index signature would give every
  // member, `queue` and `levels` too, a function type beside its own).
  const untyped = await EventBusLogger.create<string>({ config: './rascal.json' });
  const untypedIsPlain: Equal<typeof untyped, EventBusLogger<string>> = true;
  void untypedIsPlain;
  // A config given as a path: its levels are named in the type argument.
  const fromPath = await EventBusLogger.create<'info' | 'critical' | 'warning'>({ config: './rascal.json' });
  await fromPath.warning({ disk: 91 });
}
