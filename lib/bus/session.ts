// The session: the channels the logger uses on the current connection (one to consume, one to publish with
// confirms), opened again after every loss. Whoever needs the broker registers a setup step (declare the exchange,
// declare and consume the live queue, ...); the session runs the steps in order on every (re)open, as
// amqp-connection-manager's ChannelWrapper.addSetup does. It keeps the outage (the broker's block of publishing is
// publishing-block.ts), and drives the publisher through attach/detach/hold/release.
import createDebug from 'debug';
import { pause } from '../deadline.js';
import { accessError, describeError } from '../errors.js';
import type { Report } from '../events.js';
import { closeQuietly, type AmqpChannel, type AmqpConfirmChannel } from '../rascal.js';
import type { Stats } from '../stats.js';
import { Backoff } from './backoff.js';
import { PublishingBlock } from './publishing-block.js';
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
  /** Called once the session is open again after an outage, after `'reconnected'`; or first open in the background. */
  onReopened: () => void;
  /** Before the first open (an outage at start), a try failed for good (ACCESS); once per outage. Later, lastError. */
  onRefused?: (error: Error) => void;
}

type SessionState = 'idle' | 'opening' | 'open' | 'closing' | 'closed';

export class BusSession {
  readonly #parts: SessionParts;
  readonly #steps: SetupStep[] = [];
  readonly #backoff = new Backoff(100, 5000);
  #state: SessionState = 'idle';
  #generation = 0;
  #channels: (SessionChannels & { onLost: () => void }) | undefined;
  #reopenTimer: NodeJS.Timeout | undefined;
  // The pause between a channel closing and acting on it (when the whole connection went, the bus says so first).
  #lostTimer: NodeJS.Timeout | undefined;
  #outage: { since: number; reason: string; attempts: number; refused?: boolean } | undefined;
  // Once the channels were open, a later open is a reopen ('reconnected'); the first one is not.
  #opened = false;
  // open() in the background: a first open that fails for a passing reason (#lostAtOpen says which) is an outage.
  #background = false;
  // The 'disconnected' of a connection lost during the first open, held until open() settles.
  #reportAfterOpen: (() => void) | undefined;
  #lostAtOpen: string | undefined;
  readonly #block: PublishingBlock;

  constructor(parts: SessionParts) {
    this.#parts = parts;
    this.#block = new PublishingBlock(parts);
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

  /**
   * Opens the channels and runs every setup step; from then on reopens them after every loss. Fail-fast
   * (`background` false), rejects when this first open fails, and reports no outage. In the background, a bus not
   * connected yet or lost during the set-up begins an outage ('disconnected'), retried as a reopen is ('ready', no
   * 'reconnected'): resolves `'outage'`. A refusal by a connected broker rejects while `mayReject()`, else is
   * reported through `onRefused` and retried.
   */
  async open(background = false, mayReject: () => boolean = () => true): Promise<'open' | 'outage'> {
    const opened = await this.#open(background, mayReject);
    const report = this.#reportAfterOpen;
    this.#reportAfterOpen = undefined;
    if (report) setImmediate(report);
    return opened;
  }

  async #open(background: boolean, mayReject: () => boolean): Promise<'open' | 'outage'> {
    const { bus } = this.#parts;
    this.#state = 'opening';
    this.#background = background;
    bus.on('down', ({ reason }) => this.#onDown(reason, true));
    bus.on('up', () => this.#reopen());
    bus.on('blocked', ({ reason }) => void ((this.#state === 'open' || this.#state === 'opening') && this.#block.blocked(reason)));
    bus.on('unblocked', () => this.#block.unblocked(this.#state === 'open' || this.#state === 'closing'));
    if (background && !bus.isUp) return this.#startOutage(bus.lastError ?? 'no answer from the broker yet');
    try {
      await this.#openChannels(this.#generation);
    } catch (error) {
      // A connection lost fails the pending operation before the bus says 'down' (a few turns later): wait for it.
      if (this.#lostAtOpen === undefined && !accessError(error)) await pause(50);
      if (this.#state !== 'opening') throw error; // closed meanwhile: the logger stops
      const lost = this.#lostAtOpen ?? (bus.isUp ? undefined : (bus.lastError ?? 'connection closed'));
      if (!background || (lost === undefined && mayReject())) {
        throw lost !== undefined ? new Error(`the connection was lost while setting up this logger (${lost})`) : error;
      }
      const outage = this.#startOutage(lost ?? describeError(accessError(error) ?? error));
      if (lost === undefined) this.#refused(error);
      return outage;
    }
    if (this.#state === 'opening') this.#state = 'open';
    return 'open';
  }

  /** Stops reopening: the logger is stopping. The channels stay usable until {@link close}. */
  closing(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closing';
    clearTimeout(this.#reopenTimer);
    clearTimeout(this.#lostTimer);
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
      closeQuietly([consumer], () => undefined);
      throw error;
    });
    const channels = { consumer, confirm };
    // A channel lost during the set-up fails this try, and the failure schedules the next one (once: a second
    // schedule from the channel's 'close' would step the backoff twice). Once open, a lost channel reopens them.
    let lostInSetup: string | undefined;
    let open = false;
    const lost = (why?: string): void => {
      if (open) this.#onChannelLost(generation, why);
      else lostInSetup ??= why ?? `channel closed: ${stats.lastError ?? 'by the broker'}`;
    };
    const onLost = (): void => lost();
    const isCurrent = (): boolean => generation === this.#generation && (this.#state === 'opening' || this.#state === 'open') && lostInSetup === undefined;
    const onError = (error: Error): void => void debug('channel error: %s', (stats.lastError = describeError(error)));
    for (const channel of [consumer, confirm]) channel.on('error', onError).on('close', onLost);
    const context: SetupContext = { channels, isCurrent, lost };
    const stale = (): Error => new Error(lostInSetup !== undefined ? `a channel was lost during the set-up: ${lostInSetup}` : 'superseded');
    try {
      for (const step of this.#steps) {
        if (!isCurrent()) throw stale();
        await step(context);
      }
      if (!isCurrent()) throw stale();
      open = true;
      this.#channels = { ...channels, onLost };
      this.#opened = true;
      publisher.attach(confirm);
      this.#backoff.reset();
    } catch (error) {
      closeQuietly([consumer, confirm], onLost);
      throw error;
    }
  }

  // An outage begins: reported once. Before the first open, a turn later: a listener added after `await create()` hears it.
  #beginOutage(reason: string): void {
    if (this.#outage) return;
    const outage = (this.#outage = { since: performance.now(), reason, attempts: 0 });
    this.#parts.stats.lastError = reason;
    const report = (): void => this.#parts.report('disconnected', { reason, attempt: 0, downtime: 0 });
    if (this.#opened) report();
    // Lost while the first open is under way: said once open() has settled (a turn after start() resolves).
    else if (this.#state === 'opening') this.#reportAfterOpen = () => this.#outage === outage && report();
    else setImmediate(() => this.#outage === outage && report());
  }

  // The first open failed in the background: an outage from the start, tried again as a reopen is.
  #startOutage(reason: string): 'outage' {
    this.#state = 'open';
    this.#beginOutage(reason);
    if (this.#parts.bus.isUp) this.#scheduleReopen();
    return 'outage';
  }

  // A failure no further try will cure, met before the first open (start() could not say it), once per outage.
  #refused(error: unknown): void {
    const refused = accessError(error);
    if (!refused || this.#opened || this.#outage?.refused) return;
    if (this.#outage) this.#outage.refused = true;
    this.#parts.onRefused?.(refused);
  }

  // The connection went (`connectionLost`), or only a channel while it stays up.
  #onDown(reason: string, connectionLost: boolean): void {
    if (this.#state !== 'open' && this.#state !== 'opening') return;
    const { publisher } = this.#parts;
    if (this.#state === 'opening') {
      this.#lostAtOpen ??= reason;
      // Fail-fast: the first open fails and so does the start; there is no outage to report.
      if (!this.#background) {
        this.#generation++;
        return;
      }
    }
    this.#generation++;
    // When only one channel failed, the other is still open: close it.
    if (this.#channels) closeQuietly([this.#channels.consumer, this.#channels.confirm], this.#channels.onLost);
    this.#channels = undefined;
    publisher.detach();
    // A block belongs to the connection: when that is gone, the next one starts unblocked. When only a channel
    // was lost, a block of the connection goes on and the hold stays.
    if (connectionLost) this.#block.connectionLost();
    clearTimeout(this.#reopenTimer);
    this.#beginOutage(reason);
  }

  // A channel closed. When the whole connection went, the bus reports it a moment later and 'up' reopens
  // everything; when the connection stayed up (a broker-side channel error, a deleted queue), reopen here.
  #onChannelLost(generation: number, why?: string): void {
    if (generation !== this.#generation || this.#state !== 'open') return;
    clearTimeout(this.#lostTimer);
    this.#lostTimer = setTimeout(() => {
      if (generation !== this.#generation || this.#state !== 'open' || !this.#parts.bus.isUp) return;
      this.#onDown(why ?? `channel closed: ${this.#parts.stats.lastError ?? 'by the broker'}`, false);
      this.#scheduleReopen();
    }, 50);
    this.#lostTimer.unref();
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
    const reopening = this.#opened;
    if (this.#outage) this.#outage.attempts++;
    this.#openChannels(generation).then(
      () => {
        const outage = this.#outage;
        this.#outage = undefined;
        // The first open, after an outage at start, is not a reconnect: 'ready' says it.
        if (reopening) {
          stats.reconnects++;
          if (outage) report('reconnected', { reason: outage.reason, attempt: outage.attempts, downtime: Math.round(performance.now() - outage.since), url: bus.url });
        }
        this.#parts.onReopened();
      },
      (error: unknown) => {
        if (generation !== this.#generation || this.#state !== 'open') return;
        stats.lastError = describeError(accessError(error) ?? error);
        debug('reopening channels failed: %s', stats.lastError);
        this.#refused(error);
        if (bus.isUp) this.#scheduleReopen();
      },
    );
  }
}
