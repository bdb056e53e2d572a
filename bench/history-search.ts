// What searching the history costs (`npx tsx bench/history-search.ts [--runs 3] [--events 100000]`): a stream of
// --events events written in bulk (levels info and critical, 1 in 50 critical; a user id of 0-999; "Disk FULL" in 1
// in 100), read from its start by history() with no search, with `where` terms and with a `grep`, and by the tuned
// raw amqplib reader (prefetch 5,000, one `multiple` ack per 2,500, each body parsed) in the same run. The filter
// runs in the reader (RabbitMQ 3.10 has no server-side stream filter): every record of the range is read and
// decoded whatever the search, so the rate to compare is the records scanned per second.
// It uses the broker at AMQP_URL (default 127.0.0.1:5672) and deletes the exchange and the stream it creates.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import amqplib from 'amqplib';
import { EventBusLogger, type EventSearch } from '../lib/index.js';
import { encodeData } from '../lib/event-data.js';
import { newPublisherId, publishProperties } from '../lib/wire-format.js';
import { STREAM_ARGS, TUNED, rawRead } from './raw-reader.js';

const URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const HISTORY_CONFIG = new globalThis.URL('../config/rascal-with-history.json', import.meta.url).pathname;
const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, events: { type: 'string', default: '100000' } } });
const RUNS = Number(values.runs);
const EVENTS = Number(values.events);

const SEARCHES: Record<string, EventSearch> = {
  'no search': {},
  "where { level: 'critical' }": { where: { level: 'critical' } },
  "where { 'user.id': 42 }": { where: { 'user.id': 42 } },
  'grep /disk full/i': { grep: /disk full/i },
  "where { level: 'critical' } + grep /disk full/i": { where: { level: 'critical' }, grep: /disk full/i },
};

const rows: Record<string, number[]> = {};
const add = (key: string, value: number): void => void (rows[key] ??= []).push(value);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function fill(bus: string): Promise<void> {
  const connection = await amqplib.connect(URL, { noDelay: true });
  const channel = await connection.createConfirmChannel();
  await channel.assertExchange(bus, 'topic', { durable: false, autoDelete: false });
  await channel.assertQueue(`${bus}.history`, { durable: true, arguments: STREAM_ARGS });
  await channel.bindQueue(`${bus}.history`, bus, '#');
  const publisher = newPublisherId();
  for (let seq = 1; seq <= EVENTS; seq++) {
    const data = { n: seq, msg: seq % 100 === 0 ? 'Disk FULL on /var' : 'request served', user: { id: seq % 1000 } };
    if (!channel.publish(bus, seq % 50 === 0 ? 'critical' : 'info', encodeData(data), publishProperties('bench', publisher, 0, seq, false))) await new Promise((r) => channel.once('drain', r));
  }
  await channel.waitForConfirms();
  await connection.close();
}

async function searched(logger: EventBusLogger<string>, search: EventSearch): Promise<{ rate: number; matched: number }> {
  const start = performance.now();
  const read = logger.history({ since: 'start', ...search });
  for await (const event of read) void event;
  const { scanned, matched } = read.progress;
  if (scanned !== EVENTS) throw new Error(`history() scanned ${scanned} records of ${EVENTS}`);
  return { rate: scanned / ((performance.now() - start) / 1000), matched };
}

for (let run = 0; run < RUNS; run++) {
  const bus = `bench-search-${randomUUID()}`;
  try {
    await fill(bus);
    const tuned = await rawRead(URL, `${bus}.history`, EVENTS, TUNED);
    add('tuned raw amqplib (records/s)', tuned);
    const logger = await EventBusLogger.create<string>({ url: URL, name: bus, listen: false, config: HISTORY_CONFIG });
    for (const [label, search] of Object.entries(SEARCHES)) {
      const { rate, matched } = await searched(logger, search);
      add(`history(${label}): scanned/s`, rate);
      add(`history(${label}): / tuned raw`, rate / tuned);
      add(`history(${label}): matched`, matched);
    }
    await logger.stop();
  } finally {
    const connection = await amqplib.connect(URL);
    const channel = await connection.createChannel();
    await channel.deleteQueue(`${bus}.history`);
    await channel.deleteExchange(bus);
    await connection.close();
  }
  console.error(`run ${run + 1} of ${RUNS} done`);
}
console.log(`${EVENTS} events written in bulk, read from the start; medians of ${RUNS} runs (load ${(await import('node:os')).loadavg()[0]?.toFixed(1)})`);
for (const [key, xs] of Object.entries(rows)) console.log(`${key}: ${key.includes('/ tuned') ? median(xs).toFixed(2) : Math.round(median(xs)).toLocaleString('en-US')}  [${xs.map((x) => (x < 10 ? x.toFixed(2) : Math.round(x))).join(', ')}]`);
