// What the package carries against what it tells its reader to open: the files the README and docs/ link to or name,
// the files `--help` and the library's messages name (config/rascal-with-history.json), and the package subpaths
// they import (`event-bus-logger/config/...`). A link the package cannot follow must be absolute, to a file of the
// repository. The file list is npm's own (`npm pack --dry-run`), without building: dist/ is checked by the
// consumer spec beside this one.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const REPOSITORY = 'https://github.com/event-bus-logger/event-bus-logger';
/** A file a reader is sent to open: a path under one of the folders a user may look in. */
const NAMED_FILE = /\b(?:config|docs|examples)\/[\w.-]+\.(?:json|md|ts|png)\b/g;

/** Markdown links (and images) of a document: their targets. */
function linkTargets(markdown: string): string[] {
  const withoutCode = markdown.replace(/^```[\s\S]*?^```$/gm, '');
  return [...withoutCode.matchAll(/!?\[[^\]]*\]\(([^)\s]+)\)/g)].map((match) => match[1] ?? '');
}

/** Where a relative link of `document` leads, from the package root, without its #anchor. */
function resolveFrom(document: string, target: string): string {
  const base = document.includes('/') ? document.slice(0, document.lastIndexOf('/') + 1) : '';
  const parts: string[] = [];
  for (const part of `${base}${target.split('#')[0]}`.split('/')) {
    if (part === '..') parts.pop();
    else if (part !== '.' && part !== '') parts.push(part);
  }
  return parts.join('/');
}

describe('the package carries what its README, docs, --help and messages name', function () {
  this.timeout(60_000);
  let packed: Set<string>;
  let documents: Map<string, string>;
  let exportsMap: Record<string, unknown>;

  before(async () => {
    // --ignore-scripts: the list of files, without running `prepare` (the build).
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
    const [listing] = JSON.parse(stdout.slice(stdout.indexOf('['))) as { files: { path: string }[] }[];
    packed = new Set((listing?.files ?? []).map((file) => file.path));
    const shippedDocs = [...packed].filter((path) => path === 'README.md' || (path.startsWith('docs/') && path.endsWith('.md')));
    documents = new Map(await Promise.all(shippedDocs.map(async (path) => [path, await readFile(join(ROOT, path), 'utf8')] as const)));
    exportsMap = (JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, unknown> }).exports;
  });

  it('ships the README, every docs/*.md and both configs', async () => {
    const docs = (await readdir(join(ROOT, 'docs'))).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`);
    expect([...documents.keys()].sort()).to.deep.equal(['README.md', ...docs].sort());
    expect([...packed]).to.include.members(['config/rascal.json', 'config/rascal-with-history.json', 'LICENSE']);
  });

  it("every relative link of the README and docs/ leads to a file in the package", () => {
    const broken: string[] = [];
    for (const [document, text] of documents) {
      for (const target of linkTargets(text)) {
        if (/^[a-z]+:/i.test(target) || target.startsWith('#')) continue;
        const path = resolveFrom(document, target);
        if (!packed.has(path)) broken.push(`${document}: ${target} (${path} is not in the package)`);
      }
    }
    expect(broken).to.deep.equal([]);
  });

  it("every link to the repository leads to a file or folder that exists in it", () => {
    const missing: string[] = [];
    for (const [document, text] of documents) {
      for (const target of linkTargets(text)) {
        const path = new RegExp(`^${REPOSITORY}/(?:blob|tree|raw)/main/([^#?]+)`).exec(target)?.[1];
        if (path !== undefined && !existsSync(join(ROOT, path))) missing.push(`${document}: ${target}`);
      }
    }
    expect(missing).to.deep.equal([]);
  });

  it('every config/ and docs/ file the README and docs/ name is in the package', () => {
    const missing: string[] = [];
    for (const [document, text] of documents) {
      for (const [path] of text.matchAll(NAMED_FILE)) {
        if (path.startsWith('examples/')) continue; // named for a clone of the repository ("From a clone ...")
        if (!packed.has(path) && !path.endsWith('.png')) missing.push(`${document}: ${path}`);
      }
    }
    expect(missing).to.deep.equal([]);
  });

  it("every subpath of the package that the README and docs/ import (event-bus-logger/...) is exported", () => {
    const missing: string[] = [];
    for (const [document, text] of documents) {
      for (const [, subpath] of text.matchAll(/\bevent-bus-logger(\/[\w./-]*\w)/g)) {
        if (subpath === undefined || subpath.startsWith('/event-bus-logger')) continue; // the repository's URL
        if (!(`.${subpath}` in exportsMap)) missing.push(`${document}: event-bus-logger${subpath}`);
      }
    }
    expect(missing).to.deep.equal([]);
  });

  it('--help names only files the package carries, and names the history config', async () => {
    // The build npm test makes for the CLI specs (spec/run-suites.mjs), else the source under tsx.
    const cli = process.env.EBL_SPEC_CLI ? [process.env.EBL_SPEC_CLI] : ['--import', 'tsx', join(ROOT, 'lib', 'cli.ts')];
    const { stdout } = await run(process.execPath, [...cli, '--help'], { cwd: ROOT });
    const named = [...stdout.matchAll(NAMED_FILE)].map(([path]) => path);
    expect(named).to.include('config/rascal-with-history.json');
    expect(named.filter((path) => !packed.has(path))).to.deep.equal([]);
  });

  it("the library's messages and doc comments name only files the package carries", async () => {
    const sources = (await readdir(join(ROOT, 'lib'), { recursive: true })).filter((path) => path.endsWith('.ts'));
    const missing: string[] = [];
    for (const source of sources) {
      const text = await readFile(join(ROOT, 'lib', source), 'utf8');
      for (const [path] of text.matchAll(NAMED_FILE)) if (!packed.has(path)) missing.push(`lib/${source}: ${path}`);
    }
    expect(missing).to.deep.equal([]);
    // The CONFIG error for history on a config without it points at the shipped history config.
    const { HOW_TO_TURN_HISTORY_ON } = await import('../../lib/topology.js');
    expect(HOW_TO_TURN_HISTORY_ON).to.include('config/rascal-with-history.json');
  });
});
