// Users and vhosts a security spec creates on the local broker with rabbitmqctl, each with a unique name and a
// random password, and deletes again (call `cleanup()` in an `after`/`afterEach`): the broker is shared.
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Runs `rabbitmqctl args...` on the default node. */
export async function ctl(...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync('rabbitmqctl', args, { timeout: 60_000 });
  return stdout;
}

export interface BrokerUser {
  name: string;
  password: string;
  /** The URL of this user on the default broker, in `vhost` ('/' by default). */
  url(vhost?: string): string;
  /** `rabbitmqctl set_permissions -p vhost user configure write read`. */
  permit(permissions: { configure?: string; write?: string; read?: string }, vhost?: string): Promise<void>;
}

/** What a spec created; `cleanup()` deletes it all. */
export class Scratch {
  readonly users: string[] = [];
  readonly vhosts: string[] = [];

  async user(prefix = 'spec_user'): Promise<BrokerUser> {
    const name = `${prefix}_${randomUUID().slice(0, 8)}`;
    // Letters and digits only, so it goes into a URL as is; long and random, so a search for it finds only leaks.
    const password = `Pw${randomBytes(12).toString('hex')}`;
    await ctl('add_user', name, password);
    this.users.push(name);
    return {
      name,
      password,
      url: (vhost = '/') => `amqp://${name}:${password}@127.0.0.1:5672/${encodeURIComponent(vhost)}`,
      permit: async ({ configure = '', write = '', read = '' }, vhost = '/') => {
        await ctl('set_permissions', '-p', vhost, name, configure, write, read);
      },
    };
  }

  async vhost(prefix = 'spec_vhost'): Promise<string> {
    const name = `${prefix}_${randomUUID().slice(0, 8)}`;
    await ctl('add_vhost', name);
    this.vhosts.push(name);
    await ctl('set_permissions', '-p', name, 'guest', '.*', '.*', '.*');
    return name;
  }

  async cleanup(): Promise<void> {
    for (const user of this.users.splice(0)) await ctl('delete_user', user).catch(() => undefined);
    for (const vhost of this.vhosts.splice(0)) await ctl('delete_vhost', vhost).catch(() => undefined);
  }
}

/** A regular expression that matches `text` literally. */
export function literally(text: string): RegExp {
  return new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
}
