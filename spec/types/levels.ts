// Type test, compiled by `npm run typecheck` (never run): level inference. Each `@ts-expect-error` line must stay an
// error; each `Equal` must stay true.
import { EventBusLogger, type LevelOf } from '../../lib/index.js';
import busConfig from '../../examples/rascal-with-warning.json' with { type: 'json' };

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

export async function levelsAreInferred(): Promise<void> {
  const shipped = await EventBusLogger.create();
  const shippedLevels: Equal<LevelOf<typeof shipped>, 'info' | 'critical'> = true;
  const typed = await EventBusLogger.create({ config: busConfig });
  const typedLevels: Equal<LevelOf<typeof typed>, 'info' | 'critical' | 'warning'> = true;
  void [shippedLevels, typedLevels];

  await typed.publish('warning', { disk: 91 });
  typed.on('warning', (data, meta) => {
    const level: 'warning' = meta.level;
    void [data, level];
  });
  // @ts-expect-error 'debug' is no level of this config.
  await typed.publish('debug', {});
  // @ts-expect-error nor an event.
  typed.on('debug', () => undefined);
}

export async function shortcutsNeedTheirLevel(): Promise<void> {
  const audit = new EventBusLogger<'audit' | 'critical'>();
  await audit.critical({ ok: true });
  // @ts-expect-error info() on a logger whose levels have no 'info' (it used to compile and reject at run time).
  await audit.info({ ok: true });
  const untyped = new EventBusLogger<string>();
  // A logger typed with any string level may have 'info': it compiles.
  await untyped.info({ ok: true });
}
