// Two buses with the same name in two vhosts are two buses: neither sees the other's events.
import { expect } from 'chai';
import { EventBusLogger, type EventData } from '../../lib/index.js';
import { AMQP_URL, deleteExchange, quiet, uniqueName, until } from '../helpers.js';
import { Scratch } from './access.js';

describe('vhost isolation', function () {
  this.timeout(60_000);
  const scratch = new Scratch();
  const loggers: EventBusLogger[] = [];
  let bus: string;

  afterEach(async () => {
    await Promise.all(loggers.splice(0).map((logger) => logger.stop()));
    await deleteExchange(bus).catch(() => undefined);
    await scratch.cleanup();
  });

  it('two buses of the same name, one in "/" and one in a vhost of their own, never see each other', async () => {
    bus = uniqueName('iso');
    const vhost = await scratch.vhost();
    const make = async (url: string): Promise<{ logger: EventBusLogger; received: EventData[] }> => {
      const logger = await EventBusLogger.create({ url, name: bus });
      loggers.push(logger);
      const received: EventData[] = [];
      logger.on('info', (data) => void received.push(data));
      return { logger, received };
    };
    const root = await make(AMQP_URL);
    const other = await make(`${AMQP_URL}/${encodeURIComponent(vhost)}`);
    // A second logger on each bus, so each publish has a listener that must get it.
    const rootPeer = await make(AMQP_URL);
    const otherPeer = await make(`${AMQP_URL}/${encodeURIComponent(vhost)}`);
    await root.logger.info({ from: '/' });
    await other.logger.info({ from: vhost });
    await until(() => rootPeer.received.length === 1 && otherPeer.received.length === 1, 'each bus to carry its own event', 10_000);
    await quiet(500);
    for (const side of [root, rootPeer]) expect(side.received).to.deep.equal([{ from: '/' }]);
    for (const side of [other, otherPeer]) expect(side.received).to.deep.equal([{ from: vhost }]);
  });
});
