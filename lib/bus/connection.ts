// The connection to the bus: Rascal's broker and vhost. Rascal reconnects by itself (with backoff, across the
// configured URLs) and re-declares the exchange; this file turns its events into 'down', 'up', 'blocked' and
// 'unblocked', opens channels on its connection, and waits for the broker at start when asked to.
import createDebug from 'debug';
import { EventBusLoggerError, describeError } from '../errors.js';
import { TypedEventEmitter } from '../events.js';
import { createBroker, findVhost, type AmqpChannel, type AmqpConfirmChannel, type RascalBroker, type RascalVhost } from '../rascal.js';
import { Backoff } from './backoff.js';

const debug = createDebug('event-bus-logger:connection');

export type BusConnectionEvents = {
  /** The connection was lost; Rascal is reconnecting. Emitted once per outage. */
  down: (info: { reason: string }) => void;
  /** Rascal reconnected and re-declared the exchange: channels can be opened again. */
  up: () => void;
  /** The broker blocks publishing on this connection (a memory or disk alarm); `reason` is the broker's. */
  blocked: (info: { reason: string }) => void;
  /** The broker accepts publishes on this connection again. */
  unblocked: () => void;
};

/** What the logger needs of its connection; unit specs pass a stub of this. */
export interface Bus {
  readonly isUp: boolean;
  readonly url: string;
  /** The broker's reason while it blocks publishing on the connection, else undefined. */
  readonly blocked: string | undefined;
  lastError: string | undefined;
  /** The exchange's name on the broker (Rascal may prefix a namespace to the config key). */
  exchangeName(key: string): string;
  channel(): Promise<AmqpChannel>;
  confirmChannel(): Promise<AmqpConfirmChannel>;
  close(): Promise<void>;
  on<E extends keyof BusConnectionEvents>(event: E, listener: BusConnectionEvents[E]): unknown;
}

/** Opens a {@link Bus}; the logger's constructor accepts another one for unit specs. */
export type OpenBus = (config: unknown, vhost: string, loggableUrls: string[], timing: { startTimeout: number; waitForBroker: boolean }) => Promise<Bus>;

/** Rascal's broker and vhost, with the connection state the logger needs. */
export class BusConnection extends TypedEventEmitter<BusConnectionEvents> implements Bus {
  private downSince: number | undefined;
  private attempts = 0;
  private closed = false;
  blocked: string | undefined;
  lastError: string | undefined;

  /** Wraps a connected Rascal broker; {@link BusConnection.open} connects and calls this. */
  constructor(
    private readonly broker: RascalBroker,
    private readonly vhost: RascalVhost,
  ) {
    super();
    // Rascal emits 'error' for every failed connection and reconnection attempt; without a listener the
    // process would crash. These are transport troubles: they become 'down', never an application error.
    broker.on('error', (error: Error) => {
      this.lastError = describeError(error);
      debug('rascal error: %s', this.lastError);
    });
    broker.on('disconnect', () => this.onDisconnect());
    broker.on('vhost_initialised', () => this.onInitialised());
    // RabbitMQ blocks a connection that publishes while a resource alarm is on, and stops reading its socket.
    broker.on('blocked', (reason: unknown) => {
      if (this.closed) return;
      this.blocked = typeof reason === 'string' && reason !== '' ? reason : 'resource alarm';
      debug('blocked: %s', this.blocked);
      this.emit('blocked', { reason: this.blocked });
    });
    broker.on('unblocked', () => {
      if (this.closed || this.blocked === undefined) return;
      this.blocked = undefined;
      debug('unblocked');
      this.emit('unblocked');
    });
  }

  /**
   * Connects through Rascal. Rejects with code `CONNECT` and the masked URLs when the broker cannot be reached:
   * at once, or when `waitForBroker` is set, once `startTimeout` has passed.
   */
  static async open(config: unknown, vhostName: string, loggableUrls: string[], timing: { startTimeout: number; waitForBroker: boolean }): Promise<BusConnection> {
    const started = performance.now();
    const backoff = new Backoff(100, 2000);
    let delay = backoff.next();
    for (let attempt = 1; ; attempt++) {
      const remaining = timing.startTimeout - (performance.now() - started);
      let timer: NodeJS.Timeout | undefined;
      const creating = createBroker(structuredClone(config));
      try {
        const broker = await Promise.race([
          creating,
          new Promise<never>((_resolve, reject) => {
            timer = setTimeout(() => reject(new Error(`no answer within startTimeout (${timing.startTimeout} ms)`)), remaining);
          }),
        ]);
        return new BusConnection(broker, findVhost(broker, vhostName));
      } catch (error) {
        // A broker created after the deadline must still be closed.
        creating.then((late) => late.shutdown()).catch(() => undefined);
        const elapsed = performance.now() - started;
        const reason = describeError(error);
        debug('connect attempt %d failed: %s', attempt, reason);
        if (!timing.waitForBroker || elapsed + delay >= timing.startTimeout) {
          throw new EventBusLoggerError('CONNECT', `Cannot connect to the event bus at ${loggableUrls.join(', ')} (${attempt} attempt${attempt > 1 ? 's' : ''} in ${Math.round(elapsed)} ms): ${reason}`);
        }
      } finally {
        clearTimeout(timer);
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = backoff.next();
    }
  }

  /** True while the connection is up. */
  get isUp(): boolean {
    return this.downSince === undefined && !this.closed;
  }

  /** The broker URL in use, password masked. */
  get url(): string {
    return this.vhost.getConnectionDetails().connectionUrl;
  }

  exchangeName(key: string): string {
    return this.broker.config.vhosts[this.vhost.name]?.exchanges[key]?.fullyQualifiedName ?? key;
  }

  /** A new regular channel on Rascal's connection. Waits while Rascal is reconnecting. */
  channel(): Promise<AmqpChannel> {
    return new Promise((resolve, reject) => {
      this.vhost.getChannel((error, channel) => (error || !channel ? reject(error ?? new Error('the connection is shutting down')) : resolve(channel)));
    });
  }

  /** A new confirm channel on Rascal's connection. */
  confirmChannel(): Promise<AmqpConfirmChannel> {
    return new Promise((resolve, reject) => {
      this.vhost.getConfirmChannel((error, channel) => (error || !channel ? reject(error ?? new Error('the connection is shutting down')) : resolve(channel)));
    });
  }

  /** Closes the connection; Rascal stops reconnecting. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.broker.shutdown();
    } catch (error) {
      debug('shutdown: %s', describeError(error));
    }
    this.broker.removeAllListeners();
  }

  private onDisconnect(): void {
    if (this.closed) return;
    this.attempts++;
    // A block belongs to the connection: it ends with it.
    this.blocked = undefined;
    if (this.downSince !== undefined) return;
    // An error from before this loss is not its reason. Rascal emits 'disconnect' just before the 'error' that
    // says why: let that error land first, so the reason names it.
    this.lastError = undefined;
    this.downSince = performance.now();
    setImmediate(() => {
      const reason = this.lastError ?? 'connection closed';
      debug('down: %s', reason);
      this.emit('down', { reason });
    });
  }

  private onInitialised(): void {
    if (this.closed || this.downSince === undefined) return;
    const downtime = Math.round(performance.now() - this.downSince);
    const attempts = this.attempts;
    this.downSince = undefined;
    this.attempts = 0;
    debug('up after %d ms, %d attempts', downtime, attempts);
    this.emit('up');
  }
}
