// Exponential backoff: the delays between tries to connect (lib/bus/connect.ts) and to reopen lost channels.

export class Backoff {
  #current = 0;

  /** Delays start at `initial` ms and double up to `max` ms. */
  constructor(
    private readonly initial: number,
    private readonly max: number,
  ) {}

  /** The delay before the next try. */
  next(): number {
    this.#current = Math.min(Math.max(this.#current * 2, this.initial), this.max);
    return this.#current;
  }

  /** A try succeeded: the next failure starts again at `initial`. */
  reset(): void {
    this.#current = 0;
  }
}
