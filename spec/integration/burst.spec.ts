// A burst on a healthy broker (issue 20 §2): 100,000 un-awaited publishes with the default caps, on a bus with a
// history stream, either succeed or are refused at the call; none is failed after it was delivered.
import amqplib from 'amqplib';
import { expect } from 'chai';
import { EventBusLogger } from '../../lib/index.js';
import { AMQP_URL, uniqueName } from '../helpers.js';

const HISTORY_CONFIG_PATH = new URL('../../config/rascal-with-history.json', import.meta.url).pathname;

describe('a burst on a healthy broker', () => {
  let name: string;
  let logger: EventBusLogger | undefined;

  beforeEach(() => {
    name = uniqueName('burst');
  });

  afterEach(async () => {
    await logger?.stop();
    logger = undefined;
    // The stream holds the burst (~15 MB): delete it with the exchange.
    const connection = await amqplib.connect(AMQP_URL);
    try {
      const channel = await connection.createChannel();
      await channel.deleteQueue(`${name}.history`);
      await channel.deleteExchange(name);
    } finally {
      await connection.close();
    }
  });

  it('resolves every one of 100,000 un-awaited publishes with the default caps, on a bus with history', async function () {
    this.timeout(300_000);
    logger = await EventBusLogger.create({ url: AMQP_URL, name, config: HISTORY_CONFIG_PATH, listen: false });
    const failures = new Map<string, { count: number; message: string }>();
    let resolved = 0;
    const padding = 'x'.repeat(70);
    const settled: Array<Promise<void>> = [];
    for (let n = 0; n < 100_000; n++) {
      settled.push(
        logger.info({ n, msg: padding }).then(
          () => void resolved++,
          (error: Error & { code?: string }) => {
            const seen = failures.get(error.code ?? error.message) ?? { count: 0, message: error.message };
            seen.count++;
            failures.set(error.code ?? error.message, seen);
          },
        ),
      );
    }
    await Promise.all(settled);
    expect(Object.fromEntries(failures), 'no publish rejected').to.deep.equal({});
    expect(resolved).to.equal(100_000);
    expect(logger.stats()).to.include({ confirmed: 100_000, rejected: 0, dropped: 0 });
  });
});
