// A TCP proxy in front of the broker, for fault specs (and the benchmark's outage) that must not disturb anyone
// else on the broker: cut() resets every connection through it (as a dead TCP link would), down() refuses new
// ones until up() (a broker that is not up yet, or went away; refuse() alone leaves the open ones to the broker), cutOnMethod() resets a connection when its client
// sends a given AMQP method (a connection lost mid-start), freeze() silently stops the traffic of the open ones (a
// partition, a NAT that forgot them), freezeOnMethod() freezes a connection when its client sends a given AMQP
// method (a link that froze mid-start), and slowDeliveries() makes the broker slow to send what it delivers (a
// loaded broker, for history's probes).
import net from 'node:net';

export class TcpProxy {
  private readonly sockets = new Set<net.Socket>();
  private readonly pairs = new Set<[net.Socket, net.Socket]>();
  private readonly frozen = new WeakSet<[net.Socket, net.Socket]>();
  private readonly clients = new Set<net.Socket>();
  private accepting = true;
  private freezeOn: { classId: number; methodId: number } | undefined;
  private deliveryDelay: number | undefined;
  private cutOn: { classId: number; methodId: number } | undefined;
  private readonly serverWaits = new Set<{ classId: number; methodId: number; resolve: () => void }>();
  private refusedCount = 0;
  private readonly refusedWaits = new Set<{ count: number; resolve: () => void }>();
  private constructor(private readonly server: net.Server, readonly port: number) {}

  static async start(target = { host: '127.0.0.1', port: 5672 }): Promise<TcpProxy> {
    const sockets = new Set<net.Socket>();
    const pairs = new Set<[net.Socket, net.Socket]>();
    // Frozen pairs: as across a partition, one side closing is not heard by the other.
    const frozen = new WeakSet<[net.Socket, net.Socket]>();
    const clients = new Set<net.Socket>();
    let proxy: TcpProxy | undefined;
    const server = net.createServer((client) => {
      if (!proxy?.accepting) {
        client.resetAndDestroy();
        proxy?.countRefused();
        return;
      }
      const upstream = net.connect(target);
      const pair: [net.Socket, net.Socket] = [client, upstream];
      pairs.add(pair);
      clients.add(client);
      client.on('close', () => clients.delete(client));
      // Registered before pipe(): the chunk that holds the method still reaches the broker, nothing after it does.
      client.on('data', (chunk: Buffer) => {
        const method = proxy?.freezeOn;
        if (method && pairs.has(pair) && holdsMethod(chunk, method.classId, method.methodId)) proxy?.freezePair(pair);
        const cut = proxy?.cutOn;
        if (cut && holdsMethod(chunk, cut.classId, cut.methodId)) {
          proxy!.cutOn = undefined;
          client.resetAndDestroy();
        }
      });
      upstream.on('data', (chunk: Buffer) => proxy?.heardFromServer(chunk));
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
      const delay = proxy?.deliveryDelay;
      if (delay === undefined) {
        client.pipe(upstream).pipe(client);
        return;
      }
      // A slow broker: from its first basic.deliver frame on, what it sends reaches the client `delay` ms late, in
      // order; the frames before it (a consume-ok in the same TCP chunk) pass at once.
      client.pipe(upstream);
      let held = 0;
      let pending = Buffer.alloc(0);
      const send = (bytes: Buffer, hold: boolean): void => {
        if (!hold) return void client.write(bytes);
        held++;
        setTimeout(() => {
          held--;
          if (!client.destroyed) client.write(bytes);
        }, delay);
      };
      upstream.on('data', (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        // Whole frames only: type (1), channel (2), size (4), payload, end marker (1); the protocol header goes as is.
        let start = 0;
        while (pending.length - start >= 8 && pending[start] !== 0x41) {
          const end = start + 8 + pending.readUInt32BE(start + 3);
          if (end > pending.length) break;
          const frame = pending.subarray(start, end);
          send(frame, held > 0 || holdsMethod(frame, 60, 60));
          start = end;
        }
        if (pending[start] === 0x41) {
          send(pending.subarray(start), held > 0);
          start = pending.length;
        }
        pending = Buffer.from(pending.subarray(start));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy = new TcpProxy(server, (server.address() as net.AddressInfo).port);
    Object.assign(proxy, { sockets, pairs, frozen, clients });
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

  /** Client sockets still open (a frozen connection's client side closes when the client gives up on it). */
  get clientsOpen(): number {
    return this.clients.size;
  }

  /** Resets every connection through the proxy. */
  cut(): void {
    for (const socket of this.sockets) socket.resetAndDestroy();
  }

  /** Connections refused while down. */
  get refused(): number {
    return this.refusedCount;
  }

  /** Resolves once `count` connections in all have been refused while down: a client is retrying. */
  whenRefused(count: number): Promise<void> {
    if (this.refusedCount >= count) return Promise.resolve();
    return new Promise((resolve) => this.refusedWaits.add({ count, resolve }));
  }

  private countRefused(): void {
    this.refusedCount++;
    for (const wait of this.refusedWaits) {
      if (this.refusedCount < wait.count) continue;
      this.refusedWaits.delete(wait);
      wait.resolve();
    }
  }

  /**
   * Refuses new connections until up(), leaving the open ones as they are: with the broker closing those (as it does
   * when it stops), what its clients see of a broker going away, to them alone.
   */
  refuse(): void {
    this.accepting = false;
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
    for (const pair of this.pairs) this.freezePair(pair);
  }

  /**
   * From now on, freezes a connection (as {@link freeze}) as soon as its client sends the AMQP method
   * `classId`.`methodId`, e.g. 50, 10 for queue.declare.
   */
  freezeOnMethod(classId: number, methodId: number): void {
    this.freezeOn = { classId, methodId };
  }

  /**
   * Resets the next connection whose client sends the AMQP method `classId`.`methodId` (e.g. 50, 10 for
   * queue.declare: a connection lost during the logger's set-up), once; later connections go through.
   */
  cutOnMethod(classId: number, methodId: number): void {
    this.cutOn = { classId, methodId };
  }

  /**
   * Resolves once the broker sends the AMQP method `classId`.`methodId` to a client through the proxy, on a
   * connection open now or later, e.g. 60, 80 for basic.ack (a publish confirm).
   */
  serverSent(classId: number, methodId: number): Promise<void> {
    return new Promise((resolve) => this.serverWaits.add({ classId, methodId, resolve }));
  }

  private heardFromServer(chunk: Buffer): void {
    for (const wait of this.serverWaits) {
      if (!holdsMethod(chunk, wait.classId, wait.methodId)) continue;
      this.serverWaits.delete(wait);
      wait.resolve();
    }
  }

  private freezePair(pair: [net.Socket, net.Socket]): void {
    const [client, upstream] = pair;
    this.frozen.add(pair);
    this.pairs.delete(pair);
    client.unpipe(upstream);
    upstream.unpipe(client);
    // What the client sends is read and dropped, so the proxy still notices the client closing (clientsOpen);
    // nothing reaches the broker, and the broker hears of no close.
    client.on('data', () => undefined);
    client.resume();
    upstream.pause();
  }

  /**
   * From now on, new connections get a slow broker: what it sends reaches the client `ms` late, from its first
   * message delivery (basic.deliver) on; method replies before that pass at once. (Not combined with freeze().)
   */
  slowDeliveries(ms: number): void {
    this.deliveryDelay = ms;
  }

  up(): void {
    this.accepting = true;
  }

  async close(): Promise<void> {
    this.down();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

// Whether `chunk` holds an AMQP method frame (type 1) of method `classId`.`methodId`: frame type, channel (2 bytes),
// size (4 bytes), then the class and method ids (2 bytes each).
function holdsMethod(chunk: Buffer, classId: number, methodId: number): boolean {
  for (let i = 0; i + 11 <= chunk.length; i++) {
    if (chunk[i] === 1 && chunk.readUInt16BE(i + 7) === classId && chunk.readUInt16BE(i + 9) === methodId) return true;
  }
  return false;
}
