// SparseGPT as the reference code runs it: U is the upper Cholesky factor of the damped H⁻¹, counts
// are exact, N:M structure holds, and the reconstruction lowers the layer error below magnitude
// pruning and below the same mask without the update; OWL allocations sum to the target.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blockOfName, outlierRatio, owlSparsities } from '../../src/core/allocation-owl.js';
import { sparseGptLayer } from '../../src/core/criteria-sparsegpt.js';
import { roundHalfEven } from '../../src/core/counting.js';
import { inverseHessianUpper, reconstructionError, sparseGptLazy } from '../../src/core/sparsegpt-lazy.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Correlated inputs X [n, k] (a shared factor plus noise, some features larger) and H = XᵀX. */
function calibration(n: number, k: number, seed: number): Float64Array {
  const r = rng(seed);
  const x = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    const f = r() - 0.5;
    for (let j = 0; j < k; j++) x[i * k + j] = (f * (j % 3) + (r() - 0.5)) * (j % 7 === 0 ? 4 : 1);
  }
  const h = new Float64Array(k * k);
  for (let i = 0; i < n; i++) for (let a = 0; a < k; a++) for (let b = 0; b < k; b++) h[a * k + b] += x[i * k + a] * x[i * k + b];
  return h;
}

function weights(rows: number, cols: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: rows * cols }, () => r() - 0.5);
}

test('inverseHessianUpper: UᵀU is the inverse of H + λ·mean(diag)·I', async () => {
  const k = 12;
  const h = calibration(40, k, 1);
  const { u } = await inverseHessianUpper(h, k, 0.01);
  let mean = 0;
  for (let i = 0; i < k; i++) mean += h[i * k + i] / k;
  for (let i = 0; i < k; i++) for (let j = 0; j < i; j++) assert.equal(u[i * k + j], 0, 'upper triangular');
  // (UᵀU)·(H + λI) = I
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      let s = 0;
      for (let m = 0; m < k; m++) {
        let inv = 0;
        for (let t = 0; t < k; t++) inv += u[t * k + i] * u[t * k + m];
        s += inv * (h[m * k + j] + (m === j ? 0.01 * mean : 0));
      }
      assert.ok(Math.abs(s - (i === j ? 1 : 0)) < 1e-8, `(${i}, ${j}): ${s}`);
    }
  }
});

test('sparseGptLazy: exactly round(s·rows·cols) pruned, pruned entries 0, across blocks of any width', async () => {
  const rows = 9;
  const cols = 37;
  const h = calibration(80, cols, 2);
  const w = weights(rows, cols, 3);
  for (const [s, bs] of [[0.5, 8], [0.6, 128], [0.7, 5], [0.33, 1]] as const) {
    const r = await sparseGptLazy(w, rows, cols, h, { sparsity: s, blockSize: bs });
    assert.equal(r.pruned, roundHalfEven(s * rows * cols), `s=${s} bs=${bs}`);
    assert.equal(r.mask.prunedCount(), r.pruned);
    for (let i = 0; i < w.length; i++) if (!r.mask.get(i)) assert.equal(r.weights[i], 0);
  }
});

test('sparseGptLazy: 2:4 and 4:8 keep exactly n of every m inputs of each row, and match sparseGptLayer', async () => {
  const rows = 6;
  const cols = 32;
  const h = calibration(70, cols, 4);
  const w = weights(rows, cols, 5);
  for (const nm of [{ n: 2, m: 4 }, { n: 4, m: 8 }]) {
    const r = await sparseGptLazy(w, rows, cols, h, { sparsity: 0, nm, blockSize: 16 });
    for (let row = 0; row < rows; row++) {
      for (let g = 0; g < cols; g += nm.m) {
        let kept = 0;
        for (let t = 0; t < nm.m; t++) if (r.mask.get(row * cols + g + t)) kept++;
        assert.equal(kept, nm.n);
      }
    }
    // Same algorithm as the column-by-column sparseGptLayer (no lazy batching): same mask, same values.
    const ref = sparseGptLayer(w, rows, cols, h, { sparsity: 0, nm });
    assert.ok(r.mask.equals(ref.mask), `${nm.n}:${nm.m} masks agree`);
    for (let i = 0; i < w.length; i++) assert.ok(Math.abs(r.weights[i] - ref.weights[i]) < 1e-4, `value ${i}`);
  }
});

test('sparseGptLazy: the layer error ‖(W − Ŵ)X‖² is below magnitude pruning and below its own mask without the update', async () => {
  const rows = 16;
  const cols = 48;
  const h = calibration(200, cols, 6);
  const w = weights(rows, cols, 7);
  const r = await sparseGptLazy(w, rows, cols, h, { sparsity: 0.5, blockSize: 16 });
  const sgpt = reconstructionError(w, r.weights, rows, cols, h);
  // Magnitude at the same count, per layer.
  const order = Array.from(w.keys()).sort((a, b) => Math.abs(w[a]) - Math.abs(w[b]) || a - b);
  const mag = Float32Array.from(w);
  for (let t = 0; t < r.pruned; t++) mag[order[t]] = 0;
  const magErr = reconstructionError(w, mag, rows, cols, h);
  const noUpdate = Float32Array.from(w, (v, i) => (r.mask.get(i) ? v : 0));
  const noUpdateErr = reconstructionError(w, noUpdate, rows, cols, h);
  assert.ok(sgpt < magErr * 0.8, `sparsegpt ${sgpt} vs magnitude ${magErr}`);
  assert.ok(sgpt < noUpdateErr * 0.8, `sparsegpt ${sgpt} vs its mask without the update ${noUpdateErr}`);
});

test('sparseGptLazy: an input never seen gets H_jj = 1 and its weights pruned to 0 first', async () => {
  const rows = 4;
  const cols = 8;
  const h = calibration(30, cols, 8);
  for (let j = 0; j < cols; j++) { h[3 * cols + j] = 0; h[j * cols + 3] = 0; }
  const w = weights(rows, cols, 9);
  const r = await sparseGptLazy(w, rows, cols, h, { sparsity: 0.25 });
  for (let row = 0; row < rows; row++) assert.equal(r.mask.get(row * cols + 3), false);
  assert.equal(r.pruned, 8);
});

test('OWL: equal outlier ratios give the target everywhere; otherwise sizes·sparsities sum to the target and span 2λ', () => {
  assert.deepEqual(owlSparsities([0.01, 0.01, 0.01], [10, 10, 10], 0.6), [0.6, 0.6, 0.6].map((v) => 1 - (1 - v)));
  const ratios = [0.002, 0.01, 0.03, 0.004];
  const sizes = [100, 100, 100, 100];
  const s = owlSparsities(ratios, sizes, 0.7, 0.08);
  const mean = s.reduce((a, v) => a + v, 0) / s.length;
  assert.ok(Math.abs(mean - 0.7) < 1e-12, `mean ${mean}`);
  assert.ok(Math.abs(Math.max(...s) - Math.min(...s) - 2 * 0.08) < 1e-12, 'the sparsities span 2λ');
  assert.ok(s[2] < s[1] && s[1] < s[3] && s[3] < s[0], 'more outliers, lower sparsity');
  const uneven = owlSparsities([0.1, 0.2, 0.05], [300, 100, 600], 0.5, 0.05);
  const pruned = uneven.reduce((a, v, i) => a + v * [300, 100, 600][i], 0);
  assert.ok(Math.abs(pruned - 500) < 1e-9, `${pruned}`);
  assert.throws(() => owlSparsities([0, 1], [1, 1], 0.97, 0.08), /outside \[0, 1\)/);
});

test('OWL: outlier ratio counts scores above M × mean; blocks come from the first numeric name component', () => {
  assert.equal(outlierRatio([1, 1, 1, 1, 1, 1, 1, 1, 1, 100], 5), 0.1);
  assert.equal(outlierRatio([1, 2, 3], 5), 0);
  assert.equal(blockOfName('h.3.attn.c_attn.weight'), 'h.3');
  assert.equal(blockOfName('model.layers.10.mlp.up_proj.weight'), 'model.layers.10');
  assert.equal(blockOfName('transformer/h/0/mlp/c_fc'), 'transformer/h/0');
  assert.equal(blockOfName('lm_head.weight'), 'lm_head.weight');
});
