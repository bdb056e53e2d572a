// What `event-bus-logger --help` and `event-bus-logger <command> --help` say (lib/cli/help.ts): pure text, no process.
import { expect } from 'chai';
import { COMMANDS, commandHelp, generalHelp, type CommandName } from '../../lib/cli/help.js';

const facts = { publishWindow: 100, tokenVariable: 'EVENT_BUS_LOGGER_TOKEN' };
// The options only one command takes.
const OWN: Record<CommandName, string[]> = {
  tail: ['--no-follow', '--until <spec>', '--count <n>'],
  publish: ['--app-id <id>'],
  web: ['--port <n>', '--host <address>', '--token <value>'],
  'history-info': [],
};
const SHARED = ['--url <amqp-url>', '--url-file <file>', '--name <exchange>', '--config <file>', '--publish-timeout <ms>', '--start-timeout <ms>', '-h, --help', '-V, --version'];
const shows = (help: string, flag: string): boolean => help.split('\n').some((line) => line.startsWith(`  ${flag} `) || line === `  ${flag}`);

describe('command line help (lib/cli/help.ts)', () => {
  it('history-info --help: its usage and --json', () => {
    const help = commandHelp('history-info', facts);
    expect(help).to.match(/^Usage:\n  event-bus-logger history-info \[--json\]/);
    expect(shows(help, '--json')).to.equal(true);
    expect(shows(commandHelp('publish', facts), '--json')).to.equal(false);
  });

  it('the general help names the commands, every option, and -V', () => {
    const help = generalHelp(facts);
    for (const command of COMMANDS) expect(help).to.include(`  event-bus-logger ${command} `);
    for (const flag of [...SHARED, ...Object.values(OWN).flat()]) expect(shows(help, flag), flag).to.equal(true);
    expect(help).to.include('--version | -V').and.include('event-bus-logger <command> --help');
    expect(help).to.include('tail, publish and web say').and.not.include('Both commands');
  });

  for (const command of COMMANDS) {
    it(`${command} --help: its usage, its own options and the shared ones, not the other commands'`, () => {
      const help = commandHelp(command, facts);
      expect(help).to.match(new RegExp(`^Usage:\\n  event-bus-logger ${command} `));
      for (const other of COMMANDS) for (const flag of OWN[other]) expect(shows(help, flag), `${command} --help shows ${flag}`).to.equal(other === command);
      for (const flag of SHARED) expect(shows(help, flag), flag).to.equal(true);
      expect(help).to.include('Exit codes:').and.include('Examples:');
      expect(help).to.not.equal(generalHelp(facts));
    });
  }
});
