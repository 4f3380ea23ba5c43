import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { Rng } from '../../src/core/rng.js';
import { SculptError } from '../../src/core/errors.js';
import { fromFloat16Bits, readSculptHeader, toFloat16Bits, unpackWeights, type WeightInput } from '../../src/sparse/container.js';
import { packSculpt, toOnnxSparse, unpackSculpt } from '../../src/api/sculpt-file.js';
import { mlpModel } from '../../bench/sparse-onnx-writer.js';
import { OnnxModel } from '../../src/formats/onnx.js';
import { SparseExecutor } from '../../src/sparse/executor.js';

const sizes = [784, 300, 100, 10];

/** LeNet-300-100-shaped weights with exactly round(0.9·N) smallest magnitudes zeroed per layer. */
function prunedMlp(sparsity: number) {
  const rng = new Rng(77);
  const weights: Float32Array[] = [], biases: Float32Array[] = [];
  for (let l = 0; l < 3; l++) {
    const w = new Float32Array(sizes[l + 1] * sizes[l]);
    for (let i = 0; i < w.length; i++) w[i] = (rng.nextUint32() / 2 ** 32 - 0.5) * 0.2;
    const order = Array.from(w.keys()).sort((a, b) => Math.abs(w[a]) - Math.abs(w[b]) || a - b);
    for (let i = 0; i < Math.round(sparsity * w.length); i++) w[order[i]] = 0;
    weights.push(w);
    biases.push(Float32Array.from({ length: sizes[l + 1] }, () => rng.nextUint32() / 2 ** 32 - 0.5));
  }
  const onnx = mlpModel(sizes, weights, biases, 'gemm');
  const map = new Map<string, WeightInput>(weights.map((w, l) => [`w${l}`, { dims: [sizes[l + 1], sizes[l]], data: w }]));
  return { onnx, weights, map };
}

async function runOrt(model: Uint8Array, x: Float32Array): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const y = (await s.run({ x: new ort.Tensor('float32', x, [2, 784]) })).y.data as Float32Array;
  await s.release();
  return y;
}

test('at 90% sparsity the .sculpt file is at most 16% of the dense ONNX and unpacks to the same answers', async () => {
  const { onnx, weights, map } = prunedMlp(0.9);
  const { bytes, report } = packSculpt(onnx, map);
  assert.ok(bytes.length <= 0.16 * onnx.length, `${bytes.length} bytes against ${onnx.length}`);
  assert.equal(report.bytes, bytes.length);
  assert.deepEqual(report.tensors.map((t) => t.storage), ['bitmask', 'bitmask', 'bitmask']);
  assert.equal(report.fp16MaxError, 0);
  const back = unpackWeights(bytes);
  weights.forEach((w, l) => assert.deepEqual(new Uint8Array(back.get(`w${l}`)!.data.buffer), new Uint8Array(w.buffer)));
  const x = Float32Array.from({ length: 2 * 784 }, (_, i) => ((i * 37) % 101) / 101);
  const ref = await runOrt(onnx, x);
  const got = await runOrt(unpackSculpt(bytes), x);
  assert.deepEqual(Array.from(got), Array.from(ref));
});

test('at 95% CSR with 16-bit indices wins; --fp16 halves the values and reports its rounding error', async () => {
  const { onnx, map } = prunedMlp(0.95);
  const plain = packSculpt(onnx, map);
  // The 10×100 layer's 11 row pointers tip it to bitmask (325 bytes against 344).
  assert.deepEqual(plain.report.tensors.map((t) => t.storage), ['csr', 'csr', 'bitmask']);
  assert.equal(plain.report.tensors[2].bytes, 125 + 50 * 4);
  assert.equal(readSculptHeader(plain.bytes).tensors[0].arrays.colIndex.type, 'u16');
  const half = packSculpt(onnx, map, { fp16: true });
  assert.ok(half.bytes.length < plain.bytes.length * 0.75);
  assert.ok(half.report.fp16MaxError > 0 && half.report.fp16MaxError <= 0.1 * 2 ** -11);
  const x = Float32Array.from({ length: 2 * 784 }, (_, i) => ((i * 13) % 17) / 17);
  const ref = await runOrt(onnx, x);
  const got = await runOrt(unpackSculpt(half.bytes), x);
  let d = 0, m = 0;
  for (let i = 0; i < ref.length; i++) { d = Math.max(d, Math.abs(got[i] - ref[i])); m = Math.max(m, Math.abs(ref[i])); }
  assert.ok(d <= 2e-3 * m, `fp16 difference ${d}`);
});

test('float16 conversion rounds to nearest even and handles the edges', () => {
  assert.equal(toFloat16Bits(1), 0x3c00);
  assert.equal(toFloat16Bits(-2), 0xc000);
  assert.equal(toFloat16Bits(65504), 0x7bff);
  assert.equal(toFloat16Bits(65536), 0x7c00);
  assert.equal(toFloat16Bits(2 ** -24), 0x0001);
  assert.equal(toFloat16Bits(2 ** -26), 0x0000);
  assert.equal(toFloat16Bits(1 + 2 ** -11), 0x3c00); // tie → even
  assert.equal(toFloat16Bits(1 + 3 * 2 ** -11), 0x3c02); // tie → even (up)
  assert.ok(Number.isNaN(fromFloat16Bits(toFloat16Bits(NaN))));
  for (const h of [0x0001, 0x03ff, 0x0400, 0x3555, 0x7bff, 0xbc00]) assert.equal(toFloat16Bits(fromFloat16Bits(h)), h);
});

test('damaged or future containers are refused with a SculptError', () => {
  const { onnx, map } = prunedMlp(0.9);
  const { bytes } = packSculpt(onnx, map);
  const future = bytes.slice();
  future[6] = 2;
  assert.throws(() => readSculptHeader(future), (e: unknown) => e instanceof SculptError && /version 2/.test(e.message));
  assert.throws(() => readSculptHeader(bytes.slice(0, bytes.length - 100)), (e: unknown) => e instanceof SculptError && /outside the file/.test(e.message));
  assert.throws(() => readSculptHeader(onnx), (e: unknown) => e instanceof SculptError && /magic/.test(e.message));
  assert.throws(() => packSculpt(onnx, new Map([['nope', { dims: [1], data: new Float32Array(1) }]])), (e: unknown) => e instanceof SculptError && /nope/.test(e.message));
});

test('onnx-sparse: pruned initializers become sparse_initializer entries that onnxruntime loads', async () => {
  const { onnx, map } = prunedMlp(0.9);
  const sparse = toOnnxSparse(onnx, map);
  // 12 bytes per nonzero (float32 value + int64 index) against 4 per dense weight.
  const nnz = [...map.values()].reduce((s, w) => s + w.data.filter((v) => v !== 0).length, 0);
  const dense = [...map.values()].reduce((s, w) => s + w.data.byteLength, 0);
  assert.ok(Math.abs(onnx.length - sparse.length - (dense - 12 * nnz)) < 400);
  const x = Float32Array.from({ length: 2 * 784 }, (_, i) => ((i * 7) % 23) / 23);
  assert.deepEqual(Array.from(await runOrt(sparse, x)), Array.from(await runOrt(onnx, x)));
});

test('a .sculpt file runs on the sparse executor with onnxruntime\'s answers (the `sculpt run` path)', async () => {
  const { onnx, map } = prunedMlp(0.9);
  const { bytes } = packSculpt(onnx, map);
  const graph = new OnnxModel('mlp.sculpt', unpackSculpt(bytes)).graph();
  const ex = new SparseExecutor(graph, { engine: 'sparse' });
  const x = Float32Array.from({ length: 2 * 784 }, (_, i) => ((i * 5) % 29) / 29);
  const ref = await runOrt(onnx, x);
  const y = ex.run({ x: { dtype: 'float32', dims: [2, 784], data: x } }).y.data;
  let d = 0, m = 0;
  for (let i = 0; i < ref.length; i++) { d = Math.max(d, Math.abs(y[i] - ref[i])); m = Math.max(m, Math.abs(ref[i])); }
  assert.ok(d <= 1e-4 * m, `difference ${d}`);
  assert.equal(ex.layers[0].nonzeros, 784 * 300 - Math.round(0.9 * 784 * 300));
});
