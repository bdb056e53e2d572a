// The benchmark: the same workloads through raw amqplib, Rascal and this library, on the same broker, in one run.
//   npm run bench -- [--quick] [--runs 3] [--clients amqplib,rascal,library] [--workloads sequential,burst,...]
//                    [--outage-seconds 60] [--outage-mode proxy|broker] [--cpu-prof] [--url amqp://...]
// Every figure is the median of --runs runs; each in-process workload runs in a fresh child process.
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, platform, release } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { connect } from 'amqplib';
import { CLIENT_NAMES, exchangeExists, type ClientName, type ConnectOptions } from './clients/common.js';
import { loadAdapter } from './clients/registry.js';
import { brokerOutage, proxyOutage, type Outage } from './outage.js';
import { BOUNDED, WORKLOADS, aggregate, minimalSpread, outageBounded, svg, table, type Sample, type Workload } from './report.js';
import { fanout, finishWorker, startWorker, type ChildRun, type Params, type Result } from './workloads.js';

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    clients: { type: 'string', default: CLIENT_NAMES.join(',') },
    workloads: { type: 'string', default: WORKLOADS.join(',') },
    'outage-seconds': { type: 'string' },
    'outage-mode': { type: 'string', default: 'proxy' },
    'cpu-prof': { type: 'boolean', default: false },
    url: { type: 'string', default: process.env.AMQP_URL ?? 'amqp://guest:guest@localhost:5672' },
    out: { type: 'string' },
  },
});

function list<T extends string>(flag: string, allowed: readonly T[]): T[] {
  const items = flag.split(',').map((s) => s.trim()).filter(Boolean);
  for (const item of items) if (!allowed.includes(item as T)) throw new Error(`unknown '${item}', expected one of ${allowed.join(', ')}`);
  return items as T[];
}
function positive(flag: string | undefined, fallback: number): number {
  if (flag === undefined) return fallback;
  const value = Number(flag);
  if (!(value > 0)) throw new Error(`expected a positive number, got '${flag}'`);
  return value;
}

const quick = flags.quick;
const runs = Math.round(positive(flags.runs, quick ? 1 : 3));
const clients = list(flags.clients, CLIENT_NAMES);
if (!clients.includes('amqplib')) throw new Error('--clients must include amqplib: it is the baseline of every ratio');
const workloads = list(flags.workloads, WORKLOADS);
const outageMode = list(flags['outage-mode'], ['proxy', 'broker'] as const)[0] ?? 'proxy';
const brokerUrl = flags.url;
const params: Params = quick
  ? { warmup: 200, sequential: 500, burst: 2_000, latencyRate: 1_000, latencySeconds: 1, fanout: 1_000, listeners: 4, outageSeconds: 5, outageRate: 3_000, recoverySeconds: 20 }
  : { warmup: 500, sequential: 3_000, burst: 20_000, latencyRate: 1_000, latencySeconds: 3, fanout: 10_000, listeners: 4, outageSeconds: 60, outageRate: 2_000, recoverySeconds: 30 };
params.outageSeconds = positive(flags['outage-seconds'], params.outageSeconds);
const outName = flags.out ?? (quick ? 'quick' : 'latest');
const resultsDir = new URL('./results/', import.meta.url);
const nodeOptions = (label: string): string[] =>
  flags['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${new URL('profiles/', resultsDir).pathname}`, `--cpu-prof-name=${label}-${randomBytes(3).toString('hex')}.cpuprofile`] : [];

const log = (line: string): void => void process.stderr.write(`${line}\n`);
const samples: Sample[] = [];
const errors: { run: number; client: ClientName; workload: Workload; error: string }[] = [];
const leftovers: string[] = [];
let everyChildExitedAlone = true;

function exchangeName(client: ClientName, workload: Workload, run: number): string {
  return `bench_${client}_${workload}_r${run}_${randomBytes(3).toString('hex')}`;
}

/** Records a result, or the failure, and checks the client deleted its exchange. */
async function record(run: number, client: ClientName, workload: Workload, exchange: string, running: Promise<ChildRun>): Promise<void> {
  try {
    const { result, exitedAlone } = await running;
    everyChildExitedAlone &&= exitedAlone;
    if (!exitedAlone) errors.push({ run, client, workload, error: 'a child process did not exit by itself (open handle/connection); killed' });
    samples.push({ run, client, workload, result });
    log(`  ${client.padEnd(15)} ${summarize(workload, result)}`);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    errors.push({ run, client, workload, error: message });
    log(`  ${client.padEnd(15)} FAILED: ${message.split('\n').slice(0, 3).join(' | ')}`);
  }
  if (await exchangeExists(brokerUrl, exchange)) leftovers.push(exchange);
}

function summarize(workload: Workload, r: Result): string {
  const n = (v: unknown, d = 0): string => (typeof v === 'number' ? v.toFixed(d) : String(v));
  switch (workload) {
    case 'sequential': return `${n(r.eventsPerSec)} ev/s`;
    case 'burst': return `publish ${n(r.publishPerSec)} ev/s, end-to-end ${n(r.e2ePerSec)} ev/s, lost ${n(r.lost)}, peak RSS ${n(r.peakRssMB, 1)} MB`;
    case 'latency': return `p50 ${n(r.p50Ms, 2)} ms, p99 ${n(r.p99Ms, 2)} ms, max ${n(r.maxMs, 2)} ms, lost ${n(r.lost)}`;
    case 'fanout': return `delivered ${n(r.deliveredPerSec)} ev/s, publish ${n(r.publishPerSec)} ev/s, received ${n(r.received)}/${n(r.expected)}`;
    case 'outage': return `RSS ${n(r.rssBeforeMB, 1)} -> ${n(r.rssMidOutageMB, 1)} -> ${n(r.rssEndOutageMB, 1)} MB (after ${n(r.rssAfterMB, 1)}), retained heap ${n(r.heapBeforeMB, 1)} -> ${n(r.heapMidOutageMB, 1)} -> ${n(r.heapEndOutageMB, 1)} MB: ${outageBounded(r) ? 'bounded' : 'NOT bounded'}; recovered ${n(r.recovered)}`;
  }
}

/** All clients publish through one outage at once, each in its own process. */
async function outageRound(run: number): Promise<void> {
  const outage: Outage = outageMode === 'broker' ? brokerOutage(brokerUrl) : await proxyOutage(brokerUrl);
  try {
    const started = clients.map((client) => {
      const exchange = exchangeName(client, 'outage', run);
      const connectOptions: ConnectOptions = { url: outage.url, brokerUrl, exchange };
      const options = (label: string): string[] => ['--expose-gc', ...nodeOptions(label)];
      return { client, exchange, child: startWorker({ client, workload: 'outage', connect: connectOptions, params }, options) };
    });
    const ready = await Promise.allSettled(started.map(({ child }) => child.next('ready', 60_000)));
    const live = started.filter((_, i) => ready[i]?.status === 'fulfilled');
    await sleep(3_000); // publishing, connected
    log(`  outage (${outageMode}) for ${params.outageSeconds} s ...`);
    for (const { child } of live) child.send({ type: 'outage-start' });
    await outage.cut();
    try {
      await sleep(params.outageSeconds * 1000);
    } finally {
      await outage.restore();
    }
    for (const { child } of live) child.send({ type: 'outage-end' });
    const timeout = params.recoverySeconds * 2_000 + 60_000;
    await Promise.all(started.map(({ client, exchange, child }) => record(run, client, 'outage', exchange, finishWorker(child, timeout))));
  } finally {
    await outage.close();
  }
}

async function main(): Promise<void> {
  const admin = await connect(brokerUrl);
  const broker = admin.connection.serverProperties;
  await admin.close();
  const notes = Object.fromEntries(await Promise.all(clients.map(async (c) => [c, (await loadAdapter(c)).notes] as const).map((p) => p.catch(() => null)))
    .then((entries) => entries.filter((e): e is [ClientName, readonly string[]] => e !== null)));
  log(`event-bus-logger bench: ${clients.join(', ')} on ${broker.product} ${broker.version}; runs ${runs}${quick ? ' (quick)' : ''}`);

  for (let run = 1; run <= runs; run++) {
    const order = clients.map((_, i) => clients[(i + run - 1) % clients.length] as ClientName); // rotate who goes first
    for (const workload of workloads.filter((w) => w !== 'outage')) {
      log(`[run ${run}/${runs}] ${workload}`);
      for (const client of order) {
        const exchange = exchangeName(client, workload, run);
        const connectOptions: ConnectOptions = { url: brokerUrl, brokerUrl, exchange };
        const running = workload === 'fanout'
          ? fanout(client, connectOptions, params, nodeOptions)
          : finishWorker(startWorker({ client, workload, connect: connectOptions, params }, nodeOptions), 180_000);
        await record(run, client, workload, exchange, running);
      }
    }
    if (workloads.includes('outage')) {
      log(`[run ${run}/${runs}] outage`);
      await outageRound(run);
    }
  }

  const rows = aggregate(samples, clients);
  const cpu = cpus()[0]?.model ?? 'unknown';
  const subtitle = `${new Date().toISOString().slice(0, 10)} · node ${process.version} · ${cpu} ×${cpus().length} · RabbitMQ ${broker.version} · medians of ${runs} runs; ratios: median of the per-run ratios`;
  const outageDetails = samples.filter((s) => s.workload === 'outage');
  const report = {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${platform()} ${release()}`,
    cpu: { model: cpu, count: cpus().length },
    broker: { product: broker.product, version: broker.version },
    quick,
    runs,
    params,
    outageMode,
    boundedRule: `heap retained after a forced GC grows at most ${BOUNDED.heapSecondHalfMB} MB over the second half of the outage`,
    clients: notes,
    metrics: rows,
    outage: outageDetails,
    samples,
    errors,
    leftoverExchanges: leftovers,
    everyChildExitedAlone,
  };

  const text = [
    '',
    `event-bus-logger benchmark — ${subtitle}`,
    `counts: sequential ${params.sequential}, burst ${params.burst}, latency ${params.latencyRate}/s × ${params.latencySeconds} s, fan-out ${params.fanout} × ${params.listeners} listeners, outage ${params.outageSeconds} s at ${params.outageRate}/s (${outageMode})`,
    '',
    table(rows, clients),
    '',
    ...minimalSpread(rows),
    ...outageDetails.map((s) => [
      `outage run ${s.run} ${s.client}: ${summarize('outage', s.result)}, recovery ${s.result.recoveryMs == null ? 'n/a' : `${Math.round(Number(s.result.recoveryMs))} ms`}`,
      `    publishes started before: ${JSON.stringify(s.result.beforeOutage)}`,
      `    during: ${JSON.stringify(s.result.duringOutage)} ${JSON.stringify(s.result.outageReasons)}`,
      `    after: ${JSON.stringify(s.result.afterOutage)} ${JSON.stringify(s.result.afterReasons)}`,
    ].join('\n')),
    '',
    ...Object.entries(notes).flatMap(([client, lines]) => lines.map((line) => `note ${client}: ${line}`)),
    `children exited by themselves: ${everyChildExitedAlone ? 'yes' : 'NO'}; leftover exchanges: ${leftovers.length ? leftovers.join(', ') : 'none'}`,
    ...errors.map((e) => `ERROR run ${e.run} ${e.client} ${e.workload}: ${e.error.split('\n')[0]}`),
  ].join('\n');
  process.stdout.write(`${text}\n`);

  await mkdir(resultsDir, { recursive: true });
  await writeFile(new URL(`${outName}.json`, resultsDir), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(new URL(`${outName}.svg`, resultsDir), `${svg(rows, clients, subtitle)}\n`);
  await writeFile(new URL(`${outName}.txt`, resultsDir), `${text}\n`);
  log(`wrote bench/results/${outName}.{json,svg,txt}`);
  if (errors.length || leftovers.length || !everyChildExitedAlone) process.exitCode = 1;
}

await main();
