// What every bridge into the bus shares (the pino transport, the CLI's `publish` from standard input, and the
// bridges to come): publishing a stream of events with a bounded number awaiting their confirm, each failure handed
// to the bridge, and a way to wait until every event sent so far is confirmed or failed.
import { describeError } from '../errors.js';
import type { EventBusLogger } from '../logger.js';
import type { EventData } from '../wire-format.js';

export interface ForwarderOptions<C> {
  /** At most this many events await their confirm at once. */
  maxInFlight: number;
  /** An event was not published (`context` is what the bridge passed with it, e.g. its line number). */
  onFailure: (error: unknown, context: C) => void;
  /** An event was confirmed by the broker. */
  onConfirmed?: (context: C) => void;
  /** The window was full and is half empty again: a paused source may resume. */
  onRoom?: () => void;
}

export class Forwarder<C = undefined> {
  readonly #logger: EventBusLogger<string>;
  readonly #options: ForwarderOptions<C>;
  readonly #pending = new Set<Promise<void>>();
  readonly #lowWater: number;
  #full = false;

  constructor(logger: EventBusLogger<string>, options: ForwarderOptions<C>) {
    if (!Number.isInteger(options.maxInFlight) || options.maxInFlight < 1) {
      throw new RangeError(`Expected \`maxInFlight\` to be an integer from 1 and up, got ${String(options.maxInFlight)}`);
    }
    this.#logger = logger;
    this.#options = options;
    this.#lowWater = Math.floor(options.maxInFlight / 2);
  }

  /** Events awaiting their confirm. */
  get inFlight(): number {
    return this.#pending.size;
  }

  /** Publishes one event. Returns false when the window is now full: pause the source until `onRoom` or {@link room}. */
  forward(level: string, data: EventData, context: C): boolean {
    const settled = (): void => {
      this.#pending.delete(published);
      if (this.#full && this.#pending.size <= this.#lowWater) {
        this.#full = false;
        this.#options.onRoom?.();
      }
    };
    const onConfirmed = this.#options.onConfirmed;
    const published: Promise<void> = this.#logger.publish(level, data).then(
      onConfirmed === undefined
        ? settled
        : () => {
            settled();
            onConfirmed(context);
          },
      (error: unknown) => {
        settled();
        this.#options.onFailure(error, context);
      },
    );
    this.#pending.add(published);
    if (this.#pending.size >= this.#options.maxInFlight) this.#full = true;
    return !this.#full;
  }

  /** Resolves once the window has room for another event. */
  async room(): Promise<void> {
    while (this.#pending.size >= this.#options.maxInFlight) await Promise.race(this.#pending);
  }

  /** Resolves once every event forwarded so far is confirmed or failed. */
  async drained(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }
}

/**
 * Reports publish failures on standard error as `<prefix>: a log record was not published: <reason>`, at most one
 * line every 5 s (the others are counted into the next line), so an outage does not flood it. `summary()` prints
 * the count still untold.
 */
export function failureReporter(prefix: string): { report: (error: unknown) => void; summary: () => void } {
  let suppressed = 0;
  let last = 0;
  const write = (text: string): void => void process.stderr.write(`${prefix}: ${text}\n`);
  return {
    report(error) {
      const now = Date.now();
      if (now - last < 5000) {
        suppressed++;
        return;
      }
      last = now;
      write(`a log record was not published: ${describeError(error)}${suppressed > 0 ? ` (and ${suppressed} more before it)` : ''}`);
      suppressed = 0;
    },
    summary() {
      if (suppressed > 0) write(`${suppressed} more log record(s) were not published`);
      suppressed = 0;
    },
  };
}
