// A burst on a healthy broker (issue 20 §2): 100,000 un-awaited publishes with the default caps, on a bus with a
// history stream, either succeed or are refused at the call; none is failed after it was delivered.
import { expect } from 'chai';
import { historyBusPerSpec } from '../helpers.js';

describe('a burst on a healthy broker', () => {
  // The stream holds the burst (~15 MB): deleted with the exchange after the spec.
  const bus = historyBusPerSpec('burst');

  it('resolves every one of 100,000 un-awaited publishes with the default caps, on a bus with history', async function () {
    this.timeout(300_000);
    const logger = await bus.logger({ listen: false });
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
