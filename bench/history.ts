// The cost of history, as ratios to raw amqplib in the same run (`npx tsx bench/history.ts [--runs 3] [--replay 100000]`):
//  - publish cost: sequential awaited publishes and a burst, on a bus whose history stream is bound, by raw amqplib
//    (a confirm channel, the same message the library sends) and by the library; and each without history;
//  - replay rate: reading a stream of --replay events (written in bulk), one of --large events (in bulk; 0: none)
//    and one of --trickle events (written one awaited publish at a time, as a log bus fills: one event per chunk)
//    from its start, by raw amqplib (one consumer from 'first', prefetch 100, an ack each), by the tuned raw reader
//    (prefetch 5,000, one `multiple` ack per 2,500: bench/raw-reader.ts), by the library's history(), by a catch-up
//    listener (`history: { since: 'start' }`) until it has them all, and by `tail --since start --no-follow --json`
//    (its output to /dev/null). Each reader runs in a fresh process (bench/replay-reader.ts), in an order that
//    rotates each run, and reports its rate, its peak RSS and its CPU time per event.
// --replay-only skips the publish cost; --readers raw,tuned,history,listener,tail picks readers (tuned always runs;
// raw, slow, skips the --large stream). --baseline <dir>: a checkout of another version (with this bench/) whose
// library readers run too, on the same streams, in the same rotation: a paired before/after.
// It uses the broker at AMQP_URL (default 127.0.0.1:5672) and deletes every exchange and stream it creates.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { deleteBus, fillStream } from './raw-reader.js';

const URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    sequential: { type: 'string', default: '2000' },
    burst: { type: 'string', default: '10000' },
    replay: { type: 'string', default: '100000' },
    large: { type: 'string', default: '0' },
    trickle: { type: 'string', default: '20000' },
    readers: { type: 'string', default: 'raw,tuned,history,listener,tail' },
    baseline: { type: 'string' },
    'replay-only': { type: 'boolean', default: false },
  },
});
const RUNS = Number(values.runs);
const SEQUENTIAL = Number(values.sequential);
const BURST = Number(values.burst);
const REPLAY = Number(values.replay);
const TRICKLE = Number(values.trickle);
const LARGE = Number(values.large);
const BASELINE = values.baseline;
const CHOSEN = [...new Set(['tuned', ...values.readers.split(',').map((reader) => reader.trim())])];
const READERS = [...CHOSEN, ...(BASELINE ? CHOSEN.filter((reader) => !['raw', 'tuned'].includes(reader)).map((reader) => `${reader}@baseline`) : [])];

const rows: Record<string, number[]> = {};
const add = (key: string, value: number): void => void (rows[key] ??= []).push(value);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

const cleanup = (bus: string): Promise<void> => deleteBus(URL, bus);

const READER_LABELS: Record<string, string> = {
  raw: 'amqplib, prefetch 100, ack each',
  tuned: 'amqplib tuned, 5000 / multiple ack per 2500',
  history: 'library history()',
  listener: 'library catch-up listener',
  tail: 'tail --since start --no-follow',
};

// Runs one bench step (a script under tsx) in a process of its own; it says its result on standard error as one
// `RESULT <json>` line.
function runStep<T>(script: string, args: string[], what: string): Promise<T> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let said = '';
  child.stderr.on('data', (chunk: Buffer) => void (said += chunk.toString()));
  return new Promise((resolve, reject) =>
    child.on('close', (code) => {
      const result = /^RESULT (.*)$/m.exec(said);
      if (code === 0 && result) resolve(JSON.parse(result[1] as string) as T);
      else reject(new Error(`${what} exited ${code}: ${said.slice(-2000)}`));
    }),
  );
}

// One reader in a process of its own (bench/replay-reader.ts), its standard output to /dev/null.
function readIn(bus: string, count: number, reader: string): Promise<{ rate: number; rssMB: number; cpuUsPerEvent: number }> {
  const [name, baseline] = reader.split('@');
  const script = baseline ? `${BASELINE}/bench/replay-reader.ts` : new globalThis.URL('./replay-reader.ts', import.meta.url).pathname;
  return runStep(script, ['read', bus, String(count), name as string], reader);
}

// Every reader on one stream of `count` events, in an order that rotates with `run`; ratios to the tuned raw reader.
async function replays(bus: string, count: number, label: string, run: number, large: boolean): Promise<void> {
  const readers = READERS.filter((reader) => !(large && reader === 'raw'));
  const order = readers.map((_, i) => readers[(i + run) % readers.length] as string);
  const results = new Map<string, { rate: number; rssMB: number; cpuUsPerEvent: number }>();
  for (const reader of order) results.set(reader, await readIn(bus, count, reader));
  const tuned = results.get('tuned')?.rate as number;
  for (const reader of readers) {
    const { rate, rssMB, cpuUsPerEvent } = results.get(reader) as { rate: number; rssMB: number; cpuUsPerEvent: number };
    const [name, baseline] = reader.split('@');
    const shown = `${READER_LABELS[name as string] ?? name}${baseline ? ' (baseline)' : ''}`;
    add(`replay ${label}: ${shown} (ev/s)`, rate);
    if (reader !== 'tuned') add(`replay ${label}: ${shown} / tuned amqplib`, rate / tuned);
    add(`replay ${label}: ${shown}: peak RSS (MB)`, rssMB);
    add(`replay ${label}: ${shown}: CPU per event (us)`, cpuUsPerEvent);
  }
}

const loads: number[] = [];
for (let run = 0; run < RUNS; run++) {
  const bus = `bench-history-${randomUUID()}`;
  try {
    loads.push(loadavg()[0] as number);
    if (!values['replay-only']) await publishCosts(bus, run);
    for (const [count, trickle, label] of [
      [REPLAY, false, `of ${REPLAY} events written in bulk`],
      [LARGE, false, `of ${LARGE} events written in bulk`],
      [TRICKLE, true, `of ${TRICKLE} events written one at a time`],
    ] as const) {
      if (count <= 0) continue;
      await fillStream(URL, bus, count, trickle);
      await replays(bus, count, label, run, count === LARGE);
      await cleanup(bus);
      loads.push(loadavg()[0] as number);
    }
  } finally {
    for (const name of [bus, `${bus}-plain`, `${bus}-plain-lib`]) await cleanup(name);
  }
  console.error(`run ${run + 1} of ${RUNS} done (load ${loadavg()[0]?.toFixed(1)})`);
}

// One publishing case in a process of its own (bench/publish-step.ts), on an exchange of its own.
function publishIn(bus: string, client: string, history: boolean): Promise<{ sequential: number; burst: number }> {
  const script = new globalThis.URL('./publish-step.ts', import.meta.url).pathname;
  return runStep(script, [bus, client, history ? 'history' : 'plain', String(SEQUENTIAL), String(BURST)], `${client} publish`);
}

// Raw amqplib and the library, each with and without the stream bound: four fresh processes on four exchanges,
// in an order that rotates each run (a process started after another's stream was deleted, or with a JIT warmed
// by the case before, is not the same client).
async function publishCosts(bus: string, run: number): Promise<void> {
  const cases = [
    ['amqplib', true],
    ['amqplib', false],
    ['library', true],
    ['library', false],
  ] as const;
  const results = new Map<string, { sequential: number; burst: number }>();
  try {
    for (let i = 0; i < cases.length; i++) {
      const [client, history] = cases[(i + run) % cases.length] as (typeof cases)[number];
      results.set(`${client} ${history}`, await publishIn(`${bus}-${client}-${history ? 'history' : 'plain'}`, client, history));
    }
  } finally {
    for (const [client, history] of cases) await cleanup(`${bus}-${client}-${history ? 'history' : 'plain'}`);
  }
  const get = (client: string, history: boolean): { sequential: number; burst: number } => results.get(`${client} ${history}`) as { sequential: number; burst: number };
  for (const kind of ['sequential', 'burst'] as const) {
    add(`${kind} publish, history bound: amqplib (ev/s)`, get('amqplib', true)[kind]);
    add(`${kind} publish, history bound: library (ev/s)`, get('library', true)[kind]);
    add(`${kind} publish, no history: amqplib (ev/s)`, get('amqplib', false)[kind]);
    add(`${kind} publish, no history: library (ev/s)`, get('library', false)[kind]);
    add(`${kind} publish, history bound: library/amqplib`, get('library', true)[kind] / get('amqplib', true)[kind]);
    add(`${kind} publish: amqplib with history / without`, get('amqplib', true)[kind] / get('amqplib', false)[kind]);
    add(`${kind} publish: library with history / without`, get('library', true)[kind] / get('library', false)[kind]);
  }
}
console.log(`history benchmark — ${new Date().toISOString().slice(0, 10)} · node ${process.version} · medians of ${RUNS} runs (ratios: median of per-run ratios)`);
console.log(`counts: sequential ${SEQUENTIAL} (after 300 untimed), burst ${BURST}, replay ${REPLAY}${LARGE > 0 ? ` and ${LARGE}` : ''} in bulk and ${TRICKLE} one at a time`);
console.log(`load average (1 min) at the start of each run and after each stream: ${loads.map((load) => load.toFixed(1)).join(', ')}`);
for (const [key, list] of Object.entries(rows)) {
  const value = median(list);
  const whole = key.includes('(ev/s)') || key.includes('(MB)');
  const shown = whole ? Math.round(value).toLocaleString('en-US') : value.toFixed(2);
  console.log(`${key.padEnd(96)} ${shown.padStart(10)}   runs: ${list.map((v) => (whole ? Math.round(v) : v.toFixed(2))).join(', ')}`);
}
