// Structural shrinking of the GPT fixture (test/fixtures/gpt/gpt.onnx, exported as Hugging Face
// Optimum exports GPT-2, dynamic axes): its Conv1D layers are Reshape [B, S, C] → [−1, C] (C read
// at run time off the same value), Gemm, Reshape back with a Concat shape whose last entry is a
// constant; GELU is the decomposed tanh form (Pow, Tanh). The MLP's 256 neurons per block shrink
// through that round trip, and so do the heads of the fused c_attn projection (Q, K and V cut by
// one Split, a causal Where mask, the head size and the merged width computed at run time from the
// hidden size); the residual stream stays pinned. The
// shrunk model computes what the neuron-masked model computes within 1e-5 relative in
// onnxruntime, at several batch sizes and sequence lengths.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { shrinkFile, type ShrinkOptions } from '../../src/api/shrink-file.js';
import { numel } from '../../src/core/types.js';
import { graphTensor } from '../../src/formats/onnx-decode.js';
import { readOnnx } from '../../src/formats/onnx.js';
import { FIXTURES, tempDir } from '../cli/helpers.js';
import { relativeDiff } from '../formats/shrink-compare.js';

const GPT = join(FIXTURES, 'gpt', 'gpt.onnx');

function feeds(batch: number, tokens: number, seed: number): Record<string, ort.Tensor> {
  const ids = new BigInt64Array(batch * tokens);
  let s = seed >>> 0;
  for (let i = 0; i < ids.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    ids[i] = BigInt(s % 512);
  }
  return { input_ids: new ort.Tensor('int64', ids, [batch, tokens]), attention_mask: new ort.Tensor('int64', new BigInt64Array(batch * tokens).fill(1n), [batch, tokens]) };
}

async function run(file: string, x: Record<string, ort.Tensor>): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  return (await session.run(x)).logits.data as Float32Array;
}

test('shrink the GPT fixture: 2 of 4 heads of each fused c_attn and half of each MLP\'s 256 neurons go, equal to the masked model', async () => {
  const dir = tempDir();
  const opts: ShrinkOptions = { sparsity: 0.5, norm: 2, scope: 'layer' };
  const shrunk = shrinkFile(GPT, join(dir, 'shrunk.onnx'), opts);
  shrinkFile(GPT, join(dir, 'masked.onnx'), { ...opts, mask: true });
  const free = shrunk.groups.filter((g) => g.pinned.length === 0);
  assert.deepEqual(free.map((g) => [g.producers[0], g.size, g.removed, g.headSize, g.tied]), [
    ['Gemm /h.0/c_attn/Gemm', 192, 96, 16, 3], ['Gemm /h.0/c_fc/Gemm', 256, 128, undefined, undefined],
    ['Gemm /h.1/c_attn/Gemm', 192, 96, 16, 3], ['Gemm /h.1/c_fc/Gemm', 256, 128, undefined, undefined],
  ]);
  // Per neuron: its c_fc column (64), bias entry and c_proj row (64). Per head of 16: its c_attn
  // columns in Q, K and V (3 · 16 · 64) and bias entries (48), and 16 rows of c_proj (16 · 64).
  const perHead = 3 * 16 * 64 + 48 + 16 * 64;
  assert.equal(shrunk.parameters.before - shrunk.parameters.after, 2 * 128 * 129 + 4 * perHead);
  const before = readOnnx(GPT);
  const after = readOnnx(join(dir, 'shrunk.onnx'));
  const count = (m: typeof before): number => m.initializers.filter((t) => t.dataType === 1).reduce((s, t) => s + numel(t.dims), 0);
  assert.equal(count(before) - count(after), 2 * 128 * 129 + 4 * perHead);
  for (const b of [0, 1]) {
    assert.deepEqual(after.stored(`h.${b}.attn.c_attn.weight`)!.dims, [64, 96]);
    assert.deepEqual(after.stored(`h.${b}.attn.c_proj.weight`)!.dims, [32, 64]);
    assert.deepEqual(after.stored(`h.${b}.mlp.c_fc.weight`)!.dims, [64, 128]);
    assert.deepEqual(after.stored(`h.${b}.mlp.c_fc.bias`)!.dims, [128]);
    assert.deepEqual(after.stored(`h.${b}.mlp.c_proj.weight`)!.dims, [128, 64]);
    // The unfold Reshape's shape: Concat(batch, tokens, 128).
    const concat = after.decoded.nodes.find((n) => n.name === `/h.${b}/c_fc/Concat_1`)!;
    const last = after.stored(concat.inputs[2])!;
    assert.deepEqual(Array.from(graphTensor(last, after.bytes, after.path, after.readExternal)!.data as BigInt64Array, Number), [128]);
  }
  for (const [i, [batch, tokens]] of [[1, 16], [2, 7], [1, 128]].entries()) {
    const x = feeds(batch, tokens, 40 + i);
    const [a, m, o] = [await run(join(dir, 'shrunk.onnx'), x), await run(join(dir, 'masked.onnx'), x), await run(GPT, x)];
    assert.equal(a.length, batch * tokens * 512);
    assert.ok(relativeDiff(a, m) < 1e-5, `shrunk vs masked at ${batch}×${tokens}: ${relativeDiff(a, m)}`);
    assert.ok(relativeDiff(o, m) > 1e-3, `the selection changed the model: ${relativeDiff(o, m)}`);
  }
});
