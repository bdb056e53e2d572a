#!/usr/bin/env node
// The `event-bus-logger` command: `tail` prints every event of a bus, `publish` sends events to it, `web` shows the
// bus live in a browser.
// Exit codes: 0 done, 1 an event was not confirmed (or another failure), 2 usage (bad arguments, unknown level,
// bad JSON, bad config), 3 the broker cannot be reached.
// The commands live in lib/cli/: tail.ts, publish.ts, web.ts, and what they share in common.ts.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { maskUrl } from './errors.js';
import { DEFAULTS } from './options.js';
import { DEFAULT_APP_ID, EXIT, PROGRAM, asCliError, usage, type Parsed } from './cli/common.js';
import { PUBLISH_WINDOW, publish } from './cli/publish.js';
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

function help(): string {
  const env = process.env.AMQP_URL ? ` (now: ${maskUrl(process.env.AMQP_URL)})` : ' (not set)';
  return `Usage:
  ${PROGRAM} tail [--levels info,critical] [--json] [--since <spec> [--no-follow]] [options]
  ${PROGRAM} publish <level> [json] [options]
  ${PROGRAM} web [--port 8080] [--host 127.0.0.1] [--token <value>] [--levels info,critical] [--since <spec>] [options]
  ${PROGRAM} help | --help | -h
  ${PROGRAM} --version

Commands:
  tail               Print every event of the bus as it arrives, until Ctrl-C (SIGINT) or SIGTERM.
                     On a terminal: one readable line per event (time, level, host/appId, data), coloured
                     unless NO_COLOR is set. With --json, or when standard output is not a terminal: NDJSON,
                     one object per line: {time, level, host, pid, appId, messageId, data}.
                     Status lines ("listening on ...", invalid messages, disconnects) go to standard error.
  publish <level> [json]
                     Send one event of <level> with the JSON object [json] and wait for the broker's confirm.
                     Without [json]: one event per line of standard input (blank lines skipped), sent in
                     order, up to ${PUBLISH_WINDOW} in flight; exits once every one is confirmed. A bad line stops
                     the input; the lines before it were sent.
  web                Serve a page that shows the bus live in a browser (level and text filters, counts,
                     events per second, the connection's state, gaps, invalid messages) and print its
                     address, until Ctrl-C (SIGINT) or SIGTERM. Binds to 127.0.0.1 by default; on any
                     other address every request needs the access token (the printed address carries it).

Options:
  --url <amqp-url>   The broker. Default: $AMQP_URL${env}, else the config's connection,
                     else amqp://guest:guest@localhost:5672
  --url-file <file>  A file holding the broker URL (one per line for fail-over): keeps the password off the
                     command line, where other users can read it (ps). --url with a password prints a warning
  --cacert <file>    TLS: the CA certificate(s), PEM, that sign the broker's certificate (amqps:// URLs).
                     Default: $AMQP_CACERT, else the config's eventBusLogger.tls.caFile, else the system's CAs
  --cert <file>      TLS: this client's certificate, PEM, for brokers that ask for one. Default: $AMQP_CERT
  --key <file>       TLS: the private key of --cert, PEM. Default: $AMQP_KEY
  --name <exchange>  The bus (its topic exchange). Default: the config's exchange, logger_metaclass in the
                     shipped config
  --config <file>    A Rascal config (JSON) defining the exchange and the levels. Default: the shipped
                     config/rascal.json (levels info, critical)
  --publish-timeout <ms>
                     How long a publish may wait for the broker's confirm before it fails. Default: ${DEFAULTS.publishTimeout}
  --start-timeout <ms>
                     How long connecting may take before the command gives up (exit 3). Default: ${DEFAULTS.startTimeout}
  --levels <a,b>     tail: the levels to listen to, comma-separated. Default: every configured level
  --json             tail: print NDJSON even on a terminal. Default: off (NDJSON only when not a terminal)
  --since <spec>     tail, web: the bus's history from <spec>, then live (no gap, no duplicate at the seam): now, start, a duration <int>s|m|h|d (10m), an ISO 8601 time
                     (2026-11-29T03:00:00Z) or a stream offset (a whole number; --json records carry "offset").
                     Needs a config with history (examples/rascal-with-history.json). Default: live only
  --no-follow        tail --since: exit 0 once caught up with the history as it was when tail started
  --app-id <id>      publish: the appId of the events sent. Default: ${DEFAULT_APP_ID}
  --port <n>         web: the port to serve on (0: any free port). Default: 8080
  --host <address>   web: the address to serve on. Default: 127.0.0.1
  --token <value>    web: the access token off the loopback. Default: $${TOKEN_VARIABLE}, else a new one
  -h, --help         Show this help
  --version          Show the version

Both commands say on standard error when the bus's exchange did not exist before they started (they create it:
check --name for a typo), and when the broker did not answer the close at the end, so the connection had to be
dropped (within ${DEFAULTS.stopTimeout} ms plus a second).

Exit codes:
  0  done (tail: stopped by SIGINT or SIGTERM)
  1  an event was not confirmed by the broker, or another failure
  2  usage: bad arguments, an unknown level, bad JSON (the line is named), a bad config
  3  the broker cannot be reached (the message masks the password), refuses the TLS handshake (the
     message says why), or refuses this user an operation or a resource (the message names both)

Examples:
  ${PROGRAM} tail --levels critical
  ${PROGRAM} tail --config rascal-with-history.json --since 1h --no-follow
  ${PROGRAM} publish info '{"disk":"ok"}'
  printf '{"n":1}\\n{"n":2}\\n' | ${PROGRAM} publish critical
`;
}

function parse(argv: string[]): Parsed {
  let result;
  try {
    result = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        url: { type: 'string' },
        'url-file': { type: 'string' },
        cacert: { type: 'string' },
        cert: { type: 'string' },
        key: { type: 'string' },
        name: { type: 'string' },
        config: { type: 'string' },
        levels: { type: 'string' },
        json: { type: 'boolean' },
        'app-id': { type: 'string' },
        'publish-timeout': { type: 'string' },
        'start-timeout': { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        token: { type: 'string' },
        since: { type: 'string' },
        'no-follow': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
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
  if (parsed.values.help || parsed.command === 'help') {
    process.stdout.write(help());
    return EXIT.OK;
  }
  switch (parsed.command) {
    case 'tail':
      return tail(parsed);
    case 'publish':
      return publish(parsed);
    case 'web':
      return web(parsed);
    case undefined:
      throw usage(`missing command: expected tail, publish, web or help; see ${PROGRAM} --help`);
    default:
      throw usage(`unknown command "${parsed.command}"; expected tail, publish, web or help; see ${PROGRAM} --help`);
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
