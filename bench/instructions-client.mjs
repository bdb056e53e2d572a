// One client of bench/instructions-per-event.sh, in plain JavaScript so that no transform runs in the measured
// process: the compiled library (dist/, `npm run build` first), a minimal raw amqplib client (contentType only, a
// confirm channel, one ack per message), or the same raw client sending the library's message (contentType,
// timestamp, messageId <publisher>/<ms><level tag>.<seq>, appId): what the message costs apart from the library's code.
// Awaits W untimed publishes, then N more, each received by the client's own listener.
// Usage: W=3000 N=6000 node bench/instructions-client.mjs library|minimal|amqplib
import { connectRaw, deleteExchange, libraryMessage, minimalMessage } from './raw-client.mjs';

const which = process.argv[2];
if (!['library', 'minimal', 'amqplib'].includes(which)) throw new Error(`Expected "library", "minimal" or "amqplib", got "${which}"`);
const warmUp = Number(process.env.W ?? 3000);
const count = Number(process.env.N ?? 6000);
const url = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const exchange = `bench_instructions_${which}_${process.pid}`;

let publish;
let close;
if (which === 'library') {
  const { EventBusLogger } = await import(new URL('../dist/lib/index.js', import.meta.url).href);
  const logger = await EventBusLogger.create({ url, name: exchange });
  logger.on('info', () => {});
  publish = (event) => logger.info(event);
  close = () => logger.stop();
} else {
  ({ publish, close } = await connectRaw(url, exchange, which === 'amqplib' ? libraryMessage() : minimalMessage()));
}
for (let n = 0; n < warmUp + count; n++) await publish({ n, t: performance.now(), msg: 'benchmark event' });
await close();
await deleteExchange(url, exchange);
