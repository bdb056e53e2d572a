// The session: the channels the logger uses on the current connection (one to consume, one to publish with
// confirms), opened again after every loss. Whoever needs the broker registers a setup step (declare the exchange,
// declare and consume the live queue, ...); the session runs the steps in order on every (re)open, as
// amqp-connection-manager's ChannelWrapper.addSetup does. It keeps the outage and the broker's block, and drives
// the publisher through attach/detach/hold/release.
import createDebug from 'debug';
import { accessError, describeError } from '../errors.js';
import type { Report } from '../events.js';
import type { AmqpChannel, AmqpConfirmChannel } from '../rascal.js';
import type { Stats } from '../stats.js';
import { Backoff } from './backoff.js';
import type { Bus } from './connection.js';

const debug = createDebug('event-bus-logger:session');

export interface SessionChannels {
  consumer: AmqpChannel;
  confirm: AmqpConfirmChannel;
}

/** What a setup step gets: the channels, and whether they are still the session's. */
export interface SetupContext {
  readonly channels: SessionChannels;
  /** False once these channels were lost or the session closed: a step should then stop. */
  isCurrent(): boolean;
  /** Reports that these channels can no longer be used (e.g. the broker cancelled a consumer): reopens them. */
  lost(why: string): void;
}

/** One step of opening the session, re-run on every reopen. A rejection fails this try: the session tries again. */
export type SetupStep = (context: SetupContext) => Promise<void>;

/** What the session needs of the publisher. */
export interface PublishTarget {
  attach(channel: AmqpConfirmChannel): void;
  detach(): void;
  hold(reason: string): void;
  release(): void;
}

export interface SessionParts {
  bus: Bus;
  publisher: PublishTarget;
  stats: Stats;
  report: Report;
  /** Called once the session is open again after an outage, after `'reconnected'`. */
  onReopened: () => void;
}

type SessionState = 'idle' | 'opening' | 'open' | 'closing' | 'closed';

const noop = (): void => undefined;

// Closes channels we are done with, without reacting to their 'close' and whether or not they are still open.
function closeQuietly(channels: SessionChannels, onLost: () => void): void {
  for (const channel of [channels.consumer, channels.confirm]) {
    channel.removeListener('close', onLost);
    channel.on('error', noop);
    try {
      channel.close(noop);
    } catch {
      // Already closed with its connection.
    }
  }
}

export class BusSession {
  readonly #parts: SessionParts;
  readonly #steps: SetupStep[] = [];
  readonly #backoff = new Backoff(100, 5000);
  #state: SessionState = 'idle';
  #generation = 0;
  #channels: (SessionChannels & { onLost: () => void }) | undefined;
  #reopenTimer: NodeJS.Timeout | undefined;
  #outage: { since: number; reason: string; attempts: number } | undefined;
  // Since when the broker blocks publishing, while it does.
  #blockedSince: number | undefined;

  constructor(parts: SessionParts) {
    this.#parts = parts;
  }

  /** Adds a step run, in the order added, each time the channels are opened. */
  addSetup(step: SetupStep): void {
    this.#steps.push(step);
  }

  /** The open channels; undefined during an outage and once closed. */
  get channels(): SessionChannels | undefined {
    return this.#channels;
  }

  /** True while the channels are open and every setup step ran. */
  get isUp(): boolean {
    return this.#state === 'open' && this.#channels !== undefined && this.#outage === undefined;
  }

  /** Opens the channels and runs every setup step; from then on reopens them after every loss. */
  async open(): Promise<void> {
    const { bus } = this.#parts;
    this.#state = 'opening';
    bus.on('down', ({ reason }) => this.#onDown(reason));
    bus.on('up', () => this.#reopen());
    bus.on('blocked', ({ reason }) => this.#onBlocked(reason));
    bus.on('unblocked', () => this.#onUnblocked());
    await this.#openChannels(this.#generation);
    if (this.#state === 'opening') this.#state = 'open';
  }

  /** Stops reopening: the logger is stopping. The channels stay usable until {@link close}. */
  closing(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closing';
    clearTimeout(this.#reopenTimer);
  }

  /**
   * Forgets the channels and closes the connection; after `timeout` ms without the broker's answer, drops it and
   * resolves with a message saying so.
   */
  async close(timeout?: number): Promise<string | void> {
    this.closing();
    this.#state = 'closed';
    this.#generation++;
    this.#channels = undefined;
    return this.#parts.bus.close(timeout);
  }

  async #openChannels(generation: number): Promise<void> {
    const { bus, stats, publisher } = this.#parts;
    const consumer = await bus.channel();
    const confirm = await bus.confirmChannel().catch((error: unknown) => {
      consumer.close(noop);
      throw error;
    });
    const channels = { consumer, confirm };
    const isCurrent = (): boolean => generation === this.#generation && (this.#state === 'opening' || this.#state === 'open');
    const onLost = (): void => this.#onChannelLost(generation);
    const onError = (error: Error): void => {
      stats.lastError = describeError(error);
      debug('channel error: %s', stats.lastError);
    };
    for (const channel of [consumer, confirm]) channel.on('error', onError).on('close', onLost);
    const context: SetupContext = { channels, isCurrent, lost: (why) => this.#onChannelLost(generation, why) };
    try {
      for (const step of this.#steps) {
        if (!isCurrent()) throw new Error('superseded');
        await step(context);
      }
      if (!isCurrent()) throw new Error('superseded');
      this.#channels = { ...channels, onLost };
      publisher.attach(confirm);
      this.#backoff.reset();
    } catch (error) {
      closeQuietly(channels, onLost);
      throw error;
    }
  }

  #onDown(reason: string): void {
    if (this.#state !== 'open' && this.#state !== 'opening') return;
    const { bus, publisher, stats, report } = this.#parts;
    this.#generation++;
    // When only one channel failed, the other is still open: close it.
    if (this.#channels) closeQuietly(this.#channels, this.#channels.onLost);
    this.#channels = undefined;
    publisher.detach();
    // A block belongs to the connection: when that is gone, the next one starts unblocked. When only a channel
    // was lost, the connection is still blocked and the hold stays.
    if (bus.blocked === undefined) {
      publisher.release();
      this.#blockedSince = undefined;
    }
    clearTimeout(this.#reopenTimer);
    if (!this.#outage) {
      this.#outage = { since: performance.now(), reason, attempts: 0 };
      stats.lastError = reason;
      report('disconnected', { reason, attempt: 0, downtime: 0 });
    }
  }

  #onBlocked(reason: string): void {
    if (this.#state !== 'open' && this.#state !== 'opening') return;
    const { publisher, stats, report } = this.#parts;
    publisher.hold(reason);
    this.#blockedSince ??= performance.now();
    stats.blocks++;
    stats.lastError = `the broker blocks publishing: ${reason}`;
    report('blocked', { reason });
  }

  #onUnblocked(): void {
    const since = this.#blockedSince;
    this.#blockedSince = undefined;
    this.#parts.publisher.release();
    if (since !== undefined && (this.#state === 'open' || this.#state === 'closing')) {
      this.#parts.report('unblocked', { duration: Math.round(performance.now() - since) });
    }
  }

  // A channel closed. When the whole connection went, the bus reports it a moment later and 'up' reopens
  // everything; when the connection stayed up (a broker-side channel error, a deleted queue), reopen here.
  #onChannelLost(generation: number, why?: string): void {
    if (generation !== this.#generation || this.#state !== 'open') return;
    setTimeout(() => {
      if (generation !== this.#generation || this.#state !== 'open' || !this.#parts.bus.isUp) return;
      this.#onDown(why ?? `channel closed: ${this.#parts.stats.lastError ?? 'by the broker'}`);
      this.#scheduleReopen();
    }, 50);
  }

  #scheduleReopen(): void {
    clearTimeout(this.#reopenTimer);
    this.#reopenTimer = setTimeout(() => this.#reopen(), this.#backoff.next());
  }

  // The connection is back (or a lost channel can be replaced): open the channels and run the setup again.
  #reopen(): void {
    if (this.#state !== 'open') return;
    const { bus, stats, report } = this.#parts;
    const generation = ++this.#generation;
    if (this.#outage) this.#outage.attempts++;
    this.#openChannels(generation).then(
      () => {
        const outage = this.#outage;
        this.#outage = undefined;
        stats.reconnects++;
        if (outage) {
          report('reconnected', { reason: outage.reason, attempt: outage.attempts, downtime: Math.round(performance.now() - outage.since), url: bus.url });
        }
        this.#parts.onReopened();
      },
      (error: unknown) => {
        if (generation !== this.#generation || this.#state !== 'open') return;
        stats.lastError = describeError(accessError(error) ?? error);
        debug('reopening channels failed: %s', stats.lastError);
        if (bus.isUp) this.#scheduleReopen();
      },
    );
  }
}
