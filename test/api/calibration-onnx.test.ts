// ONNX calibration pieces: the model copy with extra graph outputs, activation statistics from
// onnxruntime, shared weights, and SparseGPT's reconstruction for a given mask.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { calibratedWeights, collectActivations, loadCalibrationImages, weightActivations, withExtraOutputs } from '../../src/api/calibration-onnx.js';
import { reconstructWithMask } from '../../src/api/calibration-sparsegpt.js';
import { sparseGptLayer } from '../../src/core/criteria-sparsegpt.js';
import { parsePattern } from '../../src/core/patterns.js';
import type { PruneOptions } from '../../src/core/options.js';
import { OnnxModel, readOnnx } from '../../src/formats/onnx.js';
import { ROOT } from '../cli/helpers.js';

const FIX = join(ROOT, 'test/fixtures');
const SUBSET = join(ROOT, 'data/fashion-mnist-subset');
const OPTS: PruneOptions = { sparsity: 0.5, scope: 'global', pattern: parsePattern('unstructured'), criterion: 'wanda', exclude: [], overrides: new Map(), seed: 0 };

test('withExtraOutputs: a valid model whose extra output onnxruntime computes', async () => {
  const model = readOnnx(join(FIX, 'mlp.onnx'));
  const weights = calibratedWeights(model, OPTS, 'wanda');
  assert.deepEqual(weights.map((w) => [w.tensor.name, w.activations.length]), [['fc1.weight', 1], ['fc2.weight', 1], ['fc3.weight', 1]]);
  assert.equal(weights[0].activations[0], 'input');
  const extra = [weights[1].activations[0], weights[2].activations[0]];
  const bytes = withExtraOutputs(model, extra);
  const copy = new OnnxModel('copy.onnx', bytes);
  assert.deepEqual(copy.decoded.outputs.map((o) => o.name), ['output', ...extra]);
  assert.equal(copy.decoded.nodes.length, model.decoded.nodes.length);
  assert.equal(bytes.length - model.bytes.length > 0, true);
  const session = await ort.InferenceSession.create(bytes);
  const out = await session.run({ input: new ort.Tensor('float32', new Float32Array(784).fill(0.5), [1, 784]) });
  await session.release();
  assert.deepEqual(out[extra[0]]!.dims, [1, 300]);
  assert.ok((out[extra[0]]!.data as Float32Array).every((v) => v >= 0), 'fc2 input is a ReLU output');
});

test('collectActivations: Σx² of the model input equals the images\', XᵀX symmetric with that diagonal', async () => {
  const model = readOnnx(join(FIX, 'mlp.onnx'));
  const imgs = loadCalibrationImages({ calibration: SUBSET, samples: 300 });
  assert.equal(imgs.count, 300);
  const acts = await collectActivations(model, ['input', calibratedWeights(model, OPTS, 'wanda')[1].activations[0]], imgs.images, imgs.count, imgs.perImage, true);
  const a = acts.get('input')!;
  assert.equal(a.rows, 300);
  const direct = new Float64Array(784);
  for (let i = 0; i < imgs.images.length; i++) direct[i % 784] += imgs.images[i] ** 2;
  for (let j = 0; j < 784; j++) assert.ok(Math.abs(a.sumSquares[j] - direct[j]) <= 1e-9 * (1 + direct[j]), `feature ${j}`);
  const g = a.gram!;
  for (let i = 0; i < 784; i += 37) {
    assert.ok(Math.abs(g[i * 784 + i] - direct[i]) <= 1e-9 * (1 + direct[i]));
    for (let j = 0; j < 784; j += 53) assert.equal(g[i * 784 + j], g[j * 784 + i]);
  }
  // Batches of 256 + 44 add up: the hidden activation was seen for all 300 images.
  const h = [...acts.values()][1];
  assert.equal(h.rows, 300);
  assert.equal(h.features, 300);
});

test('a weight shared by two MatMuls (through Identity) sums both activations\' statistics', () => {
  const model = readOnnx(join(FIX, 'transformer.onnx'));
  const shared = calibratedWeights(model, OPTS, 'wanda').find((w) => w.tensor.name === 'onnx::MatMul_234')!;
  assert.equal(shared.activations.length, 2);
  const [p, q] = shared.activations;
  const mk = (v: number) => ({ features: 32, rows: 16, sumSquares: new Float64Array(32).fill(v) });
  const sum = weightActivations(shared, new Map([[p, mk(1)], [q, mk(2)]]));
  assert.equal(sum.rows, 32);
  assert.ok(sum.sumSquares.every((v) => v === 3));
  assert.throws(() => weightActivations(shared, new Map([[p, mk(1)], [q, { ...mk(1), features: 31 }]])), /input axis has 32 features but activation .* has 31/);
});

test('reconstructWithMask given sparseGptLayer\'s own mask reproduces its weights', () => {
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5;
  const rows = 6;
  const cols = 20;
  const n = 50;
  const x = Float64Array.from({ length: n * cols }, rand);
  const h = new Float64Array(cols * cols);
  for (let s = 0; s < n; s++) for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) h[i * cols + j] += x[s * cols + i] * x[s * cols + j];
  const w = Float32Array.from({ length: rows * cols }, rand);
  const ref = sparseGptLayer(w, rows, cols, h, { sparsity: 0.5, blockSize: 8 });
  const mine = reconstructWithMask(w, rows, cols, h, ref.mask, 'test');
  let maxDiff = 0;
  for (let i = 0; i < w.length; i++) maxDiff = Math.max(maxDiff, Math.abs(mine[i] - ref.weights[i]));
  assert.ok(maxDiff < 1e-5, `max difference ${maxDiff}`);
  assert.equal(mine.filter((v) => v === 0).length, ref.mask.prunedCount());
  assert.ok(mine.some((v, i) => ref.mask.get(i) && v !== w[i]), 'kept weights were updated');
});

test('loadCalibrationImages: samples must be positive, the folder must exist', () => {
  assert.throws(() => loadCalibrationImages({ calibration: SUBSET, samples: 0 }), /--calibration-samples must be a positive integer, got 0/);
  assert.throws(() => loadCalibrationImages({ calibration: join(SUBSET, 'missing'), samples: 4 }), /--calibration .*missing: no such dataset or folder/);
});
