// `event-bus-logger publish`, run as a child process against the real broker, each spec on its own bus: an event
// from its arguments or one per line of standard input, confirmed, and how it fails.
import { expect } from 'chai';
import { memoryAlarm } from '../helpers.js';
import { runCli, startCli, type CliProcess } from './run-cli.js';
import { cliBusPerSpec } from './cli-bus.js';

describe('event-bus-logger (command line)', function () {
  this.timeout(30_000);
  const cli = cliBusPerSpec();

  describe('publish', () => {
    it('says on stderr when the broker blocks publishing, and sends the event once it stops [broker-wide]', async () => {
      const tail = await cli.listening();
      const restore = await memoryAlarm();
      let publish: CliProcess;
      try {
        publish = startCli(['publish', 'critical', '{"during":"alarm"}', ...cli.bus], { input: '' });
        await publish.waitFor(() => publish.stderr.includes('the broker blocks publishing (low on memory); waiting up to publishTimeout'), 'the blocked line', 20_000);
        expect(tail.lines).to.deep.equal([]);
      } finally {
        await restore();
      }
      expect(await publish.exit(20_000)).to.deep.equal({ code: 0, signal: null });
      expect(publish.stderr).to.match(/the broker accepts publishes again after \d+ ms/);
      await tail.waitFor(() => tail.lines.length >= 1, 'the event');
      expect(JSON.parse(tail.lines[0] as string)).to.deep.include({ level: 'critical', data: { during: 'alarm' } });
    });

    it('sends one event per line of standard input, in order, skipping blank lines', async () => {
      const tail = await cli.listening();
      const input = '{"n":1}\n\n   \n{"n":2}\r\n{"n":3,"s":"three"}\n';
      const publish = await runCli(['publish', 'critical', ...cli.bus], { input });
      expect(publish, publish.stderr).to.include({ code: 0, stderr: '' });
      await tail.waitFor(() => tail.lines.length >= 3, 'three event lines');
      const records = tail.lines.map((line) => JSON.parse(line));
      expect(records.map((r) => r.data)).to.deep.equal([{ n: 1 }, { n: 2 }, { n: 3, s: 'three' }]);
      expect(records.map((r) => r.level)).to.deep.equal(['critical', 'critical', 'critical']);
    });

    it('sends many lines from standard input, every one confirmed', async () => {
      const tail = await cli.listening();
      const count = 500;
      const input = Array.from({ length: count }, (_, n) => JSON.stringify({ n })).join('\n');
      const publish = await runCli(['publish', 'info', ...cli.bus], { input });
      expect(publish, publish.stderr).to.include({ code: 0 });
      await tail.waitFor(() => tail.lines.length >= count, `${count} event lines`);
      expect(tail.lines.map((line) => JSON.parse(line).data.n)).to.deep.equal(Array.from({ length: count }, (_, n) => n));
    });

    it('exits 2 on a line of bad JSON, naming the line, having sent the lines before it', async () => {
      const tail = await cli.listening();
      const publish = await runCli(['publish', 'info', ...cli.bus], { input: '{"n":1}\n\n{"n":\n{"n":3}\n' });
      expect(publish.code).to.equal(2);
      expect(publish.stderr).to.match(/^event-bus-logger: line 3: not valid JSON/);
      expect(publish.stderr.trim().split('\n')).to.have.lengthOf(1);
      await tail.waitFor(() => tail.lines.length >= 1, 'the event of line 1');
      expect(JSON.parse(tail.lines[0] as string).data).to.deep.equal({ n: 1 });
    });

    it('exits 2 on a JSON argument that is not a JSON object', async () => {
      const bad = await runCli(['publish', 'info', '{"n":', ...cli.bus]);
      expect(bad.code).to.equal(2);
      expect(bad.stderr).to.match(/^event-bus-logger: the JSON argument: not valid JSON/);
      const array = await runCli(['publish', 'info', '[1,2]', ...cli.bus]);
      expect(array.code).to.equal(2);
      expect(array.stderr).to.include('expected a JSON object').and.include('an array');
    });

    it('exits 2 on an unknown level, naming the configured levels', async () => {
      const result = await runCli(['publish', 'warn', '{"n":1}', ...cli.bus]);
      expect(result.code).to.equal(2);
      expect(result.stderr.trim()).to.equal('event-bus-logger: unknown level "warn"; the configured levels are: info, critical');
    });

    it('exits 3 when the broker cannot be reached, with the password masked', async () => {
      const result = await runCli(['publish', 'info', '{"n":1}', '--name', cli.name], { env: { AMQP_URL: 'amqp://guest:secret@127.0.0.1:1' } });
      expect(result.code).to.equal(3);
      expect(result.stderr).to.match(/^event-bus-logger: Cannot connect .*amqp:\/\/guest:\*\*\*@127\.0\.0\.1:1/);
      expect(result.stderr).not.to.include('secret');
      expect(result.stderr.trim().split('\n')).to.have.lengthOf(1);
    });

    it('takes the broker from AMQP_URL when --url is not given', async () => {
      const result = await runCli(['publish', 'info', '{"n":1}', '--name', cli.name], { env: { AMQP_URL: 'amqp://guest:hidden@127.0.0.1:1' } });
      expect(result.code).to.equal(3);
      expect(result.stderr).to.include('guest:***@127.0.0.1:1').and.not.include('hidden');
    });
  });

});
