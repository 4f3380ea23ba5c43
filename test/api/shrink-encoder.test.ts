// Structural shrinking of a transformer encoder (test/fixtures/shrink/encoder*.onnx, PyTorch
// exports at opset 13 and 17): the MLP's intermediate neurons shrink, the shrunk model computes
// what the neuron-masked model computes (same selection) within 1e-5 relative in onnxruntime, the
// parameters shrink exactly, and the hidden dimension and the attention heads stay pinned with
// their reasons.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { channelGroupsOfFile, shrinkFile, type ShrinkOptions } from '../../src/api/shrink-file.js';
import { numel } from '../../src/core/types.js';
import { readOnnx } from '../../src/formats/onnx.js';
import { FIXTURES, tempDir } from '../cli/helpers.js';

const SHRINK = join(FIXTURES, 'shrink');
const DIMS = [1, 8, 16];
/** Stored float values of each fixture: its initializers and its Constant nodes' scalars. */
const PARAMETERS: Record<string, number> = { encoder: 18302, 'encoder-ln': 18292 };
/** Per MLP neuron: its fc1 column (32), fc1 bias entry (1) and fc2 row (32). */
const PER_NEURON = 65;

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

function relativeDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let diff = 0;
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    max = Math.max(max, Math.abs(b[i]));
  }
  return diff / max;
}

for (const name of ['encoder', 'encoder-ln']) {
  for (const scope of ['layer', 'global'] as const) {
    test(`shrink ${name} (${scope}): MLP neurons go, equals the neuron-masked model, parameters shrink exactly`, async () => {
      const dir = tempDir();
      const file = join(SHRINK, `${name}.onnx`);
      const opts: ShrinkOptions = { sparsity: 0.5, norm: scope === 'layer' ? 2 : 1, scope };
      const shrunk = shrinkFile(file, join(dir, 'shrunk.onnx'), opts);
      const masked = shrinkFile(file, join(dir, 'masked.onnx'), { ...opts, mask: true });
      assert.deepEqual(shrunk.groups, masked.groups, 'same selection');

      const free = shrunk.groups.filter((g) => g.pinned.length === 0);
      assert.deepEqual(free.map((g) => [g.producers[0], g.size]), [['MatMul /layers/layers.0/fc1/MatMul', 64], ['MatMul /layers/layers.1/fc1/MatMul', 64]]);
      const removed = free.map((g) => g.removed);
      if (scope === 'layer') assert.deepEqual(removed, [32, 32]);
      else assert.equal(removed[0] + removed[1], 64);
      assert.equal(shrunk.channels.removed, 64);

      // Each layer's fc1 weight loses columns, its bias entries, fc2 loses rows; nothing else changes.
      const before = readOnnx(file);
      const after = readOnnx(join(dir, 'shrunk.onnx'));
      free.forEach((g, layer) => {
        const [w1, b1, w2] = g.tensors.map((t) => t.replace(/\[\d+\]$/, ''));
        assert.deepEqual(g.tensors, [`${w1}[1]`, `layers.${layer}.fc1.bias[0]`, `${w2}[0]`]);
        const kept = 64 - g.removed;
        assert.deepEqual([after.stored(w1)!.dims, after.stored(b1)!.dims, after.stored(w2)!.dims], [[32, kept], [kept], [kept, 32]]);
      });
      assert.equal(before.tensors.length, after.tensors.length);
      const count = (m: typeof before): number => m.initializers.filter((t) => t.dataType === 1).reduce((s, t) => s + numel(t.dims), 0);
      assert.equal(shrunk.parameters.before, PARAMETERS[name]);
      assert.equal(count(before), PARAMETERS[name]);
      assert.equal(shrunk.parameters.after, PARAMETERS[name] - 64 * PER_NEURON);
      assert.equal(count(after), PARAMETERS[name] - 64 * PER_NEURON);
      assert.equal(shrunk.tensors.filter((t) => t.folded).length, 0, 'GELU(0) = 0: a removed neuron carries nothing into fc2');

      for (const seed of [3, 4]) {
        const x = input(seed);
        const [a, b, o] = [await run(join(dir, 'shrunk.onnx'), x), await run(join(dir, 'masked.onnx'), x), await run(file, x)];
        assert.ok(relativeDiff(a, b) < 1e-5, `shrunk vs masked: ${relativeDiff(a, b)}`);
        assert.ok(relativeDiff(o, b) > 1e-3, `the selection changed the model: ${relativeDiff(o, b)}`);
      }
    });
  }
}

test('inspect groups of the encoder: one residual-stream group pinned by LayerNorm, Q/K/V pinned by their head Reshapes', () => {
  for (const [name, ln] of [['encoder', /^reduced over its channel axis by ReduceMean \/layers\/layers\.0\/ln1\/ReduceMean \(a decomposed LayerNorm/], ['encoder-ln', /^normalised over its channel axis by LayerNormalization \/layers\/layers\.0\/ln1\/LayerNormalization/]] as const) {
    const groups = channelGroupsOfFile(join(SHRINK, `${name}.onnx`));
    assert.equal(groups.length, 10, name);
    // The embedding, both layers' attention output and fc2 projections: joined by the residual Adds.
    const stream = groups[0];
    assert.deepEqual([stream.size, stream.producers.length], [32, 5]);
    assert.ok(stream.tensors.includes('pos[2]'), 'the position embedding is sliced with the stream');
    assert.match(stream.pinned[0], ln);
    const heads = groups.filter((g) => /\/(q|k|v)\/MatMul$/.test(g.producers[0]));
    assert.equal(heads.length, 6);
    for (const g of heads) assert.match(g.pinned[0], /^split into 4 heads of 8 by Reshape .* \(attention heads are not shrunk yet\)$/);
    assert.match(groups.at(-1)!.pinned[0], /reaches graph output logits/);
  }
});
