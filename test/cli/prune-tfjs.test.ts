// `sculpt prune` and `sculpt inspect` on a TF.js layers model folder written by `sculpt train`:
// exact counts, the magnitude invariant, byte identity outside pruned weights, and the pruned
// folder loading in TensorFlow.js and computing what its weights say. Bad inputs: one line, nothing written.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, readFileSync, readdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { countToPrune } from '../../src/core/counting.js';
import { openTfjsFolder, type TfjsFolder } from '../../src/formats/tfjs-folder.js';
import { setupBackend } from '../../src/train/backend.js';
import { loadModelFolder } from '../../src/train/model-io.js';
import { sculpt, tempDir } from './helpers.js';

const KERNELS = ['fc1/kernel', 'fc2/kernel', 'fc3/kernel'];
let model: string;

before(() => {
  const out = join(tempDir('sculpt-tfjs-'), 'trained');
  const r = sculpt(['train', '--model', 'lenet-300-100', '--epochs', '1', '--train-limit', '300', '--test-limit', '100', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  model = join(out, 'round-0');
});

const zeros = (a: Float32Array): number => a.reduce((n, v) => n + (v === 0 ? 1 : 0), 0);

/** Checks kept values are unchanged and max |pruned| ≤ min |kept| over `names` taken together. */
function assertMagnitudeSplit(before: TfjsFolder, after: TfjsFolder, names: string[]): void {
  let maxPruned = 0;
  let minKept = Infinity;
  for (const n of names) {
    const b = before.read(n).slice();
    const a = after.read(n);
    for (let i = 0; i < b.length; i++) {
      if (a[i] === 0) maxPruned = Math.max(maxPruned, Math.abs(b[i]));
      else {
        minKept = Math.min(minKept, Math.abs(b[i]));
        assert.equal(a[i], b[i], `${n}[${i}] kept but changed`);
      }
    }
  }
  assert.ok(maxPruned <= minKept, `max pruned ${maxPruned} > min kept ${minKept} over ${names.join(', ')}`);
}

/** The lenet-300-100 forward pass (relu, relu, linear) computed from the folder's weights in plain JS. */
function forward(f: TfjsFolder, x: Float32Array, batch: number): Float32Array {
  let h = x;
  let width = 784;
  for (const [i, layer] of ['fc1', 'fc2', 'fc3'].entries()) {
    const w = f.read(`${layer}/kernel`).slice();
    const b = f.read(`${layer}/bias`).slice();
    const out = b.length;
    const y = new Float32Array(batch * out);
    for (let r = 0; r < batch; r++) {
      for (let o = 0; o < out; o++) {
        let s = b[o];
        for (let k = 0; k < width; k++) s += h[r * width + k] * w[k * out + o];
        y[r * out + o] = i < 2 ? Math.max(0, s) : s;
      }
    }
    h = y;
    width = out;
  }
  return h;
}

for (const scope of ['global', 'layer'] as const) {
  test(`prune a sculpt-trained TF.js folder at 90% ${scope}: exact zeros, invariant, bytes, loads in TF.js`, async () => {
    const out = join(tempDir(), 'pruned');
    const jsonBefore = readFileSync(join(model, 'model.json'));
    const shardBefore = readFileSync(join(model, 'weights.bin'));
    const r = sculpt(['prune', model, '-o', out, '--sparsity', '0.9', '--scope', scope, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.format, 'tfjs');
    assert.deepEqual(readFileSync(join(model, 'weights.bin')), shardBefore, 'input untouched');
    assert.deepEqual(readFileSync(join(out, 'model.json')), jsonBefore, 'model.json byte for byte');
    assert.deepEqual(readdirSync(out).sort(), ['model.json', 'weights.bin']);

    const before = openTfjsFolder(model);
    const after = openTfjsFolder(out);
    const sizes = KERNELS.map((n) => before.read(n).length);
    const total = sizes.reduce((a, b) => a + b, 0);
    const zerosAfter = KERNELS.map((n) => zeros(after.read(n)));
    if (scope === 'global') {
      assert.equal(zerosAfter.reduce((a, b) => a + b, 0), countToPrune(0.9, total));
      assert.equal(report.target.zerosAfter, countToPrune(0.9, total));
      assertMagnitudeSplit(before, after, KERNELS);
    } else {
      assert.deepEqual(zerosAfter, sizes.map((n) => countToPrune(0.9, n)));
      for (const n of KERNELS) assertMagnitudeSplit(before, after, [n]);
    }
    for (const e of before.entries) {
      if (KERNELS.includes(e.name)) continue;
      assert.deepEqual(after.bytes(e.name), before.bytes(e.name), `${e.name} bytes unchanged`);
    }

    const inspect = sculpt(['inspect', out, '--json']);
    assert.equal(inspect.code, 0, inspect.stderr);
    const info = JSON.parse(inspect.stdout);
    assert.equal(info.format, 'tfjs');
    assert.equal(info.prunableParameters, total);
    assert.equal(info.prunableZeros, zerosAfter.reduce((a, b) => a + b, 0));

    await setupBackend('cpu');
    const loaded = await loadModelFolder(out);
    const batch = 4;
    const x = Float32Array.from({ length: batch * 784 }, (_, i) => ((i * 2654435761) % 1000) / 1000);
    const y = tf.tidy(() => (loaded.predict(tf.tensor(x, [batch, 28, 28, 1])) as tf.Tensor).dataSync() as Float32Array);
    loaded.dispose();
    const expected = forward(after, x, batch);
    assert.equal(y.length, batch * 10);
    for (let i = 0; i < y.length; i++) assert.ok(Math.abs(y[i] - expected[i]) <= 1e-4 * (1 + Math.abs(expected[i])), `output ${i}: ${y[i]} vs ${expected[i]}`);
  });
}

/** Runs a prune that must fail: one line on stderr matching `why`, non-zero exit, nothing in the output's folder. */
function assertRefused(input: string, why: RegExp, output?: string): void {
  const parent = tempDir();
  const r = sculpt(['prune', input, '-o', output ?? join(parent, 'out'), '--sparsity', '0.9']);
  assert.notEqual(r.code, 0);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], why);
  assert.deepEqual(readdirSync(parent), [], 'nothing written');
}

function copyModel(): string {
  const dir = join(tempDir(), 'model');
  cpSync(model, dir, { recursive: true });
  return dir;
}

test('bad TF.js folders and outputs: one line, non-zero exit, nothing written', () => {
  assertRefused(tempDir(), /no model\.json here/);

  const truncated = copyModel();
  truncateSync(join(truncated, 'weights.bin'), 1000);
  assertRefused(truncated, /weights\.bin: weight group 0 holds 1000 bytes .*truncated/);

  const missing = copyModel();
  const json = JSON.parse(readFileSync(join(missing, 'model.json'), 'utf8'));
  json.weightsManifest[0].paths = ['./other.bin'];
  writeFileSync(join(missing, 'model.json'), JSON.stringify(json));
  assertRefused(missing, /weight shard \.\/other\.bin is missing/);

  const nan = copyModel();
  const bytes = readFileSync(join(nan, 'weights.bin'));
  new DataView(bytes.buffer, bytes.byteOffset).setFloat32(4 * 17, NaN, true);
  writeFileSync(join(nan, 'weights.bin'), bytes);
  assertRefused(nan, /tensor fc1\/kernel contains NaN at element 17/);

  const same = copyModel();
  const listing = readdirSync(same).sort();
  const r = sculpt(['prune', same, '-o', same, '--sparsity', '0.9']);
  assert.equal(r.code, 2);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.match(r.stderr, /the output is the input folder/);
  assert.deepEqual(readdirSync(same).sort(), listing);
  assert.deepEqual(readFileSync(join(same, 'weights.bin')), readFileSync(join(model, 'weights.bin')));
  assert.ok(!existsSync(join(same, 'pruned')));
});
