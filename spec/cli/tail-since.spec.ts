// `tail --since` on a bus with history: the real command against the real broker, following across the seam
// between history and live, and --no-follow, --levels and its usage errors.
import { expect } from 'chai';
import { AMQP_URL, HISTORY_CONFIG_PATH, historyBusPerSpec, quiet } from '../helpers.js';
import { startCli } from './run-cli.js';

describe('tail --since', function () {
  this.timeout(60_000);
  const bus = historyBusPerSpec('tail-since');

  it('follow mode: a publisher runs across the seam between history and live; every event once, in order, with its offset', async () => {
    const publisher = await bus.logger({ listen: false });
    for (let n = 1; n <= 200; n++) await publisher.info({ n });
    const tail = startCli(['tail', '--since', 'start', '--json', '--config', HISTORY_CONFIG_PATH, '--name', bus.name, '--url', AMQP_URL]);
    try {
      const publishing = (async () => {
        for (let n = 201; n <= 400; n++) await publisher.info({ n });
      })();
      await publishing;
      await tail.waitFor(() => tail.lines.length >= 400, '400 events', 30_000);
      await quiet(300);
      const records = tail.lines.map((line) => JSON.parse(line) as { data: { n: number }; offset: number });
      expect(records.map((r) => r.data.n)).to.deep.equal(Array.from({ length: 400 }, (_, i) => i + 1));
      expect(records.every((r) => typeof r.offset === 'number')).to.equal(true);
    } finally {
      tail.child.kill('SIGINT');
      await tail.exit();
    }
  });

  it('--no-follow prints the history and exits 0; --levels filters; usage errors exit 2', async () => {
    const publisher = await bus.logger({ listen: false });
    for (let n = 1; n <= 6; n++) await publisher.publish(n % 2 ? 'info' : 'critical', { n });
    const base = ['--config', HISTORY_CONFIG_PATH, '--name', bus.name, '--url', AMQP_URL];
    const all = startCli(['tail', '--since', 'start', '--no-follow', '--json', ...base]);
    expect((await all.exit()).code).to.equal(0);
    expect(all.lines.map((line) => (JSON.parse(line) as { data: { n: number } }).data.n)).to.deep.equal([1, 2, 3, 4, 5, 6]);
    const critical = startCli(['tail', '--since', 'start', '--no-follow', '--json', '--levels', 'critical', ...base]);
    expect((await critical.exit()).code).to.equal(0);
    expect(critical.lines.map((line) => (JSON.parse(line) as { data: { n: number } }).data.n)).to.deep.equal([2, 4, 6]);

    const bad = startCli(['tail', '--since', '10min', ...base]);
    expect((await bad.exit()).code).to.equal(2);
    expect(bad.stderr).to.match(/--since: invalid "10min"; expected "now", "start"/);
    const noSince = startCli(['tail', '--no-follow', ...base]);
    expect((await noSince.exit()).code).to.equal(2);
    expect(noSince.stderr).to.match(/--no-follow needs --since/);
    const noHistory = startCli(['tail', '--since', 'start', '--name', bus.name, '--url', AMQP_URL]);
    expect((await noHistory.exit()).code).to.equal(2);
    expect(noHistory.stderr).to.match(/declares none; turn history on in the config/);
  });
});
