// The progress line of a long read (`tail --since ... --no-follow` on a terminal): on standard error, redrawn in
// place a few times a second (carriage return, erase line), cleared at the end and whenever tail prints an event
// line to the same terminal. Never drawn when standard error is not a terminal (a pipe, a file).
import type { HistoryProgress } from '../index.js';

/** Erases the terminal's current line and returns to its start. */
export const ERASE_LINE = '\r\u001b[2K';
/** How often the line is redrawn, in milliseconds. */
export const REDRAW_EVERY = 250;

export interface ProgressTerminal {
  isTTY?: boolean | undefined;
  columns?: number | undefined;
  write(text: string): unknown;
}

const count = (n: number): string => n.toLocaleString('en-US');

function duration(seconds: number): string {
  if (seconds < 60) return `${Math.ceil(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

/** The text of the line: how far, scanned, matched, the rate, and the time left once the end is known. */
export function progressText(progress: HistoryProgress, elapsedMs: number, firstOffset: number | undefined): string {
  const { offset, end, scanned, matched } = progress;
  const parts = [offset === undefined ? 'reading' : `offset ${count(offset)}${end === undefined ? '' : ` of ${count(end)}`}`, `scanned ${count(scanned)}`, `matched ${count(matched)}`];
  const seconds = elapsedMs / 1000;
  if (seconds > 0 && scanned > 0) parts.push(`${count(Math.round(scanned / seconds))} events/s`);
  // Offsets go on at the pace they went so far (records before a `since` time are read but not counted as scanned).
  if (offset !== undefined && end !== undefined && firstOffset !== undefined && offset > firstOffset && seconds > 0) {
    parts.push(`${duration(Math.max(0, end - offset) / ((offset - firstOffset) / seconds))} left`);
  }
  return parts.join(' · ');
}

/** Draws the progress of a read on a terminal; does nothing at all on anything else. */
export class ProgressLine {
  readonly #terminal: ProgressTerminal;
  readonly #read: () => HistoryProgress;
  readonly #now: () => number;
  readonly #started: number;
  #timer: NodeJS.Timeout | undefined;
  #shown = false;
  #firstOffset: number | undefined;

  constructor(terminal: ProgressTerminal, read: () => HistoryProgress, now: () => number = () => performance.now()) {
    this.#terminal = terminal;
    this.#read = read;
    this.#now = now;
    this.#started = now();
  }

  get enabled(): boolean {
    return this.#terminal.isTTY === true;
  }

  /** Draws the line now, then every {@link REDRAW_EVERY} ms until {@link stop}. */
  start(): this {
    if (!this.enabled || this.#timer) return this;
    this.draw();
    this.#timer = setInterval(() => this.draw(), REDRAW_EVERY).unref();
    return this;
  }

  /** Redraws the line in place, cut to the terminal's width. */
  draw(): void {
    if (!this.enabled) return;
    const progress = this.#read();
    if (progress.offset !== undefined) this.#firstOffset ??= progress.offset;
    const text = progressText(progress, this.#now() - this.#started, this.#firstOffset);
    // A pseudo-terminal without a size says 0 columns.
    const width = Math.max(20, (this.#terminal.columns || 80) - 1);
    this.#terminal.write(`${ERASE_LINE}${text.length > width ? `${text.slice(0, width - 1)}\u2026` : text}`);
    this.#shown = true;
  }

  /** Erases the line (before something else is written to the terminal); the next redraw brings it back. */
  clear(): void {
    if (!this.#shown) return;
    this.#terminal.write(ERASE_LINE);
    this.#shown = false;
  }

  /** Stops redrawing and erases the line. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.clear();
  }
}
