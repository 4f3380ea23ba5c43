import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../../src/core/rng.js';
import { setupBackend } from '../../src/train/backend.js';

function randn(shape: number[], seed: number): Float32Array {
  const rng = new Rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return Float32Array.from({ length: n }, () => rng.normal());
}

/** Runs `f` on a backend and returns every output's values. */
async function on(backend: 'cpu' | 'wasm', f: () => tf.Tensor[]): Promise<Float32Array[]> {
  await setupBackend(backend);
  assert.equal(tf.getBackend(), backend);
  return tf.tidy(() => f().map((t) => t.dataSync() as Float32Array));
}

function assertClose(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, what);
  let scale = 0;
  for (const v of b) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  assert.ok(scale > 0, `${what}: reference is all zeros`);
  assert.ok(worst <= 1e-4 * scale + 1e-5, `${what}: max |wasm − cpu| ${worst} vs scale ${scale}`);
}

const convCases: Array<{ x: number[]; w: number[]; stride: number; pad: 'same' | 'valid' }> = [
  { x: [2, 9, 9, 3], w: [3, 3, 3, 5], stride: 1, pad: 'same' },
  { x: [2, 8, 7, 4], w: [3, 2, 4, 6], stride: 1, pad: 'valid' },
  { x: [1, 10, 10, 2], w: [3, 3, 2, 4], stride: 2, pad: 'same' },
  { x: [3, 6, 6, 1], w: [5, 5, 1, 8], stride: 1, pad: 'same' },
];

for (const c of convCases) {
  test(`Conv2D gradients on wasm match cpu: x ${c.x} w ${c.w} stride ${c.stride} ${c.pad}`, async () => {
    const xv = randn(c.x, 1);
    const wv = randn(c.w, 2);
    const run = (): tf.Tensor[] => {
      const g = tf.grads((x: tf.Tensor, w: tf.Tensor) => tf.sum(tf.square(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.stride, c.pad))));
      return g([tf.tensor(xv, c.x), tf.tensor(wv, c.w)]);
    };
    const cpu = await on('cpu', run);
    const wasm = await on('wasm', run);
    assertClose(wasm[0], cpu[0], 'dx (Conv2DBackpropInput)');
    assertClose(wasm[1], cpu[1], 'dw (Conv2DBackpropFilter)');
  });
}

test('DepthwiseConv2dNative gradients on wasm match cpu (filter and input)', async () => {
  for (const c of [{ x: [2, 7, 7, 3], w: [3, 3, 3, 2], stride: 1, pad: 'same' as const }, { x: [1, 9, 8, 4], w: [3, 3, 4, 1], stride: 2, pad: 'valid' as const }]) {
    const xv = randn(c.x, 3);
    const wv = randn(c.w, 4);
    const run = (): tf.Tensor[] => {
      const g = tf.grads((x: tf.Tensor, w: tf.Tensor) => tf.sum(tf.square(tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.stride, c.pad))));
      return g([tf.tensor(xv, c.x), tf.tensor(wv, c.w)]);
    };
    const cpu = await on('cpu', run);
    const wasm = await on('wasm', run);
    assertClose(wasm[0], cpu[0], `dx depthwise ${c.x}`);
    assertClose(wasm[1], cpu[1], `dw depthwise ${c.w}`);
  }
});

test('transposed matMul on wasm (the replaced BatchMatMul) matches cpu for every transpose combination', async () => {
  const a = randn([7, 5], 5);
  const b = randn([5, 6], 6);
  for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
    const run = (): tf.Tensor[] => {
      const A = ta ? tf.transpose(tf.tensor(a, [7, 5])) : tf.tensor(a, [7, 5]);
      const B = tb ? tf.transpose(tf.tensor(b, [5, 6])) : tf.tensor(b, [5, 6]);
      return [tf.matMul(A, B, ta, tb)];
    };
    const cpu = await on('cpu', run);
    const wasm = await on('wasm', run);
    assertClose(wasm[0], cpu[0], `matMul transposeA=${ta} transposeB=${tb}`);
  }
  // Batched (rank 3) products still go to the original kernel.
  const run3 = (): tf.Tensor[] => [tf.matMul(tf.tensor(randn([2, 3, 4], 7), [2, 3, 4]), tf.tensor(randn([2, 5, 4], 8), [2, 5, 4]), false, true)];
  assertClose((await on('wasm', run3))[0], (await on('cpu', run3))[0], 'batched matMul transposeB');
});

test('sculpt kernels are the ones registered on wasm', async () => {
  await setupBackend('wasm');
  assert.equal(tf.getKernel('Conv2DBackpropFilter', 'wasm')?.kernelFunc.name, 'conv2DBackpropFilter');
  assert.equal(tf.getKernel('Conv2DBackpropInput', 'wasm')?.kernelFunc.name, 'conv2DBackpropInput');
  assert.equal(tf.getKernel('DepthwiseConv2dNativeBackpropFilter', 'wasm')?.kernelFunc.name, 'depthwiseBackpropFilter');
  assert.equal(tf.getKernel('DepthwiseConv2dNativeBackpropInput', 'wasm')?.kernelFunc.name, 'depthwiseBackpropInput');
  assert.equal(tf.getKernel('BatchMatMul', 'wasm')?.kernelFunc.name, 'batchMatMul');
  assert.equal(tf.getKernel('_FusedMatMul', 'wasm')?.kernelFunc.name, 'fusedMatMul');
});

test('Dense products on sculpt\'s kernel over the heap match cpu: every transpose, shapes off the 4-lane grid, bias and ReLU', async () => {
  // [m, k, n]: m and n multiples of 4 or not, so both the direct and the transposed form run
  // (and the fallback where neither applies); k odd, so the kernel's tails run too.
  const shapes: [number, number, number][] = [[8, 9, 12], [7, 5, 6], [12, 3, 10], [60, 33, 20], [5, 7, 3]];
  for (const [m, k, n] of shapes) {
    const a = randn([m, k], m), b = randn([k, n], n), bias = randn([n], k);
    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
      for (const act of ['none', 'linear', 'relu'] as const) {
        const run = (): tf.Tensor[] => {
          const A = ta ? tf.transpose(tf.tensor(a, [m, k])) : tf.tensor(a, [m, k]);
          const B = tb ? tf.transpose(tf.tensor(b, [k, n])) : tf.tensor(b, [k, n]);
          if (act === 'none') return [tf.matMul(A, B, ta, tb)];
          return [tf.fused.matMul({ a: A, b: B, transposeA: ta, transposeB: tb, bias: tf.tensor(bias, [n]), activation: act })];
        };
        const cpu = await on('cpu', run);
        const wasm = await on('wasm', run);
        assertClose(wasm[0], cpu[0], `[${m}, ${k}]·[${k}, ${n}] transposeA=${ta} transposeB=${tb} ${act}`);
      }
    }
  }
  // The gradients of a fused Dense product, through both products of backprop.
  const x = randn([60, 33], 1), w = randn([33, 20], 2), bb = randn([20], 3);
  const grads = (): tf.Tensor[] => {
    const W = tf.tensor(w, [33, 20]), X = tf.tensor(x, [60, 33]), B = tf.tensor(bb, [20]);
    const g = tf.grads((xx: tf.Tensor, ww: tf.Tensor, b2: tf.Tensor) => tf.sum(tf.square(tf.fused.matMul({ a: xx, b: ww, bias: b2, activation: 'relu' }))));
    return g([X, W, B]);
  };
  const cpu = await on('cpu', grads);
  const wasm = await on('wasm', grads);
  for (let i = 0; i < 3; i++) assertClose(wasm[i], cpu[i], `gradient ${['x', 'w', 'bias'][i]}`);
  // No tensor is left behind by the products.
  await setupBackend('wasm');
  const before = tf.memory().numTensors;
  tf.tidy(() => { tf.matMul(tf.tensor(x, [60, 33]), tf.tensor(w, [33, 20])).dataSync(); });
  assert.equal(tf.memory().numTensors, before);
});
