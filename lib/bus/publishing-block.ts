// The broker's block of publishing (a resource alarm: `connection.blocked`). While it lasts, the publisher holds its
// events; 'blocked' and then 'unblocked' (with how long it lasted) are reported. A block belongs to its connection:
// when that goes, the next one starts unblocked.
import type { Report } from '../events.js';
import type { Stats } from '../stats.js';

export interface BlockParts {
  publisher: { hold(reason: string): void; release(): void };
  stats: Stats;
  report: Report;
}

export class PublishingBlock {
  readonly #parts: BlockParts;
  #since: number | undefined; // since when the broker blocks publishing, while it does

  constructor(parts: BlockParts) {
    this.#parts = parts;
  }

  /** The broker blocks publishing: the publisher holds, counted and reported. */
  blocked(reason: string): void {
    const { publisher, stats, report } = this.#parts;
    publisher.hold(reason);
    this.#since ??= performance.now();
    stats.blocks++;
    stats.lastError = `the broker blocks publishing: ${reason}`;
    report('blocked', { reason });
  }

  /** The broker lifted its block: the publisher goes on; reported (with its length) when `report` and it was said. */
  unblocked(report: boolean): void {
    const since = this.#since;
    this.#since = undefined;
    this.#parts.publisher.release();
    if (since !== undefined && report) this.#parts.report('unblocked', { duration: Math.round(performance.now() - since) });
  }

  /** The connection went: the next one starts unblocked, and nothing is reported. */
  connectionLost(): void {
    this.#parts.publisher.release();
    this.#since = undefined;
  }
}
