// `event-bus-logger history-info` and `logger.historyInfo()`: what the bus's history stream holds, against the real
// broker, each spec on its own bus with history.
import { expect } from 'chai';
import { EventBusLogger } from '../../lib/index.js';
import { formatHistoryInfo } from '../../lib/cli/history-info.js';
import { AMQP_URL, HISTORY_CONFIG_PATH, historyBusPerSpec } from '../helpers.js';
import { killStarted, runCli } from './run-cli.js';

describe('event-bus-logger history-info', function () {
  this.timeout(60_000);
  let publisher: EventBusLogger<string>;
  // Before the bus's after-hook: the commands go before their bus does.
  afterEach(killStarted);
  const bus = historyBusPerSpec('history_info');

  beforeEach(async () => {
    publisher = await bus.logger({ listen: false });
  });

  it('says the first and last offsets, their times and the retention; --json for scripts; the API too', async () => {
    const before = Date.now();
    for (let n = 1; n <= 3; n++) await publisher.info({ n });
    const json = await runCli(['history-info', '--json', '--url', AMQP_URL, '--name', bus.name, '--config', HISTORY_CONFIG_PATH]);
    expect(json.code, json.stderr).to.equal(0);
    const info = JSON.parse(json.stdout) as { stream: string; first: { offset: number; time: string }; last: { offset: number; time: string }; retention: Record<string, unknown> };
    expect(info.stream).to.equal(`${bus.name}.history`);
    expect(info.first.offset).to.equal(0);
    expect(info.last.offset).to.equal(2);
    for (const end of [info.first, info.last]) expect(Date.parse(end.time)).to.be.within(before - 1000, Date.now());
    expect(info.retention).to.have.keys('maxAge', 'maxBytes', 'maxSegmentBytes');
    const readable = await runCli(['history-info', '--url', AMQP_URL, '--name', bus.name, '--config', HISTORY_CONFIG_PATH]);
    expect(readable.code).to.equal(0);
    expect(readable.stdout).to.match(/^stream {6}\S+\.history\nfirst {7}offset 0 \(\d{4}-.*Z, \d+ s ago\)\nlast {8}offset 2 /);
    expect(readable.stdout).to.include('holds       3 offset(s); --since goes back to offset 0').and.include('retention   max age');
    const api = await publisher.historyInfo();
    expect(api.first?.offset).to.equal(0);
    expect(api.last?.time).to.be.instanceOf(Date);
  });

  it('says when the stream is empty, and exits 2 for a config without history', async () => {
    const empty = formatHistoryInfo(await publisher.historyInfo());
    expect(empty).to.include('holds       nothing yet (an empty stream)');
    const none = await runCli(['history-info', '--url', AMQP_URL, '--name', bus.name]);
    expect(none.code).to.equal(2);
    expect(none.stderr).to.match(/history-info reads the bus's history stream, and the config of bus "\S+" declares none/);
  });
});
