// The published package's entry points, checked from the packed tarball: `event-bus-logger`, `event-bus-logger/pino`
// and `event-bus-logger/winston` resolve, with types, for ESM users under node16/nodenext and bundlers
// (@arethetypeswrong/cli, profile esm-only: the package is ESM-only), and the CLI's `bin` is in the tarball and runs
// under node. The tarball is the one the consumer spec installs (spec/package/packed.ts).
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { packOnce } from './packed.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ATTW = fileURLToPath(new URL('../../node_modules/.bin/attw', import.meta.url));

interface AttwReport {
  analysis: { entrypoints: Record<string, unknown> };
  problems: Record<string, Array<{ kind: string; entrypoint: string; resolutionKind: string }>> | Array<{ kind: string }>;
}

describe('the published entry points', function () {
  this.timeout(120_000);

  it('resolve with types for ESM users (arethetypeswrong, esm-only profile)', async () => {
    // attw exits 1 when it finds a problem in the profile; its JSON report says which.
    const { tarball } = await packOnce();
    const { stdout } = await run(ATTW, [tarball, '--profile', 'esm-only', '--format', 'json'], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 }).catch(
      (error: { stdout?: string; stderr?: string }) => {
        throw new Error(`attw found problems:\n${error.stdout ?? ''}${error.stderr ?? ''}`);
      },
    );
    const report = JSON.parse(stdout) as AttwReport;
    expect(Object.keys(report.analysis.entrypoints)).to.include.members(['.', './pino', './winston']);
  });

  it('ship the bin, which starts with a node shebang', async () => {
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { bin: Record<string, string> };
    // The files of the tarball, built by its pack (so dist/ is current).
    const { files } = await packOnce();
    const bin = pkg.bin['event-bus-logger'];
    expect(bin, 'package.json bin').to.be.a('string');
    expect(files).to.include((bin as string).replace(/^\.\//, ''));
    expect(files).to.include.members(['dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/lib/bridges/pino.js', 'dist/lib/bridges/pino.d.ts', 'dist/lib/bridges/winston.js', 'dist/lib/bridges/winston.d.ts']);
    // The web view's page, served as is from the package (dist/lib/web/server.js finds it at lib/web/page/).
    expect(files).to.include.members(['lib/web/page/index.html', 'lib/web/page/app.js', 'lib/web/page/search.js', 'lib/web/page/style.css']);
    const script = await readFile(new URL(bin as string, `file://${ROOT}`), 'utf8');
    expect(script.split('\n')[0]).to.equal('#!/usr/bin/env node');
    const { stdout: help } = await run(process.execPath, [fileURLToPath(new URL(bin as string, `file://${ROOT}`)), '--help']);
    expect(help).to.include('Usage:');
  });
});
