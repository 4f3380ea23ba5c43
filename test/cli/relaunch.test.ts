/**
 * A calibrating prune runs in a copy of the process with glibc's malloc thresholds fixed
 * (src/cli/relaunch.ts): the copy has the variables, a signal to the command reaches the copy, the
 * command dies of it, and nothing is left behind. Every wait polls for a condition.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT, tempDir } from './helpers.js';
import { relaunchPlan } from '../../src/cli/relaunch.js';

const TSX = path.join(ROOT, 'node_modules/tsx/dist/esm/index.mjs');
const DEV = path.join(ROOT, 'src/cli/dev.ts');
const linuxGlibc = process.platform === 'linux' && typeof (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime === 'string';

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

async function until<T>(what: string, f: () => T | undefined, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('prune --calibration runs in a tuned copy; SIGTERM reaches it and leaves no temporary', { skip: !linuxGlibc && 'glibc only' }, async () => {
  const dir = tempDir();
  const out = path.join(dir, 'out.onnx');
  const args = ['prune', 'test/fixtures/gpt/gpt.onnx', '-o', out, '--sparsity', '0.5', '--scope', 'layer', '--criterion', 'sparsegpt',
    '--calibration', 'text:test/fixtures/gpt/calib.txt', '--calibration-samples', '400', '--seq-len', '64', '--engine', 'sparse'];
  const env = { ...process.env };
  delete env.MALLOC_MMAP_THRESHOLD_;
  delete env.MALLOC_TRIM_THRESHOLD_;
  delete env.SCULPT_RELAUNCH;
  const parent = spawn(process.execPath, ['--import', TSX, DEV, ...args], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => parent.on('exit', (code, signal) => resolve({ code, signal })));
  const copy = await until('the tuned copy', () => childrenOf(parent.pid!).find((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes('MALLOC_MMAP_THRESHOLD_=131072');
    } catch {
      return false;
    }
  }));
  parent.kill('SIGTERM');
  const r = await exited;
  assert.equal(r.signal, 'SIGTERM');
  await until('the copy to end', () => (fs.existsSync(`/proc/${copy}`) && !fs.readFileSync(`/proc/${copy}/stat`, 'utf8').includes(') Z') ? undefined : true));
  await until('no temporary', () => (fs.readdirSync(dir).length === 0 ? true : undefined));
  assert.equal(fs.existsSync(out), false);
});

test('relaunchPlan: malloc thresholds for a calibrating prune on glibc, --single-threaded-gc for worker threads, nothing twice', () => {
  const env = {};
  const malloc = { MALLOC_MMAP_THRESHOLD_: '131072', MALLOC_TRIM_THRESHOLD_: '131072' };
  assert.deepEqual(relaunchPlan(['prune', 'm.onnx', '--calibration', 'c.npy'], env, [], true), { env: malloc, execArgv: [] });
  assert.equal(relaunchPlan(['prune', 'm.onnx', '--calibration', 'c.npy'], env, [], false), undefined);
  assert.equal(relaunchPlan(['prune', 'm.onnx', '--calibration', 'c.npy'], malloc, [], true), undefined);
  assert.equal(relaunchPlan(['prune', 'm.onnx', '--sparsity', '0.5'], env, [], true), undefined);
  for (const args of [['run', 'm.onnx', '--threads', '2'], ['bench', 'm.onnx', '--threads=4']]) {
    assert.deepEqual(relaunchPlan(args, env, ['--import', 'tsx'], true), { env: {}, execArgv: ['--single-threaded-gc'] }, args.join(' '));
    assert.equal(relaunchPlan(args, env, ['--single-threaded-gc'], true), undefined, `${args.join(' ')}: flag already given`);
    assert.equal(relaunchPlan(args, { SCULPT_RELAUNCHED: '1' }, [], true), undefined, `${args.join(' ')}: in the copy`);
    assert.equal(relaunchPlan(args, { SCULPT_RELAUNCH: '0' }, [], true), undefined, `${args.join(' ')}: turned off`);
  }
  assert.equal(relaunchPlan(['run', 'm.onnx', '--threads', '1'], env, [], true), undefined);
  assert.equal(relaunchPlan(['prune', 'm.onnx', '--threads', '2'], env, [], true), undefined);
});
