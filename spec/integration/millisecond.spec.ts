// Time to the millisecond on the real broker (issue 22 §2): meta.timestamp, history({ since, until }) and
// `tail --since ... --no-follow --json` tell apart two events published within one second. Only this spec's own bus
// and stream; nothing broker-wide.
import { expect } from 'chai';
import type { EventData, EventMeta } from '../../lib/index.js';
import { startCli } from '../cli/run-cli.js';
import { AMQP_URL, HISTORY_CONFIG_PATH, busPerSpec, until } from '../helpers.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// Publishes `a`, then `b` a few ms later, within one second of the clock (tries again across a second's edge, where
// a time to the second would tell them apart too); `between` is a time after a's publish and before b's.
async function twoInOneSecond(publish: (data: EventData) => Promise<void>): Promise<{ between: number; startedAt: number; endedAt: number }> {
  for (let attempt = 1; ; attempt++) {
    while (Date.now() % 1000 > 300) await sleep(5);
    const startedAt = Date.now();
    await publish({ n: attempt * 10 + 1 });
    await sleep(3);
    const between = Date.now();
    await sleep(3);
    await publish({ n: attempt * 10 + 2 });
    const endedAt = Date.now();
    if (Math.floor(startedAt / 1000) === Math.floor(endedAt / 1000)) return { between, startedAt, endedAt };
    if (attempt === 5) throw new Error('could not publish two events within one second in 5 tries');
  }
}

describe('time to the millisecond', function () {
  this.timeout(60_000);
  const bus = busPerSpec('millis');

  it('meta.timestamp is the publish time to the millisecond: two events of one second are ordered by it', async () => {
    const logger = await bus.logger();
    const received: Array<{ data: EventData; meta: EventMeta<string> }> = [];
    logger.on('info', (data, meta) => void received.push({ data, meta }));
    const { startedAt, endedAt } = await twoInOneSecond((data) => logger.info(data));
    await until(() => received.length >= 2, 'both events', 10_000);
    const [a, b] = received.slice(-2).map(({ meta }) => meta.timestamp.getTime()) as [number, number];
    expect(a, 'a is later than its publish began').to.be.at.least(startedAt);
    expect(b, 'b is earlier than its confirm').to.be.at.most(endedAt);
    expect(b - a, 'b published at least 6 ms after a').to.be.at.least(6);
  });

  it('history({ since, until }) and tail --since take a time to the millisecond', async () => {
    const logger = await bus.logger({ config: HISTORY_CONFIG_PATH, listen: false });
    const { between } = await twoInOneSecond((data) => logger.info(data));
    const at = new Date(between).toISOString();
    const read = async (options: { since: string; until?: string }): Promise<unknown[]> => {
      const seen: unknown[] = [];
      for await (const { data } of logger.history(options)) seen.push(data.n);
      return seen;
    };
    // (Earlier tries, if any, are in the stream before the two.)
    const all = await read({ since: 'start' });
    const second = all.at(-1);
    expect(await read({ since: at }), `since ${at}`).to.deep.equal([second]);
    expect(await read({ since: 'start', until: at }), `until ${at}`).to.deep.equal(all.slice(0, -1));

    const tail = startCli(['tail', '--since', at, '--no-follow', '--json', '--config', HISTORY_CONFIG_PATH, '--name', bus.name, '--url', AMQP_URL]);
    expect((await tail.exit()).code, tail.stderr).to.equal(0);
    const records = tail.lines.map((line) => JSON.parse(line) as { time: string; data: { n: number } });
    expect(records.map((record) => record.data.n)).to.deep.equal([second]);
    expect(new Date(records[0]!.time).getTime()).to.be.above(between);
  });
});
