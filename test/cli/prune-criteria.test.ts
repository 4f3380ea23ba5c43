// `sculpt prune --criterion wanda|sparsegpt --calibration` on the ONNX fixtures: exact counts, the
// wanda invariant against activations recomputed here (a plain-JS forward pass checked against
// onnxruntime's logits), SparseGPT's reconstruction lowering the layer error, and bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { readIdxFile } from '../../src/formats/idx.js';
import { readOnnx } from '../../src/formats/onnx.js';
import { FIXTURES, ROOT, sculpt, tempDir } from './helpers.js';
import { readNpy } from '../fixtures/npy.js';

const MLP = join(FIXTURES, 'mlp.onnx');
const SUBSET = join(ROOT, 'data/fashion-mnist-subset');
const SAMPLES = 64;
const CAL = ['--calibration', SUBSET, '--calibration-samples', String(SAMPLES)];

/** The first SAMPLES training images, [SAMPLES, 784] in [0, 1], read straight from the IDX file. */
function images(): Float32Array {
  const idx = readIdxFile(join(SUBSET, 'train-images-idx3-ubyte.gz'));
  return Float32Array.from((idx.data as Uint8Array).subarray(0, SAMPLES * 784), (v) => v / 255);
}

/** y = x·Wᵀ + b (W [out, in], Gemm transB=1), with ReLU if asked; float64 accumulation. */
function dense(x: Float32Array, rows: number, w: Float32Array, b: Float32Array, out: number, relu: boolean): Float32Array {
  const inp = w.length / out;
  const y = new Float32Array(rows * out);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < out; o++) {
      let s = b[o];
      for (let i = 0; i < inp; i++) s += x[r * inp + i] * w[o * inp + i];
      y[r * out + o] = relu && s < 0 ? 0 : s;
    }
  }
  return y;
}

function columnNorms(x: Float32Array, cols: number): Float64Array {
  const n = new Float64Array(cols);
  for (let i = 0; i < x.length; i++) n[i % cols] += x[i] * x[i];
  return n.map(Math.sqrt);
}

async function runOrt(path: string, x: Float32Array, dims: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(path);
  try {
    const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x, dims) });
    return out[session.outputNames[0]!]!.data as Float32Array;
  } finally {
    await session.release();
  }
}

const W = ['fc1.weight', 'fc2.weight', 'fc3.weight'];

test('wanda on the MLP: exact count, a mask unlike magnitude, kept |w|·‖x_j‖ ≥ pruned', async () => {
  const dir = tempDir();
  const out = join(dir, 'wanda.onnx');
  const r = sculpt(['prune', MLP, '-o', out, '--sparsity', '0.6', '--criterion', 'wanda', ...CAL, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.options.criterion, 'wanda');
  assert.deepEqual(report.calibration, { samples: SAMPLES, source: SUBSET, reconstructed: false });
  assert.equal(report.target.zerosAfter, Math.round(0.6 * 266200));

  const before = readOnnx(MLP).weights();
  const after = readOnnx(out).weights();
  let zeros = 0;
  for (const n of W) for (const v of after.get(n)!.data) if (v === 0) zeros++;
  assert.equal(zeros, 159720);
  for (const n of ['fc1.bias', 'fc2.bias', 'fc3.bias']) assert.deepEqual(after.get(n)!.data, before.get(n)!.data);

  // Activations entering each layer, recomputed here; the forward pass must match onnxruntime.
  const x = images();
  const g = (n: string) => before.get(n)!.data;
  const h1 = dense(x, SAMPLES, g('fc1.weight'), g('fc1.bias'), 300, true);
  const h2 = dense(h1, SAMPLES, g('fc2.weight'), g('fc2.bias'), 100, true);
  const logits = dense(h2, SAMPLES, g('fc3.weight'), g('fc3.bias'), 10, false);
  const ortLogits = await runOrt(MLP, x, [SAMPLES, 784]);
  let maxErr = 0;
  for (let i = 0; i < logits.length; i++) maxErr = Math.max(maxErr, Math.abs(logits[i] - ortLogits[i]));
  assert.ok(maxErr < 1e-4, `JS forward differs from onnxruntime by ${maxErr}`);
  const norms = new Map([['fc1.weight', columnNorms(x, 784)], ['fc2.weight', columnNorms(h1, 300)], ['fc3.weight', columnNorms(h2, 100)]]);

  // Global scope: every kept score is at least every pruned score, over all three tensors.
  let minKept = Infinity;
  let maxPruned = 0;
  for (const n of W) {
    const b = before.get(n)!.data;
    const a = after.get(n)!.data;
    const xn = norms.get(n)!;
    for (let i = 0; i < b.length; i++) {
      const s = Math.abs(b[i]) * xn[i % xn.length];
      if (a[i] === 0) maxPruned = Math.max(maxPruned, s);
      else {
        assert.equal(a[i], b[i], `${n}[${i}] kept but changed`);
        minKept = Math.min(minKept, s);
      }
    }
  }
  assert.ok(minKept >= maxPruned * (1 - 1e-5), `kept score ${minKept} < pruned score ${maxPruned}`);
  // Dead input pixels (always 0 in these images) have norm 0: all their weights are pruned.
  const fc1 = after.get('fc1.weight')!.data;
  const dead = [...norms.get('fc1.weight')!.keys()].filter((j) => norms.get('fc1.weight')![j] === 0);
  for (const j of dead) for (let o = 0; o < 300; o++) assert.equal(fc1[o * 784 + j], 0);

  // Not magnitude's mask.
  const mag = join(dir, 'mag.onnx');
  assert.equal(sculpt(['prune', MLP, '-o', mag, '--sparsity', '0.6']).code, 0);
  const m = readOnnx(mag).weights();
  let differ = 0;
  for (const n of W) {
    const a = after.get(n)!.data;
    const b = m.get(n)!.data;
    for (let i = 0; i < a.length; i++) if ((a[i] === 0) !== (b[i] === 0)) differ++;
  }
  assert.ok(differ > 10000, `wanda and magnitude masks differ in only ${differ} places`);

  // The pruned model runs in onnxruntime and its outputs moved.
  const sample = readNpy(join(FIXTURES, 'mlp.input.npy'));
  const dense0 = await runOrt(MLP, sample.data, [...sample.shape]);
  const pruned = await runOrt(out, sample.data, [...sample.shape]);
  assert.equal(pruned.length, 40);
  assert.ok(pruned.every(Number.isFinite));
  assert.ok(pruned.some((v, i) => Math.abs(v - dense0[i]) > 1e-3));
});

test('sparsegpt on the MLP: exact per-layer counts, reconstruction lowers ‖(W − Ŵ)Xᵀ‖ of fc1', async () => {
  const dir = tempDir();
  const out = join(dir, 'sgpt.onnx');
  const r = sculpt(['prune', MLP, '-o', out, '--sparsity', '0.5', '--scope', 'layer', '--criterion', 'sparsegpt', ...CAL, '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).calibration.reconstructed, true);
  const before = readOnnx(MLP).weights();
  const after = readOnnx(out).weights();
  for (const n of W) {
    const a = after.get(n)!.data;
    assert.equal(a.filter((v) => v === 0).length, Math.round(a.length / 2), n);
  }
  // Layer error on the calibration inputs: reconstructed weights against the same mask without it.
  const x = images();
  const w = before.get('fc1.weight')!.data;
  const rec = after.get('fc1.weight')!.data;
  const masked = Float32Array.from(w, (v, i) => (rec[i] === 0 ? 0 : v));
  const err = (hat: Float32Array): number => {
    let e = 0;
    for (let o = 0; o < 300; o++) {
      for (let s = 0; s < SAMPLES; s++) {
        let d = 0;
        for (let i = 0; i < 784; i++) d += (w[o * 784 + i] - hat[o * 784 + i]) * x[s * 784 + i];
        e += d * d;
      }
    }
    return e;
  };
  const eRec = err(rec);
  const eMask = err(masked);
  assert.ok(eRec < 0.5 * eMask, `reconstruction error ${eRec} not well below mask-only ${eMask}`);
  const sample = readNpy(join(FIXTURES, 'mlp.input.npy'));
  const y = await runOrt(out, sample.data, [...sample.shape]);
  assert.ok(y.length === 40 && y.every(Number.isFinite));
});

test('wanda on the CNN: images reshaped to [N, 1, 28, 28]; Conv weights excluded by glob', async () => {
  const dir = tempDir();
  const out = join(dir, 'cnn.onnx');
  const r = sculpt(['prune', join(FIXTURES, 'cnn.onnx'), '-o', out, '--sparsity', '0.5', '--criterion', 'wanda', ...CAL, '--exclude', 'onnx::Conv_*', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).target.zerosAfter, 3920);
  const sample = readNpy(join(FIXTURES, 'cnn.input.npy'));
  const y = await runOrt(out, sample.data, [...sample.shape]);
  assert.ok(y.length === 20 && y.every(Number.isFinite));
});

test('data criteria: bad input is one line naming the flag, and no file is written', () => {
  const dir = tempDir();
  const out = join(dir, 'x.onnx');
  const cases: [string[], RegExp][] = [
    [['--criterion', 'wanda'], /--criterion wanda needs calibration data: pass --calibration/],
    [['--criterion', 'wanda', '--calibration', join(dir, 'nope')], /--calibration .*nope: no such dataset or folder/],
    [['--criterion', 'wanda', '--calibration', dir], /--calibration .*: needs train-images-idx3-ubyte/],
    [['--criterion', 'wanda', '--calibration', SUBSET, '--calibration-samples', '0'], /--calibration-samples: '0' is not a whole number ≥ 1/],
    [['--criterion', 'taylor', ...CAL], /--criterion taylor needs gradients.*sculpt imp\/gmp/],
    [['--criterion', 'obd'], /--criterion obd needs gradients/],
    [['--criterion', 'magnitude', ...CAL], /--calibration is only used by data criteria/],
    [['--criterion', 'wanda', '--pattern', 'channel', ...CAL], /supports --pattern unstructured or N:M/],
  ];
  for (const [flags, re] of cases) {
    const r = sculpt(['prune', MLP, '-o', out, '--sparsity', '0.5', ...flags]);
    assert.equal(r.code, 2, flags.join(' '));
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.equal(existsSync(out), false);
  }
  const st = sculpt(['prune', join(FIXTURES, 'tiny.safetensors'), '-o', join(dir, 'x.safetensors'), '--sparsity', '0.5', '--criterion', 'wanda', ...CAL]);
  assert.equal(st.code, 2);
  assert.match(st.stderr, /safetensors file has no graph to run/);
});

test('sparsegpt on the CNN with its Conv weights (im2col): exactly half of the 9,064 target weights, the model still runs', async () => {
  const dir = tempDir();
  const out = join(dir, 'cnn.onnx');
  const r = sculpt(['prune', join(FIXTURES, 'cnn.onnx'), '-o', out, '--sparsity', '0.5', '--criterion', 'sparsegpt', ...CAL, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.target.count, 72 + 1152 + 7840);
  assert.equal(j.target.zerosAfter, 4532);
  const sample = readNpy(join(FIXTURES, 'cnn.input.npy'));
  const y = await runOrt(out, sample.data, [...sample.shape]);
  assert.ok(y.length === 20 && y.every(Number.isFinite));
});

/** Kernels of a saved TF.js folder (float32 weights.bin), by name. */
function kernels(dir: string): Map<string, Float32Array> {
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as { weightsManifest: { paths: string[]; weights: { name: string; shape: number[] }[] }[] };
  const out = new Map<string, Float32Array>();
  for (const group of json.weightsManifest) {
    const buf = readFileSync(join(dir, group.paths[0]));
    const all = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    let at = 0;
    for (const w of group.weights) {
      const n = w.shape.reduce((a, b) => a * b, 1);
      if (w.name.endsWith('/kernel')) out.set(w.name, all.slice(at, at + n));
      at += n;
    }
  }
  return out;
}

test('imp --criterion wanda|taylor on LeNet-300-100: exact counts, masks unlike magnitude\'s; bad names fail fast', () => {
  const dir = tempDir();
  const masks = new Map<string, Map<string, Float32Array>>();
  for (const c of ['magnitude', 'wanda', 'taylor']) {
    const r = sculpt(['imp', '--model', 'lenet-300-100', '--rounds', '2', '--rate', '0.5', '--epochs', '1', '--train-limit', '256', '--test-limit', '100',
      '--data', SUBSET, '--criterion', c, '--calibration-samples', '64', '--out', join(dir, c), '--json']);
    assert.equal(r.code, 0, r.stderr);
    const k = kernels(join(dir, c, 'round-1'));
    let zeros = 0;
    for (const v of k.values()) for (const x of v) if (x === 0) zeros++;
    assert.equal(zeros, 133100, c);
    masks.set(c, k);
  }
  const differ = (a: string, b: string): number => {
    let d = 0;
    for (const [n, v] of masks.get(a)!) {
      const w = masks.get(b)!.get(n)!;
      for (let i = 0; i < v.length; i++) if ((v[i] === 0) !== (w[i] === 0)) d++;
    }
    return d;
  };
  assert.ok(differ('magnitude', 'wanda') > 5000, `wanda vs magnitude: ${differ('magnitude', 'wanda')}`);
  assert.ok(differ('magnitude', 'taylor') > 5000, `taylor vs magnitude: ${differ('magnitude', 'taylor')}`);
  const bad = sculpt(['gmp', '--model', 'lenet-300-100', '--final-sparsity', '0.5', '--criterion', 'nope', '--out', join(dir, 'g')]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown --criterion 'nope'; known criteria: .*wanda/);
  const zero = sculpt(['gmp', '--model', 'lenet-300-100', '--final-sparsity', '0.5', '--criterion', 'obd', '--calibration-samples', '0', '--out', join(dir, 'g')]);
  assert.equal(zero.code, 2);
  assert.match(zero.stderr, /--calibration-samples: '0' is not a whole number ≥ 1/);
});

test('2:4 with wanda and sparsegpt: two of every four inputs kept per neuron; sparsegpt also updates the kept weights', () => {
  const dir = tempDir();
  const before = readOnnx(MLP).weights();
  for (const c of ['wanda', 'sparsegpt']) {
    const out = join(dir, `${c}-24.onnx`);
    const r = sculpt(['prune', MLP, '-o', out, '--pattern', '2:4', '--criterion', c, ...CAL, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const after = readOnnx(out).weights();
    let changedKept = 0;
    for (const name of ['fc1.weight', 'fc2.weight', 'fc3.weight']) {
      const w = after.get(name)!.data; // Gemm transB=1: [out, in], groups of 4 along each row
      const w0 = before.get(name)!.data;
      for (let g = 0; g < w.length; g += 4) {
        let kept = 0;
        for (let j = 0; j < 4; j++) if (w[g + j] !== 0) kept++;
        assert.equal(kept, 2, `${c} ${name} group at ${g}`);
      }
      for (let i = 0; i < w.length; i++) if (w[i] !== 0 && w[i] !== w0[i]) changedKept++;
    }
    if (c === 'wanda') assert.equal(changedKept, 0, 'wanda only masks');
    else assert.ok(changedKept > 100_000, `sparsegpt reconstructed ${changedKept} kept weights`);
  }
});
