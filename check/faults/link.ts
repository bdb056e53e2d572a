// One connection through the fault proxy (proxy.ts): the frames of both directions read (frames.ts) and written on
// at frame boundaries, with what the proxy's faults need to know of the connection (confirm channels and their
// counts, consumers and the stream offset each asked for, messages still being carried).
import net from 'node:net';
import { FRAME_BODY, FRAME_HEADER, FrameReader, Method, deliveryConsumerTag, methodFrame, type Frame } from './frames.js';

/** What a link asks of its proxy: the faults armed, and where to report. */
export interface LinkHost {
  unrouteLeft: number;
  unrouteSkip: number;
  holdOn: { method: number; ms: number } | undefined;
  cutOnMethod: number | undefined;
  readonly unrouted: string[];
  /** When set (on a cluster), the bodies of the publishes the broker itself nacked are kept here. */
  readonly brokerNacked: string[] | undefined;
  note(fault: string, lossy: boolean, lasts?: number): void;
  delivered(link: Link, channel: number, consumerTag: string): void;
}

// One direction of one connection: frames written in order (the frames of one turn of the event loop in one
// write), held while frozen.
class Pipe {
  #queue: Buffer[] = [];
  #heldUntil = 0;
  #timer: NodeJS.Timeout | undefined;
  #flushing = false;
  constructor(private readonly out: net.Socket) {}

  write(frame: Buffer): void {
    this.#queue.push(frame);
    if (this.#flushing) return;
    this.#flushing = true;
    queueMicrotask(() => {
      this.#flushing = false;
      this.#flush();
    });
  }

  /** Holds what comes from now on; what was written before goes out first. */
  hold(ms: number): void {
    this.#flush();
    this.#heldUntil = Math.max(this.#heldUntil, Date.now() + ms);
  }

  #flush(): void {
    const wait = this.#heldUntil - Date.now();
    if (wait > 0) {
      this.#timer ??= setTimeout(() => {
        this.#timer = undefined;
        this.#flush();
      }, wait);
      return;
    }
    if (this.#queue.length === 0 || this.out.destroyed) return;
    this.out.write(Buffer.concat(this.#queue));
    this.#queue = [];
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#queue = [];
  }
}

// Per channel: bytes of content still to come after a publish or delivery (-1: its header), and what waits for
// the content to end (a frame injected inside a message's content would break the connection).
class ContentTracker {
  #left = new Map<number, number>();
  #after = new Map<number, Array<() => void>>();

  see(frame: Frame): void {
    if (frame.method === Method.BasicPublish || frame.method === Method.BasicDeliver) this.#left.set(frame.channel, -1);
    else if (frame.type === FRAME_HEADER) this.#left.set(frame.channel, frame.bodySize);
    else if (frame.type === FRAME_BODY) this.#left.set(frame.channel, (this.#left.get(frame.channel) ?? 0) - (frame.raw.length - 8));
    if (this.#left.get(frame.channel) === 0) this.#left.delete(frame.channel);
  }

  inContent(channel: number): boolean {
    return this.#left.has(channel);
  }

  whenBetweenMessages(channel: number, action: () => void): void {
    if (!this.inContent(channel)) return action();
    this.#after.set(channel, [...(this.#after.get(channel) ?? []), action]);
  }

  settle(channel: number): void {
    if (this.inContent(channel)) return;
    const actions = this.#after.get(channel);
    this.#after.delete(channel);
    for (const action of actions ?? []) action();
  }
}

export class Link {
  readonly toServer: Pipe;
  readonly toClient: Pipe;
  readonly up = new ContentTracker();
  readonly down = new ContentTracker();
  // Confirm channels: the client's publish count, and the tags the proxy swallowed (and nacked) itself.
  readonly confirms = new Map<number, { published: number; swallowed: number[] }>();
  readonly cancelling = new Set<string>();
  // The x-stream-offset each consumer asked for ('last' is a probe for the stream's end), by tag.
  readonly consumerOffsets = new Map<string, unknown>();
  readonly #consuming = new Map<number, unknown>();
  // The body of each publish being swallowed, by channel.
  #swallowing = new Map<number, Buffer[]>();
  // With brokerNacked: the body of each publish being carried, by channel, and of each one not yet confirmed, by
  // channel and the client's delivery tag.
  #carrying = new Map<number, { tag: number; parts: Buffer[] }>();
  #unconfirmed = new Map<number, Map<number, string>>();
  readonly #upReader = new FrameReader(true);
  readonly #downReader = new FrameReader(false);

  constructor(private readonly proxy: LinkHost, readonly client: net.Socket, readonly server: net.Socket) {
    this.toServer = new Pipe(server);
    this.toClient = new Pipe(client);
    client.on('data', (chunk: Buffer) => this.#fromClient(this.#upReader.push(chunk)));
    server.on('data', (chunk: Buffer) => this.#fromServer(this.#downReader.push(chunk)));
  }

  #fromClient(frames: Frame[]): void {
    for (const frame of frames) {
      if (frame.method !== undefined && frame.method === this.proxy.cutOnMethod) {
        this.proxy.note(`cut on client method ${frame.method}`, true);
        this.proxy.cutOnMethod = undefined;
        this.cut();
        return;
      }
      if (frame.method === Method.BasicConsume) this.#consuming.set(frame.channel, (frame.fields.arguments as Record<string, unknown> | undefined)?.['x-stream-offset']);
      if (frame.method === Method.ConfirmSelect) this.confirms.set(frame.channel, { published: 0, swallowed: [] });
      const confirm = this.confirms.get(frame.channel);
      if (frame.method === Method.BasicPublish && confirm) {
        confirm.published += 1;
        if (this.proxy.unrouteLeft > 0 && this.proxy.unrouteSkip > 0) {
          this.proxy.unrouteSkip -= 1;
        } else if (this.proxy.unrouteLeft > 0) {
          this.proxy.unrouteLeft -= 1;
          this.proxy.note('publish unrouted and nacked', false);
          confirm.swallowed.push(confirm.published);
          this.#swallowing.set(frame.channel, []);
          const nack = methodFrame(Method.BasicNack, frame.channel, { deliveryTag: confirm.published, multiple: false, requeue: false });
          this.down.whenBetweenMessages(frame.channel, () => this.toClient.write(nack));
        }
      }
      this.up.see(frame);
      if (this.proxy.brokerNacked && confirm && !this.#swallowing.has(frame.channel)) this.#carry(frame, confirm.published);
      const swallowed = this.#swallowing.get(frame.channel);
      if (swallowed) {
        if (frame.type === FRAME_BODY) swallowed.push(frame.raw.subarray(7, frame.raw.length - 1));
        if (!this.up.inContent(frame.channel)) {
          this.#swallowing.delete(frame.channel);
          this.proxy.unrouted.push(Buffer.concat(swallowed).toString('utf8'));
        }
      } else {
        this.toServer.write(frame.raw);
      }
      this.up.settle(frame.channel);
    }
  }

  #fromServer(frames: Frame[]): void {
    for (const frame of frames) {
      let raw = frame.raw;
      if (frame.method === Method.ChannelOpenOk) (this.confirms.delete(frame.channel), this.#unconfirmed.delete(frame.channel));
      if (frame.method !== undefined && frame.method === this.proxy.holdOn?.method) {
        this.toClient.hold(this.proxy.holdOn.ms);
        this.proxy.note(`held method ${frame.method} for ${this.proxy.holdOn.ms} ms`, false);
        this.proxy.holdOn = undefined;
      }
      if (frame.method === Method.BasicConsumeOk) this.consumerOffsets.set(String(frame.fields.consumerTag), this.#consuming.get(frame.channel));
      if (frame.method === Method.BasicAck || frame.method === Method.BasicNack) {
        raw = this.#renumber(frame);
        if (this.proxy.brokerNacked) this.#confirmed(frame.channel, this.#clientTag(frame), Boolean(frame.fields.multiple), frame.method === Method.BasicNack);
      }
      if (frame.method === Method.BasicCancelOk && this.cancelling.delete(String(frame.fields.consumerTag))) {
        raw = methodFrame(Method.BasicCancel, frame.channel, { consumerTag: frame.fields.consumerTag, nowait: true });
      }
      this.toClient.write(raw);
      this.down.see(frame);
      if (frame.method === Method.BasicDeliver) this.proxy.delivered(this, frame.channel, deliveryConsumerTag(frame.raw));
      this.down.settle(frame.channel);
    }
  }

  // A confirm from the broker, its tag moved past the publishes the proxy swallowed (which the broker never saw).
  #renumber(frame: Frame): Buffer {
    const swallowed = this.confirms.get(frame.channel)?.swallowed ?? [];
    if (swallowed.length === 0) return frame.raw;
    return methodFrame(frame.method as number, frame.channel, { ...frame.fields, deliveryTag: this.#clientTag(frame) });
  }

  #clientTag(frame: Frame): number {
    let tag = Number(frame.fields.deliveryTag);
    for (const skipped of this.confirms.get(frame.channel)?.swallowed ?? []) if (skipped <= tag) tag += 1;
    return tag;
  }

  // Keeps the body of a publish on a confirm channel until the broker confirms it (brokerNacked only).
  #carry(frame: Frame, tag: number): void {
    if (frame.method === Method.BasicPublish) this.#carrying.set(frame.channel, { tag, parts: [] });
    const carried = this.#carrying.get(frame.channel);
    if (!carried) return;
    if (frame.type === FRAME_BODY) carried.parts.push(frame.raw.subarray(7, frame.raw.length - 1));
    if (frame.method === Method.BasicPublish || this.up.inContent(frame.channel)) return;
    this.#carrying.delete(frame.channel);
    const unconfirmed = this.#unconfirmed.get(frame.channel) ?? new Map<number, string>();
    unconfirmed.set(carried.tag, Buffer.concat(carried.parts).toString('utf8'));
    this.#unconfirmed.set(frame.channel, unconfirmed);
  }

  // The broker confirmed (or nacked) `tag`, or every tag up to it: a nacked publish's body goes to brokerNacked.
  #confirmed(channel: number, tag: number, multiple: boolean, nacked: boolean): void {
    const unconfirmed = this.#unconfirmed.get(channel);
    if (!unconfirmed) return;
    for (const [t, body] of unconfirmed) {
      if (t !== tag && !(multiple && t < tag)) continue;
      unconfirmed.delete(t);
      if (nacked) this.proxy.brokerNacked?.push(body);
    }
  }

  /** Cancels `consumerTag` at the broker; the client hears of it when the broker's cancel-ok comes back. */
  cancel(channel: number, consumerTag: string): void {
    this.cancelling.add(consumerTag);
    this.up.whenBetweenMessages(channel, () => this.toServer.write(methodFrame(Method.BasicCancel, channel, { consumerTag, nowait: false })));
  }

  /** Acks a delivery tag the broker never gave, on `channel`: the broker closes the channel with 406. */
  channelError(channel: number): void {
    this.up.whenBetweenMessages(channel, () => this.toServer.write(methodFrame(Method.BasicAck, channel, { deliveryTag: 2 ** 40, multiple: false })));
  }

  cut(): void {
    this.toServer.close();
    this.toClient.close();
    this.client.resetAndDestroy();
    this.server.resetAndDestroy();
  }
}

