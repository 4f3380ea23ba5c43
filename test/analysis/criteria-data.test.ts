import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { Rng } from '../../src/core/rng.js';
import { WeightSet, type WeightTensor } from '../../src/core/types.js';
import { prune } from '../../src/core/plan.js';
import { parsePattern } from '../../src/core/patterns.js';
import { SculptError } from '../../src/core/errors.js';
import { sparseGptLayer, inverseHessianDiagonal } from '../../src/core/criteria-data.js';
import { calibrate } from '../../src/analysis/calibration.js';

await tf.setBackend('cpu');

function tensor(name: string, shape: number[], data: Float32Array, outputAxis = 1): WeightTensor {
  return { name, shape, data, role: 'weight', op: 'Dense', prunable: true, reason: '', outputAxis };
}
const opts = (criterion: string, sparsity: number) => ({
  sparsity, scope: 'global' as const, pattern: parsePattern('unstructured'), criterion, exclude: [], overrides: new Map<string, number>(), seed: 0,
});

test('data criteria without calibration are a SculptError naming --calibration', () => {
  const ws = new WeightSet([tensor('k', [3, 2], Float32Array.of(1, 2, 3, 4, 5, 6))]);
  for (const c of ['obd', 'wanda', 'sparsegpt']) {
    assert.throws(() => prune(ws, opts(c, 0.5)), (e: unknown) => e instanceof SculptError && /--calibration/.test(e.message) && e.message.includes(c));
  }
});

test('wanda and obd score exactly |w|·‖x_j‖ and ½·h·w² through the plan', () => {
  // TF.js Dense kernel [in = 3, out = 2]: element (i, o) at i*2 + o multiplies input i.
  const w = Float32Array.of(1, -1, 1, -1, 1, -1);
  const ws = new WeightSet([tensor('k', [3, 2], w)]);
  const inputNorms = new Map([['k', Float32Array.of(3, 1, 2)]]);
  const r = prune(ws, { ...opts('wanda', 0.5), calibration: { inputNorms } });
  // Scores 3,3,1,1,2,2: the three pruned are input 1's two weights and one of input 2's (ties in file order).
  assert.deepEqual(Array.from({ length: 6 }, (_, i) => r.masks.get('k')?.get(i)), [true, true, false, false, false, true]);
  const hessianDiag = new Map([['k', Float32Array.of(1, 2, 3, 4, 5, 6)]]);
  const o = prune(ws, { ...opts('obd', 0.5), calibration: { hessianDiag } });
  assert.deepEqual(Array.from({ length: 6 }, (_, i) => o.masks.get('k')?.get(i)), [false, false, false, true, true, true]);
  // A column-major ONNX Gemm [out, in] layout reads the norms along axis 1.
  const g = new WeightSet([{ ...tensor('g', [2, 3], Float32Array.of(1, 1, 1, 1, 1, 1), 0), op: 'Gemm' }]);
  const rg = prune(g, { ...opts('wanda', 1 / 3), calibration: { inputNorms: new Map([['g', Float32Array.of(3, 1, 2)]]) } });
  assert.deepEqual(Array.from({ length: 6 }, (_, i) => rg.masks.get('g')?.get(i)), [true, false, true, true, false, true]);
});

function layerError(w: Float32Array, what: Float32Array, x: Float64Array, rows: number, cols: number, n: number): number {
  let e = 0;
  for (let s = 0; s < n; s++) for (let r = 0; r < rows; r++) {
    let d = 0;
    for (let c = 0; c < cols; c++) d += (w[r * cols + c] - what[r * cols + c]) * x[s * cols + c];
    e += d * d;
  }
  return e;
}

test('sparsegpt: exact counts, 2:4 groups, and a smaller reconstruction error than magnitude', () => {
  const rng = new Rng(5);
  const rows = 8, cols = 16, n = 64;
  const x = new Float64Array(n * cols);
  // Correlated inputs with unequal scales: where reconstruction pays.
  for (let s = 0; s < n; s++) { const z = rng.normal(); for (let c = 0; c < cols; c++) x[s * cols + c] = (0.2 + c / 8) * (0.7 * z + 0.7 * rng.normal()); }
  const w = Float32Array.from({ length: rows * cols }, () => rng.normal());
  const h = new Float64Array(cols * cols);
  for (let s = 0; s < n; s++) for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) h[i * cols + j] += x[s * cols + i] * x[s * cols + j];
  const sg = sparseGptLayer(w, rows, cols, h, { sparsity: 0.5, blockSize: 8 });
  assert.equal(sg.mask.keptCount(), 64);
  for (let i = 0; i < w.length; i++) if (!sg.mask.get(i)) assert.equal(sg.weights[i], 0);
  // Magnitude at the same sparsity, no update.
  const order = Array.from(w.keys()).sort((a, b) => Math.abs(w[a]) - Math.abs(w[b]));
  const mag = w.slice();
  for (const i of order.slice(0, 64)) mag[i] = 0;
  // Same mask as SparseGPT's, weights not updated: isolates the reconstruction.
  const masked = w.map((v, i) => (sg.mask.get(i) ? v : 0));
  const eSg = layerError(w, sg.weights, x, rows, cols, n);
  assert.ok(eSg < 0.9 * layerError(w, mag, x, rows, cols, n), `${eSg} vs magnitude ${layerError(w, mag, x, rows, cols, n)}`);
  assert.ok(eSg < layerError(w, masked, x, rows, cols, n));
  const nm = sparseGptLayer(w, rows, cols, h, { sparsity: 0, nm: { n: 2, m: 4 } });
  for (let r = 0; r < rows; r++) for (let g = 0; g < cols; g += 4) {
    let kept = 0;
    for (let t = 0; t < 4; t++) if (nm.mask.get(r * cols + g + t)) kept++;
    assert.equal(kept, 2);
  }
  const none = sparseGptLayer(w, rows, cols, h, { sparsity: 0 });
  for (let i = 0; i < w.length; i++) assert.ok(Math.abs(none.weights[i] - w[i]) < 1e-9);
  // diag(H⁻¹) of a diagonal H is 1/(h_ii + λ·mean).
  const dh = Float64Array.of(2, 0, 0, 4);
  const d = inverseHessianDiagonal(dh, 2, 0.5);
  assert.ok(Math.abs(d[0] - 1 / 3.5) < 1e-6 && Math.abs(d[1] - 1 / 5.5) < 1e-6);
});

test('obd: the Fisher diagonal equals the exact Hessian diagonal of a softmax layer (finite differences)', () => {
  const nIn = 4, nOut = 3, n = 20;
  const rng = new Rng(9);
  const W = Float64Array.from({ length: nIn * nOut }, () => rng.normal());
  const b = Float64Array.from({ length: nOut }, () => 0.3 * rng.normal());
  const X = Float32Array.from({ length: n * nIn }, () => rng.normal());
  const Y = Uint8Array.from({ length: n }, () => rng.int(nOut));
  const model = tfl.sequential({ layers: [tfl.layers.dense({ units: nOut, inputShape: [nIn], name: 'd' })] });
  model.setWeights([tf.tensor2d(Float32Array.from(W), [nIn, nOut]), tf.tensor1d(Float32Array.from(b))]);
  const loss = (w: Float64Array): number => {
    let sum = 0;
    for (let s = 0; s < n; s++) {
      const z = Array.from({ length: nOut }, (_, o) => b[o] + Array.from({ length: nIn }, (_, i) => X[s * nIn + i] * w[i * nOut + o]).reduce((a, v) => a + v, 0));
      const mx = Math.max(...z);
      sum += Math.log(z.reduce((a, v) => a + Math.exp(v - mx), 0)) + mx - z[Y[s]];
    }
    return sum / n;
  };
  const stats = calibrate(model, { images: X, labels: Y, count: n }, { samples: n, batchSize: 7 });
  const hd = stats.hessianDiag.get('d/kernel') as Float32Array;
  const g = stats.gradients.get('d/kernel') as Float32Array;
  const eps = 1e-4;
  for (let i = 0; i < W.length; i++) {
    const up = W.slice(); up[i] += eps;
    const dn = W.slice(); dn[i] -= eps;
    const l0 = loss(W), lu = loss(up), ld = loss(dn);
    const exactH = (lu - 2 * l0 + ld) / (eps * eps);
    const exactG = (lu - ld) / (2 * eps);
    assert.ok(Math.abs(hd[i] - exactH) < 2e-3 * Math.max(exactH, 1e-2), `H[${i}] ${hd[i]} vs ${exactH}`);
    assert.ok(Math.abs(g[i] - exactG) < 1e-4, `g[${i}] ${g[i]} vs ${exactG}`);
  }
  // ‖X_j‖ over the 20 examples.
  const norms = stats.inputNorms.get('d/kernel') as Float32Array;
  for (let i = 0; i < nIn; i++) {
    let s = 0;
    for (let k = 0; k < n; k++) s += X[k * nIn + i] ** 2;
    assert.ok(Math.abs(norms[i] - Math.sqrt(s)) < 1e-4);
  }
  model.dispose();
});
