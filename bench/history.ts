// The cost of history, as ratios to raw amqplib in the same run (`npx tsx bench/history.ts [--runs 3] [--replay 100000]`):
//  - publish cost: sequential awaited publishes and a burst, on a bus whose history stream is bound, by raw amqplib
//    (a confirm channel, the same message the library sends) and by the library; and each without history;
//  - replay rate: reading a stream of --replay events (written in bulk) and one of --trickle events (written one
//    awaited publish at a time, as a log bus fills: one event per chunk) from its start, by raw amqplib (one consumer
//    from 'first', prefetch 100, an ack each), by a tuned raw reader (prefetch 5,000, one `multiple` ack per 2,500),
//    by the library's history() and by a catch-up listener (`history: { since: 'start' }`) until it has them all.
// --replay-only skips the publish cost.
// It uses the broker at AMQP_URL (default 127.0.0.1:5672) and deletes every exchange and stream it creates.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import amqplib from 'amqplib';
import { EventBusLogger } from '../lib/index.js';
import { encodeData } from '../lib/event-data.js';
import { newPublisherId, publishProperties } from '../lib/wire-format.js';

const URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const HISTORY_CONFIG = new globalThis.URL('../config/rascal-with-history.json', import.meta.url).pathname;
const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, sequential: { type: 'string', default: '2000' }, burst: { type: 'string', default: '10000' }, replay: { type: 'string', default: '100000' }, trickle: { type: 'string', default: '20000' }, 'replay-only': { type: 'boolean', default: false } } });
const RUNS = Number(values.runs);
const SEQUENTIAL = Number(values.sequential);
const BURST = Number(values.burst);
const REPLAY = Number(values.replay);
const TRICKLE = Number(values.trickle);
const WARMUP = 300;
const STREAM_ARGS = { 'x-queue-type': 'stream', 'x-max-age': '7D', 'x-max-length-bytes': 1073741824, 'x-stream-max-segment-size-bytes': 16777216 };

const rows: Record<string, number[]> = {};
const add = (key: string, value: number): void => void (rows[key] ??= []).push(value);
const body = (n: number): Buffer => encodeData({ n, msg: 'benchmark event' });
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function cleanup(bus: string): Promise<void> {
  const connection = await amqplib.connect(URL);
  const channel = await connection.createChannel();
  await channel.deleteQueue(`${bus}.history`);
  await channel.deleteExchange(bus);
  await connection.close();
}

// Raw amqplib: the topology (exchange, and the stream bound with # when `history`), then publishes.
async function rawPublish(bus: string, history: boolean): Promise<{ sequential: number; burst: number }> {
  const connection = await amqplib.connect(URL, { noDelay: true });
  const channel = await connection.createConfirmChannel();
  await channel.assertExchange(bus, 'topic', { durable: false, autoDelete: false });
  if (history) {
    await channel.assertQueue(`${bus}.history`, { durable: true, arguments: STREAM_ARGS });
    await channel.bindQueue(`${bus}.history`, bus, '#');
  }
  const publisher = newPublisherId();
  let seq = 0;
  const publish = (): Promise<void> =>
    new Promise((resolve, reject) => {
      seq++;
      channel.publish(bus, 'info', body(seq), publishProperties('bench', publisher, 0, seq, false), (error) => (error ? reject(error) : resolve()));
    });
  for (let i = 0; i < WARMUP; i++) await publish();
  let start = performance.now();
  for (let i = 0; i < SEQUENTIAL; i++) await publish();
  const sequential = SEQUENTIAL / ((performance.now() - start) / 1000);
  start = performance.now();
  await Promise.all(Array.from({ length: BURST }, publish));
  const burst = BURST / ((performance.now() - start) / 1000);
  await connection.close();
  return { sequential, burst };
}

async function libraryPublish(bus: string, history: boolean): Promise<{ sequential: number; burst: number }> {
  const logger = await EventBusLogger.create({ url: URL, name: bus, listen: false, appId: 'bench', ...(history ? { config: HISTORY_CONFIG } : {}) });
  let n = 0;
  for (let i = 0; i < WARMUP; i++) await logger.info({ n: ++n, msg: 'benchmark event' });
  let start = performance.now();
  for (let i = 0; i < SEQUENTIAL; i++) await logger.info({ n: ++n, msg: 'benchmark event' });
  const sequential = SEQUENTIAL / ((performance.now() - start) / 1000);
  start = performance.now();
  await Promise.all(Array.from({ length: BURST }, () => logger.info({ n: ++n, msg: 'benchmark event' })));
  const burst = BURST / ((performance.now() - start) / 1000);
  await logger.stop();
  return { sequential, burst };
}

// Fills a stream with `count` events (raw): in bulk (as fast as the channel takes them), or one awaited publish at a
// time (a trickle: the broker writes each in a chunk of its own).
async function fill(bus: string, count: number, trickle: boolean): Promise<void> {
  const connection = await amqplib.connect(URL, { noDelay: true });
  const channel = await connection.createConfirmChannel();
  await channel.assertExchange(bus, 'topic', { durable: false, autoDelete: false });
  await channel.assertQueue(`${bus}.history`, { durable: true, arguments: STREAM_ARGS });
  await channel.bindQueue(`${bus}.history`, bus, '#');
  const publisher = newPublisherId();
  for (let seq = 1; seq <= count; seq++) {
    const properties = publishProperties('bench', publisher, 0, seq, false);
    if (trickle) await new Promise<void>((resolve, reject) => channel.publish(bus, 'info', body(seq), properties, (error) => (error ? reject(error) : resolve())));
    else if (!channel.publish(bus, 'info', body(seq), properties)) await new Promise((r) => channel.once('drain', r));
  }
  await channel.waitForConfirms();
  await connection.close();
}

// Raw amqplib from the stream's start: `ackEvery` 1 acks each record, more acks with `multiple` once per that many.
async function rawReplay(bus: string, count: number, prefetch: number, ackEvery: number): Promise<number> {
  const connection = await amqplib.connect(URL, { noDelay: true });
  const channel = await connection.createChannel();
  await channel.prefetch(prefetch);
  const start = performance.now();
  let received = 0;
  await new Promise<void>((resolve) => {
    void channel.consume(
      `${bus}.history`,
      (message) => {
        if (!message) return;
        JSON.parse(message.content.toString('utf8'));
        if (++received % ackEvery === 0 || received === count) channel.ack(message, ackEvery > 1);
        if (received === count) resolve();
      },
      { noAck: false, arguments: { 'x-stream-offset': 'first' } },
    );
  });
  const rate = count / ((performance.now() - start) / 1000);
  await connection.close();
  return rate;
}

async function libraryReplay(bus: string, count: number): Promise<number> {
  const logger = await EventBusLogger.create({ url: URL, name: bus, listen: false, config: HISTORY_CONFIG });
  const start = performance.now();
  let received = 0;
  for await (const event of logger.history({ since: 'start' })) if (event) received++;
  const rate = received / ((performance.now() - start) / 1000);
  await logger.stop();
  if (received !== count) throw new Error(`history() gave ${received} events of ${count}`);
  return rate;
}

// A catch-up listener from the stream's start, timed from start() until its listener has every event.
async function listenerCatchUp(bus: string, count: number): Promise<number> {
  const logger = new EventBusLogger({ url: URL, name: bus, config: HISTORY_CONFIG, history: { since: 'start' } });
  let received = 0;
  let done!: () => void;
  const all = new Promise<void>((resolve) => (done = resolve));
  logger.on('info', () => void (++received === count && done()));
  const start = performance.now();
  await logger.start();
  await all;
  const rate = count / ((performance.now() - start) / 1000);
  await logger.stop();
  return rate;
}

// Every reader on one stream of `count` events; ratios to the tuned raw reader of the same run.
async function replays(bus: string, count: number, label: string): Promise<void> {
  const raw = await rawReplay(bus, count, 100, 1);
  const tuned = await rawReplay(bus, count, 5000, 2500);
  const library = await libraryReplay(bus, count);
  const listener = await listenerCatchUp(bus, count);
  add(`replay ${label}: amqplib, prefetch 100, ack each (ev/s)`, raw);
  add(`replay ${label}: amqplib tuned, 5000 / multiple ack per 2500 (ev/s)`, tuned);
  add(`replay ${label}: library history() (ev/s)`, library);
  add(`replay ${label}: library catch-up listener (ev/s)`, listener);
  add(`replay ${label}: history() / tuned amqplib`, library / tuned);
  add(`replay ${label}: catch-up listener / tuned amqplib`, listener / tuned);
}


for (let run = 0; run < RUNS; run++) {
  const bus = `bench-history-${randomUUID()}`;
  try {
    if (!values['replay-only']) await publishCosts(bus);
    await fill(bus, REPLAY, false);
    await replays(bus, REPLAY, `of ${REPLAY} events written in bulk`);
    await cleanup(bus);
    await fill(bus, TRICKLE, true);
    await replays(bus, TRICKLE, `of ${TRICKLE} events written one at a time`);
  } finally {
    for (const name of [bus, `${bus}-plain`, `${bus}-plain-lib`]) await cleanup(name);
  }
}

async function publishCosts(bus: string): Promise<void> {
  {
    const rawPlain = await rawPublish(`${bus}-plain`, false);
    const rawHistory = await rawPublish(bus, true);
    await cleanup(bus);
    const libraryHistory = await libraryPublish(bus, true);
    const libraryPlain = await libraryPublish(`${bus}-plain-lib`, false);
    for (const kind of ['sequential', 'burst'] as const) {
      add(`${kind} publish, history bound: amqplib (ev/s)`, rawHistory[kind]);
      add(`${kind} publish, history bound: library (ev/s)`, libraryHistory[kind]);
      add(`${kind} publish, history bound: library/amqplib`, libraryHistory[kind] / rawHistory[kind]);
      add(`${kind} publish: amqplib with history / without`, rawHistory[kind] / rawPlain[kind]);
      add(`${kind} publish: library with history / without`, libraryHistory[kind] / libraryPlain[kind]);
    }
    await cleanup(bus);
  }
}
console.log(`history benchmark — ${new Date().toISOString().slice(0, 10)} · node ${process.version} · medians of ${RUNS} runs (ratios: median of per-run ratios)`);
console.log(`counts: sequential ${SEQUENTIAL} (after ${WARMUP} untimed), burst ${BURST}, replay ${REPLAY} in bulk and ${TRICKLE} one at a time`);
for (const [key, list] of Object.entries(rows)) {
  const value = median(list);
  const shown = key.includes('(ev/s)') ? Math.round(value).toLocaleString('en-US') : value.toFixed(2);
  console.log(`${key.padEnd(72)} ${shown.padStart(10)}   runs: ${list.map((v) => (key.includes('(ev/s)') ? Math.round(v) : v.toFixed(2))).join(', ')}`);
}
