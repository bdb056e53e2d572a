// The original task's run_logger_client.py: sends one event of the level given on the command line.
//   npx tsx examples/run-logger-client.ts info       -> the logger prints { info: true }
//   npx tsx examples/run-logger-client.ts critical   -> the logger prints { critical: true }
import { EventBusLogger } from '../lib/index.js';

const level = process.argv[2];
if (level !== 'info' && level !== 'critical') {
  console.error('usage: run-logger-client.ts <info|critical>');
  process.exitCode = 2;
} else {
  // `await using` stops the logger at the end of the block, as the original's `async with`.
  await using logger = await EventBusLogger.create({ name: 'logger_metaclass', listen: false });
  await logger[level]({ [level]: true });
  console.error(`sent ${level}`);
}
