// A fault-injecting AMQP 0-9-1 proxy in front of the real broker. It reads every frame both ways (frames.ts) and
// injects faults at frame boundaries, so the broker keeps its real semantics:
// - cut(): every connection reset (a dropped link); down(ms): cut, and new connections refused for ms (an outage);
// - freeze(ms): nothing passes either way for ms, then all of it does (a link frozen then thawed);
// - holdNext(method, ms): the broker's next frame of that method (a confirm, a delivery: a probe answered slowly)
//   and everything after it wait ms;
// - unrouteNext(n, skip): the client's next n publishes (after `skip` more) never reach the broker and are nacked
//   (a queue that did not take them); the broker's later confirm tags are renumbered to match;
// - cancelAtDelivery(k): the consumer of the k-th delivery from now is cancelled at the broker, and the client told
//   so by a basic.cancel once the broker's cancel-ok shows every delivery before it went out (a broker cancel);
// - channelErrorAtDelivery(k): on the channel of the k-th delivery from now, an ack of an unknown delivery tag, which
//   the broker answers by closing the channel with 406 (a channel closed by a broker error);
// - cutAtDelivery(k): every connection reset at the k-th delivery from now (a drop in the middle of a read);
// - cutOnClientMethod(method): a connection is reset when its client sends that method (a drop mid-set-up);
// - unreachable(): every connection refused for good (a broker that never comes).
// calm() disarms what has not fired yet and accepts connections again (but after unreachable()).
// In front of a cluster (check:faults --cluster) one proxy listens on one port per node, so a client's URL list goes
// through it whole and every fault above acts on the client's connection whichever node it reached.
import net from 'node:net';
import { Link, type LinkHost } from './link.js';

// A fault fired at the `left`-th delivery from now (counting only deliveries to the consumers it is about).
type Trigger = { left: number; skipProbes: boolean; act: (link: Link, channel: number, consumerTag: string) => void };

export class FaultProxy implements LinkHost {
  readonly links = new Set<Link>();
  /** Every fault injected, in order (a fault acting on several connections counts once). */
  readonly faults: string[] = [];
  /** The bodies of the publishes the proxy swallowed and nacked (their retries may come after later events). */
  readonly unrouted: string[] = [];
  /** On a cluster: the bodies of the publishes the broker nacked (a queue on a dying node; their retries may come late). */
  brokerNacked: string[] | undefined;
  /** When the effect of the last fault that could lose a listener's queued events ended (performance.now()). */
  lastFaultEnds = -Infinity;
  unrouteLeft = 0;
  unrouteSkip = 0;
  holdOn: { method: number; ms: number } | undefined;
  cutOnMethod: number | undefined;
  #accepting = true;
  #unreachable = false;
  #triggers: Trigger[] = [];
  #timers = new Set<NodeJS.Timeout>();
  /** The node (its broker's port) each link reaches. */
  readonly nodeOf = new Map<Link, number>();
  private constructor(private readonly servers: net.Server[], readonly ports: number[]) {}

  /** Listens on one port per target (by default the broker on 127.0.0.1:5672), each forwarding to its target. */
  static async start(targets: { host: string; port: number } | Array<{ host: string; port: number }> = { host: '127.0.0.1', port: 5672 }): Promise<FaultProxy> {
    let proxy: FaultProxy | undefined;
    const servers = (Array.isArray(targets) ? targets : [targets]).map((target) => net.createServer((client) => {
      if (!proxy || !proxy.#accepting || proxy.#unreachable) return void client.resetAndDestroy();
      const upstream = net.connect(target);
      const link = new Link(proxy, client, upstream);
      proxy.links.add(link);
      proxy.nodeOf.set(link, target.port);
      for (const socket of [client, upstream]) {
        socket.setNoDelay(true);
        socket.on('error', () => undefined);
        socket.on('close', () => {
          proxy?.links.delete(link);
          proxy?.nodeOf.delete(link);
          link.cut();
        });
      }
    }));
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))));
    proxy = new FaultProxy(servers, servers.map((server) => (server.address() as net.AddressInfo).port));
    return proxy;
  }

  /** The first (or only) port's URL. */
  url(): string {
    return `amqp://guest:guest@127.0.0.1:${this.port}`;
  }

  /** One URL per target, in the targets' order. */
  urls(): string[] {
    return this.ports.map((port) => `amqp://guest:guest@127.0.0.1:${port}`);
  }

  get port(): number {
    return this.ports[0]!;
  }

  /** The targets' ports the open links reach now (a cluster's nodes the client is connected to). */
  get reached(): number[] {
    return [...new Set(this.nodeOf.values())];
  }

  /**
   * Records a fault as it fires: `lossy` when it can lose what a listener's queue held (holds and nacks cannot, nor
   * a freeze under the heartbeat's reach), `lasts` how long its effect lasts (an outage, a freeze).
   */
  note(fault: string, lossy: boolean, lasts = 0): void {
    this.faults.push(fault);
    if (lossy) this.lastFaultEnds = Math.max(this.lastFaultEnds, performance.now() + lasts);
  }

  cut(): void {
    this.note('cut', true);
    for (const link of this.links) link.cut();
  }

  down(ms: number): void {
    this.note(`down ${ms} ms`, true, ms);
    this.#accepting = false;
    for (const link of this.links) link.cut();
    this.#after(ms, () => (this.#accepting = true));
  }

  /** Refuses every connection from now on, for good (calm() does not undo it): a broker that never comes. */
  unreachable(): void {
    this.note('unreachable', true);
    this.#unreachable = true;
    for (const link of this.links) link.cut();
  }

  get isUnreachable(): boolean {
    return this.#unreachable;
  }

  freeze(ms: number): void {
    this.note(`freeze ${ms} ms`, ms >= 1000, ms);
    for (const link of this.links) {
      link.toServer.hold(ms);
      link.toClient.hold(ms);
    }
  }

  holdNext(method: number, ms: number): void {
    this.holdOn = { method, ms };
  }

  /** The next `count` publishes after the next `skip` are swallowed and nacked. */
  unrouteNext(count: number, skip = 0): void {
    this.unrouteLeft += count;
    this.unrouteSkip = skip;
  }

  /** With `skipProbes`, counts only deliveries to consumers that are not probes of a stream's end. */
  cancelAtDelivery(k: number, skipProbes = false): void {
    this.#triggers.push({ left: k, skipProbes, act: (link, channel, tag) => (this.note('consumer cancelled', true), link.cancel(channel, tag)) });
  }

  cutAtDelivery(k: number): void {
    this.#triggers.push({ left: k, skipProbes: true, act: () => this.cut() });
  }

  channelErrorAtDelivery(k: number): void {
    this.#triggers.push({ left: k, skipProbes: false, act: (link, channel) => (this.note('channel closed by a 406', true), link.channelError(channel)) });
  }

  cutOnClientMethod(method: number | undefined): void {
    this.cutOnMethod = method;
  }

  /** Called by a link for every delivery it hands the client. */
  delivered(link: Link, channel: number, consumerTag: string): void {
    for (const trigger of [...this.#triggers]) {
      if (trigger.skipProbes && link.consumerOffsets.get(consumerTag) === 'last') continue;
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
    this.unrouteSkip = 0;
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
    await Promise.all(this.servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }
}
