// Compiled (never run) by spec/package/consumer-types.spec.ts in an app that installed the packed package, beside the
// README's examples: what the published types must say, under every module resolution.
import { EventBusLogger, type DefaultLevel, type EventData } from 'event-bus-logger';

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
