// Structural shrinking of a transformer encoder (test/fixtures/shrink/encoder*.onnx, PyTorch
// exports at opset 13 and 17): the MLP's intermediate neurons and the attention heads shrink, the
// shrunk model computes what the neuron- and head-masked model computes (same selection) within
// 1e-5 relative in onnxruntime, the parameters shrink exactly, the head Reshapes' shape constants
// name the heads left, and the hidden dimension stays pinned with its reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { channelGroupsOfFile, shrinkFile, type ShrinkOptions } from '../../src/api/shrink-file.js';
import { numel } from '../../src/core/types.js';
import { graphTensor } from '../../src/formats/onnx-decode.js';
import { readOnnx } from '../../src/formats/onnx.js';
import { FIXTURES, tempDir } from '../cli/helpers.js';
import { relativeDiff } from '../formats/shrink-compare.js';

const SHRINK = join(FIXTURES, 'shrink');
const DIMS = [1, 8, 16];
/** Stored float values of each fixture: its initializers and its Constant nodes' scalars. */
const PARAMETERS: Record<string, number> = { encoder: 18302, 'encoder-ln': 18292 };
/** Per MLP neuron: its fc1 column (32), fc1 bias entry (1) and fc2 row (32). */
const PER_NEURON = 65;
/** Per attention head of 8: its Q, K and V columns (32 · 8 each) and bias entries (8 each), and 8 output-projection rows of 32. */
const PER_HEAD = 3 * (32 * 8 + 8) + 8 * 32;

function input(seed: number): Float32Array {
  const x = new Float32Array(numel(DIMS));
  let s = seed >>> 0;
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = (s / 2 ** 32) * 4 - 2;
  }
  return x;
}

async function run(file: string, x: Float32Array): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  return (await session.run({ input: new ort.Tensor('float32', x, DIMS) })).logits.data as Float32Array;
}

for (const name of ['encoder', 'encoder-ln']) {
  for (const scope of ['layer', 'global'] as const) {
    test(`shrink ${name} (${scope}): MLP neurons and attention heads go, equals the masked model, parameters shrink exactly`, async () => {
      const dir = tempDir();
      const file = join(SHRINK, `${name}.onnx`);
      const opts: ShrinkOptions = { sparsity: 0.5, norm: scope === 'layer' ? 2 : 1, scope };
      const shrunk = shrinkFile(file, join(dir, 'shrunk.onnx'), opts);
      const masked = shrinkFile(file, join(dir, 'masked.onnx'), { ...opts, mask: true });
      assert.deepEqual(shrunk.groups, masked.groups, 'same selection');

      const free = shrunk.groups.filter((g) => g.pinned.length === 0);
      assert.deepEqual(free.map((g) => [g.producers[0], g.size, g.headSize]), [
        ['MatMul /layers/layers.0/q/MatMul', 32, 8], ['MatMul /layers/layers.0/fc1/MatMul', 64, undefined],
        ['MatMul /layers/layers.1/q/MatMul', 32, 8], ['MatMul /layers/layers.1/fc1/MatMul', 64, undefined],
      ]);
      const [attn0, mlp0, attn1, mlp1] = free;
      // Heads are chosen per attention whatever the scope: round(0.5 · 4) = 2 of each.
      assert.deepEqual([attn0.removed, attn1.removed], [16, 16]);
      if (scope === 'layer') assert.deepEqual([mlp0.removed, mlp1.removed], [32, 32]);
      else assert.equal(mlp0.removed + mlp1.removed, 64);
      assert.equal(shrunk.channels.removed, 64 + 32);

      // Each layer's fc1 weight loses columns, its bias entries, fc2 loses rows.
      const before = readOnnx(file);
      const after = readOnnx(join(dir, 'shrunk.onnx'));
      [mlp0, mlp1].forEach((g, layer) => {
        const [w1, b1, w2] = g.tensors.map((t) => t.replace(/\[\d+\]$/, ''));
        assert.deepEqual(g.tensors, [`${w1}[1]`, `layers.${layer}.fc1.bias[0]`, `${w2}[0]`]);
        const kept = 64 - g.removed;
        assert.deepEqual([after.stored(w1)!.dims, after.stored(b1)!.dims, after.stored(w2)!.dims], [[32, kept], [kept], [kept, 32]]);
      });
      // Q, K and V lose the same 16 columns and bias entries (two whole heads), the output projection 16 rows.
      [attn0, attn1].forEach((g, layer) => {
        const names = g.tensors.map((t) => t.replace(/\[\d+\]$/, ''));
        assert.deepEqual(g.tensors.map((t) => t.match(/\[(\d+)\]$/)![1]), ['1', '0', '1', '0', '1', '0', '0']);
        assert.deepEqual(names.filter((_, i) => i % 2 === 1 && i < 6), ['q', 'k', 'v'].map((p) => `layers.${layer}.${p}.bias`));
        assert.deepEqual(names.map((t) => after.stored(t)!.dims), [[32, 16], [16], [32, 16], [16], [32, 16], [16], [16, 32]]);
      });
      // The split Reshapes of Q, K and V say 2 heads, the merge Reshape 16 features.
      const shapes = after.decoded.nodes.filter((n) => n.opType === 'Reshape').map((n) => {
        const t = graphTensor(after.stored(n.inputs[1])!, after.bytes, after.path, after.readExternal)!;
        return Array.from(t.data as BigInt64Array, Number);
      });
      assert.deepEqual(shapes, [0, 1].flatMap(() => [[1, 8, 2, 8], [1, 8, 2, 8], [1, 8, 2, 8], [1, 8, 16]]));
      assert.equal(before.tensors.length, after.tensors.length);
      const count = (m: typeof before): number => m.initializers.filter((t) => t.dataType === 1).reduce((s, t) => s + numel(t.dims), 0);
      const gone = 64 * PER_NEURON + 4 * PER_HEAD;
      assert.equal(PER_HEAD, 1048);
      assert.equal(shrunk.parameters.before, PARAMETERS[name]);
      assert.equal(count(before), PARAMETERS[name]);
      assert.equal(shrunk.parameters.after, PARAMETERS[name] - gone);
      assert.equal(count(after), PARAMETERS[name] - gone);
      assert.equal(shrunk.tensors.filter((t) => t.folded).length, 0, 'GELU(0) = 0 and a removed head\'s V is 0: nothing is carried into fc2 or the output projection');

      for (const seed of [3, 4]) {
        const x = input(seed);
        const [a, b, o] = [await run(join(dir, 'shrunk.onnx'), x), await run(join(dir, 'masked.onnx'), x), await run(file, x)];
        assert.ok(relativeDiff(a, b) < 1e-5, `shrunk vs masked: ${relativeDiff(a, b)}`);
        assert.ok(relativeDiff(o, b) > 1e-3, `the selection changed the model: ${relativeDiff(o, b)}`);
      }
    });
  }

  test(`shrink ${name}: at 25% one head of each attention goes (round(0.25 · 4) = 1), still equal to the masked model`, async () => {
    const dir = tempDir();
    const file = join(SHRINK, `${name}.onnx`);
    // 0.25 of 4 heads rounds to 1 per attention; of 64 neurons, 16.
    const opts: ShrinkOptions = { sparsity: 0.25, norm: 2, scope: 'layer' };
    const shrunk = shrinkFile(file, join(dir, 'shrunk.onnx'), opts);
    shrinkFile(file, join(dir, 'masked.onnx'), { ...opts, mask: true });
    const attn = shrunk.groups.filter((g) => g.headSize !== undefined);
    assert.deepEqual(attn.map((g) => g.removed), [8, 8]);
    assert.equal(shrunk.parameters.after, PARAMETERS[name] - 32 * PER_NEURON - 2 * PER_HEAD);
    const x = input(9);
    const [a, b, o] = [await run(join(dir, 'shrunk.onnx'), x), await run(join(dir, 'masked.onnx'), x), await run(file, x)];
    assert.ok(relativeDiff(a, b) < 1e-5, `shrunk vs masked: ${relativeDiff(a, b)}`);
    assert.ok(relativeDiff(o, b) > 1e-3, `the selection changed the model: ${relativeDiff(o, b)}`);
  });
}

test('inspect groups of the encoder: one residual-stream group pinned by LayerNorm, Q/K/V of each attention one group of 4 heads of 8', () => {
  for (const [name, ln] of [['encoder', /^reduced over its channel axis by ReduceMean \/layers\/layers\.0\/ln1\/ReduceMean \(a decomposed LayerNorm/], ['encoder-ln', /^normalised over its channel axis by LayerNormalization \/layers\/layers\.0\/ln1\/LayerNormalization/]] as const) {
    const groups = channelGroupsOfFile(join(SHRINK, `${name}.onnx`));
    assert.equal(groups.length, 6, name);
    // The embedding, both layers' attention output and fc2 projections: joined by the residual Adds.
    const stream = groups[0];
    assert.deepEqual([stream.size, stream.producers.length], [32, 5]);
    assert.ok(stream.tensors.includes('pos[2]'), 'the position embedding is sliced with the stream');
    assert.match(stream.pinned[0], ln);
    const heads = groups.filter((g) => g.headSize !== undefined);
    assert.deepEqual(heads.map((g) => [g.size, g.headSize, g.pinned.length, g.producers.map((p) => p.replace(/^.*\/(\w+)\/MatMul$/, '$1')).join()]), [[32, 8, 0, 'q,k,v'], [32, 8, 0, 'q,k,v']]);
    assert.match(groups.at(-1)!.pinned[0], /reaches graph output logits/);
  }
});
