// The command's help: `event-bus-logger --help` (every command and option) and `event-bus-logger <command> --help`
// (one command, its own options and the shared ones). One table of options feeds both.
import { maskUrl } from '../errors.js';
import { DEFAULTS } from '../options.js';
import { DEFAULT_APP_ID, PROGRAM } from './common.js';

export type CommandName = 'tail' | 'publish' | 'web' | 'history-info';
export const COMMANDS: readonly CommandName[] = ['tail', 'publish', 'web', 'history-info'];

interface OptionHelp {
  flag: string;
  text: string;
  /** The commands it belongs to; none: every command. */
  only?: CommandName[];
}

interface CommandHelp {
  usage: string;
  text: string;
  examples: string[];
}

// Constants the text quotes, passed in so this file imports no command (the commands import nothing from here).
export interface HelpFacts {
  publishWindow: number;
  tokenVariable: string;
}

function commands(facts: HelpFacts): Record<CommandName, CommandHelp> {
  return {
    tail: {
      usage: `${PROGRAM} tail [--levels info,critical | --all-levels] [--json] [--since <spec> [--no-follow]] [--until <spec>] [--count <n>] [--grep <regex> [-i]] [--where <path>=<value>]... [options]`,
      text: `Print every event of the bus as it arrives, until Ctrl-C (SIGINT) or SIGTERM.
On a terminal: one readable line per event (time, level, host/appId, data), coloured
unless NO_COLOR is set. With --json, or when standard output is not a terminal: NDJSON,
one object per line: {time, level, host, pid, appId, messageId, data}.
Status lines ("listening on ...", where the history ends and the live events begin, invalid
messages, disconnects) go to standard error.`,
      examples: [
        `${PROGRAM} tail --levels critical`,
        `${PROGRAM} tail --config rascal-with-history.json --since 1h --no-follow`,
        `${PROGRAM} tail --config rascal-with-history.json --since 2h --until 1h --count 100`,
        `${PROGRAM} tail --config rascal-with-history.json --since 2026-12-02T03:00Z --until 2026-12-02T04:00Z --where level=critical --grep disk -i --no-follow`,
      ],
    },
    publish: {
      usage: `${PROGRAM} publish <level> [json] [options]`,
      text: `Send one event of <level> with the JSON object [json] and wait for the broker's confirm.
Without [json]: one event per line of standard input (blank lines skipped), sent in
order, up to ${facts.publishWindow} in flight; exits once every one is confirmed. A bad line stops
the input; the lines before it were sent.`,
      examples: [`${PROGRAM} publish info '{"disk":"ok"}'`, `printf '{"n":1}\\n{"n":2}\\n' | ${PROGRAM} publish critical`],
    },
    web: {
      usage: `${PROGRAM} web [--port 8080] [--host 127.0.0.1] [--token <value>] [--levels info,critical] [--since <spec>] [options]`,
      text: `Serve a page that shows the bus live in a browser (level and text filters, counts,
events per second, the connection's state, gaps, invalid messages) and print its
address, until Ctrl-C (SIGINT) or SIGTERM. Binds to 127.0.0.1 by default; on any
other address every request needs the access token (the printed address carries it).`,
      examples: [`${PROGRAM} web --port 8080`, `${PROGRAM} web --host 0.0.0.0 --config rascal-with-history.json --since 1h`],
    },
    'history-info': {
      usage: `${PROGRAM} history-info [--json] [options]`,
      text: `Say what the bus's history stream holds: its first and last offsets and when they were
published, and the retention its config declares (max age, max size, segment size), so you
know how far back --since can go. Needs a config with history. --json: one JSON object.`,
      examples: [`${PROGRAM} history-info --config rascal-with-history.json`, `${PROGRAM} history-info --config rascal-with-history.json --json | jq .first`],
    },
  };
}

function options(facts: HelpFacts): OptionHelp[] {
  const env = process.env.AMQP_URL ? ` (now: ${maskUrl(process.env.AMQP_URL)})` : ' (not set)';
  return [
    { flag: '--url <amqp-url>', text: `The broker. Default: $AMQP_URL${env}, else the config's connection,\nelse amqp://guest:guest@localhost:5672` },
    {
      flag: '--url-file <file>',
      text: 'A file holding the broker URL (one per line for fail-over): keeps the password off the\ncommand line, where other users can read it (ps). --url with a password prints a warning',
    },
    {
      flag: '--cacert <file>',
      text: "TLS: the CA certificate(s), PEM, that sign the broker's certificate (amqps:// URLs).\nDefault: $AMQP_CACERT, else the config's eventBusLogger.tls.caFile, else the system's CAs",
    },
    { flag: '--cert <file>', text: "TLS: this client's certificate, PEM, for brokers that ask for one. Default: $AMQP_CERT" },
    { flag: '--key <file>', text: 'TLS: the private key of --cert, PEM. Default: $AMQP_KEY' },
    { flag: '--name <exchange>', text: "The bus (its topic exchange). Default: the config's exchange, logger_metaclass in the\nshipped config" },
    { flag: '--config <file>', text: 'A Rascal config (JSON) defining the exchange and the levels. Default: the shipped\nconfig/rascal.json (levels info, critical)' },
    { flag: '--publish-timeout <ms>', text: `How long a publish may wait for the broker's confirm before it fails. Default: ${DEFAULTS.publishTimeout}` },
    { flag: '--start-timeout <ms>', text: `How long connecting may take before the command gives up (exit 3). Default: ${DEFAULTS.startTimeout}` },
    { flag: '--levels <a,b>', text: "The levels to listen to, comma-separated; '*': every event on the bus, whatever its level\n(a level this config does not name too). Default: every configured level", only: ['tail', 'web'] },
    { flag: '--all-levels', text: "Every event on the bus, whatever its level: --levels '*'", only: ['tail', 'web'] },
    { flag: '--json', text: 'Print JSON: tail NDJSON even on a terminal (default: only when not a terminal),\nhistory-info one object', only: ['tail', 'history-info'] },
    {
      flag: '--since <spec>',
      text: 'The bus\'s history from <spec>, then live (no gap, no duplicate at the seam): now, start,\na duration <int>s|m|h|d (10m), an ISO 8601 time (2026-11-29T03:00:00Z) or a stream offset\n(a whole number; --json records carry "offset"). Needs a config with history: the package\nships one, config/rascal-with-history.json. Default: live only',
      only: ['tail', 'web'],
    },
    { flag: '--no-follow', text: 'With --since: exit 0 once caught up with the history as it was when tail started', only: ['tail'] },
    {
      flag: '--until <spec>',
      text: 'Exit 0 once past <spec>, inclusive: a stream offset (with --since), now (when tail started),\na duration back from now (with --since) or an ISO 8601 time (a time to come without --since)',
      only: ['tail'],
    },
    { flag: '--count <n>', text: 'Exit 0 once <n> events are printed (history and live together)', only: ['tail'] },
    {
      flag: '--grep <regex>',
      text: "Only the events whose data (as JSON), level, host or appId match <regex>, a JavaScript\nregular expression. Filtered by tail, not by the broker: every event of the range is read",
      only: ['tail'],
    },
    { flag: '-i, --ignore-case', text: 'With --grep: match regardless of case', only: ['tail'] },
    {
      flag: '--where <path>=<value>',
      text: 'Only the events whose field <path> is <value>: level, host, app, or a dot path into the\ndata (user.id=42; data.level for a data field named level). Repeatable: every path must\nmatch; a path given twice matches either value',
      only: ['tail'],
    },
    { flag: '--app-id <id>', text: `The appId of the events sent. Default: ${DEFAULT_APP_ID}`, only: ['publish'] },
    { flag: '--port <n>', text: 'The port to serve on (0: any free port). Default: 8080', only: ['web'] },
    { flag: '--host <address>', text: 'The address to serve on (0.0.0.0: every address). Default: 127.0.0.1', only: ['web'] },
    { flag: '--token <value>', text: `The access token off the loopback. Default: $${facts.tokenVariable}, else a new one`, only: ['web'] },
    { flag: '-h, --help', text: 'Show this help' },
    { flag: '-V, --version', text: 'Show the version' },
  ];
}

const INDENT = ' '.repeat(21);

function optionLines({ flag, text, only }: OptionHelp, prefix: boolean): string {
  const body = (prefix && only ? `${only.join(', ')}: ${text.charAt(0).toLowerCase()}${text.slice(1)}` : text).split('\n').join(`\n${INDENT}`);
  return flag.length <= 17 ? `  ${flag.padEnd(17)}  ${body}` : `  ${flag}\n${INDENT}${body}`;
}

const EXIT_CODES = `Exit codes:
  0  done (tail, web: stopped by SIGINT or SIGTERM)
  1  an event was not confirmed by the broker, or another failure
  2  usage: bad arguments, an unknown level, bad JSON (the line is named), a bad config
  3  the broker cannot be reached (the message masks the password), refuses the TLS handshake (the
     message says why), or refuses this user an operation or a resource (the message names both)`;

const NOTICES = `tail, publish and web say on standard error when the bus's exchange did not exist before they started (they
create it: check --name for a typo), and when the broker did not answer the close at the end, so the connection
had to be dropped (within ${DEFAULTS.stopTimeout} ms plus a second).`;

/** The help of every command: `event-bus-logger --help`. */
export function generalHelp(facts: HelpFacts): string {
  const all = commands(facts);
  const commandLines = COMMANDS.map((name) => {
    const [first, ...rest] = all[name].text.split('\n');
    const head = name === 'publish' ? `  publish <level> [json]\n${INDENT}${first}` : `  ${name.padEnd(17)}  ${first}`;
    return [head, ...rest.map((line) => `${INDENT}${line}`)].join('\n');
  });
  return `Usage:
${COMMANDS.map((name) => `  ${all[name].usage}`).join('\n')}
  ${PROGRAM} <command> --help
  ${PROGRAM} help | --help | -h
  ${PROGRAM} --version | -V

Commands:
${commandLines.join('\n')}

Options:
${options(facts)
  .map((option) => optionLines(option, true))
  .join('\n')}

${NOTICES}

${EXIT_CODES}

Examples:
${COMMANDS.flatMap((name) => all[name].examples)
  .map((line) => `  ${line}`)
  .join('\n')}
`;
}

/** The help of one command: `event-bus-logger <command> --help`: its own options first, then the shared ones. */
export function commandHelp(name: CommandName, facts: HelpFacts): string {
  const command = commands(facts)[name];
  const all = options(facts);
  const own = all.filter((option) => option.only?.includes(name));
  const shared = all.filter((option) => option.only === undefined);
  return `Usage:
  ${command.usage}

${command.text}

Options of ${name}:
${own.map((option) => optionLines(option, false)).join('\n')}

Options of every command:
${shared.map((option) => optionLines(option, false)).join('\n')}

${EXIT_CODES}

Examples:
${command.examples.map((line) => `  ${line}`).join('\n')}

Every command: ${PROGRAM} --help
`;
}
