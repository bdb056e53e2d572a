// The last sequence number seen per publisher and level: tells a new event from a duplicate (already delivered, e.g.
// re-sent after a lost confirm) and counts the events a jump skipped. Bounded: beyond `capacity` publisher-level
// pairs it forgets the one heard from least recently (a Map keeps insertion order; each event re-inserts its key).

/** What became of one event: deliver it (`missed` events before it never came), or drop it as a duplicate. */
export type SequenceCheck = { kind: 'next' } | { kind: 'gap'; expected: number; missed: number } | { kind: 'duplicate' };

/** How many publisher-level pairs a listener remembers by default. */
export const MAX_TRACKED_PUBLISHERS = 10_000;

export class SequenceTracker {
  readonly #lastSeen = new Map<string, number>();

  constructor(private readonly capacity = MAX_TRACKED_PUBLISHERS) {}

  /** How many publisher-level pairs are remembered. */
  get size(): number {
    return this.#lastSeen.size;
  }

  check(publisher: string, level: string, seq: number): SequenceCheck {
    const key = `${publisher}\u0000${level}`;
    const last = this.#lastSeen.get(key);
    if (last !== undefined && seq <= last) return { kind: 'duplicate' };
    if (last !== undefined) this.#lastSeen.delete(key);
    else if (this.#lastSeen.size >= this.capacity) this.#lastSeen.delete(this.#lastSeen.keys().next().value as string);
    this.#lastSeen.set(key, seq);
    if (last !== undefined && seq > last + 1) return { kind: 'gap', expected: last + 1, missed: seq - last - 1 };
    return { kind: 'next' };
  }
}
