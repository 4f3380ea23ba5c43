import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SculptError } from '../../src/core/errors.js';
import { loadDataset, resolveDataDir, bundledSubsetDir, DEBIAN_FASHION_MNIST } from '../../src/train/data.js';
import { SUBSET } from './helpers.js';
import { tempDir } from '../fixtures/temp.js';

test('--data DIR with limits: first N examples, images scaled to [0, 1]', () => {
  const d = loadDataset({ dataset: 'fashion-mnist', dataDir: SUBSET, trainLimit: 100, testLimit: 50 });
  assert.equal(d.train.count, 100);
  assert.equal(d.test.count, 50);
  assert.equal(d.train.images.length, 100 * 784);
  assert.deepEqual(d.imageShape, [28, 28, 1]);
  let max = 0;
  for (const v of d.train.images) max = Math.max(max, v);
  assert.ok(max <= 1 && max > 0.9);
  const full = loadDataset({ dataset: 'fashion-mnist', dataDir: SUBSET });
  assert.equal(full.train.count, 5000);
  assert.equal(full.test.count, 1000);
  assert.deepEqual(full.train.labels.subarray(0, 100), d.train.labels);
});

test('fashion-mnist resolves to Debian data when installed, else the committed subset with a note', () => {
  const r = resolveDataDir({ dataset: 'fashion-mnist' });
  if (r.dir === DEBIAN_FASHION_MNIST) assert.deepEqual(r.notes, [`data: ${DEBIAN_FASHION_MNIST}`]);
  else {
    assert.equal(r.dir, bundledSubsetDir());
    assert.match(r.notes[0], /using the built-in subset/);
  }
});

test('bad dataset requests are SculptErrors naming the flag', () => {
  const empty = tempDir('nodata-');
  assert.throws(() => loadDataset({ dataset: 'fashion-mnist', dataDir: empty }), (e: unknown) => e instanceof SculptError && e.message.startsWith(`--data ${empty}`));
  assert.throws(() => loadDataset({ dataset: 'cifar-10' }), (e: unknown) => e instanceof SculptError && /--dataset cifar-10/.test(e.message));
  assert.throws(() => loadDataset({ dataset: 'fashion-mnist', dataDir: SUBSET, trainLimit: 0 }), /--train-limit/);
});
