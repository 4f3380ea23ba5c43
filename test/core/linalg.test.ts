// The blocked Cholesky and triangular inverse (core/linalg.ts) against the textbook loops, for sizes
// that are not multiples of the block, with sculpt's JavaScript product and with onnxruntime's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { choleskyLower, choleskyLowerInPlace, lowerInverse, matMulJs, type MatMul } from '../../src/core/linalg.js';
import { OrtMatMul } from '../../src/api/sequential-ort.js';
import { sparseGptLazy } from '../../src/core/sparsegpt-lazy.js';

/** A random symmetric positive definite n×n matrix: BᵀB/n + I. */
function spd(n: number, seed: number): Float64Array {
  let s = seed >>> 0;
  const r = () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) - 0.5;
  const b = Float64Array.from({ length: n * n }, r);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    let v = 0;
    for (let k = 0; k < n; k++) v += b[k * n + i] * b[k * n + j];
    a[i * n + j] = v / n + (i === j ? 1 : 0);
  }
  return a;
}

async function check(mm: MatMul, n: number, block: number): Promise<void> {
  const a = spd(n, n * 7 + block);
  const ref = choleskyLower(a, n);
  const l = Float64Array.from(a);
  await choleskyLowerInPlace(l, n, mm, undefined, block);
  for (let i = 0; i < n * n; i++) assert.ok(Math.abs(l[i] - ref[i]) < 1e-12, `L[${Math.floor(i / n)}, ${i % n}]: ${l[i]} vs ${ref[i]}`);
  const x = await lowerInverse(l, n, mm, block);
  // X is lower triangular and L·X = I.
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (j > i) { assert.equal(x[i * n + j], 0); continue; }
      let v = 0;
      for (let k = j; k <= i; k++) v += l[i * n + k] * x[k * n + j];
      assert.ok(Math.abs(v - (i === j ? 1 : 0)) < 1e-12, `(L·X)[${i}, ${j}] = ${v}`);
    }
  }
}

test('choleskyLowerInPlace and lowerInverse: the textbook factor and L·X = I, blocks of 1, 7 and 16 on n = 1, 23, 40', async () => {
  for (const n of [1, 23, 40]) for (const block of [1, 7, 16]) await check(matMulJs, n, block);
});

test('the same on onnxruntime\'s float64 MatMul, n = 800 with the default block of 256 (trailing updates in two chunks)', async () => {
  const ort = await OrtMatMul.create();
  try {
    await check(ort.matmul, 37, 8);
    const n = 800;
    const a = spd(n, 3);
    const ref = choleskyLower(a, n);
    await choleskyLowerInPlace(a, n, ort.matmul);
    let worst = 0;
    for (let i = 0; i < n * n; i++) worst = Math.max(worst, Math.abs(a[i] - ref[i]));
    assert.ok(worst < 1e-12, `largest difference ${worst}`);
  } finally {
    await ort.release();
  }
});

test('choleskyLowerInPlace: a matrix that is not positive definite names its pivot', async () => {
  const a = Float64Array.from([4, 2, 0, 2, 1, 0, 0, 0, 1]);
  await assert.rejects(choleskyLowerInPlace(a, 3, matMulJs, (j) => `pivot ${j}`, 2), /pivot 1/);
});

test('sparseGptLazy on onnxruntime\'s products: the same mask and weights within 1e-9 as in JavaScript', async () => {
  const rows = 48;
  const cols = 300;
  const h = spd(cols, 11);
  const w = Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i * 0.37));
  const ort = await OrtMatMul.create();
  try {
    for (const o of [{ sparsity: 0.5 }, { sparsity: 0, nm: { n: 2, m: 4 } }]) {
      const js = await sparseGptLazy(w, rows, cols, h, { ...o, blockSize: 64 });
      const fast = await sparseGptLazy(w, rows, cols, h, { ...o, blockSize: 64, matmul: ort.matmul });
      assert.deepEqual(fast.mask.words, js.mask.words);
      assert.equal(fast.pruned, js.pruned);
      for (let i = 0; i < js.weights.length; i++) assert.ok(Math.abs(fast.weights[i] - js.weights[i]) <= 1e-9 * Math.max(1, Math.abs(js.weights[i])), `weight ${i}`);
    }
  } finally {
    await ort.release();
  }
});
