// What happens when a listener throws or its promise rejects: never a crash, never silence. It is counted, emitted
// as 'error' when the logger has an 'error' listener, and otherwise the first one is a process warning. The same for
// a listener of the logger's own events ('ready', 'gap', 'disconnected', ...), and, alike, for a failure no retry
// cures (a refused login or permission) met while connecting in the background, when start() could no longer say it.
import createDebug from 'debug';
import { EventBusLoggerError, describeError } from './errors.js';
import type { Report } from './events.js';
import type { Stats } from './stats.js';

const debug = createDebug('event-bus-logger:listeners');

export class ListenerFailures {
  // Set once this logger has warned of a listener error nobody listened for: later ones are only counted.
  #warned = false;
  #refusedWarned = false;

  constructor(
    private readonly stats: Stats,
    private readonly report: Report,
    private readonly hasErrorListener: () => boolean,
  ) {}

  /**
   * A listener of `level` (or of a lifecycle event) failed: `rejected` when its promise rejected ("failed"), else it
   * threw ("threw"). An `'error'` listener's own failure is counted and warned of, never emitted as `'error'` again.
   */
  failed(level: string, error: unknown, rejected: boolean): void {
    this.stats.listenerErrors++;
    const message = `A listener of "${level}" ${rejected ? 'failed' : 'threw'}: ${describeError(error)}`;
    this.stats.lastError = message;
    if (level !== 'error' && this.hasErrorListener()) {
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

  /**
   * While connecting in the background, the broker refused this logger for good (a login, a vhost, a permission):
   * emitted as `'error'` when the logger has an `'error'` listener, else a process warning, once per logger. The
   * logger goes on trying, with the reconnect backoff: an operator may fix the broker's side.
   */
  refused(error: Error): void {
    const message = `The event bus refused this logger: ${describeError(error)}; it goes on trying, and publishes wait in the outage buffer`;
    if (this.hasErrorListener()) {
      this.report('error', error instanceof EventBusLoggerError ? error : new EventBusLoggerError('ACCESS', message, { cause: error }));
      return;
    }
    debug('%s', message);
    if (this.#refusedWarned) return;
    this.#refusedWarned = true;
    process.emitWarning(message, { type: 'EventBusLoggerWarning', code: 'EVENT_BUS_LOGGER_REFUSED' });
  }
}
