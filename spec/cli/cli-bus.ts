// A bus of its own for each command-line spec: its exchange name and the `--url`/`--name` arguments that point the
// command at it; after the spec, the commands it started are killed and the exchange is deleted.
import { AMQP_URL, deleteExchange, uniqueName } from '../helpers.js';
import { killStarted, startCli, type CliProcess } from './run-cli.js';

/** The current spec's bus. */
export interface CliBus {
  /** The exchange's name. */
  name: string;
  /** `--url` and `--name` for it. */
  bus: string[];
  /** Starts `tail` on the bus and waits until it says it listens. */
  listening(args?: string[], env?: NodeJS.ProcessEnv): Promise<CliProcess>;
}

/** Gives each spec of the enclosing describe a bus of its own (hooks registered here); read it inside the specs. */
export function cliBusPerSpec(): CliBus {
  const cli: CliBus = {
    name: '',
    bus: [],
    async listening(args = [], env = {}) {
      const tail = startCli(['tail', ...cli.bus, ...args], { env });
      await tail.waitFor(() => tail.stderr.includes(`listening on ${cli.name} as `), 'the tail to listen');
      return tail;
    },
  };
  beforeEach(() => {
    cli.name = uniqueName('cli');
    cli.bus = ['--url', AMQP_URL, '--name', cli.name];
  });
  afterEach(async () => {
    await killStarted();
    await deleteExchange(cli.name).catch(() => undefined);
  });
  return cli;
}
