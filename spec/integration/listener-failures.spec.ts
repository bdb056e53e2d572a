// A listener's failure that nobody listens for (no 'error' listener), on the real broker (lib/listener-failures.ts):
// the process goes on and so do the next events; each logger says it once, as a process warning, and counts the later
// ones in stats(). A failure reported through 'error' is the consumer contract's (consumers.spec.ts).
import { expect } from 'chai';
import type { EventBusLogger } from '../../lib/index.js';
import { busPerSpec, quiet, until } from '../helpers.js';

describe('a listener failure nobody listens for', () => {
  const bus = busPerSpec('listener_warning');
  let warnings: Error[];
  const onWarning = (warning: Error): void => {
    if ((warning as Error & { code?: string }).code === 'EVENT_BUS_LOGGER_LISTENER') warnings.push(warning);
  };

  beforeEach(() => {
    warnings = [];
    process.on('warning', onWarning);
  });

  afterEach(async () => {
    process.off('warning', onWarning);
  });

  async function loggerOnItsBus(): Promise<EventBusLogger<string>> {
    bus.name = bus.fresh();
    return bus.logger();
  }

  it('does not crash the process: the next event is delivered, the failure counted', async () => {
    const logger = await loggerOnItsBus();
    let after = 0;
    logger.on('critical', () => {
      throw new Error('nobody listens to errors');
    });
    logger.on('info', () => {
      after++;
    });
    await logger.critical({ boom: true });
    await logger.info({ still: 'alive' });
    await until(() => after === 1, 'the info event after the throw');
    expect(logger.stats().listenerErrors).to.equal(1);
  });

  it('is one process warning per logger, naming the level and the error; later ones are only counted', async () => {
    const logger = await loggerOnItsBus();
    logger.on('critical', (data) => (data as { missing: { field: unknown } }).missing.field);
    await logger.critical({ n: 1 });
    await until(() => warnings.length === 1, 'the process warning');
    await logger.critical({ n: 2 });
    await until(() => logger.stats().listenerErrors === 2, 'the second listener error');
    await quiet(200);
    expect(warnings).to.have.length(1);
    expect(warnings[0]?.name).to.equal('EventBusLoggerWarning');
    expect(warnings[0]?.message).to.match(/^A listener of "critical" threw: Cannot read properties of undefined \(reading 'field'\)\. Later listener errors of this logger are counted in stats\(\)\.listenerErrors/);
  });

  it('says "failed" for a rejected promise, and each logger warns once of its own', async () => {
    const first = await loggerOnItsBus();
    first.on('info', () => {
      throw new Error('first logger');
    });
    await first.info({ n: 1 });
    await until(() => warnings.length === 1, 'the first logger\'s warning');
    const second = await loggerOnItsBus();
    second.on('info', async () => {
      throw new Error('second logger');
    });
    await second.info({ n: 1 });
    await until(() => warnings.length === 2, 'the second logger\'s warning');
    expect(warnings[1]?.message).to.match(/^A listener of "info" failed: second logger\. /);
  });
});
