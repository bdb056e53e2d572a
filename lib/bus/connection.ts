// The connection to the bus: Rascal's broker and vhost. Rascal reconnects by itself (with backoff, across the
// configured URLs) and re-declares the exchange; this file turns its events into 'down', 'up', 'blocked' and
// 'unblocked', opens channels on its connection, and waits for the broker at start when asked to.
import createDebug from 'debug';
import { EventBusLoggerError, describeError } from '../errors.js';
import { checkExchangesOnly, refusedAtConnect } from './exchange.js';
import { TypedEventEmitter } from '../events.js';
import { tlsFailure } from '../tls.js';
import { createBroker, findVhost, releaseKeepAlive, type AmqpChannel, type AmqpConfirmChannel, type AmqpConnection, type Callback, type RascalBroker, type RascalVhost } from '../rascal.js';
import { within } from '../deadline.js';
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

/** Opens a {@link Bus}; the logger's constructor accepts another one for unit specs. */
export type OpenBus = (config: unknown, vhost: string, loggableUrls: string[], timing: { startTimeout: number; waitForBroker: boolean }) => Promise<Bus>;

/** How the message {@link BusConnection.close} resolves with ends. */
export const CONNECTION_DROPPED = 'the connection was dropped';

// Rascal words a failed connect "Failed to connect to: <url>. Original message was: <amqplib's message>".
export const RASCAL_CONNECT_FAILURE = /^Failed to connect to: (\S+)\. Original message was: /;
// RabbitMQ refuses a vhost (missing, or no permission on it) by closing the connection: 530 NOT_ALLOWED.
export const VHOST_REFUSED = /Expected ConnectionOpenOk; got <ConnectionClose/;

/**
 * Why a connect failed, for a message that names the URLs already: Rascal's repetition of the URL goes (kept, without
 * its query, when there are several URLs, to say which one), and a vhost the broker refused is named as such.
 */
export function connectFailure(error: unknown, urlCount: number): string {
  const reason = describeError(error);
  const match = RASCAL_CONNECT_FAILURE.exec(reason);
  if (!match) return reason;
  const url = (match[1] as string).replace(/\?.*$/, '');
  let cause = reason.slice(match[0].length);
  // RabbitMQ answers connection.open for a missing vhost, or one the user has no permission on, by closing the
  // connection: amqplib reports only the unexpected frame.
  if (/^Expected ConnectionOpenOk; got <ConnectionClose/.test(cause)) {
    let vhost = '/';
    let user = '';
    try {
      const parsed = new URL(url);
      vhost = parsed.pathname.length > 1 ? decodeURIComponent(parsed.pathname.slice(1)) : '/';
      user = decodeURIComponent(parsed.username);
    } catch {
      // keep the defaults
    }
    cause = `the vhost "${vhost}" does not exist, or ${user ? `user "${user}"` : 'this user'} has no permission on it (the broker refused to open it)`;
  }
  cause = notAmqp(cause) ?? cause;
  return urlCount > 1 ? `${url}: ${cause}` : cause;
}

// amqplib reads a server's first bytes as an AMQP frame header: type (1 byte), channel (2), size (4). A server that
// speaks another protocol fails the size check with its 4th to 7th bytes as the size: "P/1." of "HTTP/1.1" is
// 1345270062. Say what the server is instead.
function notAmqp(cause: string): string | undefined {
  const frame = /Frame size (\d+) exceeds maxFrameSize/.exec(cause);
  if (!frame) return undefined;
  const size = Number(frame[1]);
  const bytes = Buffer.alloc(4);
  if (Number.isSafeInteger(size) && size <= 0xffffffff) bytes.writeUInt32BE(size);
  const http = bytes.toString('latin1') === 'P/1.';
  return `the server at this address does not speak AMQP: it answered ${http ? 'as an HTTP server does' : 'with bytes that are not an AMQP frame'} (is the port the management UI's, 15672, or a web server's? RabbitMQ takes AMQP on 5672, and on 5671 with TLS)`;
}

// Rascal hears of a lost connection a turn after amqplib does (its handler runs in a setImmediate). In between, a
// channel asked of it is opened on the dead connection, where amqplib throws inside Rascal's queue, and a shutdown
// makes that handler throw later: either is an exception nobody can catch, and the process ends (Rascal issue #18
// shows the first). Channels and the close wait out that turn first.
const rascalsTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Rascal's broker and vhost, with the connection state the logger needs. */
export class BusConnection extends TypedEventEmitter<BusConnectionEvents> implements Bus {
  private downSince: number | undefined;
  private attempts = 0;
  private closed = false;
  // The amqplib connections our channels live on: what close() destroys when the broker does not answer.
  private readonly connections = new Set<AmqpConnection>();
  blocked: string | undefined;
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
    let checkOnly = false; // set once the broker refused this user the exchange's declare: Rascal then checks it
    for (let attempt = 1; ; attempt++) {
      const remaining = timing.startTimeout - (performance.now() - started);
      const creating = createBroker(checkOnly ? checkExchangesOnly(config, vhostName) : structuredClone(config));
      try {
        const broker = await within(creating, remaining, () => new Error(`no answer within startTimeout (${timing.startTimeout} ms)`));
        const connection = new BusConnection(broker, findVhost(broker, vhostName));
        connection.checksExchange = checkOnly;
        return connection;
      } catch (error) {
        // A broker created after the deadline must still be closed.
        creating.then((late) => late.shutdown()).catch(() => undefined);
        // A user who may not declare the exchange checks it exists instead; any other refusal fails at once (ACCESS).
        const refused = refusedAtConnect(error, checkOnly);
        if (refused === 'check') {
          checkOnly = true;
          attempt--;
          continue;
        }
        if (refused) throw refused;
        const elapsed = performance.now() - started;
        const reason = connectFailure(error, loggableUrls.length);
        if (VHOST_REFUSED.test(describeError(error))) throw new EventBusLoggerError('ACCESS', `Cannot open the event bus at ${loggableUrls.join(', ')}: ${reason}`);
        // A certificate that fails verification fails the same way on every try: say which, at once.
        if (tlsFailure(reason)) throw new EventBusLoggerError('CONNECT', `Cannot connect to the event bus at ${loggableUrls.join(', ')}: ${tlsFailure(reason)} (${reason.trim()})`);
        debug('connect attempt %d failed: %s', attempt, reason);
        if (!timing.waitForBroker || elapsed + delay >= timing.startTimeout) {
          throw new EventBusLoggerError('CONNECT', `Cannot connect to the event bus at ${loggableUrls.join(', ')} (${attempt} attempt${attempt > 1 ? 's' : ''} in ${Math.round(elapsed)} ms): ${reason}`);
        }
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
    let timer: NodeJS.Timeout | undefined;
    const polite = this.broker.shutdown().then(
      () => true,
      (error: unknown) => {
        debug('shutdown: %s', describeError(error));
        return true;
      },
    );
    const closed = Number.isFinite(timeout)
      ? await Promise.race([polite, new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, timeout))))])
      : await polite;
    clearTimeout(timer);
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
    if (this.closed) {
      // A reconnect under way when Rascal shut down finished after it, and Rascal keeps that connection open.
      debug('closing a connection opened after shutdown');
      this.vhost.disconnect((error) => error && debug('late disconnect: %s', describeError(error)));
      return;
    }
    if (this.downSince === undefined) return;
    const downtime = Math.round(performance.now() - this.downSince);
    const attempts = this.attempts;
    this.downSince = undefined;
    this.attempts = 0;
    debug('up after %d ms, %d attempts', downtime, attempts);
    this.emit('up');
  }
}
