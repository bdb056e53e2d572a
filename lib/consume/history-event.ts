// What `history()` hands out: its events, and the reader that says how far it is.
import type { EventData, EventMeta } from '../wire-format.js';

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
