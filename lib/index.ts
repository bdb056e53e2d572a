export { EventBusLogger } from './logger.js';
export type {
  EventBusLoggerEvents,
  EventBusLoggerStats,
  LifecycleEvents,
  LevelListener,
  ReadyInfo,
  DisconnectedInfo,
  ReconnectedInfo,
  BlockedInfo,
  UnblockedInfo,
  InvalidInfo,
  GapInfo,
} from './logger.js';
export { DEFAULTS, SHIPPED_CONFIG_PATH } from './config.js';
export type { BusConfig, DefaultLevel, EventBusLoggerOptions, LevelsOf } from './config.js';
export { EventBusLoggerError, maskUrl } from './errors.js';
export type { EventBusLoggerErrorCode } from './errors.js';
export type { EventData, EventMeta } from './wire-format.js';
