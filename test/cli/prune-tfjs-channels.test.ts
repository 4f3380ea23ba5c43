/**
 * Channel pruning of a TF.js layers model removes a channel's whole contribution: the kernel's
 * output channel, the layer's bias entry, and the gamma/beta of a BatchNormalization that reads the
 * layer. Checked in TF.js itself: the pruned model's normalised activations of removed channels are
 * exactly 0 on real inputs, the kept ones are not.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { Rng } from '../../src/core/rng.js';
import { setupBackend } from '../../src/train/backend.js';
import { loadModelFolder, saveModelFolder } from '../../src/train/model-io.js';
import { sculpt, tempDir } from './helpers.js';

before(async () => {
  await setupBackend('cpu');
});

function randomise(model: tfl.LayersModel, seed: number): void {
  const rng = new Rng(seed);
  for (const w of model.weights) {
    const v = w.read() as tf.Variable;
    const values = Float32Array.from({ length: v.size }, () => (w.originalName.endsWith('moving_variance') ? 0.5 + 1.5 * rng.next() : 1.6 * rng.next() - 0.8));
    tf.tidy(() => v.assign(tf.tensor(values, v.shape, 'float32')));
  }
}

test('TF.js layers: Conv2D → BatchNormalization and Dense with bias lose bias and BN scale/shift with their channels; TF.js computes exact zeros for them', async () => {
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [6, 6, 2], filters: 8, kernelSize: 3, name: 'conv' }),
      tfl.layers.batchNormalization({ name: 'bn' }),
      tfl.layers.flatten({ name: 'flat' }),
      tfl.layers.dense({ units: 6, name: 'fc' }),
      tfl.layers.dense({ units: 3, name: 'head' }),
    ],
  });
  randomise(model, 7);
  const dir = tempDir();
  const src = join(dir, 'model');
  await saveModelFolder(model, src);
  const out = join(dir, 'pruned');
  const r = sculpt(['prune', src, '-o', out, '--pattern', 'channel', '--scope', 'layer', '--sparsity', '0.5', '--exclude', 'head/kernel', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.deepEqual(result.companions, [
    { tensor: 'conv/bias', weight: 'conv/kernel', what: 'bias', channels: 4 },
    { tensor: 'bn/gamma', weight: 'conv/kernel', what: 'norm scale', channels: 4 },
    { tensor: 'bn/beta', weight: 'conv/kernel', what: 'norm shift', channels: 4 },
    { tensor: 'fc/bias', weight: 'fc/kernel', what: 'bias', channels: 3 },
  ]);

  const pruned = await loadModelFolder(out);
  const rng = new Rng(3);
  const x = tf.tensor(Float32Array.from({ length: 2 * 6 * 6 * 2 }, () => rng.next()), [2, 6, 6, 2]);
  // Activations after the BatchNormalization (channels last) and after fc.
  const probe = tfl.model({ inputs: pruned.inputs, outputs: [pruned.getLayer('bn').output as tfl.SymbolicTensor, pruned.getLayer('fc').output as tfl.SymbolicTensor] });
  const [bnOut, fcOut] = (probe.predict(x) as tf.Tensor[]).map((t) => t.dataSync() as Float32Array);
  const kernel = pruned.getLayer('conv').getWeights()[0].dataSync() as Float32Array;
  const removedConv = [...Array(8).keys()].filter((c) => {
    for (let i = c; i < kernel.length; i += 8) if (kernel[i] !== 0) return false;
    return true;
  });
  assert.equal(removedConv.length, 4);
  for (let c = 0; c < 8; c++) {
    let nonzero = 0;
    for (let i = c; i < bnOut.length; i += 8) if (bnOut[i] !== 0) nonzero++;
    if (removedConv.includes(c)) assert.equal(nonzero, 0, `bn channel ${c}`);
    else assert.ok(nonzero > 0, `bn channel ${c}`);
  }
  const fcKernel = pruned.getLayer('fc').getWeights()[0].dataSync() as Float32Array;
  for (let c = 0; c < 6; c++) {
    let alive = false;
    for (let i = c; i < fcKernel.length; i += 6) if (fcKernel[i] !== 0) alive = true;
    if (!alive) assert.ok(fcOut[c] === 0 && fcOut[6 + c] === 0, `fc unit ${c}`);
  }
});
