// The web view's search (GET /search?since=&until=&q=): reads the history with history() and a search built from
// the query (lib/search.ts: path=value terms and text), and streams what matches to the page as Server-Sent Events
// while it scans: `match` (a tail record), `progress` (offset, end, scanned, matched, rate, and the progress line
// tail draws of them) and a closing `done` (why it ended: the end, the limit) or `failed`. Bounded: at most SEARCH_LIMIT matches, each cut to a preview when
// its data is over 16 KiB as the live feed cuts it, each write waits for the socket to drain, and the read stops as
// soon as the browser leaves (the request closes: Stop, a new search, the page closed).
import createDebug from 'debug';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tailRecord } from '../bridges/event-record.js';
import { progressText } from '../cli/progress.js';
import type { HistoryOptions } from '../consume/history-options.js';
import type { HistoryReader } from '../consume/history-event.js';
import { parseQuery } from '../search.js';
import { wireRecord } from './feed.js';

const debug = createDebug('event-bus-logger:web-search');

/** Starts a read of the history; undefined when the bus has no history to search. */
export type SearchReader = (options: HistoryOptions<string>) => HistoryReader<string>;

/** The most matches one search sends: past it, the search stops and says so. */
export const SEARCH_LIMIT = 1000;
const PROGRESS_EVERY = 250;
const PROGRESS_MATCHES = 25;

function plain(response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
  response.end(text);
}

export async function serveSearch(url: URL, request: IncomingMessage, response: ServerResponse, open: SearchReader | undefined): Promise<void> {
  if (open === undefined) return plain(response, 404, 'Search reads the history: start web with a config that has history (--config rascal-with-history.json)\n');
  const since = url.searchParams.get('since') || 'start';
  const until = url.searchParams.get('until') || undefined;
  let read: HistoryReader<string>;
  try {
    read = open({ since, ...(until !== undefined ? { until } : {}), ...parseQuery(url.searchParams.get('q') ?? '') });
  } catch (error) {
    return plain(response, error instanceof TypeError ? 400 : 503, `${(error as Error).message}\n`);
  }
  response.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
  let gone = false;
  let ended = 'the end of the range';
  request.on('close', () => {
    gone = true;
    void read.return?.();
  });
  const started = performance.now();
  // Resolves once the socket has taken what was written, or the browser left; leaves no listener behind (a race of
  // two once() would leave one per stall on the request, for the whole search).
  const drained = (): Promise<void> =>
    new Promise((resolve) => {
      const done = (): void => {
        response.off('drain', done);
        request.off('close', done);
        resolve();
      };
      response.on('drain', done);
      request.on('close', done);
    });
  const send = async (event: string, data: unknown): Promise<void> => {
    if (gone) return;
    if (!response.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)) await drained();
  };
  // The figures, and the line tail draws on a terminal from them (lib/cli/progress.ts), which the page shows.
  let firstOffset: number | undefined;
  const progress = (): Record<string, unknown> => {
    const elapsed = performance.now() - started;
    const now = read.progress;
    if (now.offset !== undefined) firstOffset ??= now.offset;
    return { ...now, rate: elapsed > 0 ? Math.round(now.scanned / (elapsed / 1000)) : 0, seconds: elapsed / 1000, text: progressText(now, elapsed, firstOffset) };
  };
  let progressAt = started;
  let progressMatched = 0;
  const progressDue = (): boolean => performance.now() - progressAt >= PROGRESS_EVERY || read.progress.matched - progressMatched >= PROGRESS_MATCHES;
  const sendProgress = async (): Promise<void> => {
    progressAt = performance.now();
    progressMatched = read.progress.matched;
    await send('progress', progress());
  };
  // The progress goes out between the matches, four times a second and every PROGRESS_MATCHES matches (so a page on a
  // slow network, getting the matches long after they were written, gets the progress with them). While nothing
  // matches the loop waits inside the read, and a timer sends it, only when the socket has room: a slow browser's
  // socket gathers no queue of them.
  const timer = setInterval(() => {
    if (progressDue() && !response.writableNeedDrain) void sendProgress();
  }, PROGRESS_EVERY / 5);
  try {
    for await (const { level, data, meta } of read) {
      if (gone) break;
      await send('match', wireRecord(tailRecord(level, data, meta)));
      if (progressDue()) await sendProgress();
      if (read.progress.matched >= SEARCH_LIMIT) {
        clearInterval(timer);
        await send('progress', progress());
        await send('done', { reason: 'limit', limit: SEARCH_LIMIT });
        ended = 'the limit';
        return;
      }
    }
    clearInterval(timer);
    await send('progress', progress());
    await send('done', { reason: gone ? 'stopped' : 'end' });
  } catch (error) {
    clearInterval(timer);
    ended = `a failure: ${(error as Error).message}`;
    await send('failed', { message: (error as Error).message });
  } finally {
    clearInterval(timer);
    await read.return?.();
    response.end();
    debug('search from %s stopped reading at offset %s (%d scanned, %d matched): %s', since, read.progress.offset, read.progress.scanned, read.progress.matched, gone ? 'the browser left' : ended);
  }
}
