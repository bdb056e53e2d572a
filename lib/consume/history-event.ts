// What `history()` hands out: its events, and the reader that says how far it is; and what a read is made of.
import type { Bus } from '../bus/connection.js';
import type { StreamStart } from '../since.js';
import type { EventData, EventMeta, LevelSet } from '../wire-format.js';

/** One event of `history()`. */
export interface HistoryEvent<L extends string = string> {
  level: L;
  data: EventData;
  meta: EventMeta<L>;
}

/** How far a read is: {@link HistoryReader.progress}. */
export interface HistoryProgress {
  /** The offset of the last record read (scanned), once one was. */
  offset: number | undefined;
  /** The offset the read ends at (the stream's last when it began, or `until`), once known. */
  end: number | undefined;
  /** Records read so far within the range (skipped ones included: other levels, not matching the search). */
  scanned: number;
  /** Events handed out so far. */
  matched: number;
}

/** What `history()` returns: the events, one by one, and how far the read is. */
export interface HistoryReader<L extends string = string> extends AsyncIterableIterator<HistoryEvent<L>> {
  /** How far the read is (for a progress line): the last offset read, where it ends, scanned and matched. */
  readonly progress: HistoryProgress;
}

/** What a read needs of the connection: channels, and whether it is up. */
export type HistoryBus = Pick<Bus, 'channel'> & { readonly isUp?: boolean };

export interface HistoryReadParts {
  bus: HistoryBus;
  stream: string;
  since: StreamStart;
  /** An upper bound: an offset (inclusive) or a time (events stamped after it are skipped). */
  until: StreamStart | undefined;
  /** Every configured level: a record with another routing key is skipped. */
  levels: LevelSet;
  /** The levels asked for. */
  wanted: LevelSet;
  test?: ((event: HistoryEvent) => boolean) | undefined; // a search (`where`, `grep`): the events it rejects are skipped
  maxMessageBytes: number;
  prefetch: number;
  /** How long a read cut by a lost connection waits for it to come back; 0: it throws at once. */
  resumeTimeout: number;
  /** True once the logger is stopping: a cut read then ends at once with STOPPED. */
  stopping: () => boolean;
}
