/**
 * Kill tests: `sculpt prune` stopped by SIGKILL, SIGINT or SIGTERM while it writes a large output
 * (generated here: an ONNX model with ~110 MB of external data, a ~110 MB safetensors file, a TF.js
 * manifest with ~110 MB of shards) must leave the previous output byte for byte as it was, its model
 * and data still a pair, and no temporary: removed by the watchdog after a signal, or by the next
 * run's start-up sweep.
 * Nothing here depends on the machine's speed: every wait polls for a condition.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { WATCH_AFTER_BYTES } from '../../src/formats/fsutil.js';
import { readOnnx } from '../../src/formats/onnx.js';
import { openSafetensors } from '../../src/formats/safetensors.js';
import { writeBigExternalOnnx, writeBigSafetensors, writeBigTfjsManifest } from '../formats/big-models.js';
import { ROOT, sculpt } from './helpers.js';

const TSX = path.join(ROOT, 'node_modules/tsx/dist/esm/index.mjs');
const DEV = path.join(ROOT, 'src/cli/dev.ts');
const TEMPORARY = /^\..+\.\d+\.\d+\.tmp$/;

/** A scratch folder, on a memory file system where there is one (fsync of 100 MB is slow on disks). */
function scratch(): string {
  const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  return fs.mkdtempSync(path.join(base, 'sculpt-kill-'));
}

function temporaries(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => TEMPORARY.test(n));
}

/** sha256 of every file in `dir` except `skip`, by name. */
function snapshot(dir: string, skip: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const n of fs.readdirSync(dir).sort()) {
    if (skip.includes(n) || TEMPORARY.test(n)) continue;
    out.set(n, createHash('sha256').update(fs.readFileSync(path.join(dir, n))).digest('hex'));
  }
  return out;
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 120_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface Run {
  readonly child: ChildProcess;
  readonly done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

function start(args: string[], env: NodeJS.ProcessEnv = {}): Run {
  const child = spawn(process.execPath, ['--import', TSX, DEV, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal, stderr }));
  });
  return { child, done };
}

/**
 * Starts a prune into `out`, waits until its temporary file holds bytes, sends `signal`. Returns
 * whether the signal ended the run (false: the write finished first, on a very fast machine).
 */
async function interrupt(args: string[], dir: string, signal: NodeJS.Signals, env: NodeJS.ProcessEnv = {}): Promise<boolean> {
  const run = start(args, env);
  let exited = false;
  void run.done.then(() => (exited = true));
  // Over WATCH_AFTER_BYTES in the file (or a shard in the folder): the watchdog is started.
  await waitFor('a temporary with bytes in it', () => exited || temporaries(dir).some((n) => {
    try {
      const p = path.join(dir, n);
      return fs.statSync(p).isDirectory() ? fs.readdirSync(p).some((f) => f.endsWith('.bin')) : fs.statSync(p).size >= WATCH_AFTER_BYTES;
    } catch {
      return false;
    }
  }));
  run.child.kill(signal);
  const r = await run.done;
  if (r.code === 0) return false;
  // Default action of the signal (what a shell reports as 128 + signal number), or that code.
  const codes: Record<string, number> = { SIGINT: 130, SIGTERM: 143, SIGKILL: 137 };
  assert.ok(r.signal === signal || r.code === codes[signal], `ended by ${signal}: code ${r.code}, signal ${r.signal}, stderr ${r.stderr}`);
  return true;
}

/** Fraction of exact zeros over the ONNX model's weights, read through its data file. */
function onnxZeros(file: string): number {
  const m = readOnnx(file);
  let zeros = 0;
  let n = 0;
  for (const t of m.tensors) {
    const v = m.read(t.name);
    for (let i = 0; i < v.length; i++) if (v[i] === 0) zeros++;
    n += v.length;
  }
  return zeros / n;
}

test('ONNX with external data: SIGKILL and SIGINT mid-write keep the previous model and its data, a pair; no temporary is left', async (t) => {
  const dir = scratch();
  try {
    const input = writeBigExternalOnnx(dir, 'big', 3, 3072);
    const inputs = ['big.onnx', 'big.data'];
    const out = path.join(dir, 'out.onnx');
    const first = sculpt(['prune', input, '-s', '0.5', '-o', out]);
    assert.equal(first.code, 0, first.stderr);
    const before = snapshot(dir, inputs);
    assert.equal(before.size, 2, 'out.onnx and one data file');
    assert.ok(Math.abs(onnxZeros(out) - 0.5) < 1e-6);

    // SIGKILL, no watchdog: the temporary stays until the next run's sweep.
    if (await interrupt(['prune', input, '-s', '0.8', '-o', out], dir, 'SIGKILL', { SCULPT_WATCHDOG: '0' })) {
      assert.deepEqual(snapshot(dir, inputs), before, 'previous output byte-equal after SIGKILL');
      assert.ok(Math.abs(onnxZeros(out) - 0.5) < 1e-6, 'old model still reads its own data');
      assert.ok(temporaries(dir).length > 0, 'a SIGKILL leaves the temporary for the sweep');
    } else t.diagnostic('the write finished before SIGKILL arrived');
    const next = sculpt(['prune', input, '-s', '0.8', '-o', out]);
    assert.equal(next.code, 0, next.stderr);
    assert.deepEqual(temporaries(dir), [], 'the next run swept the stale temporary');
    const after = snapshot(dir, inputs);
    assert.equal(after.size, 2, 'the replaced data file is gone');
    assert.ok(Math.abs(onnxZeros(out) - 0.8) < 1e-6);

    // SIGINT (watchdog on): the process dies at once, the watchdog removes its temporaries.
    if (await interrupt(['prune', input, '-s', '0.3', '-o', out], dir, 'SIGINT')) {
      await waitFor('the temporaries to be removed', () => temporaries(dir).length === 0, 30_000);
      assert.deepEqual(snapshot(dir, inputs), after, 'previous output byte-equal after SIGINT');
      assert.ok(Math.abs(onnxZeros(out) - 0.8) < 1e-6);
    } else t.diagnostic('the write finished before SIGINT arrived');
    assert.deepEqual(snapshot(dir, []).get('big.data'), createHash('sha256').update(fs.readFileSync(path.join(dir, 'big.data'))).digest('hex'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('safetensors: SIGTERM and SIGKILL mid-write keep the previous output; the watchdog removes the temporary', async (t) => {
  const dir = scratch();
  try {
    const input = path.join(dir, 'big.safetensors');
    writeBigSafetensors(input, 3, 3072, 3072);
    const out = path.join(dir, 'out.safetensors');
    const first = sculpt(['prune', input, '-s', '0.5', '-o', out]);
    assert.equal(first.code, 0, first.stderr);
    const before = snapshot(dir, ['big.safetensors']);
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      if (await interrupt(['prune', input, '-s', '0.9', '-o', out], dir, signal)) {
        await waitFor('the temporary to be removed', () => temporaries(dir).length === 0, 30_000);
        assert.deepEqual(snapshot(dir, ['big.safetensors']), before, `previous output byte-equal after ${signal}`);
        const src = openSafetensors(out);
        const zeros = src.tensors.reduce((a, x) => a + src.read(x.name).filter((v) => v === 0).length, 0);
        assert.equal(zeros, 3 * 3072 * 3072 * 0.5, 'still the 50% output');
        src.close();
      } else t.diagnostic(`the write finished before ${signal} arrived`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('TF.js: SIGINT while the output folder is written leaves no folder and no temporary folder', async (t) => {
  const dir = scratch();
  try {
    const input = writeBigTfjsManifest(dir, 3, 3072);
    const out = path.join(dir, 'out');
    if (await interrupt(['prune', input, '-s', '0.5', '-o', out], dir, 'SIGINT')) {
      await waitFor('the temporary folder to be removed', () => temporaries(dir).length === 0, 30_000);
      assert.equal(fs.existsSync(out), false, 'no half-written output folder');
    } else t.diagnostic('the write finished before SIGINT arrived');
    fs.rmSync(out, { recursive: true, force: true });
    const next = sculpt(['prune', input, '-s', '0.5', '-o', out]);
    assert.equal(next.code, 0, next.stderr);
    assert.deepEqual(fs.readdirSync(out).sort(), ['group1-shard1of1.bin', 'group2-shard1of1.bin', 'group3-shard1of1.bin', 'weights_manifest.json']);
    assert.deepEqual(temporaries(dir), []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
