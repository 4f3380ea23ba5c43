import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { Mask } from '../../src/core/mask.js';
import { Rng } from '../../src/core/rng.js';
import { setupBackend } from '../../src/train/backend.js';
import { loadDataset } from '../../src/train/data.js';
import { DEFAULT_TRAIN_CONFIG, trainModel, type StepContext } from '../../src/train/loop.js';
import { MaskState, type MaskEnforcement } from '../../src/train/masking.js';
import { modelWeights, toWeightSet } from '../../src/train/weights.js';
import { buildModel } from '../../src/train/zoo.js';
import { SUBSET } from './helpers.js';

function randomMasks(names: string[], sizes: number[], seed: number): Map<string, Mask> {
  const rng = new Rng(seed);
  const out = new Map<string, Mask>();
  names.forEach((n, i) => {
    const m = Mask.full(sizes[i]);
    for (let j = 0; j < sizes[i]; j++) if (rng.next() < 0.6) m.set(j, false);
    out.set(n, m);
  });
  return out;
}

for (const [optimizer, enforcement] of [['adam', 'gradient'], ['adam', 'weights'], ['sgd', 'gradient'], ['sgd', 'weights']] as const) {
  test(`pruned weights and their ${optimizer} state stay exactly 0 over 100 steps (${enforcement} mode, L1+L2 on)`, async () => {
    await setupBackend('wasm');
    const data = loadDataset({ dataset: 'fashion-mnist', dataDir: SUBSET, trainLimit: 1200, testLimit: 10 });
    const model = await buildModel('lenet-300-100', { inputShape: data.imageShape, classes: 10, seed: 3 });
    const ws = toWeightSet(model);
    const kernels = ws.tensors.filter((t) => t.prunable);
    const masks = randomMasks(kernels.map((t) => t.name), kernels.map((t) => t.data.length), 11);
    const state = new MaskState(model, masks, enforcement as MaskEnforcement);
    let ctx: StepContext | undefined;
    const r = trainModel(model, data.train, { ...DEFAULT_TRAIN_CONFIG, epochs: 5, optimizer, lr: optimizer === 'sgd' ? 0.05 : 2e-3, l1: 1e-5, l2: 1e-4 }, state, {
      onStep: (step, c) => { if (step === 99) ctx = c; },
    });
    assert.equal(r.steps, 100);
    let pruned = 0;
    let changed = 0;
    const after = toWeightSet(model);
    for (const t of kernels) {
      const m = masks.get(t.name) as Mask;
      const now = (after.get(t.name) as { data: Float32Array }).data;
      for (let i = 0; i < m.length; i++) {
        if (!m.get(i)) {
          pruned++;
          // === 0 holds for −0 too (a negative weight times a 0 mask); both are exact zeros.
          assert.ok(now[i] === 0, `${t.name}[${i}] = ${now[i]}`);
        } else if (now[i] !== t.data[i]) changed++;
      }
    }
    assert.ok(pruned > 0.55 * kernels.reduce((n, t) => n + t.data.length, 0));
    assert.ok(changed > 1000, 'kept weights did train');
    assert.ok(ctx !== undefined);
    r.masks?.dispose();
    model.dispose();
  });
}

test('Adam m and v are exactly 0 at pruned positions after training steps', async () => {
  await setupBackend('wasm');
  const data = loadDataset({ dataset: 'fashion-mnist', dataDir: SUBSET, trainLimit: 600, testLimit: 10 });
  const model = await buildModel('lenet-300-100', { inputShape: data.imageShape, classes: 10, seed: 4 });
  const kernels = toWeightSet(model).tensors.filter((t) => t.prunable);
  const masks = randomMasks(kernels.map((t) => t.name), kernels.map((t) => t.data.length), 5);
  let checked = 0;
  trainModel(model, data.train, { ...DEFAULT_TRAIN_CONFIG, epochs: 1 }, new MaskState(model, masks), {
    onStep: (step, ctx) => {
      if (step !== 9) return;
      const o = ctx.optimizer as unknown as { accumulatedFirstMoment: Array<{ originalName: string; variable: tf.Variable }>; accumulatedSecondMoment: Array<{ originalName: string; variable: tf.Variable }> };
      const byVar = new Map(modelWeights(model).map((w) => [w.variable.name, w.name]));
      for (const state of [...o.accumulatedFirstMoment, ...o.accumulatedSecondMoment]) {
        const name = byVar.get(state.originalName.replace(/\/[mv]$/, ''));
        const m = name === undefined ? undefined : masks.get(name);
        if (m === undefined) continue;
        const v = state.variable.dataSync();
        let nonzeroKept = 0;
        for (let i = 0; i < m.length; i++) {
          if (!m.get(i)) assert.ok(v[i] === 0, `${state.originalName}[${i}] = ${v[i]}`);
          else if (v[i] !== 0) nonzeroKept++;
        }
        assert.ok(nonzeroKept > 0, `${state.originalName} has live state`);
        checked++;
      }
    },
  });
  assert.equal(checked, 6, 'three kernels × (m, v)');
  model.dispose();
});

test('no tensor leaks: tf.memory().numTensors is flat across epochs', async () => {
  await setupBackend('wasm');
  const data = loadDataset({ dataset: 'fashion-mnist', dataDir: SUBSET, trainLimit: 300, testLimit: 10 });
  const model = await buildModel('lenet-300-100', { inputShape: data.imageShape, classes: 10, seed: 5 });
  const kernels = toWeightSet(model).tensors.filter((t) => t.prunable);
  const state = new MaskState(model, randomMasks(kernels.map((t) => t.name), kernels.map((t) => t.data.length), 6));
  const counts: number[] = [];
  trainModel(model, data.train, { ...DEFAULT_TRAIN_CONFIG, epochs: 4, dropout: 0.2, l2: 1e-4 }, state, {
    onProgress: (p) => { if (p.done) counts.push(tf.memory().numTensors); },
  });
  assert.equal(counts.length, 4);
  assert.deepEqual(counts, [counts[0], counts[0], counts[0], counts[0]], `tensor counts per epoch ${counts}`);
  const before = tf.memory().numTensors;
  trainModel(model, data.train, { ...DEFAULT_TRAIN_CONFIG, epochs: 1 }, undefined);
  assert.equal(tf.memory().numTensors, before, 'a whole training call leaves nothing behind');
  state.dispose();
  model.dispose();
});
