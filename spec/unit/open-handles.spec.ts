// The open-handles hook (spec/open-handles.ts) fails a run whose specs all passed but left a handle open, and names
// the handle; a run that closes what it opened passes. Each case runs mocha on a fixture, with a 1 s grace.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MOCHA = fileURLToPath(new URL('../../node_modules/mocha/bin/mocha.js', import.meta.url));

function runMocha(fixture: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MOCHA, `spec/fixtures/${fixture}`], { cwd: ROOT, env: { ...process.env, EBL_OPEN_HANDLES_GRACE_MS: '1000' } }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stdout, stderr });
    });
  });
}

describe('the open-handles hook', function () {
  this.timeout(60_000);
  type Run = Awaited<ReturnType<typeof runMocha>>;
  let leaking: Run;
  let closing: Run;

  // The two runs at once: each is a mocha process with tsx's start-up.
  before(async () => {
    [leaking, closing] = await Promise.all([runMocha('leaks-a-handle.ts'), runMocha('closes-its-handles.ts')]);
  });

  it('fails a run whose specs passed but left a server listening, naming it', () => {
    expect(leaking.stdout).to.match(/1 passing/);
    expect(leaking.stderr).to.match(/Server listening on .*127\.0\.0\.1/);
    expect(leaking.code, leaking.stderr).to.equal(1);
  });

  it('passes a run that closed what it opened', () => {
    expect(closing.code, closing.stderr).to.equal(0);
  });
});
