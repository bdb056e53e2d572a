// What happens when a listener throws or its promise rejects: never a crash, never silence. It is counted, emitted
// as 'error' when the logger has an 'error' listener, and otherwise the first one is a process warning.
import createDebug from 'debug';
import { EventBusLoggerError, describeError } from './errors.js';
import type { Report } from './events.js';
import type { Stats } from './stats.js';

const debug = createDebug('event-bus-logger:listeners');

export class ListenerFailures {
  // Set once this logger has warned of a listener error nobody listened for: later ones are only counted.
  #warned = false;

  constructor(
    private readonly stats: Stats,
    private readonly report: Report,
    private readonly hasErrorListener: () => boolean,
  ) {}

  /** A listener of `level` failed: `rejected` when its promise rejected ("failed"), else it threw ("threw"). */
  failed(level: string, error: unknown, rejected: boolean): void {
    this.stats.listenerErrors++;
    const message = `A listener of "${level}" ${rejected ? 'failed' : 'threw'}: ${describeError(error)}`;
    this.stats.lastError = message;
    if (this.hasErrorListener()) {
      this.report('error', new EventBusLoggerError('LISTENER', message, { cause: error }));
      return;
    }
    debug('%s', message);
    // The first one is a process warning (printed on standard error by default).
    if (!this.#warned) {
      this.#warned = true;
      process.emitWarning(`${message}. Later listener errors of this logger are counted in stats().listenerErrors, and emitted as 'error' when the logger has an 'error' listener.`, {
        type: 'EventBusLoggerWarning',
        code: 'EVENT_BUS_LOGGER_LISTENER',
      });
    }
  }
}
