// The connection to the bus: Rascal's broker and vhost. Rascal reconnects by itself (with backoff, across the
// configured URLs) and re-declares the exchange; this file turns its events into 'down', 'up', 'blocked' and
// 'unblocked', and opens channels on its connection. One try to connect is here; trying again is lib/bus/connect.ts.
import createDebug from 'debug';
import { CONNECTION_DROPPED, describeError } from '../errors.js';
import { checkExchangesOnly, refusedAtConnect } from './exchange.js';
import { TypedEventEmitter } from '../events.js';
import { permanentConnectError } from './connect-failures.js';
import { createBroker, findVhost, releaseKeepAlive, type AmqpChannel, type AmqpConfirmChannel, type AmqpConnection, type Callback, type RascalBroker, type RascalVhost } from '../rascal.js';
import { settleWithin, within } from '../deadline.js';
import { closeWithoutThrowing, rpcWithoutThrowing } from './amqplib-guards.js';

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
  /** The connection's latest failure (Rascal's error, or why a try to connect failed), password masked. */
  readonly lastError: string | undefined;
  /** True when the broker refused this user the exchange's declare at connect: it is only checked. */
  readonly checksExchange?: boolean;
  /** The exchange's name on the broker (Rascal may prefix a namespace to the config key). */
  exchangeName(key: string): string;
  channel(): Promise<AmqpChannel>;
  confirmChannel(): Promise<AmqpConfirmChannel>;
  /**
   * Closes the connection. When the broker has not answered within `timeout` ms (a link that stopped carrying
   * bytes), destroys the socket instead and resolves with a message saying so.
   */
  close(timeout?: number): Promise<string | void>;
  on<E extends keyof BusConnectionEvents>(event: E, listener: BusConnectionEvents[E]): unknown;
}

/**
 * One try to open a {@link Bus} (lib/bus/connect.ts decides whether and when to try again); the logger's constructor
 * accepts another one for unit specs. Rejects with an error {@link isPermanent} says is permanent, or any other for
 * a failure worth another try. When `signal` aborts, the try is abandoned (and a bus opened late closed).
 */
export type OpenBus = (config: unknown, vhost: string, loggableUrls: string[], timing: { attemptTimeout: number; signal?: AbortSignal }) => Promise<Bus>;

// Rascal hears of a lost connection a turn after amqplib does (its handler runs in a setImmediate). In between, a
// channel asked of it is opened on the dead connection, where amqplib throws inside Rascal's queue, and a shutdown
// makes that handler throw later: either is an exception nobody can catch, and the process ends (Rascal issue #18
// shows the first). Channels and the close wait out that turn first.
const rascalsTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Rascal's broker and vhost, with the connection state the logger needs: up or down, and its latest error. The outage
 * and the block, as the logger reports them, are the session's (lib/bus/session.ts).
 */
export class BusConnection extends TypedEventEmitter<BusConnectionEvents> implements Bus {
  private down = false;
  private closed = false;
  // Between 'blocked' and 'unblocked' (or the loss of the connection): an 'unblocked' comes only after a 'blocked'.
  private blocked = false;
  // The amqplib connections our channels live on: what close() destroys when the broker does not answer.
  private readonly connections = new Set<AmqpConnection>();
  lastError: string | undefined;
  checksExchange = false;

  /** Wraps a connected Rascal broker; {@link BusConnection.open} connects and calls this. */
  constructor(
    private readonly broker: RascalBroker,
    private readonly vhost: RascalVhost,
  ) {
    super();
    // Rascal emits 'error' for every failed connection and reconnection attempt; without a listener the
    // process would crash. These are transport troubles: they become 'down', never an application error.
    broker.on('error', (error: Error) => {
      this.lastError = describeError((this.checksExchange && refusedAtConnect(error, true)) || error);
      debug('rascal error: %s', this.lastError);
    });
    broker.on('disconnect', () => this.onDisconnect());
    broker.on('vhost_initialised', () => this.onInitialised());
    // RabbitMQ blocks a connection that publishes while a resource alarm is on, and stops reading its socket.
    broker.on('blocked', (reason: unknown) => {
      if (this.closed) return;
      this.blocked = true;
      const why = typeof reason === 'string' && reason !== '' ? reason : 'resource alarm';
      debug('blocked: %s', why);
      this.emit('blocked', { reason: why });
    });
    broker.on('unblocked', () => {
      if (this.closed || !this.blocked) return;
      this.blocked = false;
      debug('unblocked');
      this.emit('unblocked');
    });
  }

  /**
   * One try to connect through Rascal (lib/bus/connect.ts tries again, as the options say). Rejects with what makes
   * trying again pointless, at once: `ACCESS` for a refused login, vhost or declare, `CONNECT` marked
   * {@link isPermanent} for a certificate that fails verification; else with Rascal's error (the broker unreachable,
   * no answer within `attemptTimeout` ms). `signal` abandons the try: a broker connected after it is closed.
   */
  static async open(config: unknown, vhostName: string, loggableUrls: string[], timing: { attemptTimeout: number; signal?: AbortSignal }): Promise<BusConnection> {
    let checkOnly = false; // set once the broker refused this user the exchange's declare: Rascal then checks it
    for (;;) {
      const creating = createBroker(checkOnly ? checkExchangesOnly(config, vhostName) : structuredClone(config));
      try {
        const broker = await within(creating, timing.attemptTimeout, () => new Error(`no answer within startTimeout (${timing.attemptTimeout} ms)`), timing.signal);
        const connection = new BusConnection(broker, findVhost(broker, vhostName));
        connection.checksExchange = checkOnly;
        return connection;
      } catch (error) {
        // A broker created after the deadline (or the cancel) must still be closed.
        creating.then((late) => late.shutdown()).catch(() => undefined);
        if (timing.signal?.aborted) throw error;
        // A user who may not declare the exchange checks it exists instead; any other refusal fails at once (ACCESS).
        const refused = refusedAtConnect(error, checkOnly);
        if (refused === 'check' && !checkOnly) {
          checkOnly = true;
          continue;
        }
        if (refused && refused !== 'check') throw refused;
        throw permanentConnectError(error, loggableUrls) ?? error;
      }
    }
  }

  /** True while the connection is up. */
  get isUp(): boolean {
    return !this.down && !this.closed;
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
    return this.newChannel((done) => this.vhost.getChannel(done));
  }

  /** A new confirm channel on Rascal's connection. */
  confirmChannel(): Promise<AmqpConfirmChannel> {
    return this.newChannel((done) => this.vhost.getConfirmChannel(done));
  }

  private async newChannel<C extends AmqpChannel>(get: (done: Callback<C | undefined>) => void): Promise<C> {
    await rascalsTurn();
    return new Promise((resolve, reject) => get((error, channel) => (error || !channel ? reject(error ?? new Error('the connection is shutting down')) : resolve(this.track(channel)))));
  }

  private track<C extends AmqpChannel>(channel: C): C {
    const connection = channel.connection;
    if (connection && !this.connections.has(connection)) {
      this.connections.add(connection);
      connection.once('close', () => this.connections.delete(connection));
      closeWithoutThrowing(connection);
      rpcWithoutThrowing(channel);
    }
    return channel;
  }

  /**
   * Closes the connection; Rascal stops reconnecting. Idempotent. Rascal's shutdown waits for the broker's
   * CloseOk, which never comes over a link that stopped carrying bytes; after `timeout` ms the socket is destroyed
   * and the promise resolves with a message saying so.
   */
  async close(timeout = Infinity): Promise<string | void> {
    if (this.closed) return;
    this.closed = true;
    await rascalsTurn();
    const polite = this.broker.shutdown().catch((error: unknown) => debug('shutdown: %s', describeError(error)));
    const closed = await settleWithin(polite, timeout);
    // Rascal's listeners stay: an 'error' or a late 'vhost_initialised' after shutdown must land somewhere.
    if (closed) return;
    const reason = `the broker did not answer the close within ${Math.round(timeout)} ms; ${CONNECTION_DROPPED}`;
    debug('close: %s', reason);
    // An error (not a bare destroy) makes amqplib notice: it closes the connection and its channels and stops its
    // heartbeat timers.
    for (const connection of this.connections) {
      connection.on('error', () => undefined);
      if (!connection.stream.destroyed) connection.stream.destroy(new Error(reason));
    }
    this.connections.clear();
    releaseKeepAlive(this.broker);
    return reason;
  }

  private onDisconnect(): void {
    if (this.closed) return;
    // A block belongs to the connection: it ends with it.
    this.blocked = false;
    if (this.down) return;
    // An error from before this loss is not its reason. Rascal emits 'disconnect' just before the 'error' that
    // says why: let that error land first, so the reason names it.
    this.lastError = undefined;
    this.down = true;
    setImmediate(() => {
      const reason = this.lastError ?? 'connection closed';
      debug('down: %s', reason);
      this.emit('down', { reason });
    });
  }

  private onInitialised(): void {
    if (this.closed) {
      // A reconnect under way when Rascal shut down finished after it, and Rascal keeps that connection open.
      debug('closing a connection opened after shutdown');
      this.vhost.disconnect((error) => error && debug('late disconnect: %s', describeError(error)));
      return;
    }
    if (!this.down) return;
    this.down = false;
    debug('up');
    this.emit('up');
  }
}
