// Two ways to take the broker away from the clients for the outage workload:
//  - 'proxy' (default): clients connect through a TCP proxy in the parent process; the outage resets every proxied
//    connection and refuses new ones. The broker keeps running, so nobody else sharing it notices.
//  - 'broker': `rabbitmqctl stop_app` / `start_app`. The broker is restarted on every exit path.
import { execFileSync } from 'node:child_process';
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface Outage {
  /** URL the clients use. */
  readonly url: string;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function proxyOutage(brokerUrl: string): Promise<Outage> {
  const target = new URL(brokerUrl);
  const pairs = new Set<[Socket, Socket]>();
  let down = false;
  const server: Server = createServer((client) => {
    if (down) return void client.resetAndDestroy();
    const upstream = connect(Number(target.port || 5672), target.hostname);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    for (const socket of pair) {
      socket.setNoDelay(true);
      socket.on('error', () => {});
      socket.on('close', () => {
        pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no port');
  const url = new URL(brokerUrl);
  url.hostname = '127.0.0.1';
  url.port = String(address.port);
  return {
    url: url.toString().replace(/\/$/, ''),
    async cut() {
      down = true;
      for (const [client, upstream] of pairs) {
        client.resetAndDestroy();
        upstream.destroy();
      }
    },
    async restore() {
      down = false;
    },
    async close() {
      for (const pair of pairs) for (const socket of pair) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export function brokerOutage(brokerUrl: string): Outage {
  let down = false;
  const startApp = (): void => {
    if (!down) return;
    execFileSync('rabbitmqctl', ['start_app'], { stdio: 'ignore' });
    execFileSync('rabbitmqctl', ['await_startup'], { stdio: 'ignore' });
    down = false;
  };
  // Whatever happens (crash, Ctrl-C), the broker is running again when this process ends.
  const onSignal = (signal: NodeJS.Signals): void => {
    startApp();
    process.kill(process.pid, signal);
  };
  process.on('exit', startApp);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return {
    url: brokerUrl,
    async cut() {
      down = true;
      execFileSync('rabbitmqctl', ['stop_app'], { stdio: 'ignore' });
    },
    async restore() {
      startApp();
    },
    async close() {
      startApp();
      process.off('exit', startApp);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
