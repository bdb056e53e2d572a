// Runs the real `event-bus-logger` command (lib/cli.ts under tsx) as a child process and watches its output.
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = fileURLToPath(new URL('../../lib/cli.ts', import.meta.url));

/** A running command: its output so far, and ways to wait for more. */
export class CliProcess {
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #waiters = new Set<() => void>();

  constructor(readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
      this.#notify();
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
      this.#notify();
    });
    this.exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
    void this.exited.then(() => this.#notify());
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The complete lines of stdout. */
  get lines(): string[] {
    return this.stdout.split('\n').slice(0, -1);
  }

  #notify(): void {
    for (const waiter of this.#waiters) waiter();
  }

  /** Resolves once `predicate` holds on the output; rejects after `ms` or when the process exits first. */
  async waitFor(predicate: () => boolean, what: string, ms = 10_000): Promise<void> {
    if (predicate()) return;
    await new Promise<void>((resolve, reject) => {
      const done = (error?: Error): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        if (error) reject(error);
        else resolve();
      };
      const check = (): void => {
        if (predicate()) done();
        else if (!this.running) done(new Error(`The command exited before ${what}; stdout: ${this.stdout}; stderr: ${this.stderr}`));
      };
      const timer = setTimeout(() => done(new Error(`Timed out after ${ms} ms waiting for ${what}; stdout: ${this.stdout}; stderr: ${this.stderr}`)), ms);
      this.#waiters.add(check);
    });
  }

  /** Resolves with the exit code; rejects after `ms`. */
  async exit(ms = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.exited,
        new Promise<never>((_resolve, reject) => {
          timer = setTimeout(() => reject(new Error(`The command did not exit within ${ms} ms; stdout: ${this.stdout}; stderr: ${this.stderr}`)), ms);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}

const started = new Set<CliProcess>();

// Under `npm test`, spec/run-suites.mjs compiles lib/ once into .spec-build/ and names its cli.js here: the command
// then starts under plain node, about a second of CPU less per start than tsx (the CLI specs start it ~100 times).
// Run alone, a spec starts lib/cli.ts under tsx, as always.
const BUILT_CLI = process.env.EBL_SPEC_CLI;

/** node's arguments that run `event-bus-logger ...args`. */
function commandLine(args: string[]): string[] {
  return BUILT_CLI ? [BUILT_CLI, ...args] : ['--import', 'tsx', CLI, ...args];
}

/** Starts `event-bus-logger ...args` (node --import tsx lib/cli.ts, or the build of EBL_SPEC_CLI). */
export function startCli(args: string[], options: { env?: NodeJS.ProcessEnv; input?: string } = {}): CliProcess {
  const child = spawn(process.execPath, commandLine(args), {
    cwd: ROOT,
    env: { ...process.env, ...options.env },
    stdio: 'pipe',
  });
  const cli = new CliProcess(child);
  started.add(cli);
  void cli.exited.then(() => started.delete(cli));
  if (options.input !== undefined) child.stdin.end(options.input);
  return cli;
}

/** Runs a command to its end. */
export async function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cli = startCli(args, { input: '', ...options });
  const { code } = await cli.exit();
  return { code, stdout: cli.stdout, stderr: cli.stderr };
}

/** Kills every command a spec started and did not see exit (for afterEach). */
export async function killStarted(): Promise<void> {
  const running = [...started];
  for (const cli of running) if (cli.running) cli.child.kill('SIGKILL');
  await Promise.all(running.map((cli) => cli.exited));
  started.clear();
}

const quote = (arg: string): string => `'${arg.replace(/'/g, `'\\''`)}'`;

/** Whether util-linux `script` is here, which {@link startCliOnTerminal} needs. */
export const hasScript = ((): boolean => {
  try {
    execFileSync('script', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/**
 * Starts `event-bus-logger ...args` on a pseudo-terminal, through util-linux `script`, so stdout is a TTY.
 * Write "\x03" to `child.stdin` to press Ctrl-C.
 */
export function startCliOnTerminal(args: string[], env: NodeJS.ProcessEnv = {}): CliProcess {
  // `script` runs the command through $SHELL -c. `exec` makes the command itself the terminal's foreground process:
  // a shell such as dash would otherwise stay in between, take the Ctrl-C as well and exit 130 whatever the command did.
  const command = `exec ${[process.execPath, ...commandLine(args)].map(quote).join(' ')}`;
  const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd: ROOT, env: { ...process.env, ...env }, stdio: 'pipe' });
  const cli = new CliProcess(child);
  started.add(cli);
  void cli.exited.then(() => started.delete(cli));
  return cli;
}
