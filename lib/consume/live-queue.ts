// The live queue: this logger's own queue on the bus, bound once per level something listens to and consumed,
// feeding the delivery pipeline. A logger nothing listens to has no queue at all: it is declared when the first
// level gains a listener, a level is bound and unbound as its listeners come and go, and the queue is deleted when
// the last one goes. Every (re)open of the session declares and binds again what is listened to then.
// Server-named and exclusive by default, so it goes with the connection; with `resumable`, client-named and kept by
// the broker for `grace` ms without a consumer.
import createDebug from 'debug';
import type { SetupContext } from '../bus/session.js';
import { accessError, describeError, type EventBusLoggerError } from '../errors.js';
import type { ResolvedOptions } from '../options.js';
import { call, type AmqpChannel } from '../rascal.js';
import type { Topology } from '../topology.js';
import { Acks, ackBatch } from './acks.js';
import type { Delivery } from './delivery.js';
import { settleWithin } from '../deadline.js';
import { noop } from '../noop.js';

const debug = createDebug('event-bus-logger:live-queue');

export interface LiveQueueParts {
  /** The bus exchange's name on the broker. */
  exchange: string;
  topology: Pick<Topology, 'queueOptions'>;
  settings: Pick<ResolvedOptions, 'prefetch' | 'resumable'>;
  /** This logger's instance id: names a resumable queue when `resumable.queueName` does not. */
  instanceId: string;
  delivery: Delivery<string>;
  /** The levels something listens to now: the ones to bind. Read each time the bindings are brought in line. */
  wanted: () => ReadonlySet<string>;
}

// The queue on one generation of the session's channels, as far as the broker has confirmed it.
interface OnChannel {
  context: SetupContext;
  // One per channel: delivery tags count per channel, and an `allUpTo` ack covers every consumer's.
  acks: Acks;
  queue: string | undefined;
  levels: Set<string>;
  consumerTag: string | undefined;
  // The levels a declare or bind in flight is for: refused, they are skipped from then on.
  asking?: string[] | undefined;
}

export class LiveQueue {
  readonly #parts: LiveQueueParts;
  #current: OnChannel | undefined;
  // A server-named queue of lost channels: while the connection lives it stays, so the next setup deletes it.
  #abandoned: string | undefined;
  // Setups and updates run one at a time, in the order asked: each works from what the previous left.
  #lock: Promise<void> = Promise.resolve();
  // Waiters for the next setup that finishes (listening() during an outage).
  #nextSetup: Array<() => void> = [];
  // Levels whose bind, asked for by a listener added after start, the broker refused (the user may not bind them):
  // skipped, so one listener without the permission does not keep the logger's channels (its publishing) down,
  // until a listener of the level is added again. The refusal, for the next listening() to reject with.
  readonly #refused = new Set<string>();
  #refusal: EventBusLoggerError | undefined;

  constructor(parts: LiveQueueParts) {
    this.#parts = parts;
  }

  /** The queue's name on the broker, while it is declared and consumed. */
  get name(): string | undefined {
    const current = this.#current;
    return current?.consumerTag !== undefined ? current.queue : undefined;
  }

  /** The levels bound now. */
  get levels(): string[] {
    return [...(this.#current?.levels ?? [])];
  }

  #exclusive(work: () => Promise<void>): Promise<void> {
    const run = this.#lock.then(work);
    this.#lock = run.then(noop, noop);
    return run;
  }

  /** The session's setup step: declare the queue, bind what is listened to, consume; nothing when nothing is. */
  readonly setup = (context: SetupContext): Promise<void> =>
    this.#exclusive(async () => {
      const { settings } = this.#parts;
      const previous = this.#current?.queue;
      if (previous !== undefined && !settings.resumable) this.#abandoned = previous;
      const { consumer } = context.channels;
      const current: OnChannel = { context, acks: new Acks(consumer, ackBatch(settings.prefetch)), queue: undefined, levels: new Set(), consumerTag: undefined };
      this.#current = current;
      const abandoned = this.#abandoned;
      if (abandoned) {
        // Deleting a queue that is already gone succeeds, so this is safe after a lost connection too.
        await call<unknown>((cb) => consumer.deleteQueue(abandoned, {}, cb));
        this.#abandoned = undefined;
      }
      await call<unknown>((cb) => consumer.prefetch(settings.prefetch, false, cb));
      await this.#apply(current);
      for (const resolve of this.#nextSetup.splice(0)) resolve();
    });

  /**
   * Brings the bindings in line with what is listened to now: declares the queue for the first level listened to,
   * binds and unbinds levels, deletes the queue when nothing is listened to any more. Resolves once the broker
   * confirmed it, or at once without channels (during an outage the next setup binds what is listened to then).
   * `retry`: levels a new listener listens to, bound again even if the broker refused them before.
   */
  update(retry: readonly string[] = []): Promise<void> {
    for (const level of retry) this.#refused.delete(level);
    return this.#exclusive(async () => {
      const current = this.#current;
      if (!current?.context.isCurrent()) return;
      try {
        await this.#apply(current);
      } catch (error) {
        // A failed bind closes the channel: the session reopens it and the setup binds again, without a level
        // the broker refused.
        debug('updating the bindings failed: %s', describeError(error));
        const refusal = accessError(error);
        if (refusal && current.asking) {
          for (const level of current.asking) this.#refused.add(level);
          this.#refusal = refusal;
        }
        if (current.context.isCurrent()) current.context.lost(`binding the live queue failed: ${describeError(error)}`);
      }
    });
  }

  /**
   * Resolves once every update asked for so far is done, and during an outage once the next setup is. Rejects with
   * code `ACCESS` when the broker refused a bind asked for since the last call.
   */
  async listening(): Promise<void> {
    await this.#lock;
    const refusal = this.#refusal;
    this.#refusal = undefined;
    if (refusal) throw refusal;
    if (this.#current?.context.isCurrent()) return;
    await new Promise<void>((resolve) => this.#nextSetup.push(resolve));
  }

  /** Resolves the waiters of {@link listening}: the logger stops. */
  release(): void {
    for (const resolve of this.#nextSetup.splice(0)) resolve();
  }

  async #apply(current: OnChannel): Promise<void> {
    const { exchange, delivery } = this.#parts;
    const listened = this.#parts.wanted();
    for (const level of this.#refused) if (!listened.has(level)) this.#refused.delete(level);
    const wanted = new Set([...listened].filter((level) => !this.#refused.has(level)));
    const { consumer } = current.context.channels;
    const stale = (): void => {
      if (!current.context.isCurrent()) throw new Error('superseded');
    };
    if (wanted.size === 0) {
      if (current.queue !== undefined) await this.#drop(current, consumer);
      return;
    }
    current.asking = [...wanted];
    if (current.queue === undefined) current.queue = await this.#declare(consumer);
    const queue = current.queue;
    for (const level of wanted) {
      if (current.levels.has(level)) continue;
      stale();
      current.asking = [level];
      await call<unknown>((cb) => consumer.bindQueue(queue, exchange, level, {}, cb));
      current.levels.add(level);
    }
    current.asking = undefined;
    for (const level of [...current.levels]) {
      if (wanted.has(level)) continue;
      stale();
      await call<unknown>((cb) => consumer.unbindQueue(queue, exchange, level, {}, cb));
      current.levels.delete(level);
    }
    if (current.consumerTag !== undefined) return;
    stale();
    const { consumerTag } = await call<{ consumerTag: string }>((cb) =>
      consumer.consume(queue, delivery.consumer(current.acks, () => current.context.lost('the broker cancelled the consumer (queue deleted?)')), { noAck: false }, cb),
    );
    current.consumerTag = consumerTag;
    debug('consuming %s, levels %o', queue, [...current.levels]);
  }

  async #declare(consumer: AmqpChannel): Promise<string> {
    const { exchange, topology, settings, instanceId } = this.#parts;
    const resumable = settings.resumable;
    const { queue } = resumable
      ? await call<{ queue: string }>((cb) =>
          consumer.assertQueue(resumable.queueName ?? `${exchange}.listener.${instanceId}`, {
            ...topology.queueOptions,
            exclusive: false,
            arguments: { ...(topology.queueOptions.arguments as object | undefined), 'x-expires': resumable.grace },
          }, cb),
        )
      : await call<{ queue: string }>((cb) => consumer.assertQueue('', topology.queueOptions, cb));
    return queue;
  }

  // Nothing is listened to any more: stop consuming first (so the broker does not cancel the consumer when its
  // queue goes), then delete the queue. Events already delivered are still handled and acked.
  async #drop(current: OnChannel, consumer: AmqpChannel): Promise<void> {
    const queue = current.queue as string;
    const tag = current.consumerTag;
    if (tag !== undefined) {
      await call<unknown>((cb) => consumer.cancel(tag, cb));
      current.consumerTag = undefined;
    }
    await call<unknown>((cb) => consumer.deleteQueue(queue, {}, cb));
    current.queue = undefined;
    current.levels.clear();
    debug('nothing listened to: deleted %s', queue);
  }

  /**
   * Stops consuming by closing the consumer channel (and deletes a resumable queue first: nobody will resume it).
   * Resolves when done or after `timeout` ms.
   */
  async stop(consumer: AmqpChannel, timeout: number): Promise<void> {
    this.release();
    const queue = this.#current?.queue;
    const resumable = this.#parts.settings.resumable !== undefined;
    const stopped = new Promise<void>((done) => {
      const close = (): void => {
        try {
          consumer.close(() => done());
        } catch {
          done(); // amqplib throws when the channel is already closed (its connection just died): nothing to stop
        }
      };
      if (resumable && queue) consumer.deleteQueue(queue, {}, close);
      else close();
    });
    await settleWithin(stopped, timeout);
    debug('stopped consuming from %s', queue);
  }
}
