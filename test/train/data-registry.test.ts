/** Training on the user's data: any labelled dataset of the registry through loadDataset, fine-tuned with the model's class count. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setupBackend } from '../../src/train/backend.js';
import { loadDataset } from '../../src/train/data.js';
import { DEFAULT_TRAIN_CONFIG, evaluate, trainModel } from '../../src/train/loop.js';
import { buildModel } from '../../src/train/zoo.js';
import { tempDir } from '../cli/helpers.js';

const D = 'test/fixtures/datasets';

test('loadDataset: npy:X,Y and csv:FILE split 80/20 through the classes; limits apply', () => {
  const npy = loadDataset({ dataset: 'fashion-mnist', dataDir: `npy:${D}/x.npy,${D}/y.npy` });
  assert.equal(npy.train.count, 32);
  assert.equal(npy.test.count, 8);
  assert.equal(npy.classes, 10);
  assert.deepEqual(npy.imageShape, [1, 16, 1]);
  const limited = loadDataset({ dataset: 'fashion-mnist', dataDir: `npy:${D}/x.npy,${D}/y.npy`, trainLimit: 5, testLimit: 2 });
  assert.equal(limited.train.count, 5);
  assert.equal(limited.test.images.length, 2 * 16);
  assert.equal(loadDataset({ dataset: 'fashion-mnist', dataDir: `idx:data/fashion-mnist-subset`, testLimit: 3 }).test.count, 3);
});

test('an image folder with its own preprocess.json trains a 3-class zoo net (the class count is the model\'s)', async () => {
  const dir = tempDir();
  cpSync(`${D}/images`, join(dir, 'images'), { recursive: true });
  writeFileSync(join(dir, 'images', 'preprocess.json'), JSON.stringify({ imageSize: [8, 8], mean: 0.5, std: 0.25 }));
  const data = loadDataset({ dataset: 'fashion-mnist', dataDir: `images:${join(dir, 'images')}` });
  assert.deepEqual(data.imageShape, [8, 8, 3]);
  assert.equal(data.classes, 3);
  assert.equal(data.train.count + data.test.count, 12);
  await setupBackend('auto');
  const model = await buildModel('lenet-300-100', { inputShape: data.imageShape, classes: data.classes, seed: 1 });
  trainModel(model, data.train, { ...DEFAULT_TRAIN_CONFIG, epochs: 8, batchSize: 4 });
  assert.ok(evaluate(model, data.train) >= 0.75, 'fits its 10 training images');
  const ten = await buildModel('lenet-300-100', { inputShape: data.imageShape, classes: 2, seed: 1 });
  assert.throws(() => trainModel(ten, data.train, DEFAULT_TRAIN_CONFIG), /does not fit 3-class labels; the model must end in at least 3 logits/);
});
