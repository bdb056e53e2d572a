// The counters behind stats(): every part of the logger counts here, and the last error is kept in this one place.
import type { PublisherCounters } from './publisher.js';

/** Counters of {@link EventBusLogger.stats}. */
export interface EventBusLoggerStats {
  /**
   * True while connected and consuming (`isReady`); false before start, during an outage (including the one at start
   * while the broker cannot be reached yet: `lastError` then says why) and once stopped.
   */
  connected: boolean;
  /** publish() calls that passed validation. */
  published: number;
  /** Publishes the broker confirmed. */
  confirmed: number;
  /** Publishes that rejected (timeout, buffer full or waited too long, nacked, unroutable, stopped). */
  rejected: number;
  /** Events waiting in the buffer to be sent now: for a connection, for a block to end, or their turn in a burst. */
  buffered: number;
  /** Publishes rejected because the buffer was full. */
  dropped: number;
  /** Events sent again after a connection loss hid their confirm. */
  republished: number;
  /** Events delivered to listeners, per level. */
  received: Record<string, number>;
  /** Messages reported as 'invalid'. */
  invalid: number;
  /** Events dropped as duplicates of ones already delivered (same publisher, level and sequence). */
  duplicates: number;
  /** Events reported missing through 'gap'. */
  missed: number;
  /** Listener throws and rejections. */
  listenerErrors: number;
  /** Completed reconnects. */
  reconnects: number;
  /** Times the broker blocked publishing (resource alarms). */
  blocks: number;
  /** The last transport or listener error, credentials masked. */
  lastError: string | undefined;
  /**
   * What this logger found worth knowing that is not an error, each said once: e.g. a history stream on its bus
   * that its config does not bind.
   */
  notices: string[];
}

/** The receiving side's counters and the last error; the publisher keeps its own and they meet in snapshot(). */
export class Stats {
  received: Record<string, number> = {};
  invalid = 0;
  duplicates = 0;
  missed = 0;
  listenerErrors = 0;
  reconnects = 0;
  blocks = 0;
  /** The last transport or listener error, credentials masked. */
  lastError: string | undefined;
  readonly notices: string[] = [];

  /** Starts the per-level count of every configured level at 0. */
  levels(levels: readonly string[]): void {
    for (const level of levels) this.received[level] ??= 0;
  }

  snapshot(publisher: Readonly<PublisherCounters> | undefined, buffered: number, connected: boolean): EventBusLoggerStats {
    return {
      connected,
      published: publisher?.published ?? 0,
      confirmed: publisher?.confirmed ?? 0,
      rejected: publisher?.rejected ?? 0,
      buffered,
      dropped: publisher?.dropped ?? 0,
      republished: publisher?.republished ?? 0,
      received: { ...this.received },
      invalid: this.invalid,
      duplicates: this.duplicates,
      missed: this.missed,
      listenerErrors: this.listenerErrors,
      reconnects: this.reconnects,
      blocks: this.blocks,
      lastError: this.lastError,
      notices: [...this.notices],
    };
  }
}
