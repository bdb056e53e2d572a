// A history stream on a stub bus, for the unit specs of the two history readers (no broker): `channel()` gives
// emitters with prefetch, consume, ack and close, and each consume is answered by a plan: which offsets it
// delivers, after how long, and whether the broker then cancels the consumer (a null delivery), refuses the
// consume (a 404: the stream deleted), or never answers.
import { EventEmitter } from 'node:events';
import type { AmqpChannel, AmqpMessage } from '../../lib/rascal.js';

/** Where a consume starts, as the `x-stream-offset` argument the stub received. */
export type OffsetArgument = string | number | { '!': 'timestamp'; value: number };

/** What the stub broker does with one consume. */
export interface ConsumePlan {
  /** The offsets it delivers (default: what the stream holds from the argument on, a 'last' consume the last). */
  offsets?: number[];
  /** Milliseconds before the deliveries (the consume itself is answered at once). */
  delay?: number;
  /** Then cancels the consumer (a null delivery), as when the stream is deleted. */
  cancel?: boolean;
  /** Refuses the consume: the broker closes the channel with this reason, as a 404 closes it ('error', then 'close'). */
  refuse?: string;
  /** The reply code of that close. @default 404 */
  code?: number;
  /** The channel ends under the consume with no reason of its own, as when the connection goes. */
  ends?: boolean;
  /** Never answers the consume. */
  silent?: boolean;
}

export interface StubChannel extends EventEmitter {
  closed: boolean;
  /** Each ack: its delivery tag, and whether it covers every one up to it (`multiple`). */
  acked: Array<[number, boolean]>;
}

export class StubStream {
  /** Offsets the stream holds; each record is `{ n: offset }` at level info, stamped `timestampOf(offset)`. */
  offsets: number[];
  readonly consumes: OffsetArgument[] = [];
  readonly channels: StubChannel[] = [];
  /** A channel() that never resolves, as Rascal's during an outage. */
  outage = false;
  isUp = true;
  /** A close the broker never answers (a link that holds its frames): the channel closes only when dropAll() cuts it. */
  closeUnanswered = false;
  timestampOf: (offset: number) => number | undefined = () => Math.floor(Date.now() / 1000);
  #timers = new Set<NodeJS.Timeout>();

  constructor(
    offsets: number[],
    // `prefetch`: the consuming channel's (a probe's is 1, a read's more), which tells a read's consume from a probe's.
    private readonly plan: (argument: OffsetArgument, consume: number, prefetch: number) => ConsumePlan = () => ({}),
  ) {
    this.offsets = offsets;
  }

  /** The bus the readers take. */
  get bus(): { channel: () => Promise<AmqpChannel>; readonly isUp: boolean } {
    const stream = this;
    return {
      channel: () => (stream.outage ? new Promise<AmqpChannel>(() => undefined) : Promise.resolve(stream.channel())),
      get isUp() {
        return stream.isUp;
      },
    };
  }

  channel(): AmqpChannel {
    const emitter = new EventEmitter() as StubChannel;
    const channel = Object.assign(emitter, {
      closed: false,
      acked: [] as Array<[number, boolean]>,
      count: 0,
      prefetch: (count: number, _global: boolean, cb: (error: Error | null) => void) => {
        channel.count = count;
        setImmediate(() => (channel.closed ? undefined : cb(null)));
      },
      ack: (message: AmqpMessage, allUpTo = false) => void channel.acked.push([message.fields.deliveryTag, allUpTo]),
      close: (cb?: () => void) => {
        if (this.closeUnanswered) return;
        this.#close(channel);
        cb?.();
      },
      consume: (_queue: string, onMessage: (message: AmqpMessage | null) => void, options: { arguments: { 'x-stream-offset': OffsetArgument } }, cb: (error: Error | null, ok?: { consumerTag: string }) => void) => {
        const argument = options.arguments['x-stream-offset'];
        const index = this.consumes.push(argument) - 1;
        const plan = this.plan(argument, index, channel.count);
        if (plan.silent) return;
        if (plan.refuse) {
          const why = plan.refuse;
          setImmediate(() => {
            cb(new Error(why));
            channel.emit('error', Object.assign(new Error(`Channel closed by server: ${why}`), { code: plan.code ?? 404 }));
            this.#close(channel);
          });
          return;
        }
        if (plan.ends) {
          setImmediate(() => {
            this.#close(channel);
            cb(new Error('Channel ended, no reply will be forthcoming'));
          });
          return;
        }
        const tag = `ctag-${index}`;
        setImmediate(() => cb(null, { consumerTag: tag }));
        const offsets = plan.offsets ?? this.#default(argument);
        let deliveryTag = 0;
        this.#later(plan.delay ?? 0, () => {
          for (const offset of offsets) {
            if (channel.closed) return;
            onMessage(this.message(offset, ++deliveryTag, tag));
          }
          if (plan.cancel && !channel.closed) onMessage(null);
        });
      },
    });
    this.channels.push(channel);
    return channel as unknown as AmqpChannel;
  }

  message(offset: number, deliveryTag: number, consumerTag = 'ctag'): AmqpMessage {
    const timestamp = this.timestampOf(offset);
    return {
      content: Buffer.from(JSON.stringify({ n: offset })),
      fields: { routingKey: 'info', redelivered: false, deliveryTag, exchange: 'bus', consumerTag },
      properties: { contentType: 'application/json', headers: { 'x-stream-offset': offset }, ...(timestamp === undefined ? {} : { timestamp }) },
    } as AmqpMessage;
  }

  /** The connection lost: every channel closes ('close'), and a close waiting for its answer never gets one. */
  dropAll(): void {
    for (const channel of this.channels) this.#close(channel);
  }

  /** Clears the timers of deliveries not made yet. */
  stop(): void {
    for (const timer of this.#timers) clearTimeout(timer);
  }

  #default(argument: OffsetArgument): number[] {
    if (argument === 'first') return this.offsets;
    if (argument === 'last') return this.offsets.slice(-1);
    if (argument === 'next') return [];
    if (typeof argument === 'number') return this.offsets.filter((offset) => offset >= argument);
    if (typeof argument === 'object') return this.offsets.filter((offset) => (this.timestampOf(offset) ?? 0) >= argument.value);
    return [];
  }

  #later(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      run();
    }, ms);
    this.#timers.add(timer);
  }

  #close(channel: StubChannel): void {
    if (channel.closed) return;
    channel.closed = true;
    channel.emit('close');
  }
}
