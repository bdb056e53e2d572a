// Summarises V8 CPU profiles written by `npm run bench -- --cpu-prof` (bench/results/profiles/*.cpuprofile):
// self time by area (this library, amqplib, rascal, node internals, GC...) and the hottest functions.
//   npx tsx bench/profile-summary.ts bench/results/profiles/<file>.cpuprofile [more files...] [--top 25]
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

function area(url: string, name: string): string {
  if (!url) return name.startsWith('(') ? name : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1] as string;
  if (url.includes('/lib/')) return 'event-bus-logger lib/';
  if (url.includes('/bench/')) return 'bench/';
  if (url.startsWith('node:')) return 'node internals';
  return url;
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' } } });
for (const file of positionals) {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const self = new Map<string, number>();
  const areas = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id);
    const dt = profile.timeDeltas[i] ?? 0;
    if (!frame) return;
    total += dt;
    const where = frame.url ? `${frame.url.replace(/^.*\/(node_modules|lib|bench)\//, '$1/')}:${frame.lineNumber + 1}` : '';
    const key = `${frame.functionName || '(anonymous)'} ${where}`.trim();
    self.set(key, (self.get(key) ?? 0) + dt);
    const a = area(frame.url, frame.functionName);
    areas.set(a, (areas.get(a) ?? 0) + dt);
  });
  const pct = (us: number): string => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
  const busy = total - (areas.get('(idle)') ?? 0);
  console.log(`\n${file}: ${(total / 1000).toFixed(0)} ms sampled, ${(busy / 1000).toFixed(0)} ms not idle`);
  console.log('self time by area:');
  for (const [name, us] of [...areas].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`  ${pct(us)}  ${name}`);
  console.log('hottest functions (self time):');
  for (const [name, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) console.log(`  ${pct(us)}  ${name}`);
}
