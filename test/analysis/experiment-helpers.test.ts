import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { Rng } from '../../src/core/rng.js';
import { calibrate } from '../../src/analysis/calibration.js';
import { applySparseGpt } from '../../src/analysis/experiments/criteria.js';
import { perClassAccuracy } from '../../src/analysis/experiments/training.js';
import { randomlyRelabelled, softThresholdHooks } from '../../src/analysis/experiments/trained-pruning.js';
import { modelWeights } from '../../src/train/weights.js';

await tf.setBackend('cpu');

function tinyModel(seed: number): tfl.LayersModel {
  const rng = new Rng(seed);
  const m = tfl.sequential({ layers: [
    tfl.layers.dense({ units: 8, inputShape: [12], activation: 'relu', name: 'fc1' }),
    tfl.layers.dense({ units: 4, name: 'fc2' }),
  ] });
  m.setWeights(m.getWeights().map((w) => tf.tensor(Float32Array.from({ length: w.size }, () => rng.normal() * 0.5), w.shape)));
  return m;
}

test('applySparseGpt on TF.js [in, out] kernels: mask and zeros agree, exact counts, 2:4 along inputs', () => {
  const model = tinyModel(1);
  const rng = new Rng(2);
  const split = { images: Float32Array.from({ length: 40 * 12 }, () => rng.normal()), labels: Uint8Array.from({ length: 40 }, () => rng.int(4)), count: 40 };
  const stats = calibrate(model, split, { samples: 40, want: { inputHessians: true } });
  const masks = applySparseGpt(model, stats, new Map([['fc1/kernel', 0.5], ['fc2/kernel', 0.25]]));
  for (const w of modelWeights(model).filter((x) => x.name.endsWith('kernel'))) {
    const v = w.variable.dataSync();
    const m = masks.get(w.name);
    assert.ok(m !== undefined);
    for (let i = 0; i < v.length; i++) assert.equal(v[i] === 0, !m.get(i), `${w.name}[${i}]`);
    const [nIn, nOut] = w.variable.shape;
    // Per block of columns (inputs) the count is exact: blocks of 128 ≥ nIn, so one block per layer.
    assert.equal(m.prunedCount(), Math.round((w.name === 'fc1/kernel' ? 0.5 : 0.25) * nIn * nOut));
  }
  const model2 = tinyModel(1);
  const nm = applySparseGpt(model2, stats, new Map([['fc1/kernel', 0.5]]), { n: 2, m: 4 });
  const m = nm.get('fc1/kernel');
  assert.ok(m !== undefined);
  // Kernel [12, 8]: element (i, o) at i*8 + o; each neuron o keeps 2 of inputs 4g..4g+3.
  for (let o = 0; o < 8; o++) for (let g = 0; g < 12; g += 4) {
    let kept = 0;
    for (let t = 0; t < 4; t++) if (m.get((g + t) * 8 + o)) kept++;
    assert.equal(kept, 2);
  }
  model.dispose();
  model2.dispose();
});

test('soft-thresholding shrinks each kernel weight by τ toward zero and leaves biases alone', () => {
  const model = tinyModel(3);
  const before = modelWeights(model).map((w) => Float32Array.from(w.variable.dataSync()));
  const st = softThresholdHooks(model, 0.3);
  st.finish();
  modelWeights(model).forEach((w, k) => {
    const after = w.variable.dataSync();
    const kernel = w.name.endsWith('kernel');
    for (let i = 0; i < after.length; i++) {
      const b = before[k][i];
      const expected = kernel ? Math.sign(b) * Math.max(Math.abs(b) - 0.3, 0) : b;
      assert.ok(Math.abs(after[i] - expected) < 1e-6, `${w.name}[${i}]`);
    }
  });
  model.dispose();
});

test('per-class accuracy and random relabelling', () => {
  // 4 examples, 2 classes: logits pick 0, 1, 1, 0; labels 0, 0, 1, 1.
  const r = perClassAccuracy(Float32Array.of(2, 1, 0, 3, 1, 5, 4, 0), Uint8Array.of(0, 0, 1, 1), 2);
  assert.deepEqual(r.accuracy, [0.5, 0.5]);
  assert.deepEqual(r.count, [2, 2]);
  const split = { images: new Float32Array(5000), labels: new Uint8Array(5000), count: 5000 };
  const rl = randomlyRelabelled(split, 10, 1);
  const counts = new Array(10).fill(0);
  for (const l of rl.labels) counts[l]++;
  for (const c of counts) assert.ok(Math.abs(c - 500) < 4 * Math.sqrt(500 * 0.9), String(counts));
  assert.deepEqual(randomlyRelabelled(split, 10, 1).labels, rl.labels);
});
