// Compiled (never run) by spec/package/consumer-types.spec.ts in an app that installed the packed package, beside the
// README's examples: what the published types must say, under every module resolution.
import { EventBusLogger, type DefaultLevel, type EventData, type LevelMethods } from 'event-bus-logger';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

export const defaultLevels: Equal<DefaultLevel, 'info' | 'critical'> = true;

class MetaclassLogger extends EventBusLogger {
  protected override handleInfo(data: EventData): void {
    void data;
  }
}

export async function published(): Promise<void> {
  const logger = await EventBusLogger.create();
  const levels: Equal<typeof logger, EventBusLogger<'info' | 'critical'>> = true;
  logger.on('critical', (data, meta) => {
    const level: 'critical' = meta.level;
    void [data, level];
  });
  logger.once('ready', ({ queue }) => void queue);
  // @ts-expect-error not a level of the shipped config
  logger.on('debug', () => undefined);
  // @ts-expect-error not a level of the shipped config
  await EventBusLogger.create({ levels: ['debug'] });
  const sub = await MetaclassLogger.create({ levels: ['info'] });
  const subIsSubclass: Equal<typeof sub, MetaclassLogger> = true;
  await using disposed = sub;
  void [levels, subIsSubclass, disposed];
}

// The call forms (pino's) and a method per configured level, as the published types say them.
export async function callForms(): Promise<void> {
  const logger = await EventBusLogger.create();
  await logger.info({ info: true });
  await logger.info('server started');
  await logger.info({ user: 'ann' }, 'signed in');
  await logger.critical(new Error('boom'));
  await logger.critical(new Error('boom'), 'payment failed');
  await logger.publish('info', { user: 'ann' }, 'signed in');
  // @ts-expect-error a number is no form
  await logger.info(42);
  // @ts-expect-error no printf-style arguments
  await logger.info('disk %s', 'full');
  // @ts-expect-error the message is a string
  await logger.critical({ user: 'ann' }, 42);
  // @ts-expect-error the shipped config has no 'warning' level, so no warning()
  await logger.warning({ disk: 91 });
  const typed = await EventBusLogger.create<'info' | 'critical' | 'warning'>({ config: './rascal.json' });
  const withMethods: Equal<typeof typed, EventBusLogger<'info' | 'critical' | 'warning'> & LevelMethods<'info' | 'critical' | 'warning'>> = true;
  await typed.warning({ disk: 91 }, 'disk almost full');
  void withMethods;
}
