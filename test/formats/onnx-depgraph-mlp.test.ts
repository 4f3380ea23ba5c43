// Transformer MLP neurons on small hand-built graphs ([batch, tokens, features] activations):
// MatMul + bias Add + GELU (one Gelu node, opset 20) into the next MatMul, per-token parameters
// broadcast over the neurons, and what pins when a removed neuron would carry a constant.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { shrinkFile } from '../../src/api/shrink-file.js';
import { numel } from '../../src/core/types.js';
import { encodeOnnx, type NodeSpec, type TensorSpec } from '../../src/formats/onnx-build.js';
import { buildChannelGraph } from '../../src/formats/onnx-depgraph.js';
import { readOnnx } from '../../src/formats/onnx.js';
import { tempDir } from '../cli/helpers.js';
import { assertShrunkIsMasked, weightMaker } from './shrink-compare.js';

const X = [1, 4, 6];

const weight = weightMaker(5);

const node = (op: string, inputs: string[], output: string, attrs?: NodeSpec['attrs']): NodeSpec => ({ op, inputs, outputs: [output], ...(attrs && { attrs }) });

function save(nodes: NodeSpec[], initializers: TensorSpec[], opset = 17): string {
  const file = join(tempDir(), 'model.onnx');
  writeFileSync(file, encodeOnnx({ nodes, initializers, inputs: [{ name: 'x', dims: X }], outputs: [{ name: 'y' }], opset, irVersion: opset >= 19 ? 9 : 8 }));
  return file;
}

async function run(file: string): Promise<Float32Array> {
  const x = new Float32Array(numel(X)).map((_, i) => 2 * Math.sin(i * 0.37));
  const s = await ort.InferenceSession.create(file, { intraOpNumThreads: 1 });
  return (await s.run({ x: new ort.Tensor('float32', x, X) })).y.data as Float32Array;
}

/** Shrinks and masks at 50% per group; the two agree within 1e-5 relative in onnxruntime. */
async function exact(file: string): Promise<ReturnType<typeof shrinkFile>> {
  const dir = tempDir();
  const shrunk = shrinkFile(file, join(dir, 's.onnx'), { sparsity: 0.5, norm: 2, scope: 'layer' });
  shrinkFile(file, join(dir, 'm.onnx'), { sparsity: 0.5, norm: 2, scope: 'layer', mask: true });
  const [a, b, o] = [await run(join(dir, 's.onnx')), await run(join(dir, 'm.onnx')), await run(file)];
  assertShrunkIsMasked(a, b, o, 1e-4);
  return shrunk;
}

for (const approximate of ['none', 'tanh']) {
  test(`MatMul + Add + Gelu (approximate ${approximate}) on [1, 4, 6]: the 8 neurons shrink to 4, fc1 columns, bias and fc2 rows cut`, async () => {
    const file = save([
      node('MatMul', ['x', 'm1'], 'h'), node('Add', ['h', 'c1'], 'z'), node('Gelu', ['z'], 'g', { approximate: { string: approximate } }),
      node('MatMul', ['g', 'm2'], 'y'),
    ], [weight('m1', [6, 8]), weight('c1', [8]), weight('m2', [8, 5])], 20);
    const r = await exact(file);
    assert.deepEqual(r.groups.map((g) => [g.size, g.removed, g.pinned.length > 0]), [[8, 4, false], [5, 0, true]]);
    assert.deepEqual(r.tensors.map((t) => [t.name, t.after]), [['m1', [6, 4]], ['c1', [4]], ['m2', [4, 5]]]);
  });
}

test('a per-token scale [1, 4, 8] on the neurons is sliced on its last axis; a removed neuron stays 0', async () => {
  const file = save([
    node('MatMul', ['x', 'm1'], 'h'), node('Add', ['c1', 'h'], 'z'), node('Mul', ['z', 'p'], 'u'), node('Relu', ['u'], 'a'),
    node('MatMul', ['a', 'm2'], 'y'),
  ], [weight('m1', [6, 8]), weight('c1', [8]), weight('p', [1, 4, 8]), weight('m2', [8, 5])]);
  const r = await exact(file);
  assert.deepEqual(r.tensors.find((t) => t.name === 'p')?.after, [1, 4, 4]);
  assert.equal(readOnnx(file).stored('p')!.dims.length, 3);
});

test('a per-token shift after the bias: a removed neuron would carry a different constant per token into a MatMul: pinned', () => {
  const file = save([
    node('MatMul', ['x', 'm1'], 'h'), node('Add', ['h', 'p'], 'z'), node('MatMul', ['z', 'm2'], 'y'),
  ], [weight('m1', [6, 8]), weight('p', [1, 4, 8]), weight('m2', [8, 5])]);
  const groups = buildChannelGraph(readOnnx(file)).groups;
  assert.match(groups[0].pinned.join(), /a removed channel would not be one constant at MatMul MatMul_2/);
});

test('a Reshape that splits the neurons into heads, and an Add with a computed value, pin with their reasons', () => {
  const shape: TensorSpec = { name: 'shape', dims: [4], data: BigInt64Array.from([1n, 4n, 2n, 4n]) };
  const heads = save([
    node('MatMul', ['x', 'm1'], 'h'), node('Reshape', ['h', 'shape'], 'r'), node('Transpose', ['r'], 'y', { perm: { ints: [0, 2, 1, 3] } }),
  ], [weight('m1', [6, 8]), shape]);
  assert.equal(buildChannelGraph(readOnnx(heads)).groups[0].pinned[0], 'split into 2 heads of 4 by Reshape Reshape_1, which does not lead into an attention sculpt follows (Transpose, MatMul(Q, Kᵀ), scale, mask, Softmax, MatMul with V, Transpose, Reshape)');
  const residual = save([
    node('MatMul', ['x', 'm1'], 'h'), node('Add', ['h', 'x'], 'y'),
  ], [weight('m1', [6, 6])]);
  assert.match(buildChannelGraph(readOnnx(residual)).groups[0].pinned[0], /^Add Add_1 with x, whose channel axis is not followed \(a residual stream/);
});
