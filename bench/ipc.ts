// Child-process plumbing: the parent forks a TypeScript child (through tsx) and exchanges typed messages with it
// over IPC; the child must then exit by itself, which proves it closed every connection it opened.
import { fork, type ChildProcess } from 'node:child_process';

export interface Message {
  type: string;
  [key: string]: unknown;
}

const EXIT_GRACE_MS = 10_000;

export class Child {
  readonly #process: ChildProcess;
  readonly #inbox: Message[] = [];
  readonly #waiters = new Set<() => void>();
  readonly exited: Promise<number | null>;
  #alive = true;

  constructor(file: string, args: unknown, nodeOptions: readonly string[] = []) {
    this.#process = fork(file, [JSON.stringify(args)], {
      execArgv: [...nodeOptions, '--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.#process.on('message', (message: Message) => {
      this.#inbox.push(message);
      this.#wake();
    });
    this.exited = new Promise((resolve) =>
      this.#process.once('exit', (code) => {
        this.#alive = false;
        this.#wake();
        resolve(code);
      }),
    );
  }

  #wake(): void {
    for (const wake of this.#waiters) wake();
  }

  send(message: Message): void {
    if (this.#alive && this.#process.connected) this.#process.send(message);
  }

  /** The next message of `type` (an `error` message from the child rejects), within `timeoutMs`. */
  async next(type: string, timeoutMs: number): Promise<Message> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.#inbox.findIndex((message) => message.type === type || message.type === 'error');
      if (index >= 0) {
        const [message] = this.#inbox.splice(index, 1) as [Message];
        if (message.type === 'error') throw new Error(`child ${this.#process.pid}: ${String(message.message)}`);
        return message;
      }
      if (!this.#alive) throw new Error(`child ${this.#process.pid} exited before sending '${type}'`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`child ${this.#process.pid}: no '${type}' within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          this.#waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.#waiters.add(wake);
      });
    }
  }

  /** Waits for the child to exit by itself; kills it (this child only) if it does not. True if it exited alone. */
  async settle(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const alone = await Promise.race([
      this.exited.then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), EXIT_GRACE_MS))),
    ]);
    clearTimeout(timer);
    if (!alone) {
      this.#process.kill('SIGKILL');
      await this.exited;
    }
    return alone;
  }
}

// ---- child side ----

/** The JSON argument the parent passed. */
export function childArgs<T>(): T {
  const raw = process.argv[2];
  if (raw === undefined) throw new Error('expected a JSON argument (this file is run by bench/run.ts)');
  return JSON.parse(raw) as T;
}

const received: Message[] = [];
const waiting = new Map<string, { resolve: (message: Message) => void; reject: (error: Error) => void }>();
let orphaned = false;
function onParentMessage(message: Message): void {
  const waiter = waiting.get(message.type);
  if (waiter) {
    waiting.delete(message.type);
    waiter.resolve(message);
  } else received.push(message);
}
// The parent died: every wait fails, so the workload unwinds through its cleanup and the process ends. Should the
// cleanup itself hang (Rascal's shutdown waits for a broker it cannot reach), an orphan must not live on: give up.
const ORPHAN_GRACE_MS = 30_000;
function onParentGone(): void {
  orphaned = true;
  setTimeout(() => process.exit(3), ORPHAN_GRACE_MS).unref();
  for (const { reject } of waiting.values()) reject(new Error('the parent process is gone'));
  waiting.clear();
}

export const parent = {
  send(message: Message): Promise<void> {
    if (orphaned) return Promise.resolve();
    return new Promise((resolve, reject) => process.send?.(message, undefined, {}, (error) => (error ? reject(error) : resolve())));
  },
  receive(type: string): Promise<Message> {
    const index = received.findIndex((message) => message.type === type);
    if (index >= 0) return Promise.resolve(received.splice(index, 1)[0] as Message);
    if (orphaned) return Promise.reject(new Error('the parent process is gone'));
    return new Promise((resolve, reject) => waiting.set(type, { resolve, reject }));
  },
  /** Runs `main`, reports its failure to the parent, then lets go of the IPC channel so the process can exit. */
  async run(main: () => Promise<void>): Promise<void> {
    process.on('message', onParentMessage);
    process.once('disconnect', onParentGone);
    try {
      await main();
    } catch (error) {
      await parent.send({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
      process.exitCode = 1;
    } finally {
      process.off('message', onParentMessage);
      process.off('disconnect', onParentGone);
      if (process.connected) process.disconnect();
    }
  },
};
