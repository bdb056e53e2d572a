// Turns the raw per-run results into medians, ratios to raw amqplib, pass/fail against the issue's targets, a text
// table, and an SVG bar chart of the ratios (hand-written SVG, no dependencies).
import type { ClientName } from './clients/common.js';
import type { Result } from './workloads.js';

export type Workload = 'sequential' | 'burst' | 'latency' | 'fanout' | 'outage';
export const WORKLOADS: readonly Workload[] = ['sequential', 'burst', 'latency', 'fanout', 'outage'];

export interface Sample {
  run: number;
  client: ClientName;
  workload: Workload;
  result: Result;
}

interface Target {
  /** The ratio client/amqplib must be at least this (higher is better) or at most this (lower is better). */
  ratio: number;
  /** An absolute bound in the metric's unit, same direction. */
  absolute?: number;
  text: string;
}

interface MetricDef {
  key: string;
  label: string;
  unit: string;
  workload: Workload;
  field: string;
  higherIsBetter: boolean;
  target?: Target;
  /** The target of the ratio to the minimal raw client (amqplib-minimal), when it ran: what a user pays. */
  minimalTarget?: Target;
  /** A result field that must be 0 for the target to pass (events lost). */
  mustBeZero?: string;
  /** No ratio: the amqplib figure is no meaningful base (e.g. ~0 MB growth). */
  noRatio?: boolean;
  /** Passes when every run's outage memory was bounded (see BOUNDED). */
  bounded?: boolean;
}

export const METRICS: readonly MetricDef[] = [
  { key: 'sequential', label: 'sequential publish', unit: 'ev/s', workload: 'sequential', field: 'eventsPerSec', higherIsBetter: true, target: { ratio: 0.9, text: '>= 0.9x' }, minimalTarget: { ratio: 0.9, text: '>= 0.9x' } },
  { key: 'sequentialCold', label: 'sequential, first events (cold JIT)', unit: 'ev/s', workload: 'sequential', field: 'coldPerSec', higherIsBetter: true },
  { key: 'sequentialCpu', label: 'sequential, CPU per event (µs, lower is better)', unit: 'µs', workload: 'sequential', field: 'cpuMicrosPerEvent', higherIsBetter: false },
  { key: 'burstPublish', label: 'burst publish', unit: 'ev/s', workload: 'burst', field: 'publishPerSec', higherIsBetter: true, target: { ratio: 0.8, text: '>= 0.8x' }, minimalTarget: { ratio: 0.85, text: '>= 0.85x' } },
  { key: 'burstE2e', label: 'burst end-to-end', unit: 'ev/s', workload: 'burst', field: 'e2ePerSec', higherIsBetter: true, target: { ratio: 0.8, text: '>= 0.8x' }, minimalTarget: { ratio: 0.85, text: '>= 0.85x' }, mustBeZero: 'lost' },
  { key: 'latencyP50', label: 'latency p50', unit: 'ms', workload: 'latency', field: 'p50Ms', higherIsBetter: false },
  { key: 'latencyP99', label: 'latency p99', unit: 'ms', workload: 'latency', field: 'p99Ms', higherIsBetter: false, target: { ratio: 1.5, absolute: 2, text: '<= 1.5x, < 2 ms' }, minimalTarget: { ratio: 1.5, text: '<= 1.5x' }, mustBeZero: 'lost' },
  { key: 'fanout', label: 'fan-out delivered', unit: 'ev/s', workload: 'fanout', field: 'deliveredPerSec', higherIsBetter: true, target: { ratio: 0.8, text: '>= 0.8x, 0 lost' }, minimalTarget: { ratio: 0.85, text: '>= 0.85x, 0 lost' }, mustBeZero: 'lost' },
  { key: 'burstPeakRss', label: 'burst peak RSS', unit: 'MB', workload: 'burst', field: 'peakRssMB', higherIsBetter: false, minimalTarget: { ratio: 1.2, text: '<= 1.2x' } },
  { key: 'outageRss', label: 'outage RSS growth', unit: 'MB', workload: 'outage', field: 'growthMB', higherIsBetter: false, noRatio: true },
  { key: 'outageHeap', label: 'outage retained heap, 2nd half', unit: 'MB', workload: 'outage', field: 'heapSecondHalfGrowthMB', higherIsBetter: false, noRatio: true, bounded: true },
];

/**
 * Memory counts as bounded when the heap retained after a forced GC grew by at most this much over the second half of
 * the outage (by then any cap has long been reached; unbounded buffering at 2,000 events/s adds tens of MB).
 * RSS is reported too, but it also holds garbage not yet collected and heap V8 keeps once grown.
 */
export const BOUNDED = { heapSecondHalfMB: 8 };

export interface MetricRow {
  key: string;
  label: string;
  unit: string;
  higherIsBetter: boolean;
  target: string | null;
  runs: Partial<Record<ClientName, (number | null)[]>>;
  median: Partial<Record<ClientName, number | null>>;
  /** Worst value over the runs of `mustBeZero`, e.g. events lost. */
  worstLost: Partial<Record<ClientName, number>>;
  ratio: Partial<Record<ClientName, number | null>>;
  pass: Partial<Record<ClientName, boolean | null>>;
  /** Against amqplib-minimal, when it ran: the target, the median per-run ratio, every per-run ratio, pass. */
  minimalTarget: string | null;
  ratioMinimal: Partial<Record<ClientName, number | null>>;
  runRatiosMinimal: Partial<Record<ClientName, number[]>>;
  passMinimal: Partial<Record<ClientName, boolean | null>>;
}

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

const num = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : null);

export function outageBounded(result: Result): boolean {
  const growth = num(result.heapSecondHalfGrowthMB);
  return growth !== null && growth <= BOUNDED.heapSecondHalfMB;
}

export function aggregate(samples: readonly Sample[], clients: readonly ClientName[]): MetricRow[] {
  return METRICS.map((metric) => {
    const row: MetricRow = {
      key: metric.key, label: metric.label, unit: metric.unit, higherIsBetter: metric.higherIsBetter,
      target: metric.target?.text ?? (metric.bounded ? `bounded (<= ${BOUNDED.heapSecondHalfMB} MB)` : null),
      runs: {}, median: {}, worstLost: {}, ratio: {}, pass: {},
      minimalTarget: metric.minimalTarget?.text ?? null, ratioMinimal: {}, runRatiosMinimal: {}, passMinimal: {},
    };
    for (const client of clients) {
      const mine = samples.filter((s) => s.client === client && s.workload === metric.workload);
      const values = mine.map((s) => num(s.result[metric.field]));
      row.runs[client] = values;
      row.median[client] = median(values.filter((v): v is number => v !== null));
      if (metric.mustBeZero) row.worstLost[client] = Math.max(0, ...mine.map((s) => num(s.result[metric.mustBeZero as string]) ?? 0));
      if (metric.bounded && mine.length) row.pass[client] = mine.every((s) => outageBounded(s.result));
    }
    // The ratio of each run (the two clients ran back to back), then the median of those: the machine's load
    // drifts between runs, and a ratio within one run is what the targets are about.
    const byRun = (client: ClientName): Map<number, number | null> =>
      new Map(samples.filter((s) => s.client === client && s.workload === metric.workload).map((s) => [s.run, num(s.result[metric.field])]));
    const base = byRun('amqplib');
    const perRun = (client: ClientName, baseline: Map<number, number | null>): number[] =>
      metric.noRatio
        ? []
        : [...byRun(client)].flatMap(([run, mine]) => {
            const theirs = baseline.get(run);
            return mine != null && theirs != null && theirs !== 0 ? [mine / theirs] : [];
          });
    if (clients.includes('amqplib-minimal')) {
      const minimal = byRun('amqplib-minimal');
      for (const client of clients.filter((c) => c !== 'amqplib-minimal')) {
        const ratios = perRun(client, minimal);
        row.runRatiosMinimal[client] = ratios;
        const ratio = median(ratios);
        row.ratioMinimal[client] = ratio;
        const target = metric.minimalTarget;
        if (target) {
          row.passMinimal[client] = ratio === null ? null
            : (metric.higherIsBetter ? ratio >= target.ratio : ratio <= target.ratio) && (row.worstLost[client] ?? 0) === 0;
        }
      }
    }
    for (const client of clients) {
      const value = row.median[client];
      const ratio = median(perRun(client, base));
      row.ratio[client] = ratio;
      const target = metric.target;
      if (!target || client === 'amqplib' || client === 'amqplib-minimal') continue;
      if (ratio === null || value == null) {
        row.pass[client] = null;
        continue;
      }
      const ratioOk = metric.higherIsBetter ? ratio >= target.ratio : ratio <= target.ratio;
      const absOk = target.absolute === undefined || (metric.higherIsBetter ? value >= target.absolute : value < target.absolute);
      row.pass[client] = ratioOk && absOk && (row.worstLost[client] ?? 0) === 0;
    }
    return row;
  });
}

const fmt = (value: number | null | undefined, unit = ''): string => {
  if (value == null) return 'n/a';
  const digits = unit === 'ms' ? 2 : unit === 'MB' ? 1 : value >= 100 ? 0 : 2;
  return value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: unit === 'ev/s' ? 0 : digits });
};
const verdict = (pass: boolean | null | undefined): string => (pass === undefined ? '' : pass === null ? ' ?' : pass ? ' PASS' : ' FAIL');

export function table(rows: readonly MetricRow[], clients: readonly ClientName[]): string {
  const others = clients.filter((c) => c !== 'amqplib');
  const vsMinimal = clients.includes('amqplib-minimal') ? clients.filter((c) => c !== 'amqplib-minimal') : [];
  const header = ['metric', ...clients.map((c) => c), ...others.map((c) => `${c}/amqplib`), 'target',
    ...vsMinimal.map((c) => `${c}/minimal`), ...(vsMinimal.length ? ['target vs minimal'] : [])];
  const lines = rows.map((row) => {
    const lostNote = (client: ClientName): string => ((row.worstLost[client] ?? 0) > 0 ? ` (${row.worstLost[client]} lost)` : '');
    return [
      `${row.label} (${row.unit}${row.higherIsBetter ? '' : ', lower is better'})`,
      ...clients.map((c) => `${fmt(row.median[c], row.unit)}${lostNote(c)}`),
      ...others.map((c) => `${row.ratio[c] == null ? '-' : row.ratio[c]!.toFixed(2)}${verdict(row.pass[c])}`),
      row.target ?? '',
      ...vsMinimal.map((c) => `${row.ratioMinimal[c] == null ? '-' : row.ratioMinimal[c]!.toFixed(2)}${verdict(row.passMinimal[c])}`),
      ...(vsMinimal.length ? [row.minimalTarget ?? ''] : []),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const render = (cells: string[]): string => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  return [render(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(render)].join('\n');
}

/** Per-run ratios to amqplib-minimal, one line per metric and client: the spread behind each median. */
export function minimalSpread(rows: readonly MetricRow[]): string[] {
  return rows.flatMap((row) => Object.entries(row.runRatiosMinimal).flatMap(([client, ratios]) =>
    ratios && ratios.length ? [`per-run ${client}/minimal, ${row.label}: ${ratios.map((r) => r.toFixed(2)).join(' ')}`] : []));
}

const escape = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Horizontal bars: for every metric with a ratio, one bar per non-amqplib client; 1.0 = raw amqplib. */
export function svg(rows: readonly MetricRow[], clients: readonly ClientName[], subtitle: string): string {
  const others = clients.filter((c) => c !== 'amqplib');
  const colors: Record<string, string> = { rascal: '#e07b39', library: '#3a6ea5', 'amqplib-minimal': '#6a9a3a' };
  const shown = rows.filter((row) => others.some((c) => row.ratio[c] != null));
  const maxRatio = Math.max(2, ...shown.flatMap((row) => others.map((c) => row.ratio[c] ?? 0)));
  const scaleMax = Math.ceil(maxRatio * 2) / 2;
  const left = 230, plotWidth = 520, barHeight = 16, gap = 4, groupGap = 16, top = 70;
  const groupHeight = others.length * (barHeight + gap) + groupGap;
  const height = top + shown.length * groupHeight + 50;
  const width = left + plotWidth + 120;
  const x = (ratio: number): number => left + (Math.min(ratio, scaleMax) / scaleMax) * plotWidth;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="16" font-weight="bold">Ratio to raw amqplib (1.0 = amqplib)</text>`,
    `<text x="${width / 2}" y="40" text-anchor="middle" fill="#555">${escape(subtitle)}</text>`,
  ];
  others.forEach((client, i) => {
    parts.push(`<rect x="${left + i * 110}" y="50" width="12" height="12" fill="${colors[client] ?? '#888'}"/>`, `<text x="${left + i * 110 + 16}" y="60">${client}</text>`);
  });
  parts.push(`<text x="${left + others.length * 110}" y="60" fill="#555">dashed: target · ✓ pass ✗ fail</text>`);
  for (let tick = 0; tick <= scaleMax; tick += 0.5) {
    const tx = x(tick);
    parts.push(
      `<line x1="${tx}" y1="${top - 4}" x2="${tx}" y2="${height - 40}" stroke="${tick === 1 ? '#000' : '#ddd'}" stroke-width="${tick === 1 ? 1.5 : 1}"/>`,
      `<text x="${tx}" y="${height - 26}" text-anchor="middle" fill="#555">${tick.toFixed(1)}</text>`,
    );
  }
  shown.forEach((row, g) => {
    const y0 = top + g * groupHeight;
    const metric = METRICS.find((m) => m.key === row.key);
    parts.push(`<text x="${left - 8}" y="${y0 + (others.length * (barHeight + gap)) / 2 + 4}" text-anchor="end">${escape(`${row.label}${row.higherIsBetter ? '' : ' (lower better)'}`)}</text>`);
    if (metric?.target) {
      const tx = x(metric.target.ratio);
      parts.push(`<line x1="${tx}" y1="${y0 - 2}" x2="${tx}" y2="${y0 + others.length * (barHeight + gap)}" stroke="#c00" stroke-dasharray="4 3" stroke-width="1.5"/>`);
    }
    others.forEach((client, i) => {
      const ratio = row.ratio[client];
      const y = y0 + i * (barHeight + gap);
      if (ratio == null) return;
      const pass = row.pass[client];
      const mark = pass === true ? ' ✓' : pass === false ? ' ✗' : '';
      parts.push(
        `<rect x="${left}" y="${y}" width="${Math.max(1, x(ratio) - left)}" height="${barHeight}" fill="${colors[client] ?? '#888'}"/>`,
        `<text x="${x(ratio) + 4}" y="${y + barHeight - 4}">${ratio.toFixed(2)}${mark}</text>`,
      );
    });
  });
  parts.push('</svg>');
  return parts.join('\n');
}
