// exportTfjsToOnnx: zoo models and hand-built layers models (depthwise/separable convs, batch norm,
// pooling with odd sizes and 'same' padding, dropout, merges, 1-D convs, many activations) as ONNX
// files whose onnxruntime outputs match TF.js model.predict on the same NHWC arrays within 1e-5.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import * as ort from 'onnxruntime-node';
import { exportTfjsToOnnx, type ExportOnnxResult } from '../../src/api/export-onnx.js';
import { Rng } from '../../src/core/rng.js';
import { openTfjsFolder } from '../../src/formats/tfjs-folder.js';
import { setupBackend } from '../../src/train/backend.js';
import { loadModelFolder, saveModelFolder } from '../../src/train/model-io.js';
import { buildModel } from '../../src/train/zoo.js';
import { tempDir } from '../cli/helpers.js';
import { maxRelError } from '../fixtures/compare.js';

const TOLERANCE = 1e-5;
const BACKEND = 'cpu';
let dir: string;

before(async () => {
  await setupBackend(BACKEND);
  dir = tempDir('sculpt-export-');
});

function uniform(n: number, rng: Rng, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * rng.next();
  return out;
}

/** Every weight random (variances positive), so batch norm and biases matter. */
function randomiseAll(model: tfl.LayersModel, seed: number): void {
  const rng = new Rng(seed);
  for (const w of model.weights) {
    const v = w.read() as tf.Variable;
    const n = v.size;
    const values = w.originalName.endsWith('moving_variance') ? uniform(n, rng, 0.5, 2) : uniform(n, rng, -0.8, 0.8);
    tf.tidy(() => v.assign(tf.tensor(values, v.shape, 'float32')));
  }
}

/** Runs the ONNX bytes in onnxruntime and TF.js's predict on the same inputs; returns the max relative error per output. */
async function compare(model: tfl.LayersModel, r: ExportOnnxResult, batch: number, seed: number): Promise<number[]> {
  const rng = new Rng(seed);
  const feeds: Record<string, ort.Tensor> = {};
  const xs: tf.Tensor[] = [];
  for (const i of r.inputs) {
    const dims = i.dims.map((d) => (typeof d === 'number' ? d : batch));
    const data = uniform(dims.reduce((a, b) => a * b, 1), rng, 0, 1);
    feeds[i.name] = new ort.Tensor('float32', data, dims);
    xs.push(tf.tensor(data, dims));
  }
  const session = await ort.InferenceSession.create(r.bytes);
  const got = await session.run(feeds);
  const predicted = model.predict(xs.length === 1 ? xs[0] : xs);
  const refs = Array.isArray(predicted) ? predicted : [predicted];
  const errors = r.outputs.map((o, k) => {
    const y = got[o.name];
    assert.deepEqual([...y.dims], refs[k].shape, `output ${o.name} shape`);
    return maxRelError(y.data as Float32Array, refs[k].dataSync());
  });
  tf.dispose([...xs, ...refs]);
  return errors;
}

async function saved(model: tfl.LayersModel, name: string): Promise<string> {
  const folder = join(dir, name);
  await saveModelFolder(model, folder);
  return folder;
}

test('lenet-300-100: no Transpose, Dense kernels byte for byte, outputs match TF.js', async (t) => {
  const model = await buildModel('lenet-300-100', { inputShape: [28, 28, 1], classes: 10, seed: 3 });
  randomiseAll(model, 11);
  const folder = await saved(model, 'lenet');
  const r = exportTfjsToOnnx(folder);
  assert.equal(r.transposes, 0);
  assert.deepEqual(r.inputs, [{ name: 'flatten_input', dims: ['N', 28, 28, 1] }]);
  assert.deepEqual(r.outputs, [{ name: 'fc3', dims: ['N', 10] }]);
  assert.equal(r.parameters, 784 * 300 + 300 + 300 * 100 + 100 + 100 * 10 + 10);
  const onnx = Buffer.from(r.bytes);
  const src = openTfjsFolder(folder);
  for (const w of ['fc1/kernel', 'fc2/kernel', 'fc3/kernel']) assert.ok(onnx.indexOf(Buffer.from(src.bytes(w))) > 0, `${w} bytes in the ONNX file`);
  const [err] = await compare(model, r, 5, 1);
  t.diagnostic(`max relative error vs TF.js ${err.toExponential(2)}`);
  assert.ok(err <= TOLERANCE, `max relative error ${err}`);
  model.dispose();
});

test('conv-2: NHWC input, one Transpose after the input and one before Flatten, outputs match TF.js', async (t) => {
  const model = await buildModel('conv-2', { inputShape: [28, 28, 1], classes: 10, seed: 4 });
  randomiseAll(model, 12);
  const r = exportTfjsToOnnx(await saved(model, 'conv2'));
  assert.equal(r.transposes, 2);
  assert.deepEqual(r.inputs[0].dims, ['N', 28, 28, 1]);
  assert.deepEqual(r.weights.find((w) => w.name === 'conv2/kernel')?.onnxShape, [64, 64, 3, 3]);
  const [err] = await compare(model, r, 3, 2);
  t.diagnostic(`max relative error vs TF.js ${err.toExponential(2)}`);
  assert.ok(err <= TOLERANCE, `max relative error ${err}`);
  model.dispose();
});

test('hand-built functional model: depthwise, separable, batch norm, pooling, dropout, merges, two outputs', async (t) => {
  const input = tfl.input({ shape: [9, 11, 3], name: 'image' });
  const apply = (layer: tfl.layers.Layer, x: tfl.SymbolicTensor | tfl.SymbolicTensor[]) => layer.apply(x) as tfl.SymbolicTensor;
  let x = apply(tfl.layers.zeroPadding2d({ padding: [[1, 0], [0, 2]] }), input);
  x = apply(tfl.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }), x);
  x = apply(tfl.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same' }), x);
  x = apply(tfl.layers.batchNormalization({ epsilon: 0.01 }), x);
  x = apply(tfl.layers.reLU({ maxValue: 6 }), x);
  const pooled = apply(tfl.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }), x);
  const a = apply(tfl.layers.separableConv2d({ filters: 16, kernelSize: 3, padding: 'same', depthMultiplier: 2, activation: 'swish' }), pooled);
  const b = apply(tfl.layers.conv2d({ filters: 16, kernelSize: 1, dilationRate: 1 }), pooled);
  let y = apply(tfl.layers.add(), [a, b]);
  y = apply(tfl.layers.dropout({ rate: 0.4 }), y);
  const avg = apply(tfl.layers.averagePooling2d({ poolSize: 2, strides: 1, padding: 'same' }), y);
  y = apply(tfl.layers.concatenate(), [avg, y]);
  y = apply(tfl.layers.batchNormalization({ center: false }), y);
  y = apply(tfl.layers.leakyReLU({ alpha: 0.2 }), y);
  const classes = apply(tfl.layers.dense({ units: 5, activation: 'softmax', name: 'classes' }), apply(tfl.layers.globalAveragePooling2d({}), y));
  const flat = apply(tfl.layers.dense({ units: 3, name: 'box' }), apply(tfl.layers.flatten(), apply(tfl.layers.gaussianNoise({ stddev: 0.5 }), y)));
  const model = tfl.model({ inputs: input, outputs: [classes, flat] });
  randomiseAll(model, 13);
  const r = exportTfjsToOnnx(await saved(model, 'functional'));
  assert.deepEqual(r.outputs.map((o) => o.name), ['classes', 'box']);
  const ops = new Set(r.layers.flatMap((l) => l.ops));
  for (const op of ['Pad', 'Conv', 'BatchNormalization', 'Clip', 'MaxPool', 'AveragePool', 'Concat', 'LeakyRelu', 'ReduceMean', 'Flatten', 'Softmax']) assert.ok(ops.has(op), op);
  assert.deepEqual(r.layers.filter((l) => l.className === 'Dropout' || l.className === 'GaussianNoise').map((l) => l.ops), [[], []]);
  const errors = await compare(model, r, 4, 3);
  t.diagnostic(`max relative errors vs TF.js ${errors.map((e) => e.toExponential(2)).join(', ')}`);
  for (const e of errors) assert.ok(e <= TOLERANCE, `max relative errors ${errors}`);
  model.dispose();
});

test('hand-built sequential model: crop, upsample, PReLU, permute, reshape, dilated Conv1D, 1-D pooling, activations', async (t) => {
  const acts = ['elu', 'selu', 'gelu', 'gelu_new', 'hardSigmoid', 'softplus', 'softsign', 'mish', 'relu6', 'sigmoid', 'tanh', 'linear'] as const;
  const layers: tfl.layers.Layer[] = [
    tfl.layers.conv2d({ inputShape: [7, 6, 2], filters: 3, kernelSize: 2, activation: 'elu' }),
    tfl.layers.cropping2D({ cropping: [[1, 0], [0, 1]] }),
    tfl.layers.upSampling2d({ size: [2, 1] }),
    tfl.layers.prelu({}),
    tfl.layers.permute({ dims: [2, 1, 3] }),
    tfl.layers.reshape({ targetShape: [40, 3] }),
    tfl.layers.conv1d({ filters: 4, kernelSize: 3, padding: 'same', dilationRate: 2, activation: 'selu' }),
    tfl.layers.maxPooling1d({ poolSize: 2 }),
    tfl.layers.averagePooling1d({ poolSize: 2, padding: 'same' }),
    tfl.layers.flatten(),
    ...acts.map((activation) => tfl.layers.dense({ units: 6, activation })),
    tfl.layers.batchNormalization({}),
    tfl.layers.elu({}),
    tfl.layers.thresholdedReLU({ theta: 0.1 }),
    tfl.layers.dense({ units: 4 }),
    tfl.layers.softmax({}),
  ];
  const model = tfl.sequential({ layers });
  randomiseAll(model, 14);
  const r = exportTfjsToOnnx(await saved(model, 'sequential'), { opset: 17 });
  assert.equal(r.opset, 17);
  const [err] = await compare(model, r, 3, 4);
  t.diagnostic(`max relative error vs TF.js ${err.toExponential(2)}`);
  assert.ok(err <= TOLERANCE, `max relative error ${err}`);
  model.dispose();
});

test('hand-built model with two inputs: embedding, transposed and 3-D convs, layer norm, merges, repeat, rescaling', async (t) => {
  const apply = (layer: tfl.layers.Layer, x: tfl.SymbolicTensor | tfl.SymbolicTensor[]) => layer.apply(x) as tfl.SymbolicTensor;
  const image = tfl.input({ shape: [5, 6, 2], name: 'image' });
  const tokens = tfl.input({ shape: [7], name: 'tokens' });
  // Image branch: transposed convs ('same' and 'valid', kernel larger and smaller than the stride).
  let a = apply(tfl.layers.rescaling({ scale: 2, offset: -1 }), image);
  a = apply(tfl.layers.conv2dTranspose({ filters: 3, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }), a);
  a = apply(tfl.layers.conv2dTranspose({ filters: 4, kernelSize: 1, strides: 2, padding: 'valid' }), a);
  a = apply(tfl.layers.conv2dTranspose({ filters: 4, kernelSize: [3, 2], strides: [1, 2], padding: 'valid' }), a);
  const peak = apply(tfl.layers.globalMaxPooling2d({}), a);
  a = apply(tfl.layers.dense({ units: 4 }), apply(tfl.layers.flatten(), a));
  // A 3-D branch on the same image, reshaped to a volume.
  let v = apply(tfl.layers.reshape({ targetShape: [5, 6, 2, 1] }), image);
  v = apply(tfl.layers.conv3d({ filters: 3, kernelSize: 2, padding: 'same', activation: 'tanh' }), v);
  v = apply(tfl.layers.maxPooling3d({ poolSize: [2, 2, 1], padding: 'same' }), v);
  v = apply(tfl.layers.conv3dTranspose({ filters: 2, kernelSize: 2, strides: 2, padding: 'valid' }), v);
  v = apply(tfl.layers.averagePooling3d({ poolSize: 2, padding: 'valid' }), v);
  v = apply(tfl.layers.dense({ units: 4 }), apply(tfl.layers.flatten(), v));
  // Token branch: embedding, batch norm and layer norm on a sequence, 1-D conv and pooling.
  let e = apply(tfl.layers.embedding({ inputDim: 10, outputDim: 5 }), tokens);
  e = apply(tfl.layers.batchNormalization({}), e);
  e = apply(tfl.layers.layerNormalization({}), e);
  e = apply(tfl.layers.conv1d({ filters: 4, kernelSize: 2, activation: 'relu' }), e);
  e = apply(tfl.layers.globalMaxPooling1d({}), e);
  // Each merge sees independent branches, so no branch hides behind a max or min.
  let m = apply(tfl.layers.concatenate(), [
    apply(tfl.layers.multiply(), [a, e]), apply(tfl.layers.average(), [a, v, peak]),
    apply(tfl.layers.maximum(), [e, v]), apply(tfl.layers.minimum(), [a, peak]),
  ]);
  m = apply(tfl.layers.repeatVector({ n: 3 }), m);
  m = apply(tfl.layers.layerNormalization({ axis: [1, 2] }), m);
  m = apply(tfl.layers.globalAveragePooling1d({}), m);
  // logSoftmax is registered in tfjs-layers but missing from its ActivationIdentifier type.
  const out = apply(tfl.layers.dense({ units: 3, activation: 'logSoftmax' as unknown as 'softmax', name: 'scores' }), m);
  // `peak` is an output and also read by later layers: naming the outputs must not rewire them.
  const model = tfl.model({ inputs: [image, tokens], outputs: [out, peak] });
  randomiseAll(model, 15);
  const r = exportTfjsToOnnx(await saved(model, 'two-inputs'));
  assert.deepEqual(r.inputs.map((i) => i.name), ['image', 'tokens']);
  const ops = new Set(r.layers.flatMap((l) => l.ops));
  for (const op of ['ConvTranspose', 'Gather', 'Tile', 'Mean', 'Max', 'Min', 'LogSoftmax', 'ReduceMax']) assert.ok(ops.has(op), op);
  // Token ids: integers in [0, 10) given as float32, as TF.js's Embedding takes them.
  const rng = new Rng(9);
  const img = uniform(2 * 5 * 6 * 2, rng, 0, 1);
  const ids = Float32Array.from({ length: 2 * 7 }, () => Math.floor(rng.next() * 10));
  const session = await ort.InferenceSession.create(r.bytes);
  const got = await session.run({ image: new ort.Tensor('float32', img, [2, 5, 6, 2]), tokens: new ort.Tensor('float32', ids, [2, 7]) });
  const refs = model.predict([tf.tensor(img, [2, 5, 6, 2]), tf.tensor(ids, [2, 7])]) as tf.Tensor[];
  const errors = r.outputs.map((o, k) => maxRelError(got[o.name].data as Float32Array, refs[k].dataSync()));
  t.diagnostic(`max relative errors vs TF.js ${errors.map((e) => e.toExponential(2)).join(', ')}`);
  for (const e of errors) assert.ok(e <= TOLERANCE, `max relative errors ${errors}`);

  // Batch norm over another axis than the last: TF.js broadcasts it inconsistently; refused.
  const bn = tfl.sequential({ layers: [tfl.layers.batchNormalization({ inputShape: [3, 2], axis: 1 })] });
  const folder = await saved(bn, 'bn-axis-1');
  assert.throws(() => exportTfjsToOnnx(folder), /layer batch_normalization\w* \(BatchNormalization\): axis 1: only the last \(channel\) axis is supported/);
  model.dispose();
});

test('every activation and activation layer, each compared as its own output', async (t) => {
  const acts = ['relu', 'relu6', 'elu', 'selu', 'gelu', 'gelu_new', 'hardSigmoid', 'softplus', 'softsign', 'mish', 'swish', 'sigmoid', 'tanh', 'softmax', 'logSoftmax'];
  const input = tfl.input({ shape: [4, 6], name: 'x' });
  // Inputs of the activations spread over [-4, 4], where they differ most.
  const pre = tfl.layers.dense({ units: 6, name: 'pre' }).apply(input) as tfl.SymbolicTensor;
  const outputs = acts.map((a) => tfl.layers.activation({ activation: a as 'relu', name: `act_${a}` }).apply(pre) as tfl.SymbolicTensor);
  outputs.push(
    tfl.layers.reLU({ maxValue: 1.5, name: 'relu_max' }).apply(pre) as tfl.SymbolicTensor,
    tfl.layers.leakyReLU({ alpha: 0.1, name: 'leaky' }).apply(pre) as tfl.SymbolicTensor,
    tfl.layers.elu({ name: 'elu_layer' }).apply(pre) as tfl.SymbolicTensor,
    tfl.layers.thresholdedReLU({ theta: 0.5, name: 'thresholded' }).apply(pre) as tfl.SymbolicTensor,
    tfl.layers.softmax({ axis: -1, name: 'softmax_layer' }).apply(pre) as tfl.SymbolicTensor,
    tfl.layers.prelu({ sharedAxes: [1], name: 'prelu_shared' }).apply(pre) as tfl.SymbolicTensor,
  );
  const model = tfl.model({ inputs: input, outputs });
  randomiseAll(model, 16);
  const k = model.getLayer('pre').getWeights()[0];
  model.getLayer('pre').setWeights([tf.mul(k, 8), model.getLayer('pre').getWeights()[1]]);
  const r = exportTfjsToOnnx(await saved(model, 'activations'));
  assert.equal(r.outputs.length, outputs.length);
  const errors = await compare(model, r, 3, 7);
  t.diagnostic(`max relative errors vs TF.js: ${r.outputs.map((o, i) => `${o.name} ${errors[i].toExponential(1)}`).join(', ')}`);
  errors.forEach((e, i) => assert.ok(e <= TOLERANCE, `${r.outputs[i].name}: ${e}`));
  model.dispose();
});

test('unknown image size: symbolic dims, SAME_UPPER padding, right for any size', async (t) => {
  const model = tfl.sequential({ layers: [
    tfl.layers.conv2d({ inputShape: [null, null, 3], filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }),
    tfl.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }),
    tfl.layers.depthwiseConv2d({ kernelSize: 3, padding: 'valid' }),
    tfl.layers.globalAveragePooling2d({}),
    tfl.layers.dense({ units: 3 }),
  ] });
  randomiseAll(model, 17);
  const r = exportTfjsToOnnx(await saved(model, 'any-size'));
  assert.deepEqual(r.inputs[0].dims, ['N', `${r.inputs[0].name}_d1`, `${r.inputs[0].name}_d2`, 3]);
  const session = await ort.InferenceSession.create(r.bytes);
  for (const [h, w] of [[13, 17], [16, 9]]) {
    const data = uniform(2 * h * w * 3, new Rng(h), 0, 1);
    const got = (await session.run({ [r.inputs[0].name]: new ort.Tensor('float32', data, [2, h, w, 3]) }))[r.outputs[0].name].data as Float32Array;
    const x = tf.tensor(data, [2, h, w, 3]);
    const y = model.predict(x) as tf.Tensor;
    const err = maxRelError(got, y.dataSync());
    tf.dispose([x, y]);
    t.diagnostic(`${h}×${w}: max relative error vs TF.js ${err.toExponential(2)}`);
    assert.ok(err <= TOLERANCE, `${h}×${w}: ${err}`);
  }
  model.dispose();
});

test('uint8-quantized weights are dequantized as TF.js loads them', async (t) => {
  const model = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [6], units: 5, activation: 'tanh', name: 'fc' }), tfl.layers.dense({ units: 2, name: 'out' })] });
  randomiseAll(model, 18);
  const folder = await saved(model, 'dense-float');
  // Rewrite fc/kernel as uint8 with scale and min, the way the TF.js converter quantizes.
  const json = JSON.parse(readFileSync(join(folder, 'model.json'), 'utf8'));
  const src = openTfjsFolder(folder);
  const parts: Uint8Array[] = [];
  for (const w of json.weightsManifest[0].weights) {
    const v = src.read(w.name).slice();
    if (w.name !== 'fc/kernel') {
      parts.push(new Uint8Array(v.buffer));
      continue;
    }
    let min = Infinity, max = -Infinity;
    for (const x of v) { min = Math.min(min, x); max = Math.max(max, x); }
    const scale = (max - min) / 255;
    parts.push(Uint8Array.from(v, (x) => Math.round((x - min) / scale)));
    w.quantization = { dtype: 'uint8', scale, min };
  }
  const quantized = join(dir, 'dense-uint8');
  mkdirSync(quantized);
  writeFileSync(join(quantized, 'model.json'), JSON.stringify(json));
  writeFileSync(join(quantized, 'weights.bin'), Buffer.concat(parts));
  const loaded = await loadModelFolder(quantized);
  const r = exportTfjsToOnnx(quantized);
  const [err] = await compare(loaded, r, 4, 8);
  t.diagnostic(`max relative error vs TF.js ${err.toExponential(2)}`);
  assert.ok(err <= TOLERANCE, `max relative error ${err}`);
  loaded.dispose();
  model.dispose();
});

test('a layer shared by two calls: one initializer per weight, both calls right', async (t) => {
  const a = tfl.input({ shape: [5], name: 'a' });
  const b = tfl.input({ shape: [5], name: 'b' });
  const shared = tfl.layers.dense({ units: 4, activation: 'relu', name: 'shared' });
  const sum = tfl.layers.add().apply([shared.apply(a) as tfl.SymbolicTensor, shared.apply(b) as tfl.SymbolicTensor]) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: [a, b], outputs: tfl.layers.dense({ units: 2, name: 'head' }).apply(sum) as tfl.SymbolicTensor });
  randomiseAll(model, 19);
  const r = exportTfjsToOnnx(await saved(model, 'shared'));
  assert.deepEqual(r.layers.filter((l) => l.name === 'shared').map((l) => l.ops), [['MatMul', 'Add', 'Relu'], ['MatMul', 'Add', 'Relu']]);
  assert.equal(r.weights.length, 4);
  const onnx = Buffer.from(r.bytes);
  const kernel = Buffer.from(openTfjsFolder(join(dir, 'shared')).bytes('shared/kernel'));
  assert.equal(onnx.indexOf(kernel), onnx.lastIndexOf(kernel), 'the shared kernel is stored once');
  const [err] = await compare(model, r, 3, 9);
  t.diagnostic(`max relative error vs TF.js ${err.toExponential(2)}`);
  assert.ok(err <= TOLERANCE, `max relative error ${err}`);
  model.dispose();
});

test('nested models are inlined: a Sequential inside a Sequential, a functional block called twice', async (t) => {
  const features = tfl.sequential({ name: 'features', layers: [
    tfl.layers.conv2d({ inputShape: [6, 6, 2], filters: 3, kernelSize: 3, activation: 'relu', name: 'c1' }),
    tfl.layers.flatten({ name: 'fl' }),
  ] });
  const outer = tfl.sequential({ layers: [features, tfl.layers.dense({ units: 2, name: 'head' })] });
  randomiseAll(outer, 20);
  const r1 = exportTfjsToOnnx(await saved(outer, 'nested-sequential'));
  assert.deepEqual(r1.inputs, [{ name: 'features_input', dims: ['N', 6, 6, 2] }]);
  assert.deepEqual(r1.layers.map((l) => l.name), ['c1', 'fl', 'head']);
  const [e1] = await compare(outer, r1, 2, 10);

  const blockIn = tfl.input({ shape: [4] });
  const block = tfl.model({ name: 'block', inputs: blockIn, outputs: tfl.layers.dense({ units: 4, activation: 'tanh', name: 'bd' }).apply(blockIn) as tfl.SymbolicTensor });
  const x = tfl.input({ shape: [4], name: 'x' });
  const twice = block.apply(block.apply(x) as tfl.SymbolicTensor) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: x, outputs: tfl.layers.dense({ units: 2, name: 'od' }).apply(twice) as tfl.SymbolicTensor });
  randomiseAll(model, 21);
  const r2 = exportTfjsToOnnx(await saved(model, 'nested-functional'));
  assert.deepEqual(r2.layers.map((l) => l.name), ['bd', 'bd', 'od']);
  assert.equal(r2.weights.length, 4, 'the block\'s weights once');
  const [e2] = await compare(model, r2, 3, 11);

  // A block with two outputs, both read: inlined once.
  const pairIn = tfl.input({ shape: [4] });
  const pair = tfl.model({ name: 'pair', inputs: pairIn, outputs: [
    tfl.layers.dense({ units: 3, name: 'p1' }).apply(pairIn) as tfl.SymbolicTensor, tfl.layers.dense({ units: 3, name: 'p2' }).apply(pairIn) as tfl.SymbolicTensor,
  ] });
  const y = tfl.input({ shape: [4], name: 'y' });
  const both = pair.apply(y) as tfl.SymbolicTensor[];
  const joined = tfl.model({ inputs: y, outputs: tfl.layers.multiply().apply(both) as tfl.SymbolicTensor });
  randomiseAll(joined, 22);
  const r3 = exportTfjsToOnnx(await saved(joined, 'nested-two-outputs'));
  assert.deepEqual(r3.layers.map((l) => l.name), ['p1', 'p2', r3.layers[2].name]);
  const [e3] = await compare(joined, r3, 2, 12);
  t.diagnostic(`max relative errors vs TF.js ${e1.toExponential(2)}, ${e2.toExponential(2)}, ${e3.toExponential(2)}`);
  assert.ok(e1 <= TOLERANCE && e2 <= TOLERANCE && e3 <= TOLERANCE, `max relative errors ${e1}, ${e2}, ${e3}`);
  outer.dispose();
  model.dispose();
  joined.dispose();
});
