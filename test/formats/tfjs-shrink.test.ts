// `--pattern channel --shrink` on TF.js layers models: the shrunk folder loads with
// tf.loadLayersModel and predicts what the channel-masked model (same selection) predicts within
// 1e-5 relative, with exact parameter counts; `export` carries it to ONNX, matching TF.js.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import * as ort from 'onnxruntime-node';
import { exportTfjsToOnnx } from '../../src/api/export-onnx.js';
import { channelGroupsOfFile, channelsRemovedByMasks, shrinkFile, type ShrinkFileResult } from '../../src/api/shrink-file.js';
import { Mask } from '../../src/core/mask.js';
import { Rng } from '../../src/core/rng.js';
import { openTfjsFolder } from '../../src/formats/tfjs-folder.js';
import { setupBackend } from '../../src/train/backend.js';
import { loadModelFolder, saveModelFolder } from '../../src/train/model-io.js';
import { buildModel } from '../../src/train/zoo.js';
import { tempDir } from '../cli/helpers.js';
import { relativeDiff } from './shrink-compare.js';

let dir: string;

before(async () => {
  await setupBackend('cpu');
  dir = tempDir('sculpt-tfjs-shrink-');
});

function uniform(n: number, rng: Rng, lo: number, hi: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * rng.next();
  return out;
}

/** Every weight random (variances positive), so biases and batch norms matter. */
function randomiseAll(model: tfl.LayersModel, seed: number): void {
  const rng = new Rng(seed);
  for (const w of model.weights) {
    const v = w.read() as tf.Variable;
    const values = w.originalName.endsWith('moving_variance') ? uniform(v.size, rng, 0.5, 2) : uniform(v.size, rng, -0.5, 0.5);
    tf.tidy(() => v.assign(tf.tensor(values, v.shape, 'float32')));
  }
}

async function predict(folder: string, x: Float32Array, shape: number[]): Promise<Float32Array> {
  const model = await loadModelFolder(folder);
  const y = tf.tidy(() => (model.predict(tf.tensor(x, shape)) as tf.Tensor).dataSync() as Float32Array);
  model.dispose();
  return y;
}

const parameters = (folder: string): number => openTfjsFolder(folder).tensors.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);

/** Shrinks and masks `folder` with the same selection; checks outputs, counts and the written layer sizes. */
async function shrinkAndCompare(folder: string, inputShape: number[], sparsity: number): Promise<{ shrunk: ShrinkFileResult; small: string; err: number; x: Float32Array }> {
  const small = `${folder}-small`;
  const masked = `${folder}-masked`;
  const shrunk = shrinkFile(folder, small, { sparsity, norm: 2, scope: 'layer' });
  shrinkFile(folder, masked, { sparsity, norm: 2, scope: 'layer', mask: true });
  const x = uniform(inputShape.reduce((a, b) => a * b, 1), new Rng(5), 0, 1);
  const [a, b, orig] = [await predict(small, x, inputShape), await predict(masked, x, inputShape), await predict(folder, x, inputShape)];
  const err = relativeDiff(a, b);
  assert.ok(err < 1e-5, `shrunk vs masked ${err}`);
  assert.ok(relativeDiff(orig, b) > 1e-3, 'the selection changes the model');
  assert.equal(parameters(small), shrunk.parameters.after);
  return { shrunk, small, err, x };
}

test('lenet-300-100: fc1 300 → 150, fc2 100 → 50, fc3 pinned (model output); exact parameter count', async (t) => {
  const model = await buildModel('lenet-300-100', { inputShape: [28, 28, 1], classes: 10, seed: 3 });
  randomiseAll(model, 11);
  const folder = join(dir, 'lenet');
  await saveModelFolder(model, folder);
  model.dispose();
  const { shrunk, small, err } = await shrinkAndCompare(folder, [3, 28, 28, 1], 0.5);
  t.diagnostic(`shrunk vs masked: ${err.toExponential(2)}`);
  assert.deepEqual(shrunk.groups.map((g) => [g.size, g.removed, g.pinned.length > 0]), [[300, 150, false], [100, 50, false], [10, 0, true]]);
  assert.match(shrunk.groups[2].pinned[0], /reaches model output fc3/);
  assert.equal(shrunk.parameters.before, 784 * 300 + 300 + 300 * 100 + 100 + 100 * 10 + 10);
  assert.equal(shrunk.parameters.after, 784 * 150 + 150 + 150 * 50 + 50 + 50 * 10 + 10);
  const json = JSON.parse(readFileSync(join(small, 'model.json'), 'utf8'));
  assert.deepEqual(json.modelTopology.config.layers.filter((l: { class_name: string }) => l.class_name === 'Dense').map((l: { config: { units: number } }) => l.config.units), [150, 50, 10]);
});

test('conv-2: conv channels shrink through pool and Flatten into fc1 (features p·C + c); export to ONNX matches TF.js', async (t) => {
  const model = await buildModel('conv-2', { inputShape: [28, 28, 1], classes: 10, seed: 4 });
  randomiseAll(model, 12);
  const folder = join(dir, 'conv2');
  await saveModelFolder(model, folder);
  model.dispose();
  const { shrunk, small, err, x } = await shrinkAndCompare(folder, [2, 28, 28, 1], 0.5);
  t.diagnostic(`shrunk vs masked: ${err.toExponential(2)}`);
  assert.deepEqual(shrunk.groups.map((g) => [g.size, g.removed]), [[64, 32], [64, 32], [256, 128], [256, 128], [10, 0]]);
  assert.ok(shrunk.groups[1].tensors.includes('fc1/kernel[0]'));
  assert.equal(shrunk.parameters.before, 640 + 36928 + 12544 * 256 + 256 + 65792 + 2570);
  assert.equal(shrunk.parameters.after, (9 * 32 + 32) + (9 * 32 * 32 + 32) + (14 * 14 * 32 * 128 + 128) + (128 * 128 + 128) + (128 * 10 + 10));
  // The shrunk folder exports to ONNX; onnxruntime computes what TF.js computes.
  const r = exportTfjsToOnnx(small);
  const session = await ort.InferenceSession.create(r.bytes);
  const got = await session.run({ [r.inputs[0].name]: new ort.Tensor('float32', x, [2, 28, 28, 1]) });
  const onnxErr = relativeDiff(got[r.outputs[0].name].data as Float32Array, await predict(small, x, [2, 28, 28, 1]));
  t.diagnostic(`ONNX vs TF.js: ${onnxErr.toExponential(2)}`);
  assert.ok(onnxErr < 1e-5, `ONNX vs TF.js ${onnxErr}`);
});

/**
 * c1 → bn1 → ReLU → c2, Add(c2, relu) → bn2 → relu, Concatenate with a 1×1 branch c3, max pool,
 * Flatten, Dropout, fc, out. bn2 shifts a removed channel to a nonzero constant that reaches fc
 * through relu, pool and Flatten: folded into fc's bias.
 */
function residual(): tfl.LayersModel {
  const inp = tfl.input({ shape: [8, 8, 3], name: 'img' });
  const apply = (l: tfl.layers.Layer, x: tfl.SymbolicTensor | tfl.SymbolicTensor[]): tfl.SymbolicTensor => l.apply(x) as tfl.SymbolicTensor;
  const c1 = apply(tfl.layers.conv2d({ name: 'c1', filters: 8, kernelSize: 3, padding: 'same' }), inp);
  const r1 = apply(tfl.layers.reLU({ name: 'r1' }), apply(tfl.layers.batchNormalization({ name: 'bn1' }), c1));
  const c2 = apply(tfl.layers.conv2d({ name: 'c2', filters: 8, kernelSize: 3, padding: 'same' }), r1);
  const sum = apply(tfl.layers.add({ name: 'add' }), [c2, r1]);
  const r2 = apply(tfl.layers.activation({ name: 'r2', activation: 'relu' }), apply(tfl.layers.batchNormalization({ name: 'bn2' }), sum));
  const c3 = apply(tfl.layers.conv2d({ name: 'c3', filters: 4, kernelSize: 1, activation: 'relu' }), r1);
  const cat = apply(tfl.layers.concatenate({ name: 'cat' }), [r2, c3]);
  const flat = apply(tfl.layers.flatten({ name: 'flat' }), apply(tfl.layers.maxPooling2d({ name: 'pool', poolSize: 2 }), cat));
  const fc = apply(tfl.layers.dense({ name: 'fc', units: 6, activation: 'tanh' }), apply(tfl.layers.dropout({ name: 'drop', rate: 0.5 }), flat));
  const out = apply(tfl.layers.dense({ name: 'out', units: 3 }), fc);
  return tfl.model({ inputs: inp, outputs: out, name: 'residual' });
}

test('functional residual model: Add merges c1 and c2, BatchNorm shifts folded into fc, Concatenate offsets', async (t) => {
  const model = residual();
  randomiseAll(model, 21);
  const folder = join(dir, 'residual');
  await saveModelFolder(model, folder);
  model.dispose();
  const groups = channelGroupsOfFile(folder);
  assert.deepEqual(groups.map((g) => [g.producers.join('+'), g.size, g.pinned.length > 0]), [['Conv2D c1+Conv2D c2', 8, false], ['Conv2D c3', 4, false], ['Dense fc', 6, false], ['Dense out', 3, true]]);
  const { shrunk, err } = await shrinkAndCompare(folder, [4, 8, 8, 3], 0.5);
  t.diagnostic(`shrunk vs masked: ${err.toExponential(2)}`);
  assert.deepEqual(shrunk.groups.map((g) => g.removed), [4, 2, 3, 0]);
  assert.ok(shrunk.tensors.some((x) => x.name === 'fc/bias' && x.folded), 'bn2 shift folded into fc/bias');
  const before = (27 * 8 + 8) + 4 * 8 + (72 * 8 + 8) + 4 * 8 + (8 * 4 + 4) + (4 * 4 * 12 * 6 + 6) + (6 * 3 + 3);
  const after = (27 * 4 + 4) + 4 * 4 + (36 * 4 + 4) + 4 * 4 + (4 * 2 + 2) + (4 * 4 * 6 * 3 + 3) + (3 * 3 + 3);
  assert.equal(shrunk.parameters.before, before);
  assert.equal(shrunk.parameters.after, after);
});

/** DepthwiseConv2D, SeparableConv2D, ZeroPadding2D, UpSampling2D, Multiply, AveragePooling2D, GlobalAveragePooling2D. */
function mobile(): tfl.LayersModel {
  const inp = tfl.input({ shape: [8, 8, 3], name: 'img' });
  const apply = (l: tfl.layers.Layer, x: tfl.SymbolicTensor | tfl.SymbolicTensor[]): tfl.SymbolicTensor => l.apply(x) as tfl.SymbolicTensor;
  const a = apply(tfl.layers.conv2d({ name: 'a', filters: 6, kernelSize: 1, activation: 'relu' }), inp);
  const dw = apply(tfl.layers.depthwiseConv2d({ name: 'dw', kernelSize: 3, padding: 'same', activation: 'relu' }), a);
  const bn = apply(tfl.layers.batchNormalization({ name: 'bn' }), dw);
  const sep = apply(tfl.layers.separableConv2d({ name: 'sep', filters: 8, kernelSize: 3, padding: 'same', activation: 'tanh' }), bn);
  const gate = apply(tfl.layers.conv2d({ name: 'gate', filters: 8, kernelSize: 3, activation: 'sigmoid' }), apply(tfl.layers.zeroPadding2d({ name: 'pad', padding: 1 }), bn));
  const prod = apply(tfl.layers.multiply({ name: 'mul' }), [sep, gate]);
  const up = apply(tfl.layers.upSampling2d({ name: 'up', size: [2, 2] }), apply(tfl.layers.averagePooling2d({ name: 'avg', poolSize: 2 }), prod));
  const gap = apply(tfl.layers.globalAveragePooling2d({ name: 'gap' }), up);
  const out = apply(tfl.layers.dense({ name: 'out', units: 3 }), gap);
  return tfl.model({ inputs: inp, outputs: out, name: 'mobile' });
}

test('depthwise and separable convs, padding, upsampling, Multiply: shrunk equals masked', async (t) => {
  const model = mobile();
  randomiseAll(model, 31);
  const folder = join(dir, 'mobile');
  await saveModelFolder(model, folder);
  model.dispose();
  const groups = channelGroupsOfFile(folder);
  assert.deepEqual(groups.map((g) => [g.producers.join('+'), g.size, g.pinned]), [['Conv2D a', 6, []], ['SeparableConv2D sep+Conv2D gate', 8, []], ['Dense out', 3, ['reaches model output out']]]);
  assert.ok(groups[0].tensors.includes('dw/depthwise_kernel[2]') && groups[0].tensors.includes('sep/depthwise_kernel[2]') && groups[0].tensors.includes('bn/moving_mean[0]'));
  const { shrunk, err } = await shrinkAndCompare(folder, [2, 8, 8, 3], 0.5);
  t.diagnostic(`shrunk vs masked: ${err.toExponential(2)}`);
  assert.deepEqual(shrunk.groups.map((g) => g.removed), [3, 4, 0]);
  const before = (3 * 6 + 6) + (9 * 6 + 6) + 4 * 6 + (9 * 6 + 6 * 8 + 8) + (9 * 6 * 8 + 8) + (8 * 3 + 3);
  const after = (3 * 3 + 3) + (9 * 3 + 3) + 4 * 3 + (9 * 3 + 3 * 4 + 4) + (9 * 3 * 4 + 4) + (4 * 3 + 3);
  assert.deepEqual([shrunk.parameters.before, shrunk.parameters.after], [before, after]);
});

test('Conv1D on sequences: filters shrink, Flatten into Dense', async (t) => {
  const model = tfl.sequential({
    name: 'seq',
    layers: [
      tfl.layers.conv1d({ name: 'c', filters: 8, kernelSize: 3, activation: 'relu', inputShape: [10, 2] }),
      tfl.layers.flatten({ name: 'flat' }),
      tfl.layers.dense({ name: 'h', units: 6, activation: 'elu' }),
      tfl.layers.dense({ name: 'out', units: 2 }),
    ],
  });
  randomiseAll(model, 41);
  const folder = join(dir, 'conv1d');
  await saveModelFolder(model, folder);
  model.dispose();
  const { shrunk, err } = await shrinkAndCompare(folder, [3, 10, 2], 0.5);
  t.diagnostic(`shrunk vs masked: ${err.toExponential(2)}`);
  assert.deepEqual(shrunk.groups.map((g) => g.removed), [4, 3, 0]);
  assert.equal(shrunk.parameters.after, (3 * 2 * 4 + 4) + (8 * 4 * 3 + 3) + (3 * 2 + 2));
});

test('a constant into a same-padded Conv2D pins its group; a layer not modelled pins with its name', async () => {
  const model = tfl.sequential({
    name: 'pinned',
    layers: [
      tfl.layers.conv2d({ name: 'a', filters: 4, kernelSize: 3, padding: 'same', inputShape: [6, 6, 2] }),
      tfl.layers.activation({ name: 'act', activation: 'relu' }),
      tfl.layers.batchNormalization({ name: 'bn' }),
      tfl.layers.conv2d({ name: 'b', filters: 4, kernelSize: 3, padding: 'same' }),
      tfl.layers.reshape({ name: 'rs', targetShape: [144] }),
      tfl.layers.dense({ name: 'out', units: 2 }),
    ],
  });
  randomiseAll(model, 3);
  const folder = join(dir, 'pinned');
  await saveModelFolder(model, folder);
  model.dispose();
  const groups = channelGroupsOfFile(folder);
  assert.match(groups[0].pinned[0], /carries a constant into the 'same'-padded Conv2D b/);
  assert.equal(groups[1].pinned[0], 'read by Reshape rs, which shrinking does not model');
});

test('explicit selection from masks: the channels masks emptied go, constants read from the stored biases', async (t) => {
  const model = await buildModel('conv-2', { inputShape: [28, 28, 1], classes: 10, seed: 6 });
  randomiseAll(model, 13);
  // Mask channels as training does: kernel columns only, biases left as they are (conv1's biases
  // negative so relu(bias) = 0 reaches the padded conv2; fc1's carry relu(bias) > 0 into fc2).
  const masks = new Map<string, Mask>();
  const rng = new Rng(9);
  for (const w of model.weights) {
    if (!w.originalName.endsWith('kernel') || w.originalName.startsWith('fc3')) continue;
    const v = w.read() as tf.Variable;
    const values = v.dataSync().slice() as Float32Array;
    const cols = v.shape[v.shape.length - 1];
    const gone = new Set<number>();
    while (gone.size < cols / 4) gone.add(Math.floor(rng.next() * cols));
    const mask = Mask.full(values.length);
    for (let i = 0; i < values.length; i++) if (gone.has(i % cols)) {
      mask.set(i, false);
      values[i] = 0;
    }
    tf.tidy(() => v.assign(tf.tensor(values, v.shape)));
    masks.set(w.originalName, mask);
    if (w.originalName === 'conv1/kernel') {
      const b = model.getLayer('conv1').weights[1].read() as tf.Variable;
      const bv = b.dataSync().slice() as Float32Array;
      for (const c of gone) bv[c] = -Math.abs(bv[c]);
      tf.tidy(() => b.assign(tf.tensor(bv, b.shape)));
    }
  }
  const folder = join(dir, 'masked-conv2');
  await saveModelFolder(model, folder);
  model.dispose();
  const small = join(dir, 'masked-conv2-small');
  const r = shrinkFile(folder, small, { sparsity: 0, norm: 2, scope: 'layer', removed: channelsRemovedByMasks(masks) });
  assert.deepEqual(r.groups.map((g) => g.removed), [16, 16, 64, 64, 0]);
  assert.ok(r.tensors.some((x) => x.name === 'fc2/bias' && x.folded), 'relu(fc1 bias) folded into fc2');
  const x = uniform(2 * 28 * 28, new Rng(2), 0, 1);
  const err = relativeDiff(await predict(small, x, [2, 28, 28, 1]), await predict(folder, x, [2, 28, 28, 1]));
  t.diagnostic(`shrunk vs masked input: ${err.toExponential(2)}`);
  assert.ok(err < 1e-5, `${err}`);
});
