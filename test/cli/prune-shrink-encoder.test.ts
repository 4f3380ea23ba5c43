// `sculpt prune --pattern channel --shrink` and `sculpt inspect --groups` on the transformer
// encoder fixture, as a user runs them: the MLP neurons and attention heads go, the rest is pinned
// with its reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { readOnnx } from '../../src/formats/onnx.js';
import { FIXTURES, sculpt, tempDir } from './helpers.js';

const ENCODER = join(FIXTURES, 'shrink/encoder.onnx');

test('prune --shrink on a transformer encoder: half of each MLP\'s neurons and of each attention\'s heads go, the table says why the rest stays, onnxruntime runs it', async () => {
  const out = join(tempDir(), 'small.onnx');
  const r = sculpt(['prune', ENCODER, '-o', out, '--pattern', 'channel', '--sparsity', '0.5', '--shrink']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.match(r.stdout, /\n +1 +MatMul \/layers\/layers\.0\/q\/MatMul \+2 +32 +16 +16 *\n/);
  assert.match(r.stdout, /\n +5 +MatMul \/layers\/layers\.0\/fc1\/MatMul +64 +32 +32 *\n/);
  assert.match(r.stdout, /\n +7 +MatMul \/layers\/layers\.1\/q\/MatMul \+2 +32 +16 +16 *\n/);
  assert.match(r.stdout, /\n +11 +MatMul \/layers\/layers\.1\/fc1\/MatMul +64 +32 +32 *\n/);
  assert.match(r.stdout, /pinned: reduced over its channel axis by ReduceMean \/layers\/layers\.0\/ln1\/ReduceMean \(a decomposed LayerNorm/);
  // 64 neurons × (32 fc1 weights + 1 bias + 32 fc2 weights) + 4 heads × (3 × (32·8 + 8) + 8·32) = 4,160 + 4,192 fewer.
  assert.match(r.stdout, /channels: 234, 96 removed \(per group, L2\); 2 of 6 groups pinned\nparameters: 18,302 -> 9,950\nwrote /);
  const small = readOnnx(out);
  assert.deepEqual(small.stored('layers.1.fc1.bias')!.dims, [32]);
  assert.deepEqual(small.stored('layers.1.v.bias')!.dims, [16]);
  const session = await ort.InferenceSession.create(out, { intraOpNumThreads: 1 });
  const y = await session.run({ input: new ort.Tensor('float32', new Float32Array(8 * 16).fill(0.25), [1, 8, 16]) });
  assert.deepEqual(y.logits.dims, [1, 10]);
});

test('inspect --groups on the opset-17 encoder: LayerNormalization pins the hidden dimension, each attention is 4 heads of 8', () => {
  const table = sculpt(['inspect', join(FIXTURES, 'shrink/encoder-ln.onnx'), '--groups']);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /: 6 channel groups, 4 shrinkable \(192 channels\)\n/);
  assert.match(table.stdout, /\n +1 +MatMul \/layers\/layers\.0\/q\/MatMul \+2 +32 +7 +shrinkable: 4 heads of 8\n/);
  const r = sculpt(['inspect', join(FIXTURES, 'shrink/encoder-ln.onnx'), '--groups', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const groups = JSON.parse(r.stdout).groups as { size: number; pinned: string[]; producers: string[]; headSize?: number }[];
  assert.deepEqual(groups.filter((g) => g.pinned.length === 0).map((g) => [g.producers[0], g.size]), [
    ['MatMul /layers/layers.0/q/MatMul', 32], ['MatMul /layers/layers.0/fc1/MatMul', 64], ['MatMul /layers/layers.1/q/MatMul', 32], ['MatMul /layers/layers.1/fc1/MatMul', 64],
  ]);
  assert.deepEqual(groups.map((g) => g.headSize ?? 0), [0, 8, 0, 8, 0, 0]);
  assert.match(groups[0].pinned[0], /^normalised over its channel axis by LayerNormalization \/layers\/layers\.0\/ln1\/LayerNormalization \(a transformer's hidden dimension is not shrunk yet\)$/);
});
