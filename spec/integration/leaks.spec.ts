// 200 start/stop cycles leave no connection on the broker and no open handle in the process.
import { expect } from 'chai';
import { EventBusLogger } from '../../lib/index.js';
import { AMQP_URL, deleteExchange, rabbitmqctl, uniqueName, until } from '../helpers.js';

type Connection = { client_properties: Array<[string, string, unknown]> };

async function connectionsNamed(fragment: string): Promise<number> {
  const connections = await rabbitmqctl<Connection[]>('list_connections', 'client_properties');
  return connections.filter((c) => Array.isArray(c.client_properties) && c.client_properties.some(([key, , value]) => key === 'connection_name' && String(value).includes(fragment))).length;
}

function handles(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const resource of process.getActiveResourcesInfo()) counts[resource] = (counts[resource] ?? 0) + 1;
  return counts;
}

describe('leaks', function () {
  this.timeout(120_000);
  const name = uniqueName('leaks');

  after(() => deleteExchange(name));

  it('200 start/stop cycles leave no connection on the broker and no open handle', async () => {
    // One cycle first, so lazily created process-wide handles exist before the baseline.
    await (await EventBusLogger.create({ url: AMQP_URL, name })).stop();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const before = handles();
    // 20 rounds of 10 loggers started and stopped side by side: the 200 cycles overlap their round trips to the
    // broker (which is most of a cycle's time) instead of waiting them out one by one.
    for (let round = 0; round < 20; round++) {
      await Promise.all(
        Array.from({ length: 10 }, async (_, i) => {
          const cycle = round * 10 + i;
          const logger = await EventBusLogger.create({ url: AMQP_URL, name });
          if (cycle % 50 === 0) await logger.info({ cycle });
          await logger.stop();
        }),
      );
    }
    await until(async () => (await connectionsNamed(`(${name})`)) === 0, 'the broker to list no connection of ours', 20_000);
    await until(() => (handles().TCPSocketWrap ?? 0) <= (before.TCPSocketWrap ?? 0), 'sockets to close', 5000);
    const after = handles();
    expect(after.TCPSocketWrap ?? 0, 'sockets').to.be.at.most(before.TCPSocketWrap ?? 0);
    expect(after.Timeout ?? 0, 'timers').to.be.at.most((before.Timeout ?? 0) + 1);
  });
});
