/** Runs the sculpt CLI from the TypeScript sources in a child process, as a user would. */
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const FIXTURES = join(ROOT, 'test/fixtures');
const DEV = join(ROOT, 'src/cli/dev.ts');
const TSX = join(ROOT, 'node_modules/tsx/dist/esm/index.mjs');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * A fixed machine profile for every CLI run (kernel choices of `run`/`bench` then never depend on
 * how busy the machine is, nor on the user's cache); pass `env: { SCULPT_MACHINE_PROFILE: '' }` to measure.
 */
export const MACHINE_PROFILE = join(FIXTURES, 'machine-profile.json');

export function sculpt(args: string[], cwd = ROOT, env: NodeJS.ProcessEnv = {}): CliRun {
  const r = spawnSync(process.execPath, ['--import', TSX, DEV, ...args], {
    cwd, encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, SCULPT_MACHINE_PROFILE: MACHINE_PROFILE, ...env },
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** A temporary directory removed when the test process exits. */
export { tempDir } from '../fixtures/temp.js';
