import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { SculptError } from '../../src/core/errors.js';
import { setupBackend } from '../../src/train/backend.js';
import { loadDataset } from '../../src/train/data.js';
import { DEFAULT_TRAIN_CONFIG, evaluate, trainModel } from '../../src/train/loop.js';
import { loadModelFolder, saveModelFolder } from '../../src/train/model-io.js';
import { snapshotWeights, toWeightSet } from '../../src/train/weights.js';
import { buildModel, fans } from '../../src/train/zoo.js';
import { SUBSET } from './helpers.js';
import { tempDir } from '../fixtures/temp.js';

const shape = { inputShape: [28, 28, 1] as [number, number, number], classes: 10 };

test('zoo models: parameter counts, names, prunable kernels and output axes', async () => {
  await setupBackend('wasm');
  const lenet = await buildModel('lenet-300-100', { ...shape, seed: 1 });
  const ws = toWeightSet(lenet);
  assert.equal(ws.parameterCount, 784 * 300 + 300 + 300 * 100 + 100 + 100 * 10 + 10);
  assert.deepEqual(ws.tensors.map((t) => `${t.name}:${t.prunable}:${t.outputAxis}`), [
    'fc1/kernel:true:1', 'fc1/bias:false:0', 'fc2/kernel:true:1', 'fc2/bias:false:0', 'fc3/kernel:true:1', 'fc3/bias:false:0',
  ]);
  const expected: Record<string, number[]> = { 'conv-2': [64, 64], 'conv-4': [64, 64, 128, 128], 'conv-6': [64, 64, 128, 128, 256, 256] };
  for (const [name, widths] of Object.entries(expected)) {
    const m = await buildModel(name, { ...shape, seed: 1 });
    const convs = toWeightSet(m).tensors.filter((t) => t.op === 'Conv');
    assert.deepEqual(convs.map((t) => t.shape[3]), widths);
    assert.ok(convs.every((t) => t.prunable && t.outputAxis === 3 && t.shape[0] === 3 && t.shape[1] === 3));
    const dense = toWeightSet(m).tensors.filter((t) => t.op === 'Dense').map((t) => t.shape[1]);
    assert.deepEqual(dense, [256, 256, 10]);
    assert.deepEqual(m.outputs[0].shape, [null, 10]);
    m.dispose();
  }
  lenet.dispose();
});

test('seeded Glorot init: same seed same weights, other seed different, limits respected', async () => {
  await setupBackend('wasm');
  const a = snapshotWeights(await buildModel('conv-2', { ...shape, seed: 42 }));
  const b = snapshotWeights(await buildModel('conv-2', { ...shape, seed: 42 }));
  const c = snapshotWeights(await buildModel('conv-2', { ...shape, seed: 43 }));
  for (const [name, v] of a) {
    assert.deepEqual(v, b.get(name), name);
    if (name.endsWith('kernel')) {
      assert.notDeepEqual(v, c.get(name), name);
    } else {
      assert.ok(v.every((x) => x === 0), `${name} starts at zero`);
    }
  }
  const k = a.get('conv2/kernel') as Float32Array;
  const [fi, fo] = fans([3, 3, 64, 64]);
  const limit = Math.sqrt(6 / (fi + fo));
  let max = 0;
  for (const x of k) max = Math.max(max, Math.abs(x));
  assert.ok(max <= limit && max > 0.95 * limit, `max |w| ${max} vs limit ${limit}`);
});

test('TF.js layers folder: save, load, same weights and same predictions; usable as --model', async () => {
  await setupBackend('wasm');
  const dir = tempDir('tfjs-');
  const model = await buildModel('lenet-300-100', { ...shape, seed: 9 });
  await saveModelFolder(model, dir);
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
  assert.equal(json.format, 'layers-model');
  assert.deepEqual(json.weightsManifest[0].paths, ['./weights.bin']);
  assert.equal(readFileSync(join(dir, 'weights.bin')).length, 4 * toWeightSet(model).parameterCount);
  const back = await loadModelFolder(dir);
  assert.deepEqual([...snapshotWeights(back)], [...snapshotWeights(model)]);
  const viaZoo = await buildModel(dir, { ...shape, seed: 0 });
  assert.deepEqual([...snapshotWeights(viaZoo)], [...snapshotWeights(model)], 'a folder keeps its own weights');
  const x = tf.randomUniform([3, 28, 28, 1], 0, 1, 'float32', 1);
  assert.deepEqual((model.predict(x) as tf.Tensor).dataSync(), (back.predict(x) as tf.Tensor).dataSync());
  writeFileSync(join(dir, 'model.json'), '{"nope": 1}');
  await assert.rejects(loadModelFolder(dir), (e: unknown) => e instanceof SculptError && /not a TF.js layers model/.test(e.message));
  await assert.rejects(buildModel('lenet-9000', { ...shape, seed: 0 }), (e: unknown) => e instanceof SculptError && /--model lenet-9000/.test(e.message));
});

test('conv-2 trains on the wasm backend (loss falls, accuracy above chance)', async () => {
  await setupBackend('wasm');
  const data = loadDataset({ dataset: 'fashion-mnist', dataDir: SUBSET, trainLimit: 240, testLimit: 200 });
  const model = await buildModel('conv-2', { ...shape, seed: 1 });
  const losses: number[] = [];
  const r = trainModel(model, data.train, { ...DEFAULT_TRAIN_CONFIG, epochs: 2, batchSize: 30 }, undefined, { onProgress: (p) => { if (p.done) losses.push(p.loss); } });
  assert.equal(r.steps, 16);
  assert.ok(losses[1] < losses[0], `loss ${losses}`);
  assert.ok(evaluate(model, data.test) > 0.3);
  model.dispose();
});
