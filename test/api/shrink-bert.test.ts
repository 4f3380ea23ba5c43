// Structural shrinking of a BERT-style encoder written as Hugging Face's BertModel is
// (test/fixtures/shrink/bert*.onnx, PyTorch exports at opset 14): heads split with
// x.view(x.size()[:-1] + (H, d)), so with dynamic axes every head Reshape's shape is a Concat of
// Shape→Gather→Unsqueeze and constants; the padding mask is built at run time from
// `attention_mask`. The shrunk model computes what the head- and neuron-masked model computes
// (same selection) within 1e-5 relative in onnxruntime, at the exported size and (dynamic export)
// at another batch and sequence length, with the parameters shrinking exactly.
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
/**
 * Stored float values: embeddings 64·32 + 16·32, the embedding LayerNorm, per layer 6 Linears and
 * 2 LayerNorms; plus 20 scalars in Constant nodes (per decomposed LayerNorm its exponent 2 and ε,
 * per layer the score scale √8 and GELU's √2, 1 and 0.5, and the mask's 1 and −10000).
 */
const PARAMETERS = 64 * 32 + 16 * 32 + 2 * 32 + 2 * (4 * (32 * 32 + 32) + (32 * 64 + 64) + (64 * 32 + 32) + 4 * 32) + 5 * 2 + 2 * 4 + 2;
/** Per MLP neuron: its intermediate column (32), bias entry (1) and output row (32). */
const PER_NEURON = 65;
/** Per head of 8: its Q, K and V columns (32 · 8 each) and bias entries (8 each), and 8 rows of the attention's dense Linear. */
const PER_HEAD = 3 * (32 * 8 + 8) + 8 * 32;

/** Token ids in [0, 64) and a mask whose last `pad` tokens of each row are padding. */
function feeds(batch: number, tokens: number, pad: number, seed: number): Record<string, ort.Tensor> {
  const ids = new BigInt64Array(batch * tokens);
  const mask = new BigInt64Array(batch * tokens);
  let s = seed >>> 0;
  for (let i = 0; i < ids.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    ids[i] = BigInt(s % 64);
    mask[i] = i % tokens < tokens - pad ? 1n : 0n;
  }
  return { input_ids: new ort.Tensor('int64', ids, [batch, tokens]), attention_mask: new ort.Tensor('int64', mask, [batch, tokens]) };
}

async function run(file: string, x: Record<string, ort.Tensor>): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  return (await session.run(x)).last_hidden_state.data as Float32Array;
}

test('inspect groups of the BERT-style exports: each attention one group of 4 heads of 8, each MLP 64 neurons, the hidden dimension pinned', () => {
  for (const name of ['bert', 'bert-static']) {
    const groups = channelGroupsOfFile(join(SHRINK, `${name}.onnx`));
    const free = groups.filter((g) => g.pinned.length === 0);
    assert.deepEqual(free.map((g) => [g.producers[0], g.size, g.headSize]), [
      ['MatMul /layers.0/attention/query/MatMul', 32, 8], ['MatMul /layers.0/intermediate/MatMul', 64, undefined],
      ['MatMul /layers.1/attention/query/MatMul', 32, 8], ['MatMul /layers.1/intermediate/MatMul', 64, undefined],
    ], name);
    assert.deepEqual(free.filter((g) => g.headSize).map((g) => g.producers.length), [3, 3], 'Q, K and V coupled');
    const pinned = groups.filter((g) => g.pinned.length > 0);
    assert.equal(pinned.length, 4);
    for (const g of pinned) assert.match(g.pinned[0], /a transformer's hidden dimension is not shrunk yet/);
  }
});

for (const name of ['bert', 'bert-static']) {
  test(`shrink ${name}: two heads of each attention and half the MLP neurons go, equal to the masked model, parameters shrink exactly`, async () => {
    const dir = tempDir();
    const file = join(SHRINK, `${name}.onnx`);
    const opts: ShrinkOptions = { sparsity: 0.5, norm: 2, scope: 'layer' };
    const shrunk = shrinkFile(file, join(dir, 'shrunk.onnx'), opts);
    const masked = shrinkFile(file, join(dir, 'masked.onnx'), { ...opts, mask: true });
    assert.deepEqual(shrunk.groups, masked.groups, 'same selection');
    assert.deepEqual(shrunk.groups.filter((g) => g.pinned.length === 0).map((g) => g.removed), [16, 32, 16, 32]);
    assert.equal(PER_HEAD, 1048);
    assert.equal(shrunk.parameters.before, PARAMETERS);
    assert.equal(shrunk.parameters.after, PARAMETERS - 64 * PER_NEURON - 4 * PER_HEAD);
    const after = readOnnx(join(dir, 'shrunk.onnx'));
    assert.equal(after.initializers.filter((t) => t.dataType === 1).reduce((s, t) => s + numel(t.dims), 0), PARAMETERS - 64 * PER_NEURON - 4 * PER_HEAD);

    // Every head Reshape now names 2 heads (split) or 16 features (merge): in its own shape, or
    // in the Concat input that builds it at run time.
    const value = (n: string): number[] => Array.from(graphTensor(after.stored(n)!, after.bytes, after.path, after.readExternal)!.data as BigInt64Array, Number);
    const shapes = after.decoded.nodes.filter((n) => n.opType === 'Reshape').map((n) => {
      if (after.stored(n.inputs[1])) return value(n.inputs[1]);
      const concat = after.decoded.nodes.find((m) => m.outputs[0] === n.inputs[1])!;
      assert.equal(concat.opType, 'Concat');
      return concat.inputs.map((i) => (after.stored(i) ? value(i)[0] : -2));
    });
    // -2: a run-time entry (batch or sequence, read off the value's shape).
    const [split, merge] = name === 'bert' ? [[-2, -2, 2, 8], [-2, -2, 16]] : [[1, 8, 2, 8], [1, 8, 16]];
    assert.deepEqual(shapes, [0, 1].flatMap(() => [split, split, split, merge]));

    const sizes = name === 'bert' ? [[1, 8, 2], [2, 5, 1], [3, 12, 4]] : [[1, 8, 2], [1, 8, 0]];
    for (const [i, [batch, tokens, pad]] of sizes.entries()) {
      const x = feeds(batch, tokens, pad, 21 + i);
      const [a, b, o] = [await run(join(dir, 'shrunk.onnx'), x), await run(join(dir, 'masked.onnx'), x), await run(file, x)];
      assert.equal(a.length, batch * tokens * 32);
      assert.ok(relativeDiff(a, b) < 1e-5, `shrunk vs masked at ${batch}×${tokens}: ${relativeDiff(a, b)}`);
      assert.ok(relativeDiff(o, b) > 1e-3, `the selection changed the model: ${relativeDiff(o, b)}`);
    }
  });
}
