// Runs every command of README.md's ```sh blocks, in order, in a temporary folder, so the README's
// examples stay runnable as written. `npx sculpt` is this checkout's built command (dist/, so run
// `npm run build` first: `npm run check:readme` does); `test/` is linked into the folder and every
// `/tmp/` path is moved under it. Only the commands in SKIP are left out, each with its reason.
// Usage: node scripts/check-readme.mjs [--all] [--list] [--keep]
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Command prefixes not run (unless --all), and why. */
export const SKIP = [
  ['npm ci && ', 'reinstalls the checkout and runs the demo or the whole test suite (what .ci/run does)'],
  ['npm install sculpt-ml', 'the published package; npm run check:pack installs the packed tarball instead'],
  ['npx sculpt prune model.onnx', 'a placeholder for your own model'],
  ['npx sculpt train --model lenet-300-100 --epochs 2 --out', 'long (1.5 min on 2 busy cores): 2 epochs of the whole subset; the 600-image train above is the same path'],
  ['npx sculpt imp --model lenet-300-100 --rounds 6', 'long: 6 rounds of 2 epochs, each with two controls'],
  ['npx sculpt gmp --model lenet-300-100 --final-sparsity 0.9 --epochs 3', 'long (2.5 min on 2 busy cores): 3 epochs of the whole subset'],
  ['npx sculpt demo', 'about a minute; test/cli/demo.test.ts runs it'],
];

/** The commands of every ```sh block: continuation lines joined, blank lines dropped. */
export function readmeCommands(text) {
  const out = [];
  const blocks = text.matchAll(/^```sh\n([\s\S]*?)^```$/gm);
  for (const [, body] of blocks) {
    let pending = '';
    for (const line of body.split('\n')) {
      if (line.endsWith('\\')) {
        pending += line.slice(0, -1).trimEnd() + ' ';
        continue;
      }
      const command = (pending + line.trim()).trim();
      pending = '';
      if (command !== '' && !command.startsWith('#')) out.push(command);
    }
  }
  return out;
}

function skipReason(command) {
  return SKIP.find(([prefix]) => command.startsWith(prefix))?.[1];
}

const all = process.argv.includes('--all');
const commands = readmeCommands(readFileSync(join(ROOT, 'README.md'), 'utf8'));
if (process.argv.includes('--list')) {
  for (const c of commands) console.log(`${skipReason(c) && !all ? 'skip' : 'run '}  ${c}`);
  process.exit(0);
}

const work = mkdtempSync(join(tmpdir(), 'sculpt-readme-'));
mkdirSync(join(work, 'tmp'));
mkdirSync(join(work, 'cache'));
symlinkSync(join(ROOT, 'test'), join(work, 'test'));
const prelude = `npx() { if [ "$1" = sculpt ]; then shift; node ${JSON.stringify(join(ROOT, 'bin/sculpt.js'))} "$@"; else command npx "$@"; fi; }\nset -o pipefail\n`;
const env = { ...process.env, XDG_CACHE_HOME: join(work, 'cache') };
delete env.SCULPT_MACHINE_PROFILE;

let failed = 0, ran = 0, skipped = 0;
const t0 = Date.now();
try {
  for (const command of commands) {
    const reason = all ? undefined : skipReason(command);
    if (reason !== undefined) {
      skipped++;
      console.log(`skip  ${command}\n      (${reason})`);
      continue;
    }
    const local = command.replaceAll('/tmp/', `${work}/tmp/`);
    const start = Date.now();
    const r = spawnSync('bash', ['-c', prelude + local], { cwd: work, env, encoding: 'utf8', maxBuffer: 64 << 20 });
    const seconds = ((Date.now() - start) / 1000).toFixed(1);
    ran++;
    if (r.status === 0) console.log(`ok    ${command}  (${seconds} s)`);
    else {
      failed++;
      console.log(`FAIL  ${command}  (${seconds} s, exit ${r.status})\n${(r.stderr || r.stdout).trim().split('\n').slice(-5).map((l) => `      ${l}`).join('\n')}`);
    }
  }
} finally {
  if (!process.argv.includes('--keep')) rmSync(work, { recursive: true, force: true });
  else console.log(`kept ${work}`);
}
console.log(`check-readme: ${ran} commands run, ${failed} failed, ${skipped} skipped, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
process.exit(failed === 0 ? 0 : 1);
