import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { Mask } from '../../src/core/mask.js';
import { Rng } from '../../src/core/rng.js';
import { setupBackend } from '../../src/train/backend.js';
import { loadDataset } from '../../src/train/data.js';
import { DEFAULT_TRAIN_CONFIG, trainModel, type StepContext } from '../../src/train/loop.js';
import { MaskState } from '../../src/train/masking.js';
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

for (const [optimizer, momentum] of [['adam', 0], ['sgd', 0.9], ['sgd', 0]] as const) {
  test(`pruned weights stay exactly 0 over 100 steps: ${optimizer}${momentum > 0 ? ' with momentum' : ''}, L1 + L2 on`, async () => {
    await setupBackend('wasm');
    const data = loadDataset({ dataset: 'fashion-mnist', dataDir: SUBSET, trainLimit: 1200, testLimit: 10 });
    const model = await buildModel('lenet-300-100', { inputShape: data.imageShape, classes: 10, seed: 3 });
    const ws = toWeightSet(model);
    const kernels = ws.tensors.filter((t) => t.prunable);
    const masks = randomMasks(kernels.map((t) => t.name), kernels.map((t) => t.data.length), 11);
    const state = new MaskState(model, masks);
    let ctx: StepContext | undefined;
    const r = trainModel(model, data.train, { ...DEFAULT_TRAIN_CONFIG, epochs: 5, optimizer, momentum, lr: optimizer === 'sgd' ? 0.05 : 2e-3, l1: 1e-5, l2: 1e-4 }, state, {
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

test('Adam m and v are exactly 0 at pruned positions (and live elsewhere), also after a mask change', async () => {
  await setupBackend('wasm');
  const data = loadDataset({ dataset: 'fashion-mnist', dataDir: SUBSET, trainLimit: 600, testLimit: 10 });
  const model = await buildModel('lenet-300-100', { inputShape: data.imageShape, classes: 10, seed: 4 });
  const kernels = toWeightSet(model).tensors.filter((t) => t.prunable);
  const first = randomMasks(kernels.map((t) => t.name), kernels.map((t) => t.data.length), 5);
  const second = new Map([...first].map(([n, m]) => [n, m.and(randomMasks([n], [m.length], 6).get(n) as Mask)]));
  const byVar = new Map(modelWeights(model).map((w) => [w.name, w.variable.name]));
  let checked = 0;
  const check = (ctx: StepContext, masks: Map<string, Mask>): void => {
    for (const [name, m] of masks) {
      const st = ctx.optimizer.state(byVar.get(name) as string);
      for (const arr of [st.m, st.v]) {
        assert.ok(arr !== undefined);
        let live = 0;
        for (let i = 0; i < m.length; i++) {
          if (!m.get(i)) assert.ok(arr[i] === 0, `${name}[${i}] state ${arr[i]}`);
          else if (arr[i] !== 0) live++;
        }
        assert.ok(live > 0, `${name} has live state`);
        checked++;
      }
    }
  };
  trainModel(model, data.train, { ...DEFAULT_TRAIN_CONFIG, epochs: 1 }, new MaskState(model, first), {
    onStep: (step, ctx) => {
      if (step === 5) check(ctx, first);
      if (step === 6) { ctx.setMasks(new MaskState(model, second)); check(ctx, second); }
      if (step === 9) check(ctx, second);
    },
  });
  assert.equal(checked, 3 * 3 * 2, 'three checks × three kernels × (m, v)');
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
