// `sculpt prune` end to end on the PyTorch-exported fixtures: exact counts, the magnitude
// invariant, byte identity outside pruned payloads, and the pruned models running in onnxruntime.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { countToPrune } from '../../src/core/counting.js';
import { readOnnx } from '../../src/formats/onnx.js';
import { readSafetensors } from '../../src/formats/safetensors.js';
import type { WeightSet } from '../../src/core/types.js';
import { FIXTURES, sculpt, tempDir } from './helpers.js';
import { readNpy } from '../fixtures/npy.js';

function zeros(a: Float32Array): number {
  let z = 0;
  for (const v of a) if (v === 0) z++;
  return z;
}

/** max |w| over pruned weights and min |w| over kept ones, in the given tensors. */
function magnitudeSplit(before: WeightSet, after: WeightSet, names: string[]): { maxPruned: number; minKept: number } {
  let maxPruned = 0;
  let minKept = Infinity;
  for (const n of names) {
    const b = before.get(n)!.data;
    const a = after.get(n)!.data;
    for (let i = 0; i < b.length; i++) {
      const m = Math.abs(b[i]!);
      if (a[i] === 0) maxPruned = Math.max(maxPruned, m);
      else {
        minKept = Math.min(minKept, m);
        assert.equal(a[i], b[i], `${n}[${i}] kept but changed`);
      }
    }
  }
  return { maxPruned, minKept };
}

/** Every byte that differs between the files lies inside the payload of a pruned initializer. */
function assertOnlyPayloadsChanged(inPath: string, outPath: string, pruned: Set<string>): number {
  const a = readFileSync(inPath);
  const b = readFileSync(outPath);
  assert.equal(b.length, a.length, 'pruning must not change the file length');
  const ranges: [number, number][] = [];
  for (const init of readOnnx(inPath).decoded.initializers) {
    if (!pruned.has(init.name)) continue;
    const s = init.storage;
    if (s.kind === 'raw') ranges.push([s.start, s.end]);
    else if (s.kind === 'fixed') for (const r of s.runs) ranges.push([r.start, r.start + r.count * s.width]);
  }
  let changed = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) continue;
    changed++;
    assert.ok(ranges.some(([s, e]) => i >= s && i < e), `byte ${i} changed outside every pruned payload`);
  }
  return changed;
}

async function runsInOnnxruntime(path: string, input: Float32Array, dims: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(path);
  const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', input, dims) });
  return out[session.outputNames[0]!]!.data as Float32Array;
}

for (const fixture of ['mlp', 'cnn', 'transformer']) {
  for (const scope of ['global', 'layer'] as const) {
    test(`prune ${fixture}.onnx at 90% ${scope}: exact zeros, invariant, bytes, onnxruntime`, async () => {
      const dir = tempDir();
      const inPath = join(FIXTURES, `${fixture}.onnx`);
      const outPath = join(dir, `${fixture}-90.onnx`);
      const inBytes = readFileSync(inPath);
      // At 90% global the transformer's second feed-forward weight has no weight left: refused by
      // default, let through (with a warning naming it) by --allow-collapse.
      const collapses = fixture === 'transformer' && scope === 'global';
      const r = sculpt(['prune', inPath, '-o', outPath, '--sparsity', '0.9', '--scope', scope, '--json', ...(collapses ? ['--allow-collapse'] : [])]);
      assert.equal(r.code, 0, r.stderr);
      const report = JSON.parse(r.stdout);
      if (collapses) {
        assert.equal(r.stderr, "sculpt: warning: tensor 'onnx::MatMul_242' pruned to density 0 (--allow-collapse): its layer now ignores its input\n");
        assert.deepEqual(report.warnings, ["tensor 'onnx::MatMul_242' pruned to density 0 (--allow-collapse): its layer now ignores its input"]);
      } else assert.equal(r.stderr, '');
      assert.deepEqual(readFileSync(inPath), inBytes, 'input untouched');

      const before = readOnnx(inPath).weights();
      const after = readOnnx(outPath).weights();
      const targets = before.tensors.filter((t) => t.prunable).map((t) => t.name);
      assert.ok(targets.length >= 3);
      if (scope === 'global') {
        const n = targets.reduce((s, name) => s + before.get(name)!.data.length, 0);
        const z = targets.reduce((s, name) => s + zeros(after.get(name)!.data), 0);
        assert.equal(z, countToPrune(0.9, n));
        assert.equal(report.target.zerosAfter, z);
        const { maxPruned, minKept } = magnitudeSplit(before, after, targets);
        assert.ok(minKept >= maxPruned, `kept ${minKept} < pruned ${maxPruned}`);
      } else {
        for (const name of targets) {
          const data = after.get(name)!.data;
          assert.equal(zeros(data), countToPrune(0.9, data.length), name);
          const { maxPruned, minKept } = magnitudeSplit(before, after, [name]);
          assert.ok(minKept >= maxPruned, `${name}: kept ${minKept} < pruned ${maxPruned}`);
        }
      }
      for (const t of before.tensors) {
        if (!t.prunable) assert.deepEqual(after.get(t.name)!.data, t.data, `${t.name} is not prunable and must not change`);
      }
      const changed = assertOnlyPayloadsChanged(inPath, outPath, new Set(targets));
      assert.ok(changed > 0);

      const x = readNpy(join(FIXTURES, `${fixture}.input.npy`));
      const dense = await runsInOnnxruntime(inPath, x.data, x.shape);
      const sparse = await runsInOnnxruntime(outPath, x.data, x.shape);
      assert.equal(sparse.length, dense.length);
      assert.ok(sparse.every(Number.isFinite));
    });
  }
}

test('prune tiny.safetensors: exact per-tensor counts in every dtype, other tensors byte-identical', () => {
  const dir = tempDir();
  const inPath = join(FIXTURES, 'tiny.safetensors');
  const outPath = join(dir, 'tiny-pruned.safetensors');
  const r = sculpt(['prune', inPath, '-o', outPath, '--sparsity', '0.75', '--scope', 'layer']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /wrote /);
  const before = readSafetensors(inPath);
  const after = readSafetensors(outPath);
  for (const t of before.tensors) {
    const a = after.get(t.name)!.data;
    if (t.prunable) assert.equal(zeros(a), countToPrune(0.75, a.length), t.name);
    else assert.deepEqual(a, t.data, t.name);
  }
  const inBytes = readFileSync(inPath);
  const outBytes = readFileSync(outPath);
  assert.equal(outBytes.length, inBytes.length);
  const headerLen = Number(inBytes.readBigUInt64LE(0)) + 8;
  assert.deepEqual(outBytes.subarray(0, headerLen), inBytes.subarray(0, headerLen), 'header copied verbatim');
});

test('prune with exclude and override: excluded untouched, override exact, rest global', () => {
  const dir = tempDir();
  const inPath = join(FIXTURES, 'mlp.onnx');
  const outPath = join(dir, 'mlp-mixed.onnx');
  const r = sculpt(['prune', inPath, '-o', outPath, '--sparsity', '0.8', '--exclude', 'fc3.*', '--override', 'fc2.weight=0.5', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const after = readOnnx(outPath).weights();
  assert.equal(zeros(after.get('fc3.weight')!.data), 0);
  assert.equal(zeros(after.get('fc2.weight')!.data), countToPrune(0.5, 30000));
  assert.equal(zeros(after.get('fc1.weight')!.data), countToPrune(0.8, 235200));
});

test('IMP step from the command line: --of-remaining removes a fraction of what is alive', () => {
  const dir = tempDir();
  const step1 = join(dir, 'imp1.onnx');
  const step2 = join(dir, 'imp2.onnx');
  assert.equal(sculpt(['prune', join(FIXTURES, 'mlp.onnx'), '-o', step1, '--sparsity', '0.2']).code, 0);
  const r = sculpt(['prune', step1, '-o', step2, '--sparsity', '0.2', '--of-remaining', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const n = 266200;
  const z1 = countToPrune(0.2, n);
  assert.equal(JSON.parse(r.stdout).target.zerosAfter, z1 + countToPrune(0.2, n - z1));
});

test('N:M and channel patterns through the CLI', () => {
  const dir = tempDir();
  const out24 = join(dir, 'mlp-24.onnx');
  const r = sculpt(['prune', join(FIXTURES, 'mlp.onnx'), '-o', out24, '--pattern', '2:4', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const w = readOnnx(out24).weights().get('fc1.weight')!.data; // Gemm transB=1: [300, 784], groups along rows
  for (let g = 0; g < w.length; g += 4) {
    let kept = 0;
    for (let j = 0; j < 4; j++) if (w[g + j] !== 0) kept++;
    assert.equal(kept, 2, `group at ${g}`);
  }
  const outCh = join(dir, 'mlp-ch.onnx');
  const c = sculpt(['prune', join(FIXTURES, 'mlp.onnx'), '-o', outCh, '--pattern', 'channel', '--scope', 'layer', '--sparsity', '0.5']);
  assert.equal(c.code, 0, c.stderr);
  const fc2 = readOnnx(outCh).weights().get('fc2.weight')!.data; // [100, 300]
  let emptyRows = 0;
  for (let r0 = 0; r0 < 100; r0++) if (fc2.subarray(r0 * 300, r0 * 300 + 300).every((v) => v === 0)) emptyRows++;
  assert.equal(emptyRows, 50);
});

test('same seed gives the same random masks; another seed, other masks', () => {
  const dir = tempDir();
  const run = (seed: string, name: string): Buffer => {
    const out = join(dir, name);
    assert.equal(sculpt(['prune', join(FIXTURES, 'cnn.onnx'), '-o', out, '--sparsity', '0.5', '--criterion', 'random', '--seed', seed]).code, 0);
    return readFileSync(out);
  };
  assert.deepEqual(run('7', 'a.onnx'), run('7', 'b.onnx'));
  assert.notDeepEqual(run('7', 'c.onnx'), run('8', 'd.onnx'));
});

test('inspect lists roles and decisions, also as JSON', () => {
  const r = sculpt(['inspect', join(FIXTURES, 'cnn.onnx'), '--json']);
  assert.equal(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  const byName = new Map<string, { role: string; prunable: boolean }>(info.tensors.map((t: { name: string }) => [t.name, t]));
  assert.equal(byName.get('onnx::Conv_28')!.role, 'weight');
  assert.equal(byName.get('onnx::Conv_28')!.prunable, true);
  assert.equal(byName.get('fc.bias')!.prunable, false);
  assert.equal(info.parameters, info.tensors.reduce((s: number, t: { count: number }) => s + t.count, 0));
  const table = sculpt(['inspect', join(FIXTURES, 'tiny.safetensors')]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /embed_tokens\.weight .* embedding +no/);
});
