import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../../src/core/rng.js';
import { setupBackend } from '../../src/train/backend.js';
import { FusedOptimizer } from '../../src/train/optimizer.js';

/** Minimises Σ(w·x − y)² for 20 steps with `step` and returns the final weights. */
function descend(step: (v: tf.Variable, g: tf.NamedTensorMap) => void, seed: number): Float32Array {
  const rng = new Rng(seed);
  const w0 = Float32Array.from({ length: 64 }, () => rng.normal());
  const x = tf.tensor(Float32Array.from({ length: 8 * 64 }, () => rng.normal()), [8, 64]);
  const y = tf.tensor(Float32Array.from({ length: 8 }, () => rng.normal()), [8, 1]);
  const v = tf.variable(tf.tensor(w0, [64, 1]), true);
  for (let i = 0; i < 20; i++) {
    tf.tidy(() => {
      const { grads } = tf.variableGrads(() => tf.sum(tf.square(tf.sub(tf.matMul(x, v), y))) as tf.Scalar, [v]);
      step(v, grads);
    });
  }
  const out = v.dataSync() as Float32Array;
  v.dispose(); x.dispose(); y.dispose();
  return out.slice();
}

for (const [kind, momentum] of [['adam', 0], ['sgd', 0.9], ['sgd', 0]] as const) {
  test(`fused ${kind}${momentum ? ' + momentum' : ''} matches tfjs's optimizer within 1e-5`, async () => {
    await setupBackend('wasm');
    const lr = kind === 'adam' ? 0.05 : 0.002;
    const ref = kind === 'adam' ? tf.train.adam(lr) : momentum > 0 ? tf.train.momentum(lr, momentum) : tf.train.sgd(lr);
    const a = descend((_v, g) => ref.applyGradients(g as never), 1);
    const fused = new FusedOptimizer({ kind, lr, momentum });
    const b = descend((v, g) => fused.apply([v], g), 1);
    let worst = 0;
    let moved = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
    const start = descend(() => {}, 1);
    for (let i = 0; i < a.length; i++) moved = Math.max(moved, Math.abs(a[i] - start[i]));
    assert.ok(moved > 0.01, 'the reference did move');
    assert.ok(worst < 1e-5, `max difference ${worst}`);
    assert.equal(fused.step, 20);
  });
}

test('fused optimizer with a mask: pruned weights and state +0, kept ones as without the mask (67 weights: the tail too)', async () => {
  await setupBackend('wasm');
  const n = 67;
  const rng = new Rng(5);
  const w0 = Float32Array.from({ length: n }, () => rng.normal());
  const g0 = Float32Array.from({ length: n }, () => rng.normal());
  const mask = Float32Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 0 : 1));
  for (const [kind, momentum] of [['adam', 0], ['sgd', 0.9], ['sgd', 0]] as const) {
    const run = (m?: Float32Array) => {
      const opt = new FusedOptimizer({ kind, lr: 0.01, momentum });
      const v = tf.variable(tf.tensor(w0, [n]), true, `w-${kind}-${momentum}-${m ? 'masked' : 'plain'}`);
      for (let s = 0; s < 3; s++) tf.tidy(() => opt.apply([v], { [v.name]: tf.tensor(g0, [n]) }, m ? new Map([[v.name, m]]) : undefined));
      const out = { w: (v.dataSync() as Float32Array).slice(), state: opt.state(v.name) };
      v.dispose();
      return out;
    };
    const plain = run(), masked = run(mask);
    for (let i = 0; i < n; i++) {
      if (mask[i] === 0) {
        assert.ok(Object.is(masked.w[i], 0), `${kind} w[${i}] = ${masked.w[i]}`);
        if (masked.state.m) assert.ok(Object.is(masked.state.m[i], 0), `${kind} m[${i}]`);
        if (masked.state.v) assert.ok(Object.is(masked.state.v[i], 0), `${kind} v[${i}]`);
      } else {
        assert.equal(masked.w[i], plain.w[i], `${kind} w[${i}]`);
        assert.notEqual(masked.w[i], w0[i], `${kind} w[${i}] moved`);
      }
    }
  }
});

test('fused optimizer on the wasm heap: the same bits as in its own memory, across a backend switch, and nothing left behind', async () => {
  const n = 1001;
  const rng = new Rng(9);
  const w0 = Float32Array.from({ length: n }, () => rng.normal());
  const gs = [0, 1, 2, 3].map(() => Float32Array.from({ length: n }, () => rng.normal()));
  const mask = Float32Array.from({ length: n }, (_, i) => (i % 5 === 0 ? 0 : 1));
  for (const [kind, momentum] of [['adam', 0], ['sgd', 0.9], ['sgd', 0]] as const) {
    /** Four steps, each on the backend `on[s]`, with the fixed gradients and the mask from step 2. */
    const run = async (on: readonly ('wasm' | 'cpu')[]) => {
      const opt = new FusedOptimizer({ kind, lr: 0.01, momentum });
      await setupBackend(on[0]);
      let v = tf.variable(tf.tensor(w0, [n]), true, `h-${kind}-${momentum}-${on.join('')}`);
      const counts: number[] = [];
      for (let s = 0; s < on.length; s++) {
        if (s > 0 && on[s] !== on[s - 1]) {
          const values = v.dataSync().slice();
          v.dispose();
          await setupBackend(on[s]);
          // The same name: the optimizer's state is the variable's by name.
          v = tf.variable(tf.tensor(values, [n]), true, `h-${kind}-${momentum}-${on.join('')}`);
        }
        tf.tidy(() => opt.apply([v], { [v.name]: tf.tensor(gs[s], [n]) }, s >= 2 ? new Map([[v.name, mask]]) : undefined));
        counts.push(tf.memory().numTensors);
      }
      const out = { w: (v.dataSync() as Float32Array).slice(), state: opt.state(v.name), counts };
      v.dispose();
      opt.release();
      return out;
    };
    const own = await run(['cpu', 'cpu', 'cpu', 'cpu']);
    const heap = await run(['wasm', 'wasm', 'wasm', 'wasm']);
    const switched = await run(['wasm', 'wasm', 'cpu', 'wasm']);
    for (const other of [heap, switched]) {
      assert.deepEqual(other.w, own.w, kind);
      assert.deepEqual(other.state.m, own.state.m, kind);
      assert.deepEqual(other.state.v, own.state.v, kind);
    }
    // On the heap every step leaves as many tensors as the one before.
    assert.ok(heap.counts.every((c) => c === heap.counts[0]), `${kind}: tensors per step ${heap.counts.join(', ')}`);
  }
  await setupBackend('wasm');
});
