// The method each configured level gets on a logger (`logger.warning(...)` on a bus with a `warning` level), its
// type, and the names no level may take because the logger already has a member of that name.
import { EventEmitter } from 'node:events';
import type { LogArguments } from './event-data.js';

/** The levels that have their method on the class itself. */
type ClassLevelMethod = 'info' | 'critical';

/**
 * A method per level of `L` beside `info()` and `critical()`: on a logger from `EventBusLogger.create()`, each
 * publishes an event of its level and takes what {@link EventBusLogger.publish} takes after the level.
 */
export type LevelMethods<L extends string> = string extends L
  ? unknown // levels not known to the compiler (EventBusLogger<string>): publish(level, ...) names them
  : [Exclude<L, ClassLevelMethod>] extends [never]
    ? unknown // no level beyond the class's own: the logger's type stays EventBusLogger<L> exactly
    : { [K in Exclude<L, ClassLevelMethod>]: (...args: LogArguments) => Promise<void> };

/**
 * EventBusLogger's own members, protected ones included; `info` and `critical` are the methods of their levels.
 * spec/types/level-members.ts fails to compile when a public member is missing, spec/unit/call-forms.spec.ts when any is.
 */
export const LOGGER_MEMBERS = ['constructor', 'levels', 'queue', 'isReady', 'start', 'publish', 'subscribe', 'handle', 'handleInfo', 'handleCritical', 'dispatch', 'stop', 'history', 'historyInfo', 'stats', 'listening'] as const;

// The members of an EventEmitter (its methods and own fields such as `_events`) and of every object (`toString`).
const inherited = new Set<string>();
for (let object: object | null = new EventEmitter(); object !== null; object = Object.getPrototypeOf(object) as object | null) {
  for (const name of Object.getOwnPropertyNames(object)) inherited.add(name);
}

/** The member of a logger that `level` is named like, if any (its level method would hide it). */
export function memberNamedLike(level: string): boolean {
  return (LOGGER_MEMBERS as readonly string[]).includes(level) || inherited.has(level);
}
