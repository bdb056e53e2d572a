// The last sequence number seen per publisher and level: tells a new event from a duplicate (already delivered, e.g.
// re-sent after a lost confirm) and counts the events a jump skipped. Bounded: beyond `capacity` publisher-level
// pairs it forgets the one heard from least recently (a Map keeps insertion order; each event re-inserts its key).

/** What became of one event: deliver it (`missed` events before it never came), or drop it as a duplicate. */
export type SequenceCheck = { kind: 'next' } | { kind: 'gap'; expected: number; missed: number } | { kind: 'duplicate' };

// The results without fields are shared: they are returned for every event.
const NEXT: SequenceCheck = Object.freeze({ kind: 'next' });
const DUPLICATE: SequenceCheck = Object.freeze({ kind: 'duplicate' });

/** How many publisher-level pairs a listener remembers by default. */
export const MAX_TRACKED_PUBLISHERS = 10_000;

export class SequenceTracker {
  readonly #lastSeen = new Map<string, number>();
  // The pair of the last check and its key; the key set last (the end of #lastSeen's order).
  #lastPublisher: string | undefined;
  #lastLevel: string | undefined;
  #lastKey = '';
  #newest: string | undefined;

  constructor(private readonly capacity = MAX_TRACKED_PUBLISHERS) {}

  /** How many publisher-level pairs are remembered. */
  get size(): number {
    return this.#lastSeen.size;
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
    const last = this.#lastSeen.get(key);
    if (last !== undefined && seq <= last) return DUPLICATE;
    if (last !== undefined) {
      if (key !== this.#newest) this.#lastSeen.delete(key);
    } else if (this.#lastSeen.size >= this.capacity) this.#lastSeen.delete(this.#lastSeen.keys().next().value as string);
    this.#lastSeen.set(key, seq);
    this.#newest = key;
    if (last !== undefined && seq > last + 1) return { kind: 'gap', expected: last + 1, missed: seq - last - 1 };
    return NEXT;
  }
}

/** What became of one event in a {@link SequenceWindow}: as in {@link SequenceCheck}, or `late`: a new event below the highest. */
export type WindowCheck = SequenceCheck | { kind: 'late' };

/** How many sequence numbers below the highest a {@link SequenceWindow} remembers per publisher and level. */
export const SEQUENCE_WINDOW = 16_384;

/**
 * The recent sequence numbers seen per publisher and level, not only the highest: a history reader's duplicate
 * check. A publisher that re-sends after a lost confirm writes the event again at a later offset of the stream; the
 * first copy may be there too (a duplicate, dropped) or may never have reached the stream (then the copy is the
 * only one: delivered late, never dropped). Each pair keeps a bitmap of the `window` numbers below its highest;
 * anything older than that is taken for a duplicate. Bounded like {@link SequenceTracker}: least recently heard
 * pairs are forgotten beyond `capacity`.
 */
export class SequenceWindow {
  readonly #pairs = new Map<string, { highest: number; seen: Uint8Array }>();

  constructor(
    private readonly capacity = 2_000,
    private readonly window = SEQUENCE_WINDOW,
  ) {}

  get size(): number {
    return this.#pairs.size;
  }

  /** Forgets every pair: after a retention gap, the events it deleted would each count again as a sequence gap. */
  clear(): void {
    this.#pairs.clear();
  }

  check(publisher: string, level: string, seq: number): WindowCheck {
    const key = `${publisher}\u0000${level}`;
    const pair = this.#pairs.get(key);
    if (pair === undefined) {
      if (this.#pairs.size >= this.capacity) this.#pairs.delete(this.#pairs.keys().next().value as string);
      const seen = new Uint8Array(this.window >> 3);
      this.#pairs.set(key, { highest: seq, seen });
      this.#mark(seen, seq);
      return { kind: 'next' };
    }
    this.#pairs.delete(key);
    this.#pairs.set(key, pair);
    if (seq > pair.highest) {
      // Clear the bits of the numbers skipped over: they are new ground for the window.
      const from = Math.max(pair.highest + 1, seq - this.window + 1);
      for (let n = from; n < seq; n++) this.#clear(pair.seen, n);
      this.#mark(pair.seen, seq);
      const expected = pair.highest + 1;
      pair.highest = seq;
      return seq > expected ? { kind: 'gap', expected, missed: seq - expected } : { kind: 'next' };
    }
    if (seq <= pair.highest - this.window || this.#has(pair.seen, seq)) return { kind: 'duplicate' };
    this.#mark(pair.seen, seq);
    return { kind: 'late' };
  }

  #bit(seq: number): [number, number] {
    const index = seq % this.window;
    return [index >> 3, 1 << (index & 7)];
  }

  #mark(seen: Uint8Array, seq: number): void {
    const [byte, mask] = this.#bit(seq);
    seen[byte] = (seen[byte] as number) | mask;
  }

  #clear(seen: Uint8Array, seq: number): void {
    const [byte, mask] = this.#bit(seq);
    seen[byte] = (seen[byte] as number) & ~mask;
  }

  #has(seen: Uint8Array, seq: number): boolean {
    const [byte, mask] = this.#bit(seq);
    return ((seen[byte] as number) & mask) !== 0;
  }
}
