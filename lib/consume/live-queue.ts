// The live queue: this logger's own queue on the bus, declared, bound once per level it listens to and consumed
// on every (re)open of the session, feeding the delivery pipeline. Server-named and exclusive by default, so it
// goes with the connection; with `resumable`, client-named and kept by the broker for `grace` ms without a consumer.
import createDebug from 'debug';
import type { SetupContext } from '../bus/session.js';
import type { ResolvedOptions } from '../options.js';
import { call, type AmqpChannel } from '../rascal.js';
import type { Topology } from '../topology.js';
import { Acks, ackBatch } from './acks.js';
import type { Delivery } from './delivery.js';

const debug = createDebug('event-bus-logger:live-queue');

export interface LiveQueueParts {
  /** The bus exchange's name on the broker. */
  exchange: string;
  topology: Pick<Topology, 'queueOptions' | 'listenLevels'>;
  settings: Pick<ResolvedOptions, 'prefetch' | 'resumable'>;
  /** This logger's instance id: names a resumable queue when `resumable.queueName` does not. */
  instanceId: string;
  delivery: Delivery<string>;
}

export class LiveQueue {
  readonly #parts: LiveQueueParts;
  #queue: string | undefined;
  // A server-named queue of lost channels: while the connection lives it stays, so the next setup deletes it.
  #abandoned: string | undefined;

  constructor(parts: LiveQueueParts) {
    this.#parts = parts;
  }

  /** The queue's name on the broker, once declared. */
  get name(): string | undefined {
    return this.#queue;
  }

  /** The session's setup step: declare the queue, bind it once per level, consume. */
  readonly setup = async ({ channels: { consumer }, isCurrent, lost }: SetupContext): Promise<void> => {
    const { exchange, topology, settings, instanceId, delivery } = this.#parts;
    if (this.#queue !== undefined && !settings.resumable) this.#abandoned = this.#queue;
    this.#queue = undefined;
    const abandoned = this.#abandoned;
    if (abandoned) {
      // Deleting a queue that is already gone succeeds, so this is safe after a lost connection too.
      await call<unknown>((cb) => consumer.deleteQueue(abandoned, {}, cb));
      this.#abandoned = undefined;
    }
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
    for (const level of topology.listenLevels) await call<unknown>((cb) => consumer.bindQueue(queue, exchange, level, {}, cb));
    await call<unknown>((cb) => consumer.prefetch(settings.prefetch, false, cb));
    if (!isCurrent()) throw new Error('superseded');
    const acks = new Acks(consumer, ackBatch(settings.prefetch));
    await call<unknown>((cb) => consumer.consume(queue, delivery.consumer(acks, () => lost('the broker cancelled the consumer (queue deleted?)')), { noAck: false }, cb));
    this.#queue = queue;
  };

  /**
   * Stops consuming by closing the consumer channel (and deletes a resumable queue first: nobody will resume it).
   * Resolves when done or after `timeout` ms.
   */
  async stop(consumer: AmqpChannel, timeout: number): Promise<void> {
    const queue = this.#queue;
    const resumable = this.#parts.settings.resumable !== undefined;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, Math.max(0, timeout));
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const close = (): void => {
        try {
          consumer.close(done);
        } catch {
          done(); // amqplib throws when the channel is already closed (its connection just died): nothing to stop
        }
      };
      if (resumable && queue) consumer.deleteQueue(queue, {}, close);
      else close();
    });
    debug('stopped consuming from %s', queue);
  }
}
