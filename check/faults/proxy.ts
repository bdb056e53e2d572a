// A fault-injecting AMQP 0-9-1 proxy in front of the real broker. It reads every frame both ways (frames.ts) and
// injects faults at frame boundaries, so the broker keeps its real semantics:
// - cut(): every connection reset (a dropped link); down(ms): cut, and new connections refused for ms (an outage);
// - freeze(ms): nothing passes either way for ms, then all of it does (a link frozen then thawed);
// - holdNext(method, ms): the broker's next frame of that method (a confirm, a delivery: a probe answered slowly)
//   and everything after it wait ms;
// - unrouteNext(n): the client's next n publishes never reach the broker and are nacked (a queue that did not take
//   them); the broker's later confirm tags are renumbered to match;
// - cancelAtDelivery(k): the consumer of the k-th delivery from now is cancelled at the broker, and the client told
//   so by a basic.cancel once the broker's cancel-ok shows every delivery before it went out (a broker cancel);
// - channelErrorAtDelivery(k): on the channel of the k-th delivery from now, an ack of an unknown delivery tag, which
//   the broker answers by closing the channel with 406 (a channel closed by a broker error);
// - cutOnClientMethod(method): a connection is reset when its client sends that method (a drop mid-set-up).
import net from 'node:net';
import { FRAME_BODY, FRAME_HEADER, FrameReader, Method, deliveryConsumerTag, methodFrame, type Frame } from './frames.js';

type Trigger = { left: number; act: (link: Link, channel: number, consumerTag: string) => void };

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

  hold(ms: number): void {
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

class Link {
  readonly toServer: Pipe;
  readonly toClient: Pipe;
  readonly up = new ContentTracker();
  readonly down = new ContentTracker();
  // Confirm channels: the client's publish count, and the tags the proxy swallowed (and nacked) itself.
  readonly confirms = new Map<number, { published: number; swallowed: number[] }>();
  readonly cancelling = new Set<string>();
  // The body of each publish being swallowed, by channel.
  #swallowing = new Map<number, Buffer[]>();
  readonly #upReader = new FrameReader(true);
  readonly #downReader = new FrameReader(false);

  constructor(private readonly proxy: FaultProxy, readonly client: net.Socket, readonly server: net.Socket) {
    this.toServer = new Pipe(server);
    this.toClient = new Pipe(client);
    client.on('data', (chunk: Buffer) => this.#fromClient(this.#upReader.push(chunk)));
    server.on('data', (chunk: Buffer) => this.#fromServer(this.#downReader.push(chunk)));
  }

  #fromClient(frames: Frame[]): void {
    for (const frame of frames) {
      if (frame.method !== undefined && frame.method === this.proxy.cutOnMethod) {
        this.proxy.note(`cut on client method ${frame.method}`);
        this.proxy.cutOnMethod = undefined;
        this.cut();
        return;
      }
      if (frame.method === Method.ConfirmSelect) this.confirms.set(frame.channel, { published: 0, swallowed: [] });
      const confirm = this.confirms.get(frame.channel);
      if (frame.method === Method.BasicPublish && confirm) {
        confirm.published += 1;
        if (this.proxy.unrouteLeft > 0) {
          this.proxy.unrouteLeft -= 1;
          this.proxy.note('publish unrouted and nacked');
          confirm.swallowed.push(confirm.published);
          this.#swallowing.set(frame.channel, []);
          const nack = methodFrame(Method.BasicNack, frame.channel, { deliveryTag: confirm.published, multiple: false, requeue: false });
          this.down.whenBetweenMessages(frame.channel, () => this.toClient.write(nack));
        }
      }
      this.up.see(frame);
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
      if (frame.method === Method.ChannelOpenOk) this.confirms.delete(frame.channel);
      if (frame.method !== undefined && frame.method === this.proxy.holdOn?.method) {
        this.toClient.hold(this.proxy.holdOn.ms);
        this.proxy.note(`held method ${frame.method} for ${this.proxy.holdOn.ms} ms`);
        this.proxy.holdOn = undefined;
      }
      if (frame.method === Method.BasicAck || frame.method === Method.BasicNack) raw = this.#renumber(frame);
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
    let tag = Number(frame.fields.deliveryTag);
    for (const skipped of swallowed) if (skipped <= tag) tag += 1;
    return methodFrame(frame.method as number, frame.channel, { ...frame.fields, deliveryTag: tag });
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

export class FaultProxy {
  readonly links = new Set<Link>();
  /** Every fault injected, in order (a fault acting on several connections counts once). */
  readonly faults: string[] = [];
  /** The bodies of the publishes the proxy swallowed and nacked (their retries may come after later events). */
  readonly unrouted: string[] = [];
  unrouteLeft = 0;
  holdOn: { method: number; ms: number } | undefined;
  cutOnMethod: number | undefined;
  #accepting = true;
  #unreachable = false;
  #triggers: Trigger[] = [];
  #timers = new Set<NodeJS.Timeout>();
  private constructor(private readonly server: net.Server, readonly port: number) {}

  static async start(target = { host: '127.0.0.1', port: 5672 }): Promise<FaultProxy> {
    let proxy: FaultProxy | undefined;
    const server = net.createServer((client) => {
      if (!proxy || !proxy.#accepting || proxy.#unreachable) return void client.resetAndDestroy();
      const upstream = net.connect(target);
      const link = new Link(proxy, client, upstream);
      proxy.links.add(link);
      for (const socket of [client, upstream]) {
        socket.setNoDelay(true);
        socket.on('error', () => undefined);
        socket.on('close', () => {
          proxy?.links.delete(link);
          link.cut();
        });
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy = new FaultProxy(server, (server.address() as net.AddressInfo).port);
    return proxy;
  }

  url(): string {
    return `amqp://guest:guest@127.0.0.1:${this.port}`;
  }

  note(fault: string): void {
    this.faults.push(fault);
  }

  cut(): void {
    this.note('cut');
    for (const link of this.links) link.cut();
  }

  down(ms: number): void {
    this.note(`down ${ms} ms`);
    this.#accepting = false;
    for (const link of this.links) link.cut();
    this.#after(ms, () => (this.#accepting = true));
  }

  /** Refuses every connection from now on, for good (calm() does not undo it): a broker that never comes. */
  unreachable(): void {
    this.note('unreachable');
    this.#unreachable = true;
    for (const link of this.links) link.cut();
  }

  freeze(ms: number): void {
    this.note(`freeze ${ms} ms`);
    for (const link of this.links) {
      link.toServer.hold(ms);
      link.toClient.hold(ms);
    }
  }

  holdNext(method: number, ms: number): void {
    this.holdOn = { method, ms };
  }

  unrouteNext(count: number): void {
    this.unrouteLeft += count;
  }

  cancelAtDelivery(k: number): void {
    this.#triggers.push({ left: k, act: (link, channel, tag) => (this.note('consumer cancelled'), link.cancel(channel, tag)) });
  }

  channelErrorAtDelivery(k: number): void {
    this.#triggers.push({ left: k, act: (link, channel) => (this.note('channel closed by a 406'), link.channelError(channel)) });
  }

  cutOnClientMethod(method: number | undefined): void {
    this.cutOnMethod = method;
  }

  /** Called by a link for every delivery it hands the client. */
  delivered(link: Link, channel: number, consumerTag: string): void {
    for (const trigger of [...this.#triggers]) {
      trigger.left -= 1;
      if (trigger.left > 0) continue;
      this.#triggers.splice(this.#triggers.indexOf(trigger), 1);
      trigger.act(link, channel, consumerTag);
    }
  }

  /** Every fault armed and not yet fired is dropped, held links released, new connections accepted. */
  calm(): void {
    this.#triggers = [];
    this.unrouteLeft = 0;
    this.holdOn = undefined;
    this.cutOnMethod = undefined;
    this.#accepting = true;
  }

  #after(ms: number, action: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      action();
    }, ms);
    this.#timers.add(timer);
  }

  async close(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#accepting = false;
    for (const link of this.links) link.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
