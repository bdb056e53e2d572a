// What the bus's history stream holds, for `event-bus-logger history-info` and `logger.historyInfo()`: its first
// and last offsets and when they were published (a probe at each end), and the retention its config declares.
import { configError } from '../errors.js';
import { HOW_TO_TURN_HISTORY_ON, type Topology } from '../topology.js';
import { probeStream, type StreamEnds } from './stream.js';
import type { Bus } from '../bus/connection.js';

/** One end of the history stream. */
export interface StreamEnd {
  offset: number;
  /** When the event there was published; undefined for a record without a timestamp (another client's). */
  time: Date | undefined;
}

/** What `historyInfo()` tells: how far back `since` can go. */
export interface HistoryInfo {
  /** The stream's name on the broker, `<exchange>.history`. */
  stream: string;
  /** Its first record (the oldest retention kept); undefined when the stream is empty. */
  first: StreamEnd | undefined;
  /** Its last record; undefined when the stream is empty. */
  last: StreamEnd | undefined;
  /** Retention as the config declares it (a policy on the broker overrides it): `x-max-age` (e.g. "7D"), `x-max-length-bytes`, `x-stream-max-segment-size-bytes`. */
  retention: { maxAge: string | undefined; maxBytes: number | undefined; maxSegmentBytes: number | undefined };
}

const time = (ms: number | undefined): Date | undefined => (ms === undefined ? undefined : new Date(ms));

/** Probes the bus's history stream. Rejects with `CONFIG` when the config declares no history. */
export async function readHistoryInfo(bus: Pick<Bus, 'channel'>, topology: Topology, answerWait: number): Promise<HistoryInfo> {
  const history = topology.history;
  if (!history) throw configError(`historyInfo() needs a history stream, and the config of bus "${topology.exchange}" declares none; ${HOW_TO_TURN_HISTORY_ON}`);
  const ends: StreamEnds | undefined = await probeStream(bus, history.stream, { answerWait });
  const args = (history.options.arguments ?? {}) as Record<string, unknown>;
  const number = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);
  return {
    stream: history.stream,
    first: ends && { offset: ends.first, time: time(ends.firstPublishedAt) },
    last: ends && { offset: ends.last, time: time(ends.lastPublishedAt) },
    retention: {
      maxAge: typeof args['x-max-age'] === 'string' ? args['x-max-age'] : undefined,
      maxBytes: number(args['x-max-length-bytes']),
      maxSegmentBytes: number(args['x-stream-max-segment-size-bytes']),
    },
  };
}
