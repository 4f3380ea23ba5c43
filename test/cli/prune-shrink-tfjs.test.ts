// `sculpt prune FOLDER/model.json --pattern channel --shrink` and `sculpt inspect FOLDER --groups`
// on TF.js layers models, as a user runs them; graph models are refused in one line.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { setupBackend } from '../../src/train/backend.js';
import { saveModelFolder } from '../../src/train/model-io.js';
import { buildModel } from '../../src/train/zoo.js';
import { FIXTURES, sculpt, tempDir } from './helpers.js';

let lenet: string;

before(async () => {
  await setupBackend('cpu');
  lenet = join(tempDir(), 'lenet');
  const model = await buildModel('lenet-300-100', { inputShape: [28, 28, 1], classes: 10, seed: 1 });
  // Zoo kernels start at zero: give them distinct norms so the ranking has something to rank.
  for (const w of model.weights) {
    if (w.originalName.endsWith('kernel')) tf.tidy(() => (w.read() as tf.Variable).assign(tf.randomNormal(w.shape as number[], 0, 0.1, 'float32', 7)));
  }
  await saveModelFolder(model, lenet);
  model.dispose();
});

test('prune FOLDER/model.json --shrink --json: groups, removed channels, parameters; the folder holds model.json and weights.bin', () => {
  const out = join(tempDir(), 'small');
  const r = sculpt(['prune', join(lenet, 'model.json'), '-o', out, '--pattern', 'channel', '--sparsity', '0.5', '--shrink', '--scope', 'global', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.format, 'tfjs');
  assert.equal(j.mode, 'shrink');
  assert.deepEqual(j.groups.map((g: { size: number }) => g.size), [300, 100, 10]);
  // Global: round(0.5 · 400) of the two free groups' channels.
  assert.equal(j.channels.removed, 200);
  const m = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8'));
  const units = m.modelTopology.config.layers.map((l: { config: { units?: number } }) => l.config.units).filter((u: unknown) => u !== undefined);
  assert.equal(units[0] + units[1], 200);
  assert.equal(units[2], 10);
  assert.deepEqual(m.weightsManifest[0].paths, ['./weights.bin']);
  assert.equal(j.parameters.after, 784 * units[0] + units[0] + units[0] * units[1] + units[1] + units[1] * 10 + 10);
});

test('inspect FOLDER --groups: the table names the pinned classifier', () => {
  const r = sculpt(['inspect', lenet, '--groups']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /3 channel groups, 2 shrinkable \(400 channels\)/);
  assert.match(r.stdout, /Dense fc3 +10 +2 +pinned: reaches model output fc3/);
});

test('a TF.js graph model is refused in one line for --groups and --shrink', () => {
  const graph = join(FIXTURES, 'tfjs-blazeface/blazeface.json');
  const g = sculpt(['inspect', graph, '--groups']);
  assert.equal(g.code, 2);
  assert.match(g.stderr, /^sculpt: .*--groups works on ONNX and TF.js layers models only for now \(this is a TF.js model without a layers topology\)\n$/);
  const s = sculpt(['prune', graph, '-o', join(tempDir(), 'x'), '--pattern', 'channel', '--sparsity', '0.5', '--shrink']);
  assert.equal(s.code, 2);
  assert.equal(s.stderr.split('\n').length, 2);
});
