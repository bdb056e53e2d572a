// The layout of lib/ and bench/ (CONTRIBUTING.md, "How the code is laid out"): imports run one way (no cycle, type imports
// included), and no file of lib/ is over 300 lines unless LONG_FILES names it with its reason.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAX_LINES = 300;
/** The files of lib/ allowed over MAX_LINES, each with the reason. Shrink a file under the limit: take it off. */
const LONG_FILES: Record<string, string> = {
  'lib/publisher.ts': 'the buffer, the window of unconfirmed events, the nack retries and the timeout sweep share one set of entries, each settled exactly once',
  'lib/logger.ts': 'the facade: most of it is the public API and its documentation; the work is in the rooms it wires',
  'lib/topology.ts': 'one named step per section of the config (bus, listener queue, levels, history, listen, name, URLs, connection names, TLS), each validated with an error naming its key; the shape checks of the options could move to options.ts (review 2026-12-02, §1.3)',
};

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((path) => path.endsWith('.ts') && !path.endsWith('.d.ts'))
    .map((path) => join(ROOT, dir, path));
}

// Relative imports and re-exports of a file, as absolute .ts paths (`./x.js` is `./x.ts` under NodeNext).
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g)];
  return found.map((match) => resolve(dirname(file), (match[1] ?? match[2]) as string).replace(/\.js$/, '.ts'));
}

/** The import cycles among `files`, each as the list of its files relative to the root. */
function importCycles(files: string[]): string[][] {
  const graph = new Map(files.map((file) => [file, importsOf(file).filter((target) => files.includes(target))]));
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    path.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === 'open') cycles.push(path.slice(path.indexOf(next)).map((f) => relative(ROOT, f)));
      else if (!state.has(next)) visit(next);
    }
    path.pop();
    state.set(file, 'done');
  };
  for (const file of files) if (!state.has(file)) visit(file);
  return cycles;
}

describe('code layout', () => {
  for (const dir of ['lib', 'bench']) {
    it(`${dir}/ has no import cycle`, () => {
      expect(importCycles(sources(dir))).to.deep.equal([]);
    });
  }

  it('finds a cycle when there is one, type imports included (the check itself)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'layout-'));
    try {
      writeFileSync(join(dir, 'a.ts'), "import type { B } from './b.js';\nexport type A = B;\n");
      writeFileSync(join(dir, 'b.ts'), "import { c } from './c.js';\nexport type B = number;\nvoid c;\n");
      writeFileSync(join(dir, 'c.ts'), "export { type A } from './a.js';\nexport const c = 1;\n");
      expect(importCycles(['a.ts', 'b.ts', 'c.ts'].map((file) => join(dir, file)))).to.have.length(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it(`no file of lib/ is over ${MAX_LINES} lines unless LONG_FILES gives its reason`, () => {
    const long = sources('lib')
      .map((file) => ({ file: relative(ROOT, file), lines: readFileSync(file, 'utf8').split('\n').length }))
      .filter(({ file, lines }) => lines > MAX_LINES && !(file in LONG_FILES))
      .map(({ file, lines }) => `${file}: ${lines} lines`);
    expect(long).to.deep.equal([]);
  });

  it(`LONG_FILES names only files that are still over ${MAX_LINES} lines`, () => {
    const shrunk = Object.keys(LONG_FILES).filter((file) => {
      try {
        return readFileSync(join(ROOT, file), 'utf8').split('\n').length <= MAX_LINES;
      } catch {
        return true; // gone
      }
    });
    expect(shrunk, 'take these off LONG_FILES').to.deep.equal([]);
  });
});
