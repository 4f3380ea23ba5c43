// Helpers shared by the whole-model benchmarks (bench:transformer, bench:cnn): the CLI from the
// sources, engines timed in alternating rounds, and the error of one output against another.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import console from 'node:console';
import process from 'node:process';
import { median } from './measure.mjs';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The CLI from the sources (through tsx: a stale dist/ would measure old code); its last stdout line as JSON. */
export function sculptCli(args) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli', 'dev.ts'), ...args], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) { console.error(r.stderr); process.exit(1); }
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

/** max |ours − ref| / max |ref|. */
export function relError(ours, ref) {
  let d = 0, m = 0;
  for (let i = 0; i < ref.length; i++) { d = Math.max(d, Math.abs(ours[i] - ref[i])); m = Math.max(m, Math.abs(ref[i])); }
  return d / m;
}

/** Medians (ms) of `runs` rounds, each running every engine once in turn, after one warm-up round. */
export async function alternate(engines, runs) {
  const times = engines.map(() => []);
  for (const e of engines) await e.run();
  for (let i = 0; i < runs; i++) {
    for (let j = 0; j < engines.length; j++) {
      const t0 = performance.now();
      await engines[j].run();
      times[j].push(performance.now() - t0);
    }
  }
  return times.map(median);
}
