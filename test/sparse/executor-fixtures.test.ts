import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OnnxModel, readOnnx, writeOnnx } from '../../src/formats/onnx.js';
import { SparseExecutor } from '../../src/sparse/executor.js';
import type { Tensor } from '../../src/sparse/tensor.js';
import { readNpy } from '../fixtures/npy.js';
import { maxRelError } from '../fixtures/compare.js';

const FIX = 'test/fixtures';

for (const name of ['mlp', 'cnn', 'transformer', 'mlp-external']) {
  test(`${name}.onnx: sparse and dense engines agree with onnxruntime within 1e-4 relative`, async () => {
    const base = name === 'mlp-external' ? 'mlp' : name;
    const x = readNpy(`${FIX}/${base}.input.npy`);
    const session = await ort.InferenceSession.create(`${FIX}/${name}.onnx`, { intraOpNumThreads: 1, interOpNumThreads: 1 });
    const ref = (await session.run({ input: new ort.Tensor('float32', x.data, x.shape) })).output.data as Float32Array;
    await session.release();
    const graph = readOnnx(`${FIX}/${name}.onnx`).graph();
    for (const engine of ['sparse', 'dense'] as const) {
      const ex = new SparseExecutor(graph, { engine });
      const y = ex.run({ input: { dtype: 'float32', dims: x.shape, data: x.data } }).output;
      assert.deepEqual(y.dims, [x.shape[0], 10]);
      const err = maxRelError(y.data, ref);
      assert.ok(err <= 1e-4, `${engine}: max relative error ${err}`);
      assert.ok(ex.layers.length > 0 && ex.layers.every((l) => l.kind === (engine === 'sparse' ? 'csr' : 'dense')));
    }
  });
}

test('mlp.onnx pruned to 90%: auto engine stores the weights as CSR and agrees with onnxruntime on the pruned model', async () => {
  const model = readOnnx(`${FIX}/mlp.onnx`);
  const updates = new Map<string, Float32Array>();
  for (const name of ['fc1.weight', 'fc2.weight', 'fc3.weight']) {
    const w = model.read(name);
    const sorted = Float32Array.from(w, Math.abs).sort();
    const threshold = sorted[Math.round(0.9 * w.length) - 1];
    updates.set(name, w.map((v) => (Math.abs(v) <= threshold ? 0 : v)));
  }
  const dir = mkdtempSync(join(tmpdir(), 'sculpt-sparse-'));
  try {
    const path = join(dir, 'mlp-90.onnx');
    writeOnnx(model, path, updates);
    const x = readNpy(`${FIX}/mlp.input.npy`);
    const session = await ort.InferenceSession.create(path, { intraOpNumThreads: 1, interOpNumThreads: 1 });
    const ref = (await session.run({ input: new ort.Tensor('float32', x.data, x.shape) })).output.data as Float32Array;
    await session.release();
    // A fixed machine profile keeps the kernel choice deterministic.
    const machine = { bandwidth: 10e9, cacheBandwidth: 10e9, cacheBytes: 0, denseFlops: { vector: 8e9, batch: 25e9 }, sparseFlops: { vector: 4e9, batch: 15e9 } };
    const ex = new SparseExecutor(new OnnxModel(path, readFileSync(path)).graph(), { engine: 'auto', machine });
    assert.deepEqual(ex.layers.map((l) => l.kind), ['csr', 'csr', 'csr']);
    const fc1 = ex.layers[0];
    assert.equal(fc1.nonzeros, 300 * 784 - Math.round(0.9 * 300 * 784));
    assert.equal(fc1.bytes, 301 * 4 + fc1.nonzeros * 6);
    const y = ex.run({ input: { dtype: 'float32', dims: x.shape, data: x.data } }).output;
    assert.ok(maxRelError(y.data, ref) <= 1e-4);
    // 'measure' times the candidates instead; whichever it keeps, the answers are the same.
    const measured = new SparseExecutor(readOnnx(path).graph(), { engine: 'measure', batchHint: 4 });
    assert.ok(measured.layers.every((l) => ['csr', 'dense', 'rows'].includes(l.kind)));
    assert.ok(maxRelError(measured.run({ input: { dtype: 'float32', dims: x.shape, data: x.data } }).output.data, ref) <= 1e-4);
    // Unpruned weights: the same profile keeps them dense.
    assert.ok(new SparseExecutor(model.graph(), { engine: 'auto', machine }).layers.every((l) => l.kind === 'dense'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bias Adds and Relus after weight nodes are folded into the kernels', () => {
  const mlp = new SparseExecutor(readOnnx(`${FIX}/mlp.onnx`).graph(), { engine: 'sparse' });
  assert.deepEqual(mlp.foldedNodes().sort(), ['/Relu', '/Relu_1']);
  const transformer = new SparseExecutor(readOnnx(`${FIX}/transformer.onnx`).graph(), { engine: 'dense' });
  const folded = transformer.foldedNodes();
  assert.equal(folded.filter((n) => n.endsWith('/Add')).length, 12);
  assert.equal(folded.filter((n) => n.includes('Relu')).length, 2);
  assert.equal(folded.length, 14);
});

test('profile times each weight layer in both forms beside the roofline prediction', () => {
  const machine = { bandwidth: 10e9, cacheBandwidth: 50e9, cacheBytes: 512 * 1024, denseFlops: { vector: 8e9, batch: 25e9 }, sparseFlops: { vector: 4e9, batch: 15e9 } };
  const ex = new SparseExecutor(readOnnx(`${FIX}/cnn.onnx`).graph(), { engine: 'dense' });
  const rows = ex.profile(4, machine, 3);
  assert.deepEqual(rows.map((r) => [r.rows, r.cols]), [[8, 9], [16, 72], [10, 784]]);
  for (const r of rows) {
    assert.ok(r.measuredDenseMs > 0 && r.measuredSparseMs > 0);
    assert.equal(r.denseFlops, 2 * r.rows * r.cols * 4);
    assert.ok(Math.abs(r.sparseFlops - 2 * r.density * r.rows * r.cols * 4) < 1e-6);
    assert.ok(Math.abs(r.predictedSpeedup - r.predictedDenseMs / r.predictedSparseMs) < 1e-9);
    assert.equal(r.kind, 'dense');
  }
});

test('channel-pruned mlp.onnx: auto engine runs the kept rows densely and agrees with onnxruntime', async () => {
  const model = readOnnx(`${FIX}/mlp.onnx`);
  const w1 = model.read('fc1.weight'); // [300, 784]: prune 240 of the 300 output rows
  for (let r = 0; r < 300; r++) if (r % 5 !== 0) w1.fill(0, r * 784, (r + 1) * 784);
  const dir = mkdtempSync(join(tmpdir(), 'sculpt-sparse-'));
  try {
    const path = join(dir, 'mlp-channels.onnx');
    writeOnnx(model, path, new Map([['fc1.weight', w1]]));
    const x = readNpy(`${FIX}/mlp.input.npy`);
    const session = await ort.InferenceSession.create(path, { intraOpNumThreads: 1, interOpNumThreads: 1 });
    const ref = (await session.run({ input: new ort.Tensor('float32', x.data, x.shape) })).output.data as Float32Array;
    await session.release();
    const machine = { bandwidth: 10e9, cacheBandwidth: 10e9, cacheBytes: 0, denseFlops: { vector: 8e9, batch: 25e9 }, sparseFlops: { vector: 4e9, batch: 15e9 } };
    const ex = new SparseExecutor(readOnnx(path).graph(), { engine: 'auto', machine });
    assert.deepEqual(ex.layers.map((l) => l.kind), ['rows', 'dense', 'dense']);
    assert.equal(ex.layers[0].bytes, 60 * 784 * 4 + 60 * 4);
    const y = ex.run({ input: { dtype: 'float32', dims: x.shape, data: x.data } }).output;
    assert.ok(maxRelError(y.data, ref) <= 1e-4);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('decomposed LayerNorms, exact GELUs and attention\'s scaled, masked Softmax of PyTorch exports run fused, agreeing with onnxruntime within 1e-5', async () => {
  // encoder.onnx (opset 13): LayerNorm decomposed into ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt,
  // Div, Mul, Add — two per layer and a final one; GELU as x · 0.5 · (1 + erf(x / √2)), one per
  // layer. bert.onnx (opset 14, dynamic axes): the embedding LayerNorm and two per layer.
  const cases: { file: string; feeds: Record<string, Tensor>; output: string }[] = [
    { file: `${FIX}/shrink/encoder.onnx`, feeds: { input: { dtype: 'float32' as const, dims: [1, 8, 16], data: Float32Array.from({ length: 128 }, (_, i) => Math.sin(i * 0.7)) } }, output: 'logits' },
    { file: `${FIX}/shrink/bert.onnx`, feeds: { input_ids: { dtype: 'int64' as const, dims: [2, 6], data: Float64Array.from({ length: 12 }, (_, i) => (i * 13) % 64) }, attention_mask: { dtype: 'int64' as const, dims: [2, 6], data: Float64Array.from({ length: 12 }, (_, i) => (i % 6 < 5 ? 1 : 0)) } }, output: 'last_hidden_state' },
  ];
  for (const c of cases) {
    const ex = new SparseExecutor(readOnnx(c.file).graph(), { engine: 'dense' });
    const fusions = ex.fusions();
    assert.deepEqual(fusions.filter((f) => f.op === 'LayerNormalization').map((f) => f.nodes), [9, 9, 9, 9, 9], c.file);
    assert.deepEqual(fusions.filter((f) => f.op === 'Gelu').map((f) => f.nodes), [5, 5], c.file);
    // Each GELU follows the MLP's first MatMul (+ bias): that kernel applies it.
    assert.deepEqual(fusions.filter((f) => f.op === 'Gelu').map((f) => f.into !== undefined && /MatMul/.test(f.into)), [true, true], c.file);
    // Attention's Div by √d, Add of the mask and Softmax: bert.onnx's two layers (encoder.onnx scales Q before its product instead).
    assert.deepEqual(fusions.filter((f) => f.op === 'ScaledMaskedSoftmax').map((f) => f.nodes), c.file.endsWith('bert.onnx') ? [3, 3] : [], c.file);
    const session = await ort.InferenceSession.create(c.file, { intraOpNumThreads: 1 });
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(c.feeds)) feeds[name] = t.dtype === 'float32' ? new ort.Tensor('float32', t.data as Float32Array, [...t.dims]) : new ort.Tensor('int64', BigInt64Array.from(t.data as Float64Array, (v) => BigInt(v)), [...t.dims]);
    const ref = (await session.run(feeds))[c.output].data as Float32Array;
    await session.release();
    const y = ex.run(c.feeds)[c.output];
    const err = maxRelError(y.data, ref);
    assert.ok(err <= 1e-5, `${c.file}: max relative error ${err}`);
  }
});
