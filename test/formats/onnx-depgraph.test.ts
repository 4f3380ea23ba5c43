// The channel dependency graph on small hand-built graphs: what couples, what pins and why, and
// that the shrunk model computes what the channel-masked model computes (onnxruntime) where a
// removed channel's constant must be folded (Sigmoid, SE-style Mul, MatMul + Add).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { shrinkFile } from '../../src/api/shrink-file.js';
import { numel } from '../../src/core/types.js';
import { encodeOnnx, encodeValueInfo, type NodeSpec, type TensorSpec } from '../../src/formats/onnx-build.js';
import { buildChannelGraph } from '../../src/formats/onnx-depgraph.js';
import * as F from '../../src/formats/onnx-fields.js';
import { readOnnx } from '../../src/formats/onnx.js';
import { lenField, spliceWithLengthFixup, WireReader } from '../../src/formats/protobuf.js';
import { tempDir } from '../cli/helpers.js';
import { assertShrunkIsMasked, weightMaker } from './shrink-compare.js';

const weight = weightMaker(1);

const conv = (x: string, w: string, y: string, b?: string, pads = 0, group = 1): NodeSpec => ({
  op: 'Conv', inputs: b ? [x, w, b] : [x, w], outputs: [y], attrs: { pads: { ints: [pads, pads, pads, pads] }, group: { int: group } },
});

function save(nodes: NodeSpec[], initializers: TensorSpec[], input: number[], output = 'y'): string {
  const file = join(tempDir(), 'model.onnx');
  writeFileSync(file, encodeOnnx({ nodes, initializers, inputs: [{ name: 'x', dims: input }], outputs: [{ name: output }], opset: 13 }));
  return file;
}

async function run(file: string, dims: number[]): Promise<Float32Array> {
  const x = new Float32Array(numel(dims)).map((_, i) => Math.sin(i * 0.37));
  const s = await ort.InferenceSession.create(file, { intraOpNumThreads: 1 });
  return (await s.run({ x: new ort.Tensor('float32', x, dims) })).y.data as Float32Array;
}

/** Shrinks and masks `file` at `sparsity`; asserts the two agree within 1e-5 relative and returns the shrink result. */
async function exact(file: string, dims: number[], sparsity = 0.5): Promise<ReturnType<typeof shrinkFile>> {
  const dir = tempDir();
  const shrunk = shrinkFile(file, join(dir, 's.onnx'), { sparsity, norm: 2, scope: 'layer' });
  shrinkFile(file, join(dir, 'm.onnx'), { sparsity, norm: 2, scope: 'layer', mask: true });
  const [a, b, o] = [await run(join(dir, 's.onnx'), dims), await run(join(dir, 'm.onnx'), dims), await run(file, dims)];
  assertShrunkIsMasked(a, b, o, 1e-4);
  return shrunk;
}

test('a Sigmoid after a removed channel carries 0.5 into the next 1x1 Conv: folded into a bias sculpt creates', async () => {
  const file = save(
    [conv('x', 'w1', 'a', undefined, 1), { op: 'Sigmoid', inputs: ['a'], outputs: ['s'] }, conv('s', 'w2', 'y')],
    [weight('w1', [6, 3, 3, 3]), weight('w2', [4, 6, 1, 1])], [1, 3, 5, 5],
  );
  const r = await exact(file, [1, 3, 5, 5]);
  assert.deepEqual(r.groups.map((g) => [g.size, g.removed, g.pinned.length > 0]), [[6, 3, false], [4, 0, true]]);
  assert.deepEqual(r.tensors.find((t) => t.created), { name: 'w2_sculpt_bias', before: [], after: [4], folded: true, created: true });
});

test('a constant into a padded Conv cannot be folded: the group is pinned with the reason', () => {
  const file = save(
    [conv('x', 'w1', 'a', undefined, 1), { op: 'Sigmoid', inputs: ['a'], outputs: ['s'] }, conv('s', 'w2', 'y', undefined, 1)],
    [weight('w1', [6, 3, 3, 3]), weight('w2', [4, 6, 3, 3])], [1, 3, 5, 5],
  );
  const g = buildChannelGraph(readOnnx(file)).groups;
  assert.match(g[0].pinned.join(), /carries a constant into the padded Conv Conv_2, which cannot be folded/);
  // Relu instead of Sigmoid: the removed channel is 0, nothing to fold, nothing pinned.
  const relu = save(
    [conv('x', 'w1', 'a', undefined, 1), { op: 'Relu', inputs: ['a'], outputs: ['s'] }, conv('s', 'w2', 'y', undefined, 1)],
    [weight('w1', [6, 3, 3, 3]), weight('w2', [4, 6, 3, 3])], [1, 3, 5, 5],
  );
  assert.deepEqual(buildChannelGraph(readOnnx(relu)).groups[0].pinned, []);
});

test('squeeze-and-excitation: Mul of two grouped values merges the groups', async () => {
  const file = save([
    conv('x', 'w1', 'a', 'b1', 1), { op: 'Relu', inputs: ['a'], outputs: ['h'] },
    { op: 'GlobalAveragePool', inputs: ['h'], outputs: ['p'] },
    conv('p', 'w2', 'q', 'b2'), { op: 'Relu', inputs: ['q'], outputs: ['r'] },
    conv('r', 'w3', 't', 'b3'), { op: 'Sigmoid', inputs: ['t'], outputs: ['s'] },
    { op: 'Mul', inputs: ['h', 's'], outputs: ['m'] },
    conv('m', 'w4', 'y', 'b4'),
  ], [weight('w1', [8, 3, 3, 3]), weight('b1', [8]), weight('w2', [4, 8, 1, 1]), weight('b2', [4]), weight('w3', [8, 4, 1, 1]), weight('b3', [8]), weight('w4', [5, 8, 1, 1]), weight('b4', [5])], [1, 3, 6, 6]);
  const r = await exact(file, [1, 3, 6, 6]);
  assert.deepEqual(r.groups.map((g) => [g.size, g.producers.length, g.removed]), [[8, 2, 4], [4, 1, 2], [5, 1, 0]]);
});

test('MatMul + Add after Flatten: the hidden neurons shrink, the bias Add is sliced', async () => {
  const file = save([
    conv('x', 'w1', 'a', 'b1'), { op: 'Relu', inputs: ['a'], outputs: ['h'] }, { op: 'Flatten', inputs: ['h'], outputs: ['f'] },
    { op: 'MatMul', inputs: ['f', 'm1'], outputs: ['g'] }, { op: 'Add', inputs: ['g', 'c1'], outputs: ['z'] }, { op: 'Relu', inputs: ['z'], outputs: ['u'] },
    { op: 'MatMul', inputs: ['u', 'm2'], outputs: ['y'] },
  ], [weight('w1', [4, 2, 1, 1]), weight('b1', [4]), weight('m1', [36, 10]), weight('c1', [10]), weight('m2', [10, 3])], [1, 2, 3, 3]);
  const r = await exact(file, [1, 2, 3, 3]);
  assert.deepEqual(r.groups.map((g) => [g.size, g.removed]), [[4, 2], [10, 5], [3, 0]]);
  const after = new Map(r.tensors.map((t) => [t.name, t.after]));
  assert.deepEqual(after.get('m1'), [18, 5]); // 2 channels × 9 features gone on the input axis
  assert.deepEqual(after.get('c1'), [5]);
  assert.deepEqual(after.get('m2'), [5, 3]);
});

test('pins: a grouped Conv, a Reshape to a baked shape, a shared weight, an op not modelled', () => {
  // A grouped Conv reading a concatenation of two groups.
  const grouped = buildChannelGraph(readOnnx(save(
    [conv('x', 'w1', 'a'), conv('x', 'w3', 'b'), { op: 'Concat', inputs: ['a', 'b'], outputs: ['c'], attrs: { axis: { int: 1 } } }, conv('c', 'w2', 'y', undefined, 0, 2)],
    [weight('w1', [4, 3, 1, 1]), weight('w3', [4, 3, 1, 1]), weight('w2', [8, 4, 1, 1])], [1, 3, 2, 2],
  ))).groups;
  assert.match(grouped[0].pinned.join(), /read by the grouped Conv Conv_3 with channels from more than one whole group/);
  const reshape = buildChannelGraph(readOnnx(save(
    [conv('x', 'w1', 'a'), { op: 'Reshape', inputs: ['a', 'shape'], outputs: ['r'] }, { op: 'MatMul', inputs: ['r', 'm'], outputs: ['y'] }],
    [weight('w1', [8, 3, 1, 1]), { name: 'shape', dims: [4], data: new BigInt64Array([1n, 2n, 4n, 4n]) }, weight('m', [4, 2])], [1, 3, 2, 2],
  ))).groups;
  assert.match(reshape[0].pinned.join(), /read by Reshape Reshape_1, which shrinking does not model/);
  const softmax = buildChannelGraph(readOnnx(save(
    [conv('x', 'w1', 'a'), { op: 'Softmax', inputs: ['a'], outputs: ['s'], attrs: { axis: { int: 1 } } }, conv('s', 'w2', 'y')],
    [weight('w1', [8, 3, 1, 1]), weight('w2', [2, 8, 1, 1])], [1, 3, 2, 2],
  ))).groups;
  assert.match(softmax[0].pinned.join(), /read by Softmax Softmax_1/);
  // Channels reaching an op through another input than its data input: Max(constant, channels).
  const second = buildChannelGraph(readOnnx(save(
    [conv('x', 'w1', 'a'), { op: 'Max', inputs: ['floor', 'a'], outputs: ['m'] }, conv('m', 'w2', 'y')],
    [weight('w1', [8, 3, 1, 1]), weight('floor', [1]), weight('w2', [2, 8, 1, 1])], [1, 3, 2, 2],
  ))).groups;
  assert.match(second[0].pinned.join(), /read by Max Max_1, which shrinking does not model/);
  // The same weight in two Convs: neither Conv is a producer of its own group.
  const shared = buildChannelGraph(readOnnx(save(
    [conv('x', 'w1', 'a'), conv('x', 'w1', 'b'), { op: 'Add', inputs: ['a', 'b'], outputs: ['y'] }], [weight('w1', [8, 3, 1, 1])], [1, 3, 2, 2],
  ))).groups;
  assert.equal(shared.length, 0);
});

test('value_info of a shrunk value is dropped, the others stay', () => {
  const spec = save(
    [conv('x', 'w1', 'a', 'b1'), { op: 'Relu', inputs: ['a'], outputs: ['h'] }, conv('h', 'w2', 'y', 'b2')],
    [weight('w1', [6, 3, 1, 1]), weight('b1', [6]), weight('w2', [4, 6, 1, 1]), weight('b2', [4])], [1, 3, 2, 2],
  );
  // Append value_info for h [1,6,2,2] and x... to the graph, as shape inference would.
  const bytes = readOnnx(spec).bytes;
  const model = readOnnx(spec);
  const g = model.decoded.graph.enclosing[0];
  const infos = [encodeValueInfo({ name: 'h', dims: [1, 6, 2, 2] }), encodeValueInfo({ name: 'other', dims: [3] })].map((v) => lenField(F.GRAPH_VALUE_INFO, v));
  const withInfo = spliceWithLengthFixup(bytes, [{ start: g.end, end: g.end, bytes: new Uint8Array([...infos[0], ...infos[1]]), enclosing: [g] }]);
  const file = join(tempDir(), 'vi.onnx');
  writeFileSync(file, withInfo);
  const out = join(tempDir(), 's.onnx');
  shrinkFile(file, out, { sparsity: 0.5, norm: 1, scope: 'layer' });
  const shrunk = readOnnx(out);
  const r = new WireReader(shrunk.bytes, () => { throw new Error('bad'); });
  const gg = shrunk.decoded.graph.enclosing[0];
  const names = r.fields(gg.start, gg.end).filter((f) => f.field === F.GRAPH_VALUE_INFO)
    .map((f) => r.string(r.fields(f.start, f.end).find((x) => x.field === F.VALUE_INFO_NAME)!));
  assert.deepEqual(names, ['other']);
  assert.deepEqual(shrunk.stored('w2')!.dims, [4, 3, 1, 1]);
});

test('InstanceNormalization: a removed channel becomes its shift, folded into the next Conv', async () => {
  const file = save([
    conv('x', 'w1', 'a', 'b1', 1), { op: 'InstanceNormalization', inputs: ['a', 's', 'c'], outputs: ['n'] }, { op: 'Relu', inputs: ['n'], outputs: ['h'] },
    conv('h', 'w2', 'y'),
  ], [weight('w1', [6, 3, 3, 3]), weight('b1', [6]), weight('s', [6]), { name: 'c', dims: [6], data: new Float32Array([0.3, 0.7, 1.1, 0.2, 0.9, 0.5]) }, weight('w2', [4, 6, 1, 1])], [1, 3, 5, 5]);
  const r = await exact(file, [1, 3, 5, 5]);
  assert.deepEqual(r.groups.map((g) => [g.size, g.removed]), [[6, 3], [4, 0]]);
  assert.ok(r.tensors.some((t) => t.name === 'w2_sculpt_bias' && t.created));
});

test('a decoder: ConvTranspose consumes and produces channels, Resize by scales passes them through', async () => {
  const file = save([
    conv('x', 'w1', 'a', 'b1', 1), { op: 'Relu', inputs: ['a'], outputs: ['h'] },
    { op: 'ConvTranspose', inputs: ['h', 'wt', 'bt'], outputs: ['u'], attrs: { strides: { ints: [2, 2] }, kernel_shape: { ints: [3, 3] } } },
    { op: 'Relu', inputs: ['u'], outputs: ['v'] },
    { op: 'Resize', inputs: ['v', '', 'scales'], outputs: ['r'], attrs: { mode: { string: 'nearest' } } },
    conv('r', 'w2', 'y', 'b2'),
  ], [weight('w1', [6, 3, 3, 3]), weight('b1', [6]), weight('wt', [6, 4, 3, 3]), weight('bt', [4]), { name: 'scales', dims: [4], data: new Float32Array([1, 1, 2, 2]) }, weight('w2', [2, 4, 1, 1]), weight('b2', [2])], [1, 3, 4, 4]);
  const r = await exact(file, [1, 3, 4, 4]);
  assert.deepEqual(r.groups.map((g) => [g.size, g.removed]), [[6, 3], [4, 2], [2, 0]]);
  const after = new Map(r.tensors.map((t) => [t.name, t.after]));
  assert.deepEqual(after.get('wt'), [3, 2, 3, 3]);
});

test('initializers also listed as graph inputs (IR < 4 style): the stale inputs go, onnxruntime loads the shrunk model', async () => {
  const file = join(tempDir(), 'inputs.onnx');
  const inits = [weight('w1', [6, 3, 1, 1]), weight('b1', [6]), weight('w2', [4, 6, 1, 1]), weight('b2', [4])];
  writeFileSync(file, encodeOnnx({
    nodes: [conv('x', 'w1', 'a', 'b1'), { op: 'Relu', inputs: ['a'], outputs: ['h'] }, conv('h', 'w2', 'y', 'b2')],
    initializers: inits, inputs: [{ name: 'x', dims: [1, 3, 2, 2] }, ...inits.map((t) => ({ name: t.name, dims: t.dims }))], outputs: [{ name: 'y' }], opset: 13,
  }));
  const r = await exact(file, [1, 3, 2, 2]);
  assert.deepEqual(r.groups.map((g) => [g.size, g.removed]), [[6, 3], [4, 0]]);
});

/** A YOLOv8-style C2f block: SiLU convs, a Split of cv1's channels, a bottleneck with a residual Add on one half, Concat, cv2. */
function c2f(splitInput: boolean): string {
  const silu = (x: string, y: string): NodeSpec[] => [{ op: 'Sigmoid', inputs: [x], outputs: [`${y}_s`] }, { op: 'Mul', inputs: [x, `${y}_s`], outputs: [y] }];
  const inits = [weight('cv1', [8, 3, 1, 1]), weight('cv1b', [8]), weight('m1', [4, 4, 3, 3]), weight('m1b', [4]), weight('m2', [4, 4, 3, 3]), weight('m2b', [4]), weight('cv2', [6, 12, 1, 1]), weight('cv2b', [6])];
  if (splitInput) inits.push({ name: 'sizes', dims: [2], data: new BigInt64Array([4n, 4n]) });
  return save([
    conv('x', 'cv1', 'a', 'cv1b'), ...silu('a', 'h'),
    { op: 'Split', inputs: splitInput ? ['h', 'sizes'] : ['h'], outputs: ['y0', 'y1'], attrs: { axis: { int: 1 } } },
    conv('y1', 'm1', 'b', 'm1b', 1), ...silu('b', 'bs'), conv('bs', 'm2', 'c', 'm2b', 1), ...silu('c', 'cs'),
    { op: 'Add', inputs: ['y1', 'cs'], outputs: ['y2'] },
    { op: 'Concat', inputs: ['y0', 'y1', 'y2'], outputs: ['cat'], attrs: { axis: { int: 1 } } },
    conv('cat', 'cv2', 'y', 'cv2b'),
  ], inits, [1, 3, 6, 6]);
}

test('Split along channels: a residual Add on one half makes the bottleneck part of cv1\'s group; the split sizes are rewritten', async () => {
  for (const splitInput of [true, false]) {
    const file = c2f(splitInput);
    const graph = buildChannelGraph(readOnnx(file));
    const cv1 = graph.groups.find((g) => g.producers.some((p) => p.startsWith('Conv Conv_0')))!;
    assert.equal(cv1.size, 8);
    assert.equal(cv1.producers.length, 2, 'cv1 and the bottleneck\'s last Conv');
    const r = await exact(file, [1, 3, 6, 6]);
    // round(0.5·8) = 4 would take all of y0 (cv1's least important half): one of them stays.
    assert.deepEqual(r.groups.map((g) => [g.size, g.removed]), [[8, 3], [4, 2], [6, 0]]);
    const out = readOnnx(r.output);
    const sizesName = splitInput ? 'sizes' : 'Split_3_sculpt_split';
    assert.equal(out.decoded.nodes.find((n) => n.opType === 'Split')!.inputs[1], sizesName);
    assert.deepEqual(Array.from(out.graph().initializers.get(sizesName)!.data as BigInt64Array, Number), [1, 4]);
  }
});

test('a bias shared through Identity (exporters deduplicate equal tensors): each Conv gets its own cut copy', async () => {
  const file = save([
    { op: 'Identity', inputs: ['shared'], outputs: ['b1'] }, { op: 'Identity', inputs: ['shared'], outputs: ['b2'] },
    conv('x', 'w1', 'a', 'b1', 1), { op: 'Relu', inputs: ['a'], outputs: ['h'] }, conv('h', 'w2', 'c', 'b2'), { op: 'Relu', inputs: ['c'], outputs: ['g'] },
    conv('g', 'w3', 'y'),
  ], [weight('shared', [6]), weight('w1', [6, 3, 3, 3]), weight('w2', [6, 6, 1, 1]), weight('w3', [2, 6, 1, 1])], [1, 3, 4, 4]);
  const r = await exact(file, [1, 3, 4, 4]);
  assert.deepEqual(r.groups.map((g) => [g.size, g.removed]), [[6, 3], [6, 3], [2, 0]]);
  // The second copy also takes what conv 1's removed channels (ReLU of the shared bias) carried.
  const copies = r.tensors.filter((t) => t.name.startsWith('shared_')).map((t) => [t.name, t.after, t.folded === true]);
  assert.deepEqual(copies, [['shared_sculpt_2_2', [3], false], ['shared_sculpt_4_2', [3], true]]);
  const out = readOnnx(r.output);
  assert.deepEqual(out.decoded.nodes.filter((n) => n.opType === 'Conv').map((n) => n.inputs[2] ?? ''), ['shared_sculpt_2_2', 'shared_sculpt_4_2', 'w3_sculpt_bias']);
});

test('Reshape to [-1, C·H·W] before a Gemm: the features count in the shape constant is rewritten', async () => {
  const file = save([
    conv('x', 'w1', 'a', 'b1', 1), { op: 'Relu', inputs: ['a'], outputs: ['h'] },
    { op: 'Reshape', inputs: ['h', 'shape'], outputs: ['f'] },
    { op: 'Gemm', inputs: ['f', 'fc', 'fcb'], outputs: ['y'], attrs: { transB: { int: 1 } } },
  ], [weight('w1', [6, 3, 3, 3]), weight('b1', [6]), { name: 'shape', dims: [2], data: new BigInt64Array([-1n, 54n]) }, weight('fc', [4, 54]), weight('fcb', [4])], [1, 3, 3, 3]);
  const r = await exact(file, [1, 3, 3, 3]);
  assert.deepEqual(r.groups.map((g) => [g.size, g.removed]), [[6, 3], [4, 0]]);
  const out = readOnnx(r.output);
  assert.deepEqual(Array.from(out.graph().initializers.get('shape')!.data as BigInt64Array, Number), [-1, 27]);
  assert.deepEqual(out.stored('fc')!.dims, [4, 27]);
});

test('a grouped Conv (ResNeXt): its input and output groups lose the same count in every block; each row block keeps its own columns', async () => {
  const file = save([
    conv('x', 'w1', 'a', 'b1'), { op: 'Relu', inputs: ['a'], outputs: ['h'] },
    conv('h', 'wg', 'g', 'bg', 1, 2), { op: 'Relu', inputs: ['g'], outputs: ['r'] },
    conv('r', 'w3', 'y', 'b3'),
  ], [weight('w1', [8, 3, 1, 1]), weight('b1', [8]), weight('wg', [12, 4, 3, 3]), weight('bg', [12]), weight('w3', [4, 12, 1, 1]), weight('b3', [4])], [1, 3, 4, 4]);
  const r = await exact(file, [1, 3, 4, 4]);
  // Blocks of 4 input channels lose 2 each; blocks of 6 output channels lose 3 each.
  assert.deepEqual(r.groups.map((g) => [g.size, g.removed]), [[8, 4], [12, 6], [4, 0]]);
  const out = readOnnx(r.output);
  assert.deepEqual(out.stored('wg')!.dims, [6, 2, 3, 3]);
  assert.deepEqual(out.decoded.nodes[2].attributes.get('group'), 2);
});
