export { EventBusLogger } from './logger.js';
export type { LevelOf } from './logger.js';
export type {
  BusEvent,
  EventBusLoggerEvents,
  EventHandler,
  LifecycleEvents,
  LevelListener,
  ReadyInfo,
  DisconnectedInfo,
  ReconnectedInfo,
  BlockedInfo,
  UnblockedInfo,
  InvalidInfo,
  GapInfo,
} from './events.js';
export type { EventBusLoggerStats } from './stats.js';
export { DEFAULTS } from './options.js';
export type { EventBusLoggerOptions } from './options.js';
export { SHIPPED_CONFIG_PATH } from './topology.js';
export type { BusConfig, DefaultLevel, LevelsOf } from './topology.js';
export { EventBusLoggerError, maskUrl } from './errors.js';
export type { EventBusLoggerErrorCode } from './errors.js';
export type { EventData, EventMeta } from './wire-format.js';
export type { LogArguments } from './event-data.js';
export type { LevelMethods } from './level-methods.js';
export type { TlsFiles } from './tls.js';
export type { HistoryEvent, HistoryProgress, HistoryReader } from './consume/history-event.js';
export type { EventSearch, Where, WhereValue } from './search.js';
export type { HistoryOptions } from './consume/history-options.js';
export type { HistorySince } from './options.js';
export type { HistoryInfo, StreamEnd } from './consume/history-info.js';
