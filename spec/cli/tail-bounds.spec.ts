// `tail --until` and `--count` (bounded reads that exit 0 once reached), the line where the history ends and the
// live events begin, and `history({ until: 'now' })`: the real command against the real broker, each spec on its
// own bus with history (config/rascal-with-history.json).
import { expect } from 'chai';
import { EventBusLogger } from '../../lib/index.js';
import { AMQP_URL, HISTORY_CONFIG_PATH, historyBusPerSpec } from '../helpers.js';
import { hasScript, killStarted, runCli, startCli, startCliOnTerminal, type CliProcess } from './run-cli.js';

const numbers = (cli: CliProcess): number[] => cli.lines.map((line) => (JSON.parse(line) as { data: { n: number } }).data.n);

describe('tail --until, --count and the end of the history', function () {
  this.timeout(60_000);
  let live: string[];
  let history: string[];
  let publisher: EventBusLogger<string>;
  // Before the bus's after-hook: the commands go before their bus does.
  afterEach(killStarted);
  const bus = historyBusPerSpec('tail_bounds');

  beforeEach(async () => {
    live = ['--url', AMQP_URL, '--name', bus.name];
    history = [...live, '--config', HISTORY_CONFIG_PATH];
    publisher = await bus.logger({ listen: false, appId: 'bounds-spec' });
  });

  async function publishNumbers(from: number, to: number): Promise<void> {
    for (let n = from; n <= to; n++) await publisher.info({ n });
  }

  describe('live (no --since)', () => {
    it('--count <n> prints n events and exits 0', async () => {
      const tail = startCli(['tail', ...live, '--count', '2', '--json']);
      await tail.waitFor(() => tail.stderr.includes('listening on'), 'the tail to listen');
      await publishNumbers(1, 3);
      expect(await tail.exit()).to.deep.equal({ code: 0, signal: null });
      expect(numbers(tail)).to.deep.equal([1, 2]);
      expect(tail.stderr).to.include('reached --count 2 (2 event(s) printed)');
    });

    it('--until <a time to come> exits 0 once the clock passes it, even on a quiet bus', async () => {
      // Far enough ahead that a loaded machine has started the command before it passes.
      const tail = startCli(['tail', ...live, '--until', new Date(Date.now() + 15_000).toISOString()]);
      expect(await tail.exit(45_000)).to.deep.equal({ code: 0, signal: null });
      expect(tail.stderr).to.include('listening on').and.include('reached --until: its time has passed (0 event(s) printed)');
    });

    it('exits 2 for an --until it can never reach live, or a bad --count, naming what is expected', async () => {
      for (const [args, message] of [
        [['--until', '5'], /--until 5 is a stream offset, and live events have none: give --since too/],
        [['--until', '10m'], /--until 10m has passed \(.*\), and without --since tail reads only the events published from now on/],
        [['--until', 'start', '--since', 'start'], /--until: "start" would stop before the first event/],
        [['--until', 'tomorrow'], /--until: invalid "tomorrow"; expected "now", "start"/],
        [['--count', '0'], /--count expects a whole number of events from 1 up, e.g. --count 10; got "0"/],
      ] as const) {
        const result = await runCli(['tail', ...history, ...args]);
        expect(result.code, args.join(' ')).to.equal(2);
        expect(result.stderr, args.join(' ')).to.match(message);
      }
      expect((await runCli(['publish', 'info', '{}', ...live, '--count', '1'])).stderr).to.match(/--count is not an option of publish/);
    });
  });

  describe('with --since (a bus with history)', () => {
    it('--until <offset> --no-follow stops at that offset, inclusive; --until now stops at the history as it was', async () => {
      await publishNumbers(1, 5);
      const upTo = startCli(['tail', ...history, '--since', 'start', '--until', '2', '--no-follow', '--json']);
      expect((await upTo.exit()).code).to.equal(0);
      expect(upTo.lines.map((line) => (JSON.parse(line) as { offset: number }).offset)).to.deep.equal([0, 1, 2]);
      // Follow mode: --until now ends once the history up to now is printed, without waiting for live events.
      const toNow = startCli(['tail', ...history, '--since', 'start', '--until', 'now', '--json']);
      expect((await toNow.exit()).code).to.equal(0);
      expect(numbers(toNow)).to.deep.equal([1, 2, 3, 4, 5]);
    });

    it('--count <n> in follow mode: the history first, then live events, up to n in all', async () => {
      await publishNumbers(1, 3);
      const tail = startCli(['tail', ...history, '--since', 'start', '--count', '5', '--json']);
      await tail.waitFor(() => tail.stderr.includes('live events follow'), 'the end of the history');
      expect(numbers(tail)).to.deep.equal([1, 2, 3]);
      await tail.waitFor(() => tail.stderr.includes('then following live'), 'the live listener');
      await publishNumbers(4, 7);
      expect(await tail.exit()).to.deep.equal({ code: 0, signal: null });
      expect(numbers(tail)).to.deep.equal([1, 2, 3, 4, 5]);
    });

    it('--until <offset> in follow mode: waits for the live event at that offset, prints it and exits 0', async () => {
      await publishNumbers(1, 2);
      const tail = startCli(['tail', ...history, '--since', '1', '--until', '3', '--json']);
      await tail.waitFor(() => tail.stderr.includes('then following live'), 'the live listener');
      expect(tail.running).to.equal(true);
      await publishNumbers(3, 6);
      expect(await tail.exit()).to.deep.equal({ code: 0, signal: null });
      expect(numbers(tail)).to.deep.equal([2, 3, 4]);
    });

    (hasScript ? it : it.skip)('on a terminal, a line where the history ends and the live events begin, between the two', async () => {
      await publishNumbers(1, 2);
      const tail = startCliOnTerminal(['tail', ...history, '--since', 'start'], { NO_COLOR: '1' });
      await tail.waitFor(() => tail.stdout.includes('then following live'), 'the live listener');
      await publishNumbers(3, 3);
      await tail.waitFor(() => tail.stdout.includes('{"n":3}'), 'the live event');
      tail.child.stdin.write('\u0003');
      expect((await tail.exit()).code).to.equal(0);
      // One terminal: standard output and standard error in the order written.
      const lines = tail.stdout.split(/\r?\n/);
      const at = (text: string): number => lines.findIndex((line) => line.includes(text));
      const rule = at('end of the history (2 event(s)); live events follow');
      expect(lines[rule]).to.match(/^─+ end of the history \(2 event\(s\)\); live events follow ─+$/);
      expect(at('{"n":1}')).to.be.within(0, rule - 1);
      expect(at('{"n":2}')).to.be.within(0, rule - 1);
      expect(at('{"n":3}')).to.be.above(rule);
    });

    it("history({ since, until: 'now' }) reads up to the moment of the call; until 'start' is a TypeError", async () => {
      await publishNumbers(1, 3);
      const read: number[] = [];
      for await (const { data } of publisher.history({ since: 'start', until: 'now' })) read.push(data.n as number);
      expect(read).to.deep.equal([1, 2, 3]);
      expect(() => publisher.history({ since: 'start', until: 'start' })).to.throw(TypeError, /Invalid `until` "start"/);
    });
  });
});
