// The package as npm packs it, made once per mocha process and shared by the package specs (consumer-types,
// exports): `npm pack` runs `prepare`, which builds dist/ from lib/, so one pack is one build. The tarball's folder is
// removed when the process exits.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Packed {
  /** The tarball's absolute path. */
  tarball: string;
  /** Its file name, e.g. event-bus-logger-0.1.0.tgz. */
  filename: string;
  integrity: string;
  /** The paths of the files it holds, relative to the package root. */
  files: string[];
}

let packing: Promise<Packed> | undefined;

/** Packs the package (building it first) on the first call; later calls get the same tarball. */
export function packOnce(): Promise<Packed> {
  packing ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'event-bus-logger-pack-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
    const [packed] = JSON.parse(stdout.slice(stdout.indexOf('['))) as { filename: string; integrity: string; files: { path: string }[] }[];
    if (!packed) throw new Error(`npm pack printed no package: ${stdout}`);
    return { tarball: join(dir, packed.filename), filename: packed.filename, integrity: packed.integrity, files: packed.files.map((file) => file.path) };
  })();
  return packing;
}
