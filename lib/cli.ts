#!/usr/bin/env node
// The `event-bus-logger` command: `tail` prints every event of a bus, `publish` sends events to it, `web` shows the
// bus live in a browser.
// Exit codes: 0 done, 1 an event was not confirmed (or another failure), 2 usage (bad arguments, unknown level,
// bad JSON, bad config), 3 the broker cannot be reached.
// The commands live in lib/cli/: tail.ts, publish.ts, web.ts, and what they share in common.ts.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { maskUrl } from './errors.js';
import { EXIT, OPTIONS, PROGRAM, asCliError, usage, type Parsed } from './cli/common.js';
import { COMMANDS, commandHelp, generalHelp, type CommandName } from './cli/help.js';
import { PUBLISH_WINDOW, publish } from './cli/publish.js';
import { historyInfo } from './cli/history-info.js';
import { tail } from './cli/tail.js';
import { TOKEN_VARIABLE, web } from './cli/web.js';

function version(): string {
  // lib/cli.ts under tsx, dist/lib/cli.js once built.
  for (const path of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === PROGRAM && pkg.version) return pkg.version;
    } catch {
      // try the next one
    }
  }
  return 'unknown';
}

function parse(argv: string[]): Parsed {
  let result;
  try {
    result = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: OPTIONS,
    });
  } catch (error) {
    throw usage(`${maskUrl((error as Error).message)}; see ${PROGRAM} --help`);
  }
  const [command, ...args] = result.positionals;
  return { command, args, values: result.values };
}

async function main(argv: string[]): Promise<number> {
  const parsed = parse(argv);
  if (parsed.values.version) {
    process.stdout.write(`${version()}\n`);
    return EXIT.OK;
  }
  const facts = { publishWindow: PUBLISH_WINDOW, tokenVariable: TOKEN_VARIABLE };
  // `tail --help` and `help tail`: that command's help; `--help` and `help` alone: every command's.
  const asked = parsed.command === 'help' ? parsed.args[0] : parsed.values.help ? parsed.command : undefined;
  if (parsed.values.help || parsed.command === 'help') {
    if (asked !== undefined && !COMMANDS.includes(asked as CommandName)) throw usage(`no help for "${asked}": the commands are ${COMMANDS.join(', ')}; see ${PROGRAM} --help`);
    process.stdout.write(asked === undefined ? generalHelp(facts) : commandHelp(asked as CommandName, facts));
    return EXIT.OK;
  }
  switch (parsed.command) {
    case 'tail':
      return tail(parsed);
    case 'publish':
      return publish(parsed);
    case 'web':
      return web(parsed);
    case 'history-info':
      return historyInfo(parsed);
    case undefined:
      throw usage(`missing command: expected tail, publish, web, history-info or help; see ${PROGRAM} --help`);
    default:
      throw usage(`unknown command "${parsed.command}"; expected tail, publish, web, history-info or help; see ${PROGRAM} --help`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Everything is closed by now; should a stray handle linger, do not hang on it.
    setTimeout(() => process.exit(code), 2000).unref();
  },
  (error: unknown) => {
    const failure = asCliError(error);
    process.stderr.write(`${PROGRAM}: ${failure.message.split('\n').join(' ')}\n`);
    process.exitCode = failure.exitCode;
    setTimeout(() => process.exit(failure.exitCode), 2000).unref();
  },
);
