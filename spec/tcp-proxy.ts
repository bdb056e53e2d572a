// A TCP proxy in front of the broker, for fault specs (and the benchmark's outage) that must not disturb anyone
// else on the broker: cut() resets every connection through it (as a dead TCP link would), down() refuses new
// ones until up(), freeze() silently stops the traffic of the open ones (a partition, a NAT that forgot them).
import net from 'node:net';

export class TcpProxy {
  private readonly sockets = new Set<net.Socket>();
  private readonly pairs = new Set<[net.Socket, net.Socket]>();
  private readonly frozen = new WeakSet<[net.Socket, net.Socket]>();
  private accepting = true;
  private constructor(private readonly server: net.Server, readonly port: number) {}

  static async start(target = { host: '127.0.0.1', port: 5672 }): Promise<TcpProxy> {
    const sockets = new Set<net.Socket>();
    const pairs = new Set<[net.Socket, net.Socket]>();
    // Frozen pairs: as across a partition, one side closing is not heard by the other.
    const frozen = new WeakSet<[net.Socket, net.Socket]>();
    let proxy: TcpProxy | undefined;
    const server = net.createServer((client) => {
      if (!proxy?.accepting) {
        client.resetAndDestroy();
        return;
      }
      const upstream = net.connect(target);
      const pair: [net.Socket, net.Socket] = [client, upstream];
      pairs.add(pair);
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.setNoDelay(true);
        socket.on('error', () => undefined);
        socket.on('close', () => {
          sockets.delete(socket);
          pairs.delete(pair);
          if (frozen.has(pair)) return;
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy = new TcpProxy(server, (server.address() as net.AddressInfo).port);
    Object.assign(proxy, { sockets, pairs, frozen });
    return proxy;
  }

  /** An AMQP URL through this proxy. */
  url(credentials = 'guest:guest'): string {
    return `amqp://${credentials}@127.0.0.1:${this.port}`;
  }

  /** Connections through the proxy now. */
  get connections(): number {
    return this.sockets.size / 2;
  }

  /** Resets every connection through the proxy. */
  cut(): void {
    for (const socket of this.sockets) socket.resetAndDestroy();
  }

  /** Kills every connection and refuses new ones. */
  down(): void {
    this.accepting = false;
    this.cut();
  }

  /**
   * Stops forwarding on every open connection without closing it: neither side hears from the other again, as
   * across a network partition. New connections go through as usual.
   */
  freeze(): void {
    for (const pair of this.pairs) {
      const [client, upstream] = pair;
      this.frozen.add(pair);
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
    this.pairs.clear();
  }

  up(): void {
    this.accepting = true;
  }

  async close(): Promise<void> {
    this.down();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
