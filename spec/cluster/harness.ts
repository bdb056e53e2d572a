// The cluster specs' (and the soak's) hold on the 3-node RabbitMQ cluster that .ci/cluster runs beside the default
// broker: nodes a, b, c on 127.0.0.1:5673-5675 (EBL_CLUSTER_PORT, EBL_CLUSTER_NAME and EBL_CLUSTER_DIR move it aside:
// see .ci/cluster). `useCluster()` brings it up once per process (or reuses a healthy one
// another process started, with EBL_CLUSTER_REUSE=1), heals it before each spec, and tears it down when the
// process ends however it ends: normally, on SIGINT/SIGTERM, or killed outright (a watchdog process does it then).
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const NODES = ['a', 'b', 'c'] as const;
export type ClusterNode = (typeof NODES)[number];
const PORT0 = Number(process.env.EBL_CLUSTER_PORT ?? 5673);
if (!Number.isInteger(PORT0) || PORT0 < 1024 || PORT0 > 45533) throw new Error(`EBL_CLUSTER_PORT must be a port from 1024 to 45533 (node a's; b and c take the next two), got '${process.env.EBL_CLUSTER_PORT}'`);
export const PORTS: Record<ClusterNode, number> = { a: PORT0, b: PORT0 + 1, c: PORT0 + 2 };

const SCRIPT = fileURLToPath(new URL('../../.ci/cluster', import.meta.url));
const execFileAsync = promisify(execFile);

/** The AMQP URL of one node. */
export function url(node: ClusterNode): string {
  return `amqp://guest:guest@127.0.0.1:${PORTS[node]}`;
}

/** The URLs of the nodes, in the order given (the logger prefers the first). */
export function urls(...order: ClusterNode[]): string[] {
  return order.map(url);
}

/** Whether this machine can run the cluster: RabbitMQ's unwrapped scripts are there. */
export function clusterAvailable(): boolean {
  return existsSync('/usr/lib/rabbitmq/bin/rabbitmq-server');
}

async function run(...args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync('bash', [SCRIPT, ...args], { timeout: 240_000, env: { ...process.env, EBL_CLUSTER_OWNER: String(process.pid) } });
    return stdout;
  } catch (error) {
    const failure = error as Error & { stderr?: string };
    throw new Error(`.ci/cluster ${args.join(' ')} failed: ${failure.stderr?.trim() || failure.message}`);
  }
}

let started: Promise<void> | undefined;
let teardownArmed = false;

function teardownNow(): void {
  if (!teardownArmed) return;
  teardownArmed = false;
  try {
    execFileSync('bash', [SCRIPT, 'down-if-owner', String(process.pid)], { stdio: 'ignore', timeout: 60_000 });
  } catch {
    // the watchdog will try again
  }
}

function armTeardown(): void {
  if (teardownArmed) return;
  teardownArmed = true;
  process.once('exit', teardownNow);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      teardownNow();
      process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
    });
  }
  // Killed outright (kill -9, an OOM kill), this process runs no handler: a detached watchdog notices it is gone
  // and tears down the cluster it owns (only that one: a later run's cluster has another owner).
  const watchdog = spawn('bash', ['-c', `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; exec bash "$0" down-if-owner ${process.pid}`, SCRIPT], {
    detached: true,
    stdio: 'ignore',
  });
  watchdog.unref();
}

export const cluster = {
  /** Starts the three nodes and clusters them (about 17 s), unless this process already did. */
  up(): Promise<void> {
    started ??= (async () => {
      armTeardown();
      await run('up');
    })();
    return started;
  },
  /** Tears the cluster down now (it is also torn down when the process ends). */
  async down(): Promise<void> {
    started = undefined;
    await run('down-if-owner', String(process.pid));
    teardownArmed = false;
  },
  /** Every node running and clustered again. */
  heal: () => run('heal').then(() => undefined),
  /** kill -9 of the node's Erlang VM: a crash. */
  kill: (node: ClusterNode) => run('kill', node).then(() => undefined),
  /** Starts a killed node again; it rejoins from its data folder. */
  startNode: (node: ClusterNode) => run('start-node', node).then(() => undefined),
  /** `rabbitmqctl stop_app`: clients get 320 CONNECTION_FORCED, the VM stays a cluster member. */
  stopApp: (node: ClusterNode) => run('stop-app', node).then(() => undefined),
  startApp: (node: ClusterNode) => run('start-app', node).then(() => undefined),
  /** A graceful shutdown of the whole node, then a start. */
  restart: (node: ClusterNode) => run('restart', node).then(() => undefined),
  /** `rabbitmqctl close_all_connections` on one node. */
  closeConnections: (node: ClusterNode) => run('close-connections', node).then(() => undefined),
  /** rabbitmqctl against one node, JSON output. */
  async ctl<T = unknown>(node: ClusterNode, ...args: string[]): Promise<T> {
    const out = (await run('ctl', node, ...args, '--formatter', 'json', '--quiet')).trim();
    return (out === '' ? undefined : JSON.parse(out)) as T;
  },
};

/**
 * For a cluster spec's `describe`: the cluster up before the first spec (once per process) and healed (every node
 * running, clustered) before each. Fails plainly when RabbitMQ's scripts are missing: `npm run test:cluster` is
 * only run where the cluster can be.
 */
export function useCluster(context: Mocha.Suite): void {
  context.timeout(300_000);
  before(async function () {
    this.timeout(300_000);
    if (!clusterAvailable()) throw new Error('The cluster specs need RabbitMQ installed from Debian\'s package (/usr/lib/rabbitmq/bin/rabbitmq-server); run them with `npm run test:cluster` where it is');
    await cluster.up();
  });
  beforeEach(async function () {
    this.timeout(300_000);
    await cluster.heal();
  });
}
