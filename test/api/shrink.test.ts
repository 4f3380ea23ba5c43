// Structural shrinking on PyTorch exports (test/fixtures/shrink): the shrunk model computes what
// the channel-masked model with the same selection computes, within 1e-5 relative, and holds
// exactly the parameters the selection says it should.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { countToPrune } from '../../src/core/counting.js';
import { numel } from '../../src/core/types.js';
import { shrinkFile, channelGroupsOfFile, type GroupInfo, type ShrinkOptions } from '../../src/api/shrink-file.js';
import { buildChannelGraph, type ChannelGraph } from '../../src/formats/onnx-depgraph.js';
import { readOnnx, type OnnxModel } from '../../src/formats/onnx.js';
import { FIXTURES, tempDir } from '../cli/helpers.js';
import { relativeDiff } from '../formats/shrink-compare.js';

const SHRINK = join(FIXTURES, 'shrink');
const MODELS: Record<string, number[]> = {
  resnet: [1, 3, 32, 32], 'resnet-bn': [1, 3, 32, 32],
  mobilenetv2: [1, 3, 64, 64], 'mobilenetv2-bn': [1, 3, 64, 64],
  densenet: [1, 3, 32, 32], 'densenet-bn': [1, 3, 32, 32],
  inception: [1, 3, 16, 16], 'inception-bn': [1, 3, 16, 16],
  yolo: [1, 3, 32, 32], 'yolo-bn': [1, 3, 32, 32],
  slicenet: [1, 3, 16, 16], 'slicenet-bn': [1, 3, 16, 16],
};

function randomInput(dims: number[], seed: number): Float32Array {
  const x = new Float32Array(numel(dims));
  let s = seed >>> 0;
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = s / 2 ** 32 * 2 - 1;
  }
  return x;
}

async function run(file: string, x: Float32Array, dims: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const out = await session.run({ input: new ort.Tensor('float32', x, dims) });
  return out.logits.data as Float32Array;
}

/** The channels the run removed, read back from the masked file: a removed channel's producing slice is all zero there. */
function removedChannels(model: OnnxModel, graph: ChannelGraph, groups: readonly GroupInfo[]): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  for (const g of graph.groups) {
    const info = groups.find((x) => x.id === g.id)!;
    const flags = new Uint8Array(g.size);
    const s = g.slices.find((x) => x.kind === 'out')!;
    const masked = MASKED.get(model.path)!;
    const dims = masked.stored(s.tensor)!.dims;
    const w = masked.read(s.tensor);
    const stride = numel(dims.slice(s.axis + 1));
    const live = new Uint8Array(g.size);
    for (let i = 0; i < w.length; i++) {
      const p = Math.floor(i / stride) % dims[s.axis] - s.at;
      if (p >= 0 && p < s.length && w[i] !== 0) live[s.start + p] = 1;
    }
    for (let c = 0; c < g.size; c++) flags[c] = live[c] ? 0 : 1;
    assert.equal(flags.reduce((a, f) => a + f, 0), info.removed, `group ${g.id}`);
    out.set(g.id, flags);
  }
  return out;
}

const MASKED = new Map<string, OnnxModel>();

function floatingParameters(file: string): number {
  return readOnnx(file).tensors.reduce((s, t) => s + numel(t.shape), 0);
}

for (const [name, dims] of Object.entries(MODELS)) {
  for (const scope of ['layer', 'global'] as const) {
    test(`shrink ${name} (${scope}): equals the channel-masked model, parameters shrink exactly`, async () => {
      const dir = tempDir();
      const input = join(SHRINK, `${name}.onnx`);
      const opts: ShrinkOptions = { sparsity: 0.5, norm: scope === 'layer' ? 2 : 1, scope };
      const shrunk = shrinkFile(input, join(dir, 'shrunk.onnx'), opts);
      const masked = shrinkFile(input, join(dir, 'masked.onnx'), { ...opts, mask: true });
      MASKED.set(input, readOnnx(join(dir, 'masked.onnx')));
      assert.deepEqual(shrunk.groups, masked.groups, 'same selection');
      const free = shrunk.groups.filter((g) => g.pinned.length === 0);
      assert.ok(free.length > 0);
      // A Split output (or a Slice's channel range) keeps at least one channel, which can take one off a group's count.
      const built = buildChannelGraph(readOnnx(input));
      const splitGroups = new Set([...built.splits.flatMap((sp) => sp.outputs.flat()), ...(built.cuts ?? []).flat()].map((seg) => seg.group));
      const slack = (ids: number[]): number => ids.filter((id) => splitGroups.has(id)).length * 2;
      if (scope === 'layer') {
        for (const g of free) {
          const k = Math.min(countToPrune(0.5, g.size), g.size - 1);
          if (splitGroups.has(g.id)) assert.ok(g.removed <= k && g.removed >= k - 2, `group ${g.id}: ${g.removed} of ${k}`);
          else assert.equal(g.removed, k, `group ${g.id}`);
        }
      } else {
        const k = countToPrune(0.5, free.reduce((s, g) => s + g.size, 0));
        assert.ok(shrunk.channels.removed <= k && shrunk.channels.removed >= k - slack(free.map((g) => g.id)), `${shrunk.channels.removed} of ${k}`);
      }
      for (const g of shrunk.groups) if (g.pinned.length) assert.equal(g.removed, 0);

      // Expected shapes from the graph alone: each sliced axis loses block positions per removed channel.
      const model = readOnnx(input);
      const graph = buildChannelGraph(model);
      const lost = new Map<string, number[]>();
      const flags = removedChannels(model, graph, shrunk.groups);
      for (const g of graph.groups) {
        if (g.pinned.length) continue;
        for (const s of g.slices) {
          const per = lost.get(s.tensor) ?? model.stored(s.tensor)!.dims.map(() => 0);
          lost.set(s.tensor, per);
          let n = 0;
          for (let c = s.start; c < s.start + s.length; c++) n += flags.get(g.id)![c];
          per[s.axis] += n * s.block;
        }
      }
      const out = readOnnx(join(dir, 'shrunk.onnx'));
      let expected = floatingParameters(input);
      for (const [tensor, per] of lost) {
        const dimsBefore = model.stored(tensor)!.dims;
        const dimsAfter = dimsBefore.map((d, a) => d - per[a]);
        assert.deepEqual([...out.stored(tensor)!.dims], dimsAfter, tensor);
        expected += numel(dimsAfter) - numel(dimsBefore);
      }
      for (const t of shrunk.tensors) if (t.created) expected += numel(t.after);
      assert.equal(shrunk.parameters.before, floatingParameters(input));
      assert.equal(shrunk.parameters.after, expected);
      assert.equal(floatingParameters(join(dir, 'shrunk.onnx')), expected);
      assert.ok(expected < shrunk.parameters.before * 0.75, `${expected} of ${shrunk.parameters.before} parameters left`);

      const x = randomInput(dims, 7);
      const [a, b] = [await run(join(dir, 'shrunk.onnx'), x, dims), await run(join(dir, 'masked.onnx'), x, dims)];
      const original = await run(input, x, dims);
      assert.ok(relativeDiff(a, b) < 1e-5, `shrunk vs masked: ${relativeDiff(a, b)}`);
      assert.ok(relativeDiff(original, b) > 1e-3, 'the selection changed the model');
    });
  }
}

test('inspect groups: resnet residual stages are one group each, the classifier is pinned', () => {
  const groups = channelGroupsOfFile(join(SHRINK, 'resnet.onnx'));
  const sizes = groups.map((g) => [g.size, g.producers.length, g.pinned.length > 0]);
  // Stem + 2 blocks of stage 1: 3 producers; stages 2 and 3: downsample + 2 blocks.
  assert.deepEqual(sizes.filter(([, p]) => (p as number) === 3).map(([s]) => s), [8, 16, 32]);
  const pinned = groups.filter((g) => g.pinned.length);
  assert.equal(pinned.length, 1);
  assert.match(pinned[0].pinned[0], /graph output logits/);
});
