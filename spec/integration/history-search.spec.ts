// Searching the history on the real broker: history({ where, grep }) filters in the reader and says how far it is;
// tail --where/--grep/-i does the same from the command line.
import { expect } from 'chai';
import { EventBusLogger } from '../../lib/index.js';
import { killStarted, runCli, startCli, startCliOnTerminal } from '../cli/run-cli.js';
import { AMQP_URL, HISTORY_CONFIG_PATH, historyBusPerSpec } from '../helpers.js';

describe('searching the history', function () {
  this.timeout(60_000);
  const bus = historyBusPerSpec('history-search', {}, { perSuite: true });
  let logger: EventBusLogger<string>;

  before(async () => {
    logger = await bus.logger({ listen: false, appId: 'billing' });
    // 20 events: n 1..20; every 5th critical, a user id of n % 3, "Disk FULL" in every 4th.
    for (let n = 1; n <= 20; n++) {
      const data = { n, user: { id: n % 3 }, ...(n % 4 === 0 ? { note: 'Disk FULL' } : {}) };
      await (n % 5 === 0 ? logger.critical(data) : logger.info(data));
    }
  });

  async function numbers(options: Parameters<EventBusLogger<string>['history']>[0]): Promise<unknown[]> {
    const got: unknown[] = [];
    for await (const { data } of logger.history(options)) got.push(data.n);
    return got;
  }

  it('history({ where }) hands out only the events whose fields match: a dot path, level, app; a repeated value an OR', async () => {
    expect(await numbers({ since: 'start', where: { 'user.id': 0 } })).to.deep.equal([3, 6, 9, 12, 15, 18]);
    expect(await numbers({ since: 'start', where: { level: 'critical', 'user.id': [1, 2] } })).to.deep.equal([5, 10, 20]);
    expect(await numbers({ since: 'start', where: { app: 'billing', n: '7' } })).to.deep.equal([7]);
    expect(await numbers({ since: 'start', where: { app: 'other' } })).to.deep.equal([]);
  });

  it('history({ grep }) matches the JSON of the data and the level, case-insensitive with the i flag; with until and levels', async () => {
    expect(await numbers({ since: 'start', grep: /Disk FULL/ })).to.deep.equal([4, 8, 12, 16, 20]);
    expect(await numbers({ since: 'start', grep: /disk full/ })).to.deep.equal([]);
    expect(await numbers({ since: 'start', grep: /disk full/i, until: 11 })).to.deep.equal([4, 8, 12]);
    expect(await numbers({ since: 'start', grep: '^critical$', levels: ['critical'] })).to.deep.equal([5, 10, 15, 20]);
  });

  it('progress counts the records scanned and the events matched, with the last offset read and where the read ends', async () => {
    const read = logger.history({ since: 'start', where: { level: 'critical' } });
    expect(read.progress).to.deep.equal({ offset: undefined, end: undefined, scanned: 0, matched: 0 });
    const first = await read.next();
    expect(first.value?.data.n).to.equal(5);
    expect(read.progress).to.deep.include({ offset: 4, end: 19, matched: 1 });
    expect(read.progress.scanned).to.equal(5);
    for await (const event of read) void event;
    expect(read.progress).to.deep.equal({ offset: 19, end: 19, scanned: 20, matched: 4 });
  });

  it('refuses a malformed where or grep before reading, naming it', () => {
    expect(() => logger.history({ since: 'start', where: { 'a..b': 1 } })).to.throw(TypeError, 'Invalid `where` key "a..b"');
    expect(() => logger.history({ since: 'start', grep: '(' })).to.throw(TypeError, /^Invalid `grep` "\(": /);
  });

  describe('tail', () => {
    afterEach(killStarted);
    const tail = (...args: string[]) => runCli(['tail', '--config', HISTORY_CONFIG_PATH, '--name', bus.name, '--since', 'start', '--no-follow', ...args]);

    it('--where (repeatable) and --grep with -i print only the matching events', async () => {
      const where = await tail('--where', 'user.id=0', '--where', 'level=critical');
      expect(where.code, where.stderr).to.equal(0);
      // Standard error is a pipe here: no progress line, no escape code.
      expect(where.stderr).not.to.match(/scanned|\u001b/);
      expect(where.stdout.trim().split('\n').map((line) => JSON.parse(line).data.n)).to.deep.equal([15]);
      const grep = await tail('--grep', 'disk full', '-i', '--count', '2');
      expect(grep.code, grep.stderr).to.equal(0);
      expect(grep.stdout.trim().split('\n').map((line) => JSON.parse(line).data.n)).to.deep.equal([4, 8]);
      const sensitive = await tail('--grep', 'disk full');
      expect(sensitive.code, sensitive.stderr).to.equal(0);
      expect(sensitive.stdout).to.equal('');
    });

    it('on a terminal, shows its progress on standard error, redrawn in place and erased at the end', async () => {
      const run = startCliOnTerminal(['tail', '--config', HISTORY_CONFIG_PATH, '--name', bus.name, '--since', 'start', '--no-follow', '--json', '--where', 'level=critical'], { NO_COLOR: '1' });
      const { code } = await run.exit(30_000);
      expect(code, run.stdout).to.equal(0);
      // The terminal shows standard output and standard error together: the line is drawn after \r and an erase
      // (ESC [2K), erased before each event line, and erased at the end before the closing status line.
      expect(run.stdout).to.match(/\r\u001b\[2K(reading|offset \d+ of 19) · scanned \d+ · matched \d+/);
      const events = run.stdout.split(/\r?\n/).filter((line) => line.includes('"data"'));
      expect(events.map((line) => JSON.parse(line.slice(line.indexOf('{'))).data.n)).to.deep.equal([5, 10, 15, 20]);
      // Every drawing of the line is erased before anything else reaches the terminal, the closing line included.
      const drawn = [...run.stdout.matchAll(/\r\u001b\[2K(?:reading|offset)[^\r\n\u001b]*([\s\S]?[\s\S]?)/g)].map((match) => match[1]);
      expect(drawn.length).to.be.greaterThan(0);
      expect(drawn, JSON.stringify(run.stdout)).to.deep.equal(drawn.map(() => '\r\u001b'));
      expect(run.stdout).to.match(/\r\n4 event\(s\) of the history/);
    });

    it('following, --where filters the live events too, and the seam comes after the last record read, not the last printed', async () => {
      const run = startCli(['tail', '--config', HISTORY_CONFIG_PATH, '--name', bus.name, '--url', AMQP_URL, '--since', 'start', '--json', '--where', 'user.id=0']);
      const numbers = (): unknown[] => run.lines.map((line) => JSON.parse(line).data.n);
      // The last event printed is n 18 (offset 17); the history's last record is offset 19: live from offset 20.
      await run.waitFor(() => run.stderr.includes('then following live'), 'the live step', 30_000);
      expect(run.stderr, run.stderr).to.include('end of the history (6 event(s))');
      expect(run.stderr, run.stderr).to.match(/reading \S+ from 20, then following live/);
      await logger.info({ n: 21, user: { id: 0 } });
      await logger.info({ n: 22, user: { id: 1 } });
      await logger.critical({ n: 23, user: { id: 0 } });
      await run.waitFor(() => numbers().includes(23), 'the live event of user 0', 30_000);
      expect(numbers()).to.deep.equal([3, 6, 9, 12, 15, 18, 21, 23]);
      run.child.kill('SIGINT');
      expect((await run.exit()).code).to.equal(0);
    });

    it('refuses a bad --where or --grep with exit 2 and what was expected', async () => {
      const where = await tail('--where', 'critical');
      expect(where.code).to.equal(2);
      expect(where.stderr).to.include('--where expects path=value');
      const grep = await tail('--grep', '(');
      expect(grep.code).to.equal(2);
      expect(grep.stderr).to.include('--grep: invalid regular expression "("');
    });
  });
});
