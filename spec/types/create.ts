// Type test, compiled by `npm run typecheck` (never run): EventBusLogger.create() takes exactly what
// `new EventBusLogger()` takes, and on a subclass returns the subclass. Each `@ts-expect-error` line must stay an error.
import { EventBusLogger, type EventData, type LevelMethods } from '../../lib/index.js';
import busConfig from '../../examples/rascal-with-warning.json' with { type: 'json' };

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

class MetaclassLogger extends EventBusLogger {
  protected override handleInfo(data: EventData): void {
    void data;
  }
}
class PlainSubclass extends EventBusLogger {}

export async function createIsAsStrictAsNew(): Promise<void> {
  // @ts-expect-error 'debug' is not a level of the shipped config.
  new EventBusLogger({ levels: ['debug'] });
  // @ts-expect-error the same through create(): it used to compile, as an EventBusLogger<string>.
  await EventBusLogger.create({ levels: ['debug'] });
  // @ts-expect-error a subclass of the shipped config's levels refuses it too.
  await MetaclassLogger.create({ levels: ['debug'] });
  // @ts-expect-error
  await PlainSubclass.create({ levels: ['debug'] });
  // @ts-expect-error 'debug' is not a level of this config either.
  await EventBusLogger.create({ config: busConfig, levels: ['debug'] });

  const plain = await EventBusLogger.create({ levels: ['critical'] });
  const plainIsDefault: Equal<typeof plain, EventBusLogger<'info' | 'critical'>> = true;
  const typed = await EventBusLogger.create({ config: busConfig, levels: ['warning'] });
  // With a level beyond info and critical, the logger has its method: EventBusLogger<L> & { warning(...) }.
  const typedIsInferred: Equal<typeof typed, EventBusLogger<'info' | 'critical' | 'warning'> & LevelMethods<'info' | 'critical' | 'warning'>> = true;
  const sub = await MetaclassLogger.create({ name: 'logger_metaclass', levels: ['info'] });
  const subIsSubclass: Equal<typeof sub, MetaclassLogger> = true;
  const plainSub = await PlainSubclass.create();
  const plainSubIsSubclass: Equal<typeof plainSub, PlainSubclass> = true;
  void [plainIsDefault, typedIsInferred, subIsSubclass, plainSubIsSubclass];
}
