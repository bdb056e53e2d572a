// A bus of its own for each command-line spec: its exchange name and the `--url`/`--name` arguments that point the
// command at it; after the spec, the commands it started are killed and the exchange is deleted.
import { AMQP_URL, deleteExchange, uniqueName } from '../helpers.js';
import { killStarted, startCli, type CliProcess } from './run-cli.js';

/** A new bus for one spec. */
export function cliBus(): { name: string; args: string[] } {
  const name = uniqueName('cli');
  return { name, args: ['--url', AMQP_URL, '--name', name] };
}

/** After a spec: its commands killed, its exchange deleted. */
export async function cleanUpCli(name: string): Promise<void> {
  await killStarted();
  await deleteExchange(name).catch(() => undefined);
}

/** Starts `tail` on the bus and waits until it says it listens. */
export async function tailListening(name: string, bus: string[], args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<CliProcess> {
  const tail = startCli(['tail', ...bus, ...args], { env });
  await tail.waitFor(() => tail.stderr.includes(`listening on ${name} as `), 'the tail to listen');
  return tail;
}
