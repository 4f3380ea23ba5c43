/** Calibration from any dataset of the registry: images, npy and text windows feed onnxruntime as the model takes them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { calibratedWeights, collectActivationsFromSet, loadCalibrationSet } from '../../src/api/calibration-onnx.js';
import { pruneFileWithCalibration } from '../../src/api/calibration-prune.js';
import { parsePattern } from '../../src/core/patterns.js';
import type { PruneOptions } from '../../src/core/options.js';
import { readOnnx } from '../../src/formats/onnx.js';
import { tempDir } from '../cli/helpers.js';

const D = 'test/fixtures/datasets';
const OPTS: PruneOptions = { sparsity: 0.5, scope: 'layer', pattern: parsePattern('unstructured'), criterion: 'wanda', exclude: [], overrides: new Map(), seed: 0 };
const IMAGE_OPTS: PruneOptions = { ...OPTS, exclude: ['conv.weight'] };

test('npy calibration: the first layer\'s Σx² per feature is the array\'s, over the first N rows', async () => {
  const model = readOnnx(`${D}/mlp16.onnx`);
  const set = loadCalibrationSet({ calibration: `npy:${D}/x.npy`, samples: 24 }, model);
  assert.equal(set.count, 24);
  const weights = calibratedWeights(model, OPTS, 'wanda');
  assert.equal(weights[0].activations[0], 'input');
  const acts = await collectActivationsFromSet(model, weights.flatMap((w) => w.activations), set, true);
  const a = acts.get('input')!;
  assert.equal(a.rows, 24);
  assert.equal(a.features, 16);
  for (let j = 0; j < 16; j++) {
    let s = 0;
    for (let r = 0; r < 24; r++) s += set.inputs[r * 16 + j] ** 2;
    assert.ok(Math.abs(a.sumSquares[j] - s) < 1e-9 * Math.max(1, s), `feature ${j}`);
    assert.equal(a.gram![j * 16 + j], a.sumSquares[j]);
  }
  const hidden = acts.get(weights[1].activations[0])!;
  assert.equal(hidden.features, 32);
});

test('image-folder calibration: images resized to the model\'s 8×8 and fed NCHW (the input\'s last axis is the width)', async () => {
  const model = readOnnx(`${D}/image-net.onnx`);
  const set = loadCalibrationSet({ calibration: `images:${D}/images`, samples: 100, dataOptions: { mean: [0.5], std: [0.25] } }, model);
  assert.equal(set.count, 12);
  assert.deepEqual(set.sampleShape, [8, 8, 3]);
  const acts = await collectActivationsFromSet(model, ['pixel_values'], set, false);
  const a = acts.get('pixel_values')!;
  assert.equal(a.features, 8);
  assert.equal(a.rows, 12 * 3 * 8);
  for (let w = 0; w < 8; w++) {
    let s = 0;
    for (let n = 0; n < 12; n++) for (let h = 0; h < 8; h++) for (let c = 0; c < 3; c++) s += set.inputs[((n * 8 + h) * 8 + w) * 3 + c] ** 2;
    assert.ok(Math.abs(a.sumSquares[w] - s) < 1e-6 * s, `column ${w}: ${a.sumSquares[w]} vs ${s}`);
  }
});

test('pruneFileWithCalibration: wanda from an image folder and sparsegpt from npy write half-dense layers', async () => {
  const dir = tempDir();
  const img = await pruneFileWithCalibration(`${D}/image-net.onnx`, join(dir, 'img.onnx'), IMAGE_OPTS, { calibration: `images:${D}/images`, samples: 12, dataOptions: { mean: [0.5], std: [0.25] } });
  assert.equal(img.calibration.samples, 12);
  const fc = img.stats.find((s) => s.name === 'fc.weight')!;
  assert.equal(fc.zerosAfter, 96);
  const npy = await pruneFileWithCalibration(`${D}/mlp16.onnx`, join(dir, 'mlp.onnx'), { ...OPTS, criterion: 'sparsegpt' }, { calibration: `npy:${D}/x.npy,${D}/y.npy`, samples: 40 });
  assert.equal(npy.reconstructed, true);
  assert.deepEqual(npy.stats.filter((s) => s.pruned).map((s) => [s.name, s.zerosAfter]), [['fc1.weight', 256], ['fc2.weight', 160]]);
});

test('text calibration: windows of input_ids (with attention_mask and position_ids) give seq-len rows per window', async () => {
  const model = readOnnx(`${D}/tiny-lm.onnx`);
  const set = loadCalibrationSet({ calibration: `text:${D}/corpus.txt`, samples: 5, dataOptions: { seqLen: 16 } }, model);
  assert.equal(set.count, 5);
  assert.equal(set.text!.tokenizer, join(D, 'tokenizer.json'));
  const weights = calibratedWeights(model, OPTS, 'wanda');
  const acts = await collectActivationsFromSet(model, weights.flatMap((w) => w.activations), set, false);
  for (const a of acts.values()) assert.equal(a.rows, 5 * 16);
  assert.throws(() => loadCalibrationSet({ calibration: `images:${D}/images`, samples: 4 }, model), /images differ in size/);
  assert.throws(() => loadCalibrationSet({ calibration: `text:${D}/corpus.txt`, samples: 0 }, model), /--calibration-samples must be a positive integer, got 0/);
});
