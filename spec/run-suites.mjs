// `npm test`'s runner: runs the spec suites of package.json's `test:*` scripts, several at once where the broker
// allows, and ends with one mocha-style summary of them all (CI reads its last lines).
//
// The plan below is a tree of `serial` and `parallel` steps over npm script names. What may run at once:
// - the suites that never touch the broker (test:unit, test:package) run beside everything else;
// - the broker suites that fault only their own connections run beside each other;
// - the suites that fault the whole broker (stop_app, the memory alarm: the specs whose title says [broker-wide], test:broker-wide)
//   run last on the broker side, with no other broker suite of this run beside them.
// Each suite's output is kept and printed whole when it ends, so suites running at once never interleave; a line on
// standard error says when each starts. The exit code is 1 when any suite failed (or left a handle open).
import { execFileSync, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const serial = (...steps) => ({ serial: steps });
const parallel = (...steps) => ({ parallel: steps });

// `node spec/run-suites.mjs test:unit test:web` runs only the scripts named, all at once.
const named = process.argv.slice(2);
const PLAN = named.length > 0 ? parallel(...named) : parallel(
  serial('test:unit', 'test:package'),
  serial(parallel('test:integration', 'test:cli', 'test:security', 'test:bridges', 'test:web'), 'test:broker-wide'),
);

const started = Date.now();
const results = [];

// The command line under test, compiled once for the suites that start it (spec/cli/run-cli.ts): plain node starts
// it faster than tsx. Its own folder, not dist/: the package suite's `npm pack` rebuilds dist/ while they run.
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const BUILD = fileURLToPath(new URL('../.spec-build/', import.meta.url));
rmSync(BUILD, { recursive: true, force: true });
execFileSync(fileURLToPath(new URL('../node_modules/.bin/tsc', import.meta.url)), ['-p', 'tsconfig.build.json', '--outDir', BUILD], { cwd: ROOT, stdio: 'inherit' });
process.env.EBL_SPEC_CLI = `${BUILD}lib/cli.js`;
process.stderr.write(`run-suites: lib/ compiled into .spec-build/ for the CLI specs (${seconds(Date.now() - started)})\n`);

function seconds(ms) {
  return `${Math.round(ms / 1000)} s`;
}

/** Runs one npm script with its output kept; prints it whole at the end. */
function runScript(name) {
  return new Promise((resolve) => {
    const begun = Date.now();
    process.stderr.write(`run-suites: ${name} started (${seconds(begun - started)} into the run)\n`);
    const child = spawn('npm', ['run', '--silent', name], { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks = [];
    child.stdout.on('data', (chunk) => chunks.push(chunk));
    child.stderr.on('data', (chunk) => chunks.push(chunk));
    child.on('close', (code, signal) => {
      const output = Buffer.concat(chunks).toString('utf8');
      const count = (word) => Number(new RegExp(`^\\s+(\\d+) ${word}\\b`, 'm').exec(output)?.[1] ?? 0);
      const result = { name, code: code ?? 1, signal, ms: Date.now() - begun, passing: count('passing'), pending: count('pending'), failing: count('failing') };
      results.push(result);
      process.stdout.write(`\n──── ${name} (${seconds(result.ms)}, exit ${signal ?? result.code}) ────\n${output}`);
      resolve(result);
    });
  });
}

function run(step) {
  if (typeof step === 'string') return runScript(step);
  if (step.parallel) return Promise.all(step.parallel.map(run));
  return step.serial.reduce((previous, next) => previous.then(() => run(next)), Promise.resolve());
}

await run(PLAN);

const total = (field) => results.reduce((sum, result) => sum + result[field], 0);
const failed = results.filter((result) => result.code !== 0);
const elapsed = Date.now() - started;
process.stdout.write('\n──── every suite ────\n');
for (const result of results) {
  process.stdout.write(`  ${result.name.padEnd(20)} ${String(result.passing).padStart(4)} passing  ${String(result.failing).padStart(3)} failing  ${seconds(result.ms).padStart(6)}  exit ${result.signal ?? result.code}\n`);
}
for (const result of failed.filter((result) => result.failing === 0)) {
  process.stdout.write(`  ${result.name} exited ${result.signal ?? result.code} with no failing spec (a leaked handle, or mocha could not start): see its output above\n`);
}
// mocha's own closing lines, for the whole run.
const minutes = elapsed >= 60_000 ? `${Math.round(elapsed / 60_000)}m` : `${Math.round(elapsed / 1000)}s`;
process.stdout.write(`\n  ${total('passing')} passing (${minutes})\n`);
if (total('pending') > 0) process.stdout.write(`  ${total('pending')} pending\n`);
if (total('failing') > 0) process.stdout.write(`  ${total('failing')} failing\n`);
process.exitCode = failed.length > 0 ? 1 : 0;
