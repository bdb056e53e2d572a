// The duplicate check by publisher and sequence: tells a new event from a duplicate (already delivered, e.g. re-sent
// after a lost confirm), counts the events a jump skipped, and lets through, once, an event that comes after later
// ones (a retry after a nack, or a re-send at a later offset of a history stream). Bounded: beyond `capacity`
// publisher-level pairs it forgets the one heard from least recently (a Map keeps insertion order; each event
// re-inserts its key).
import { REORDER_SPAN } from '../wire-format.js';

/**
 * What became of one event: deliver it (`next`; `gap`: `missed` events before it have not come; `late`: a new event
 * below the highest, which may have been counted in an earlier gap), or drop it as a `duplicate`.
 */
export type SequenceCheck = { kind: 'next' } | { kind: 'gap'; expected: number; missed: number } | { kind: 'late' } | { kind: 'duplicate' };

// The results without fields are shared: they are returned for every event.
const NEXT: SequenceCheck = Object.freeze({ kind: 'next' });
const LATE: SequenceCheck = Object.freeze({ kind: 'late' });
const DUPLICATE: SequenceCheck = Object.freeze({ kind: 'duplicate' });

/** How many publisher-level pairs a live listener remembers by default. */
export const MAX_TRACKED_PUBLISHERS = 10_000;

/**
 * How many sequence numbers below the highest a history reader remembers per publisher and level (the default
 * window): a publisher re-sends after a lost connection at a later offset, behind whatever others wrote meanwhile.
 */
export const SEQUENCE_WINDOW = 16_384;

interface Pair {
  highest: number;
  /** A bitmap of the `window` numbers up to the highest: set for those seen. */
  seen: Uint8Array;
}

/**
 * The recent sequence numbers seen per publisher and level, not only the highest. Each pair keeps a bitmap of the
 * `window` numbers below its highest; anything older than that is taken for a duplicate. The defaults are a history
 * reader's (few pairs, a wide window); a live listener's is {@link liveSequence}.
 */
export class SequenceWindow {
  readonly #pairs = new Map<string, Pair>();
  // The pair of the last check and its key; #newest: the key set last (the end of #pairs' order).
  #lastPublisher: string | undefined;
  #lastLevel: string | undefined;
  #lastKey = '';
  #newest: string | undefined;

  constructor(
    private readonly capacity = 2_000,
    private readonly window = SEQUENCE_WINDOW,
  ) {
    if (window % 8 !== 0 || window < 8) throw new RangeError(`Expected a window that is a multiple of 8, got ${window}`);
  }

  /** How many publisher-level pairs are remembered. */
  get size(): number {
    return this.#pairs.size;
  }

  /** Forgets every pair: after a retention gap, the events it deleted would each count again as a sequence gap. */
  clear(): void {
    this.#pairs.clear();
    this.#newest = undefined;
  }

  check(publisher: string, level: string, seq: number): SequenceCheck {
    // This runs for every event, and most come from the pair of the event before: its key is reused, and a pair
    // that is already the most recently heard is updated in place rather than moved to the end.
    if (publisher !== this.#lastPublisher || level !== this.#lastLevel) {
      this.#lastPublisher = publisher;
      this.#lastLevel = level;
      this.#lastKey = `${publisher}\u0000${level}`;
    }
    const key = this.#lastKey;
    let pair = this.#pairs.get(key);
    if (pair === undefined) {
      if (this.#pairs.size >= this.capacity) this.#pairs.delete(this.#pairs.keys().next().value as string);
      pair = { highest: seq, seen: new Uint8Array(this.window >> 3) };
      this.#pairs.set(key, pair);
      this.#newest = key;
      this.#mark(pair.seen, seq);
      return NEXT;
    }
    if (key !== this.#newest) {
      this.#pairs.delete(key);
      this.#pairs.set(key, pair);
      this.#newest = key;
    }
    const { highest, seen } = pair;
    if (seq > highest) {
      // Clear the bits of the numbers skipped over: they are new ground for the window.
      for (let n = Math.max(highest + 1, seq - this.window + 1); n < seq; n++) this.#clear(seen, n);
      this.#mark(seen, seq);
      pair.highest = seq;
      return seq === highest + 1 ? NEXT : { kind: 'gap', expected: highest + 1, missed: seq - highest - 1 };
    }
    if (seq <= highest - this.window || this.#has(seen, seq)) return DUPLICATE;
    this.#mark(seen, seq);
    return LATE;
  }

  #mark(seen: Uint8Array, seq: number): void {
    const index = seq % this.window;
    seen[index >> 3] = (seen[index >> 3] as number) | (1 << (index & 7));
  }

  #clear(seen: Uint8Array, seq: number): void {
    const index = seq % this.window;
    seen[index >> 3] = (seen[index >> 3] as number) & ~(1 << (index & 7));
  }

  #has(seen: Uint8Array, seq: number): boolean {
    const index = seq % this.window;
    return ((seen[index >> 3] as number) & (1 << (index & 7))) !== 0;
  }
}

/**
 * A live listener's check: many pairs, each with a window of {@link REORDER_SPAN} numbers, as far as a publisher's
 * events may overtake each other on the wire (a nacked event retried after later ones went out).
 */
export function liveSequence(capacity = MAX_TRACKED_PUBLISHERS): SequenceWindow {
  return new SequenceWindow(capacity, REORDER_SPAN);
}
