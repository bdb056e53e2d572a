// This library, as a user would use it: create() with the URL and the bus name, on('info'), info(), stop().
// It declares the exchange but never deletes it (exchanges outlive loggers), so the bench deletes it afterwards.
import { EventBusLogger } from '../../lib/index.js';
import { deleteExchange, type BenchEvent, type ClientAdapter, type Endpoint } from './common.js';

export const adapter: ClientAdapter = {
  name: 'library',
  notes: ['event-bus-logger defaults (shipped config/rascal.json) with url and name (the exchange) set'],
  async connect({ url, brokerUrl, exchange }): Promise<Endpoint> {
    const logger = await EventBusLogger.create({ url, name: exchange });
    let handler: (event: BenchEvent) => void = () => {};
    logger.on('info', (data) => handler(data as BenchEvent));
    return {
      publish: (event) => logger.info(event),
      onEvent(next) {
        handler = next;
      },
      async close({ deleteExchange: drop = false } = {}) {
        await logger.stop();
        if (drop) await deleteExchange(brokerUrl, exchange);
      },
    };
  },
};
