import { expect } from 'chai';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { EventBusLogger, type EventData, type EventMeta } from '../../lib/index.js';
import { AMQP_URL, deleteExchange, next, queueInfo, rejection, shippedConfig, uniqueName, until } from '../helpers.js';

describe('lifecycle', () => {
  let name: string;

  beforeEach(() => {
    name = uniqueName('lifecycle');
  });

  afterEach(async () => {
    await deleteExchange(name);
  });

  it('does not modify the caller\'s config or options', async () => {
    const config = await shippedConfig();
    const options = { url: AMQP_URL, name, config, levels: ['critical'] as const };
    const before = structuredClone(options);
    const logger = await EventBusLogger.create({ ...options, levels: [...options.levels] });
    await logger.stop();
    expect(options).to.deep.equal(before);
  });

  it('stop() twice is fine, and publishing after stop rejects with a clear error', async () => {
    const logger = await EventBusLogger.create({ url: AMQP_URL, name });
    let stopped = 0;
    logger.on('stopped', () => stopped++);
    await Promise.all([logger.stop(), logger.stop()]);
    await logger.stop();
    expect(stopped).to.equal(1);
    const error = await rejection(logger.info({ late: true }));
    expect(error.code).to.equal('STOPPED');
    expect(error.message).to.equal('Event not sent: the logger is stopped');
    expect((await rejection(logger.start())).code).to.equal('STOPPED');
  });

  it('rejects publishing before start with a hint', async () => {
    const logger = new EventBusLogger({ url: AMQP_URL, name });
    const error = await rejection(logger.info({ early: true }));
    expect(error.code).to.equal('NOT_STARTED');
    expect(error.message).to.match(/await logger\.start\(\) or use EventBusLogger\.create\(\)/);
    await logger.stop();
  });

  it('new + start() + stop() work as the original start/stop, and start() twice is one start', async () => {
    const logger = new EventBusLogger({ url: AMQP_URL, name });
    // A listener attached before start() is bound before it resolves.
    logger.on('info', () => undefined);
    const ready = next(logger, 'ready');
    await Promise.all([logger.start(), logger.start()]);
    await ready;
    expect(logger.isReady).to.equal(true);
    const queue = logger.queue as string;
    expect(await queueInfo(queue)).to.not.equal(undefined);
    await logger.stop();
    expect(logger.isReady).to.equal(false);
    expect(await queueInfo(queue)).to.equal(undefined);
  });

  it('await using stops the logger at the end of the block', async () => {
    let queue: string;
    {
      await using logger = await EventBusLogger.create({ url: AMQP_URL, name, listen: true });
      queue = logger.queue as string;
      expect(await queueInfo(queue)).to.not.equal(undefined);
    }
    expect(await queueInfo(queue)).to.equal(undefined);
  });

  it('stop() waits for in-flight publishes and running listeners', async () => {
    const logger = await EventBusLogger.create({ url: AMQP_URL, name });
    let finished = false;
    logger.on('info', async () => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      finished = true;
    });
    const got = next(logger, 'info');
    await logger.info({ slow: true });
    await got;
    const publishes = Array.from({ length: 100 }, (_, i) => logger.critical({ i }));
    await logger.stop();
    expect(finished, 'the running listener finished before stop() resolved').to.equal(true);
    const results = await Promise.allSettled(publishes);
    expect(results.filter((r) => r.status === 'fulfilled')).to.have.length(100);
  });

  describe('across OS processes', () => {
    let child: ChildProcessWithoutNullStreams | undefined;

    afterEach(() => {
      child?.kill();
      child = undefined;
    });

    it('a logger in another process receives what this one publishes, and this one receives what it publishes', async () => {
      child = spawn(process.execPath, ['--import', 'tsx', 'spec/fixtures/child-logger.ts', name], { env: { ...process.env, AMQP_URL } });
      const lines: string[] = [];
      createInterface({ input: child.stdout }).on('line', (line) => lines.push(line));
      await until(() => lines.includes('ready'), 'the child logger to be ready', 15_000);

      const logger = await EventBusLogger.create({ url: AMQP_URL, name });
      try {
        await logger.info({ from: 'parent' });
        await until(() => lines.some((line) => line.includes('"from":"parent"')), 'the child to receive the event');
        expect(JSON.parse(lines.find((line) => line.includes('"from":"parent"')) as string)).to.deep.equal({ level: 'info', data: { from: 'parent' }, pid: process.pid });

        const received = next<[EventData, EventMeta]>(logger, 'critical', 10_000);
        // The child's publish does not wait for this process's bind.
        await logger.listening();
        child.stdin.write('critical {"from":"child"}\n');
        const [data, meta] = await received;
        expect(data).to.deep.equal({ from: 'child' });
        expect(meta.pid).to.equal(child.pid);
      } finally {
        await logger.stop();
      }
    });
  });
});
