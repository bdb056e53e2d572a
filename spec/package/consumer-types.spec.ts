// The package as a user gets it: built, packed with `npm pack`, installed from the tarball into a separate app
// (spec/package/consumer/), then the TypeScript examples of README.md and docs/*.md are compiled there, with the project's own tsc,
// under every module resolution users run (nodenext, node16, bundler), with and without skipLibCheck; and those that
// can run against the broker are run there, as a user copies them, each on this run's own bus.
// The install is offline: the app's lockfile is cut from the project's, so `npm ci` takes every dependency from the
// npm cache that the project's own `npm ci` filled.
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, readdir, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import amqplib from 'amqplib';
import { AMQP_URL, deleteExchange, uniqueName } from '../helpers.js';
import { packOnce } from './packed.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURE = fileURLToPath(new URL('./consumer/', import.meta.url));
const TSC = join(ROOT, 'node_modules', '.bin', 'tsc');

/** The module settings users run, each compiled with and without skipLibCheck. */
const SETUPS = [
  { name: 'nodenext', module: 'nodenext', moduleResolution: 'nodenext', importAttributes: true },
  // TypeScript allows import attributes (`with { type: 'json' }`) from module node18 on: node16 skips the examples
  // that import a JSON config, and still compiles every other one.
  { name: 'node16', module: 'node16', moduleResolution: 'node16', importAttributes: false },
  { name: 'bundler (module esnext)', module: 'esnext', moduleResolution: 'bundler', importAttributes: true },
  { name: 'bundler (module preserve)', module: 'preserve', moduleResolution: 'bundler', importAttributes: true },
] as const;

/** The ```ts blocks of a Markdown document, in order. */
function typeScriptExamples(markdown: string): string[] {
  return [...markdown.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((match) => match[1] ?? '');
}

/**
 * Whether an example can run here. Not those that name hosts of their own (a cluster, a TLS broker), nor a catch-up
 * listener (a service: it runs until stopped), nor the pino example, which spec/bridges/pino.spec.ts runs (from
 * examples/pino-transport.ts, checked to be the README's). Every other one must end by itself.
 */
function runnable(code: string): boolean {
  return !/rabbit-\d|example\.com|pino\.transport\(|history: \{ since/.test(code);
}

/** What an example that shows output must have shown by the time it exits: [the example's mark, stdout, stderr]. */
const SHOWS: Array<[RegExp, RegExp, RegExp]> = [
  // The quick start: both events came back through the bus before it stopped.
  [/await logger\.critical\(\{ critical: true \}\)/, /\{ info: true \}/, /\{ critical: true \}/],
  // The subscribe() example: the event, with its time to the millisecond.
  [/logger\.subscribe\(\(\{ level, data, meta \}\)/, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info \{ disk: 'ok' \}$/m, /^/],
  // The subclass example: handleInfo printed the event.
  [/class MetaclassLogger/, /\{ info: true \}/, /^/],
];

/** The documents whose examples are compiled: README.md and every docs/*.md. */
async function documents(): Promise<string[]> {
  const docs = (await readdir(join(ROOT, 'docs'))).filter((name) => name.endsWith('.md')).sort();
  return ['README.md', ...docs.map((name) => `docs/${name}`)];
}

/** An example's file name in the app: readme-1.ts, docs-history-2.ts. */
function exampleFile(document: string, index: number): string {
  return `${document.replace(/\.md$/, '').replace(/\//g, '-').toLowerCase()}-${index + 1}.ts`;
}

interface LockEntry {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  [field: string]: unknown;
}

// The lockfile entries an app needs for `names`, found in the project's lockfile the way Node resolves packages:
// from a package's own node_modules up to the top.
function lockEntriesFor(names: string[], packages: Record<string, LockEntry>): Record<string, LockEntry> {
  const picked: Record<string, LockEntry> = {};
  const visit = (name: string, from: string, required: boolean): void => {
    for (let dir = from; ; dir = dir.slice(0, Math.max(0, dir.lastIndexOf('/node_modules/')))) {
      const key = `${dir ? `${dir}/` : ''}node_modules/${name}`;
      const entry = packages[key];
      if (entry) {
        if (picked[key]) return;
        picked[key] = entry;
        for (const dep of Object.keys(entry.dependencies ?? {})) visit(dep, key, true);
        // Optional and peer dependencies are in the lockfile only when installed.
        for (const dep of Object.keys({ ...entry.optionalDependencies, ...entry.peerDependencies })) visit(dep, key, false);
        return;
      }
      if (!dir) {
        if (!required) return;
        throw new Error(`package-lock.json has no entry for ${name} (needed by ${from || 'the package'}): run npm install`);
      }
    }
  };
  for (const name of names) visit(name, '', true);
  return picked;
}

describe('the packed package, installed in a separate app', function () {
  this.timeout(180_000);
  let app: string;
  let tarballFiles: string[];
  let examples: { document: string; file: string; code: string }[];

  before(async () => {
    app = await mkdtemp(join(tmpdir(), 'event-bus-logger-consumer-'));
    // The one pack of this run (spec/package/packed.ts: `npm pack` runs `prepare`, which builds dist/ from lib/).
    const packed = await packOnce();
    tarballFiles = packed.files;
    await copyFile(packed.tarball, join(app, packed.filename));

    const project = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
      version: string;
      license: string;
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
      engines: Record<string, string>;
      bin: Record<string, string>;
    };
    const lock = JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
    const tarball = `file:${packed.filename}`;
    const manifest = JSON.parse(await readFile(join(FIXTURE, 'package.json'), 'utf8')) as { name: string; dependencies?: Record<string, string>; devDependencies?: Record<string, string> };
    // pino and winston too: the README's transport examples are apps that log with them.
    manifest.dependencies = { 'event-bus-logger': tarball, pino: project.devDependencies.pino ?? '*', winston: project.devDependencies.winston ?? '*' };
    manifest.devDependencies = { '@types/node': project.devDependencies['@types/node'] ?? '*' };
    const packages: Record<string, LockEntry> = {
      '': { name: manifest.name, dependencies: manifest.dependencies, devDependencies: manifest.devDependencies },
      'node_modules/event-bus-logger': {
        version: project.version,
        resolved: tarball,
        integrity: packed.integrity,
        license: project.license,
        dependencies: project.dependencies,
        bin: project.bin,
        engines: project.engines,
      },
      ...lockEntriesFor([...Object.keys(project.dependencies), 'pino', 'winston', '@types/node'], lock.packages),
    };
    await writeFile(join(app, 'package.json'), JSON.stringify(manifest, null, 2));
    await writeFile(join(app, 'package-lock.json'), JSON.stringify({ name: manifest.name, lockfileVersion: 3, requires: true, packages }, null, 2));
    const install = ['ci', '--ignore-scripts', '--no-audit', '--no-fund'];
    try {
      await run('npm', [...install, '--offline'], { cwd: app });
    } catch (error) {
      // An npm cache that lacks a tarball (node_modules was not installed by npm ci here): fetch what is missing.
      try {
        await run('npm', [...install, '--prefer-offline'], { cwd: app });
      } catch {
        throw new Error(`Cannot install the packed package in ${app}: ${(error as { stderr?: string }).stderr ?? String(error)}`);
      }
    }

    examples = [];
    for (const document of await documents()) {
      const found = typeScriptExamples(await readFile(join(ROOT, document), 'utf8'));
      examples.push(...found.map((code, index) => ({ document, file: exampleFile(document, index), code })));
    }
    await Promise.all([
      ...examples.map((example) => writeFile(join(app, example.file), example.code)),
      copyFile(join(FIXTURE, 'tsconfig.json'), join(app, 'tsconfig.json')),
      copyFile(join(FIXTURE, 'types-check.ts'), join(app, 'types-check.ts')),
      // The README's typed-levels example imports your copy of the config, with a "warning" level.
      copyFile(join(ROOT, 'examples', 'rascal-with-warning.json'), join(app, 'rascal.json')),
    ]);
  });

  after(async () => {
    if (app) await rm(app, { recursive: true, force: true });
  });

  it('ships config/rascal.json and config/rascal-with-history.json, and no copy under dist/', () => {
    expect(tarballFiles).to.include('config/rascal.json');
    expect(tarballFiles).to.include('config/rascal-with-history.json');
    expect(tarballFiles).to.include('dist/lib/index.d.ts');
    expect(tarballFiles).to.include('LICENSE');
    expect(tarballFiles.filter((path) => path.startsWith('dist/') && !path.startsWith('dist/lib/'))).to.deep.equal([]);
  });

  it('the README and docs/ have TypeScript examples, each written against the package', () => {
    expect(examples.filter((example) => example.document === 'README.md').length).to.be.at.least(3);
    expect(examples.filter((example) => example.document.startsWith('docs/')).length).to.be.at.least(3);
    for (const example of examples) expect(example.code, `${example.document}: ${example.file}`).to.match(/'event-bus-logger(\/pino|\/winston)?'/);
  });

  for (const setup of SETUPS) {
    for (const skipLibCheck of [false, true]) {
      it(`compiles the examples of the README and docs/ under ${setup.name}, skipLibCheck ${skipLibCheck}`, async () => {
        const config = `tsconfig.${setup.module}-${skipLibCheck}.json`;
        // resolveJsonModule only where an example imports JSON: the published types must not need it.
        const options = { module: setup.module, moduleResolution: setup.moduleResolution, skipLibCheck, resolveJsonModule: setup.importAttributes };
        const files = examples.flatMap((example) => (setup.importAttributes || !/\bwith \{/.test(example.code) ? [example.file] : []));
        await writeFile(join(app, config), JSON.stringify({ extends: './tsconfig.json', compilerOptions: options, files: [...files, 'types-check.ts'], include: [] }));
        try {
          await run(TSC, ['-p', config], { cwd: app });
        } catch (error) {
          const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
          throw new Error(`tsc failed in the app under ${setup.name}, skipLibCheck ${skipLibCheck}:\n${stdout}${stderr}`);
        }
      });
    }
  }

  it('runs the examples that can run against the broker, as written, each to its end and showing what it says', async function () {
    this.timeout(300_000);
    // Each example in a folder of its own, on a bus of its own in place of logger_metaclass (in its code and in the
    // configs it reads: ./rascal.json, with a "warning" level, and ./rascal-with-history.json).
    const runs = examples
      .filter((example) => runnable(example.code))
      .map((example) => ({ ...example, name: example.file.replace(/\.ts$/, ''), bus: uniqueName('readme') }));
    expect(runs.length, 'runnable examples').to.be.at.least(8);
    const [warningConfig, historyConfig] = await Promise.all([
      readFile(join(ROOT, 'examples', 'rascal-with-warning.json'), 'utf8'),
      readFile(join(ROOT, 'config', 'rascal-with-history.json'), 'utf8'),
    ]);
    const root = join(app, 'run');
    for (const { name, bus, code } of runs) {
      const onBus = (text: string): string => text.replaceAll('logger_metaclass', bus);
      await mkdir(join(root, name), { recursive: true });
      await Promise.all([
        writeFile(join(root, name, 'example.ts'), onBus(code)),
        writeFile(join(root, name, 'rascal.json'), onBus(warningConfig)),
        writeFile(join(root, name, 'rascal-with-history.json'), onBus(historyConfig)),
      ]);
    }
    // Compiled to JavaScript (Node 20 runs no TypeScript; `await using` is compiled down), then each run from its
    // folder, where its './rascal.json' paths point.
    const options = { module: 'nodenext', moduleResolution: 'nodenext', resolveJsonModule: true, noEmit: false, outDir: '.', rootDir: '.' };
    await writeFile(join(root, 'tsconfig.json'), JSON.stringify({ extends: '../tsconfig.json', compilerOptions: options, files: runs.map(({ name }) => `${name}/example.ts`), include: [] }));
    await run(TSC, ['-p', 'tsconfig.json'], { cwd: root }).catch((error: { stdout?: string }) => {
      throw new Error(`tsc failed on the runnable examples:\n${error.stdout ?? String(error)}`);
    });
    const runOne = async ({ document, file, name, code }: (typeof runs)[number]): Promise<void> => {
      const result = await run(process.execPath, ['--no-warnings', 'example.js'], { cwd: join(root, name), timeout: 60_000, env: { ...process.env, AMQP_URL } }).catch(
        (error: { code?: unknown; signal?: unknown; stdout?: string; stderr?: string }) => {
          throw new Error(`${document}'s ${file} did not run to its end (exit ${String(error.code)}, signal ${String(error.signal)}):\n${code}\n--- stdout\n${error.stdout}\n--- stderr\n${error.stderr}`);
        },
      );
      for (const [mark, stdout, stderr] of SHOWS) {
        if (!mark.test(code)) continue;
        expect(result.stdout, `${document}'s ${file}: standard output`).to.match(stdout);
        expect(result.stderr, `${document}'s ${file}: standard error`).to.match(stderr);
      }
    };
    try {
      // Three at a time: each is mostly a process starting and a connection opening.
      const queue = [...runs];
      await Promise.all(
        [1, 2, 3].map(async () => {
          for (let next = queue.shift(); next; next = queue.shift()) await runOne(next);
        }),
      );
    } finally {
      const connection = await amqplib.connect(AMQP_URL);
      try {
        for (const { bus } of runs) {
          await deleteExchange(bus).catch(() => undefined);
          const channel = await connection.createChannel();
          await channel.deleteQueue(`${bus}.history`).catch(() => undefined);
          await channel.close().catch(() => undefined);
        }
      } finally {
        await connection.close();
      }
    }
  });

  it('loads from CommonJS through import(), reads the root config/rascal.json, and is ESM for require()', async () => {
    await writeFile(
      join(app, 'load.cjs'),
      `(async () => {
        const { EventBusLogger, SHIPPED_CONFIG_PATH } = await import('event-bus-logger');
        console.log(JSON.stringify({ create: typeof EventBusLogger.create, config: SHIPPED_CONFIG_PATH }));
      })();\n`,
    );
    const { stdout } = await run(process.execPath, ['load.cjs'], { cwd: app });
    const loaded = JSON.parse(stdout) as { create: string; config: string };
    expect(loaded.create).to.equal('function');
    expect(await realpath(loaded.config)).to.equal(await realpath(join(app, 'node_modules', 'event-bus-logger', 'config', 'rascal.json')));

    // What the README says of require() on a Node 20 without require(esm) (before 20.19).
    await writeFile(join(app, 'require.cjs'), "require('event-bus-logger');\n");
    const withoutRequireEsm = 'require_module' in process.features ? ['--no-experimental-require-module'] : [];
    const failed = await run(process.execPath, [...withoutRequireEsm, 'require.cjs'], { cwd: app }).then(
      () => undefined,
      (error: { stderr: string }) => error,
    );
    expect(failed?.stderr).to.include('ERR_REQUIRE_ESM');
  });
});
