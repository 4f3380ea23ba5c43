// `sculpt imp/gmp --pattern channel --shrink`: the final masked round is also written as OUT/shrunk/,
// without exactly the channels the training masks removed, and computes what the masked round
// computes on the test images (outputs within 1e-5 relative, the same test accuracy).
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { setupBackend } from '../../src/train/backend.js';
import { loadDataset } from '../../src/train/data.js';
import { evaluate } from '../../src/train/loop.js';
import { loadModelFolder } from '../../src/train/model-io.js';
import { sculpt, tempDir } from '../cli/helpers.js';
import { relativeDiff } from '../formats/shrink-compare.js';

before(async () => {
  await setupBackend('cpu');
});

/** Test outputs and accuracy of the masked round and the shrunk folder, on the run's own test images. */
async function compare(out: string, round: number): Promise<{ err: number; masked: number; shrunk: number }> {
  const data = loadDataset({ dataset: 'fashion-mnist', testLimit: 100, trainLimit: 1 });
  const a = await loadModelFolder(join(out, `round-${round}`));
  const b = await loadModelFolder(join(out, 'shrunk'));
  const x = tf.tensor(data.test.images, [data.test.count, ...data.imageShape]);
  const ya = tf.tidy(() => (a.predict(x) as tf.Tensor).dataSync() as Float32Array);
  const yb = tf.tidy(() => (b.predict(x) as tf.Tensor).dataSync() as Float32Array);
  x.dispose();
  const r = { err: relativeDiff(yb, ya), masked: evaluate(a, data.test), shrunk: evaluate(b, data.test) };
  a.dispose();
  b.dispose();
  return r;
}

test('imp conv-2 --pattern channel --scope layer --shrink: round 1 without its 320 masked channels, same outputs', { timeout: 180_000 }, async (t) => {
  const out = join(tempDir(), 'imp');
  const r = sculpt(['imp', '--model', 'conv-2', '--rounds', '2', '--rate', '0.5', '--epochs', '1', '--train-limit', '200', '--test-limit', '100',
    '--pattern', 'channel', '--scope', 'layer', '--shrink', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /shrunk: .*round-1\/ without 320 of 650 channels \(1 of 5 groups pinned\): parameters 3,317,450 -> 830,314; wrote .*shrunk\/\n$/);
  const m = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
  assert.deepEqual(m.shrunk.parameters, { before: 3317450, after: 830314 });
  const c = await compare(out, 1);
  t.diagnostic(`shrunk vs masked round 1: ${c.err.toExponential(2)}; test accuracy ${c.masked} / ${c.shrunk}`);
  assert.ok(c.err < 1e-5, `${c.err}`);
  assert.equal(c.shrunk, c.masked);
});

test('gmp lenet-300-100 --pattern channel --shrink --json: trained biases of masked neurons folded, same outputs; a rerun replaces OUT/shrunk', { timeout: 180_000 }, async (t) => {
  const out = join(tempDir(), 'gmp');
  const args = ['gmp', '--model', 'lenet-300-100', '--final-sparsity', '0.5', '--frequency', '2', '--epochs', '1', '--batch-size', '20',
    '--train-limit', '200', '--test-limit', '100', '--pattern', 'channel', '--scope', 'layer', '--shrink', '--json', '--out', out];
  for (let run = 0; run < 2; run++) {
    const r = sculpt(args);
    assert.equal(r.code, 0, r.stderr);
    const shrunk = JSON.parse(r.stdout).shrunk;
    // fc1 300 → 150, fc2 100 → 50; fc3 (the output) keeps its masked columns.
    assert.deepEqual(shrunk.channels, { before: 410, removed: 200 });
    assert.deepEqual(shrunk.parameters, { before: 266610, after: 784 * 150 + 150 + 150 * 50 + 50 + 50 * 10 + 10 });
  }
  const c = await compare(out, 0);
  t.diagnostic(`shrunk vs masked final model: ${c.err.toExponential(2)}; test accuracy ${c.masked} / ${c.shrunk}`);
  assert.ok(c.err < 1e-5, `${c.err}`);
  assert.equal(c.shrunk, c.masked);
});

test('--shrink without --pattern channel is refused in one line before training', () => {
  const r = sculpt(['gmp', '--model', 'lenet-300-100', '--final-sparsity', '0.5', '--shrink', '--out', join(tempDir(), 'x')]);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, 'sculpt: --shrink removes whole channels: use it with --pattern channel (or channel:l1), not --pattern unstructured\n');
});
