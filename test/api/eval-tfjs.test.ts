/** `evalFile` on a TF.js layers folder: mlp16.onnx's weights in a tfjs Sequential give PyTorch's accuracy and top-5. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { evalFile } from '../../src/api/eval.js';
import { readOnnx } from '../../src/formats/onnx.js';
import { setupBackend } from '../../src/train/backend.js';
import { saveModelFolder } from '../../src/train/model-io.js';
import { tempDir } from '../cli/helpers.js';

const D = 'test/fixtures/datasets';
const E = JSON.parse(readFileSync(join(D, 'expected.json'), 'utf8'));

function transposed(w: Float32Array, rows: number, cols: number): tf.Tensor2D {
  const t = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = w[r * cols + c];
  return tf.tensor2d(t, [cols, rows]);
}

test('eval on a TF.js layers folder (engine tfjs) equals PyTorch on the same weights', async () => {
  await setupBackend('auto');
  const onnx = readOnnx(`${D}/mlp16.onnx`);
  const model = tfl.sequential({
    layers: [tfl.layers.dense({ inputShape: [16], units: 32, activation: 'relu' }), tfl.layers.dense({ units: 10 })],
  });
  model.layers[0].setWeights([transposed(onnx.read('fc1.weight'), 32, 16), tf.tensor1d(onnx.read('fc1.bias'))]);
  model.layers[1].setWeights([transposed(onnx.read('fc2.weight'), 10, 32), tf.tensor1d(onnx.read('fc2.bias'))]);
  const dir = join(tempDir(), 'mlp16-tfjs');
  await saveModelFolder(model, dir);
  const acc = await evalFile(dir, { data: `npy:${D}/x.npy,${D}/y.npy` });
  assert.equal(acc.engine, 'tfjs');
  assert.equal(acc.examples, 40);
  assert.ok(Math.abs(acc.value - E.npy.accuracy) < 1e-6, `${acc.value}`);
  const top5 = await evalFile(dir, { data: `npz:${D}/xy.npz`, metric: 'top5', batchSize: 16 });
  assert.ok(Math.abs(top5.value - E.npy.top5) < 1e-6, `${top5.value}`);
  await assert.rejects(evalFile(dir, { data: `npy:${D}/x.npy,${D}/y.npy`, engine: 'onnxruntime' }), /is a TF.js model; use --engine tfjs/);
});
