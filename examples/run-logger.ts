// The original task's run_logger.py: a logger on the bus that prints every event it receives.
//   npx tsx examples/run-logger.ts            (then, in another terminal)
//   npx tsx examples/run-logger-client.ts info
//   npx tsx examples/run-logger-client.ts critical
// AMQP_URL overrides the broker (default amqp://guest:guest@localhost:5672).
import { EventBusLogger, type EventData } from '../lib/index.js';

class MetaclassLogger extends EventBusLogger {
  protected override handleInfo(data: EventData): void {
    console.log(data);
  }

  protected override handleCritical(data: EventData): void {
    console.log(data);
  }
}

const logger = await MetaclassLogger.create({ name: 'logger_metaclass' });
logger.on('disconnected', ({ reason }) => console.error(`disconnected: ${reason}; reconnecting`));
logger.on('reconnected', ({ downtime }) => console.error(`reconnected after ${downtime} ms`));
logger.on('invalid', ({ reason }) => console.error(`invalid message: ${reason}`));
console.error(`listening on exchange logger_metaclass with queue ${logger.queue}; Ctrl-C to stop`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void logger.stop();
  });
}
