// Two ways to take the broker away from the clients for the outage workload:
//  - 'proxy' (default): clients connect through a TCP proxy in the parent process; the outage resets every proxied
//    connection and refuses new ones. The broker keeps running, so nobody else sharing it notices.
//  - 'broker': `rabbitmqctl stop_app` / `start_app`. The broker is restarted on every exit path.
import { execFileSync } from 'node:child_process';
import { TcpProxy } from '../spec/tcp-proxy.js';

export interface Outage {
  /** URL the clients use. */
  readonly url: string;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function proxyOutage(brokerUrl: string): Promise<Outage> {
  const target = new URL(brokerUrl);
  const proxy = await TcpProxy.start({ host: target.hostname, port: Number(target.port || 5672) });
  const url = new URL(brokerUrl);
  url.hostname = '127.0.0.1';
  url.port = String(proxy.port);
  return {
    url: url.toString().replace(/\/$/, ''),
    async cut() {
      proxy.down();
    },
    async restore() {
      proxy.up();
    },
    close: () => proxy.close(),
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
