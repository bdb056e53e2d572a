// The gate that keeps publishes behind the binds listeners asked for: after `on('info', fn)` the live queue is
// bound a round trip later, and an `info` published meanwhile would reach the exchange before the binding and miss
// `fn`. So while a bind is in flight, publishes wait for it, in their order, then go out as usual. One gate for the
// process: a listener added to one logger gets what another logger of the same process publishes after `on()`
// returned. The wait is bounded (a broker that stopped answering does not hold publishes for longer than the
// binding logger's `publishTimeout`): past it the publish goes out, and only the new listener may miss it.
import { settleWithin } from '../deadline.js';
import { noop } from '../noop.js';

export class BindGate {
  // While set, publishes wait for it. Each hold makes a new gate that opens after the previous one.
  #gate: Promise<void> | undefined;

  /** True while a bind is in flight: publish through {@link after}. */
  get holding(): boolean {
    return this.#gate !== undefined;
  }

  /** Holds publishes until `binding` settles (or `limit` ms pass), after the binds held for already. */
  hold(binding: Promise<void>, limit: number): void {
    const gate = Promise.all([this.#gate, settleWithin(binding, limit)]).then(noop);
    this.#gate = gate;
    // Registered before any publish waits on this gate: it clears the gate before the first of them is sent, and
    // every later publish is made after all of them were sent, so the order holds.
    void gate.then(() => {
      if (this.#gate === gate) this.#gate = undefined;
    });
  }

  /** Sends once the gate opens; the promise is marked handled (the caller who awaits still sees a rejection). */
  after(send: () => Promise<void>): Promise<void> {
    const sent = (this.#gate ?? Promise.resolve()).then(send);
    sent.catch(noop);
    return sent;
  }
}

/** The gate every logger of this process publishes through. */
export const processBindGate = new BindGate();
