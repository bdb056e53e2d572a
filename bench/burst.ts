// Un-awaited bursts through the library with its default caps (issue 20 §2): N `logger.info({...})` started at once on
// a healthy broker, with and without a history stream. For each: how many resolved, how many were rejected and why
// (by code, with the first message), the time until every promise settled, and the process's peak RSS.
//   npx tsx bench/burst.ts                                   # 100,000 and 1,000,000, without and with history
//   npx tsx bench/burst.ts --counts 100000 --history only    # one case
//   npx tsx bench/burst.ts --url amqp://... --data-bytes 100 --json
// Each case runs in a fresh child process (its peak RSS is its own), on its own exchange; the exchange and the history
// stream are deleted afterwards. The logger is publish-only (`listen: false`): the figures are the publish path's.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { connect } from 'amqplib';

const HISTORY_CONFIG = new URL('../config/rascal-with-history.json', import.meta.url).pathname;

interface Outcome {
  count: number;
  history: boolean;
  resolved: number;
  rejected: Record<string, { count: number; message: string }>;
  /** From the first call to the last promise settled. */
  drainSeconds: number;
  /** How long the loop of calls itself took (the publishes are not awaited). */
  callSeconds: number;
  peakRssMB: number;
  baseRssMB: number;
  /** CPU time of the process (user + system) from the first call to the last settled, per event. */
  cpuMicrosPerEvent: number;
}

const { values: flags } = parseArgs({
  options: {
    counts: { type: 'string', default: '100000,1000000' },
    history: { type: 'string', default: 'both' },
    'data-bytes': { type: 'string', default: '100' },
    url: { type: 'string', default: process.env.AMQP_URL ?? 'amqp://guest:guest@localhost:5672' },
    json: { type: 'boolean', default: false },
    child: { type: 'boolean', default: false },
    name: { type: 'string' },
  },
});

const rssMB = (): number => process.memoryUsage.rss() / 1024 / 1024;

/** One case, in this process: publish `count` events without awaiting them, then wait for every promise. */
async function runCase(count: number, history: boolean, name: string): Promise<Outcome> {
  const { EventBusLogger } = await import('../lib/index.js');
  const logger = await EventBusLogger.create({ url: flags.url, name, listen: false, ...(history ? { config: HISTORY_CONFIG } : {}) });
  const padding = 'x'.repeat(Math.max(0, Number(flags['data-bytes']) - 30));
  const baseRssMB = rssMB();
  let peak = baseRssMB;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMB())), 10);
  let resolved = 0;
  const rejected: Outcome['rejected'] = {};
  const onResolved = (): void => void resolved++;
  const onRejected = (error: Error & { code?: string }): void => {
    const code = error.code ?? error.name;
    const seen = (rejected[code] ??= { count: 0, message: error.message });
    seen.count++;
  };
  const cpu = process.cpuUsage();
  const start = performance.now();
  const settled: Array<Promise<void>> = new Array(count);
  // ~100 bytes of data: {"n":123456,"msg":"xxx…"}
  for (let n = 0; n < count; n++) settled[n] = logger.info({ n, msg: padding }).then(onResolved, onRejected);
  const callSeconds = (performance.now() - start) / 1000;
  await Promise.all(settled);
  const drainSeconds = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  clearInterval(sampler);
  await logger.stop();
  const peakRssMB = Math.max(peak, process.resourceUsage().maxRSS / 1024);
  return { count, history, resolved, rejected, drainSeconds, callSeconds, peakRssMB, baseRssMB, cpuMicrosPerEvent: (used.user + used.system) / count };
}

/** Deletes the case's exchange and history stream (a burst of a million leaves ~150 MB in a stream). */
async function cleanUp(name: string): Promise<void> {
  const connection = await connect(flags.url);
  try {
    const channel = await connection.createChannel();
    await channel.deleteQueue(`${name}.history`);
    await channel.deleteExchange(name);
    await channel.close();
  } finally {
    await connection.close();
  }
}

function runChild(count: number, history: boolean): Promise<Outcome> {
  const name = `bench-burst-${randomBytes(4).toString('hex')}`;
  const args = ['--import', 'tsx', new URL(import.meta.url).pathname, '--child', '--counts', String(count), '--history', history ? 'only' : 'none', '--name', name, '--url', flags.url, '--data-bytes', flags['data-bytes']];
  return new Promise<Outcome>((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`the ${count} case${history ? ' with history' : ''} exited with ${code}: ${out}`));
      resolve(JSON.parse(out.trim().split('\n').at(-1) as string) as Outcome);
    });
  }).finally(() => cleanUp(name));
}

const counts = flags.counts.split(',').map(Number);
const histories = flags.history === 'both' ? [false, true] : flags.history === 'only' ? [true] : [false];

if (flags.child) {
  const outcome = await runCase(counts[0] as number, histories[0] as boolean, flags.name as string);
  process.stdout.write(`${JSON.stringify(outcome)}\n`);
} else {
  const outcomes: Outcome[] = [];
  for (const history of histories) {
    for (const count of counts) {
      const outcome = await runChild(count, history);
      outcomes.push(outcome);
      if (!flags.json) {
        const why = Object.entries(outcome.rejected).map(([code, { count: n, message }]) => `${n.toLocaleString('en')} ${code} ("${message}")`).join('; ');
        console.log(`${count.toLocaleString('en')} ${history ? 'with' : 'without'} history: ${outcome.resolved.toLocaleString('en')} resolved, ${why || 'none rejected'}; drained in ${outcome.drainSeconds.toFixed(1)} s (calls ${outcome.callSeconds.toFixed(1)} s), peak RSS ${outcome.peakRssMB.toFixed(0)} MB (${outcome.baseRssMB.toFixed(0)} MB before), CPU ${outcome.cpuMicrosPerEvent.toFixed(0)} µs/event`);
      }
    }
  }
  if (flags.json) console.log(JSON.stringify(outcomes, null, 2));
}
