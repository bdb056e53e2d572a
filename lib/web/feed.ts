// The live feed of `event-bus-logger web`: every event (and every notice: connection state, gaps, invalid messages)
// becomes one Server-Sent Events frame, written to each browser connected and kept in a bounded backlog that a page
// opening gets first. Bounded everywhere: the backlog by count and bytes, an event's data by size (a larger one
// goes out as a preview), and each browser by the bytes its socket has not taken yet: past that, the frames meant
// for it are dropped and counted, and it is told how many once it has caught up.
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { TailRecord } from '../bridges/event-record.js';

export interface FeedOptions {
  /** Events a page gets when it opens. @default 1000 */
  backlogEvents?: number;
  /** ... and at most this many bytes of them. @default 4 MiB */
  backlogBytes?: number;
  /** Bytes a browser may have waiting in its socket before its frames are dropped. @default 1 MiB */
  clientBufferBytes?: number;
  /** An event whose data is larger than this (as JSON) goes out as a preview of this size. @default 16 KiB */
  maxDataBytes?: number;
}

/** An event whose data is larger than this (as JSON) goes to a browser as a preview of this size: the feed's default, the search's bound. */
export const MAX_DATA_BYTES = 16 * 1024;

const DEFAULT_FEED = { backlogEvents: 1000, backlogBytes: 4 * 1024 * 1024, clientBufferBytes: 1024 * 1024, maxDataBytes: MAX_DATA_BYTES };

/** The seconds the chart of events per second covers. */
export const CHART_SECONDS = 300;

/** The replay of the history a server started with (`web --since`): where from, how many so far, whether done. */
export interface Replay {
  since: string;
  replayed: number;
  done: boolean;
}

/** A notice the page shows beside the events: the connection's state, a gap, an invalid message. */
export interface Notice {
  kind: 'connected' | 'disconnected' | 'gap' | 'invalid' | 'blocked' | 'unblocked';
  text: string;
}

interface Client {
  response: ServerResponse;
  dropped: number;
  untold: number;
}

interface Frame {
  seq: number;
  text: string;
}

/** What the page gets on the wire for an event: the record, with `data` cut to a preview when too large. */
export interface WireRecord extends Omit<TailRecord, 'data'> {
  data: TailRecord['data'] | null;
  /** Set when `data` was too large: its size as JSON, and its first bytes. */
  truncated?: { bytes: number; preview: string };
}

/** The record as it goes to a browser: `data` cut to a preview of `maxDataBytes` when its JSON is longer. */
export function wireRecord(record: TailRecord, maxDataBytes: number = MAX_DATA_BYTES): WireRecord {
  const json = JSON.stringify(record.data);
  if (json.length <= maxDataBytes) return record;
  return { ...record, data: null, truncated: { bytes: Buffer.byteLength(json), preview: json.slice(0, maxDataBytes) } };
}

export class Feed {
  /** Changes with each server: a page that reconnects to a new one gets its whole backlog. */
  readonly boot = randomUUID().slice(0, 8);
  readonly #options: Required<FeedOptions>;
  readonly #clients = new Set<Client>();
  readonly #backlog: Frame[] = [];
  #backlogBytes = 0;
  #seq = 0;
  readonly #counts: Record<string, number> = {};
  #invalid = 0;
  #missed = 0;
  #lastSecond = 0;
  // Events per second by their own time (the publish time), over the last CHART_SECONDS up to #chartEnd: what the
  // chart shows, replayed events included, whenever the page opened.
  #chart: number[] = new Array<number>(CHART_SECONDS).fill(0);
  #chartEnd = Math.floor(Date.now() / 1000);
  #replay: Replay | undefined;
  /** What the history stream holds (`history-info`), for the page's header; sent with the hello and each tick. */
  historyInfo: object | undefined;
  #timer: NodeJS.Timeout | undefined;
  #hello: () => object;

  constructor(hello: () => object, options: FeedOptions = {}) {
    this.#options = { ...DEFAULT_FEED, ...options };
    this.#hello = hello;
    this.#timer = setInterval(() => this.#tick(), 1000);
    this.#timer.unref();
  }

  /** Browsers connected now. */
  get clients(): number {
    return this.#clients.size;
  }

  /** One event received from the bus; `replayed` when it comes from the replay of the history. */
  event(record: TailRecord, { replayed = false }: { replayed?: boolean } = {}): void {
    this.#counts[record.level] = (this.#counts[record.level] ?? 0) + 1;
    this.#lastSecond++;
    if (replayed && this.#replay) this.#replay.replayed++;
    this.#chartAdd(Date.parse(record.time));
    this.#publish('event', this.#wire(record));
  }

  /** The replay of the history from `since` begins: its events come through event(…, { replayed: true }). */
  replayStarted(since: string): void {
    this.#replay = { since, replayed: 0, done: false };
  }

  /** The replay is over: live events follow. */
  replayEnded(): void {
    if (this.#replay) this.#replay.done = true;
    this.#tick(false);
  }

  /** The replay, once one began. */
  get replay(): Replay | undefined {
    return this.#replay && { ...this.#replay };
  }

  /** Events per second over the last CHART_SECONDS, oldest first, the last one the current second. */
  chart(now = Date.now()): number[] {
    this.#chartAdvance(Math.floor(now / 1000));
    return [...this.#chart];
  }

  #chartAdvance(second: number): void {
    const shift = second - this.#chartEnd;
    if (shift <= 0) return;
    this.#chart = shift >= CHART_SECONDS ? new Array<number>(CHART_SECONDS).fill(0) : [...this.#chart.slice(shift), ...new Array<number>(shift).fill(0)];
    this.#chartEnd = second;
  }

  // An event counts in the second of its own time; one stamped ahead of this clock, in the current second.
  #chartAdd(time: number): void {
    this.#chartAdvance(Math.floor(Date.now() / 1000));
    if (!Number.isFinite(time)) return;
    const index = CHART_SECONDS - 1 - Math.max(0, this.#chartEnd - Math.floor(time / 1000));
    if (index >= 0) this.#chart[index] = (this.#chart[index] as number) + 1;
  }

  /** One notice (kept in the backlog too, so a page that opens sees the latest ones). */
  notice(notice: Notice): void {
    if (notice.kind === 'invalid') this.#invalid++;
    this.#publish('notice', { ...notice, time: new Date().toISOString() });
  }

  /** A gap: `missed` events never reached this server. */
  gap(missed: number, text: string): void {
    this.#missed += missed;
    this.notice({ kind: 'gap', text });
  }

  /** Adds a browser: the hello, the backlog after `lastEventId` (all of it for a new page), then the live frames. */
  connect(response: ServerResponse, lastEventId: string | undefined): void {
    const client: Client = { response, dropped: 0, untold: 0 };
    response.write(`retry: 1000\n\n`);
    response.write(frame(undefined, 'hello', { boot: this.boot, ...this.#hello(), backlogEvents: this.#options.backlogEvents, replay: this.#replay, chart: this.chart(), history: this.historyInfo }));
    const [boot, seq] = (lastEventId ?? '').split('.');
    const after = boot === this.boot && seq !== undefined ? Number(seq) : -1;
    for (const { seq: n, text } of this.#backlog) if (n > after) response.write(text);
    this.#clients.add(client);
    response.on('close', () => this.#clients.delete(client));
    response.on('drain', () => this.#tellDropped(client));
  }

  /** Ends every browser's stream (they reconnect to the next server) and stops the ticks. */
  close(): void {
    clearInterval(this.#timer);
    for (const { response } of this.#clients) response.end();
    this.#clients.clear();
  }

  #wire(record: TailRecord): WireRecord {
    return wireRecord(record, this.#options.maxDataBytes);
  }

  #publish(kind: string, payload: object): void {
    const seq = ++this.#seq;
    const text = frame(`${this.boot}.${seq}`, kind, payload);
    this.#backlog.push({ seq, text });
    this.#backlogBytes += text.length;
    while (this.#backlog.length > this.#options.backlogEvents || this.#backlogBytes > this.#options.backlogBytes) {
      this.#backlogBytes -= this.#backlog.shift()!.text.length;
    }
    for (const client of this.#clients) this.#send(client, text);
  }

  #send(client: Client, text: string): void {
    if (client.response.writableLength > this.#options.clientBufferBytes) {
      client.dropped++;
      client.untold++;
      return;
    }
    client.response.write(text);
  }

  // Once a slow browser's socket has drained, it learns how many frames it missed.
  #tellDropped(client: Client): void {
    if (client.untold === 0) return;
    const dropped = client.untold;
    client.untold = 0;
    client.response.write(frame(undefined, 'dropped', { dropped, total: client.dropped }));
  }

  // Once a second (and when the replay ends): totals per level, the rate of the last second, invalid and missed
  // counts, the chart, the replay, and for each browser how many frames the server dropped for it.
  #tick(second = true): void {
    const rate = this.#lastSecond;
    if (second) this.#lastSecond = 0;
    const chart = this.chart();
    for (const client of this.#clients) {
      this.#tellDropped(client);
      if (client.response.writableLength > this.#options.clientBufferBytes) continue;
      client.response.write(
        frame(undefined, 'tick', { time: Date.now(), rate, counts: this.#counts, invalid: this.#invalid, missed: this.#missed, dropped: client.dropped, chart, replay: this.#replay, history: this.historyInfo }),
      );
    }
  }
}

// One SSE frame. JSON.stringify escapes CR and LF, so the data is one line whatever the event holds.
function frame(id: string | undefined, event: string, payload: object): string {
  return `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(payload)}\n\n`;
}
