// Attention heads on small hand-built graphs in the shape PyTorch exports them ([1, 4, 6] tokens,
// 2 heads of 4): the split and merge Reshapes with H baked or -1, shared shape constants, a scale
// by Div or Mul, a head-shared mask, Kᵀ by one Transpose or two; each shrinks one whole head and
// computes what the head-masked model computes in onnxruntime. What the pattern cannot follow pins.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { shrinkFile } from '../../src/api/shrink-file.js';
import { numel } from '../../src/core/types.js';
import { encodeOnnx, type NodeSpec, type TensorSpec } from '../../src/formats/onnx-build.js';
import { buildChannelGraph } from '../../src/formats/onnx-depgraph.js';
import { graphTensor } from '../../src/formats/onnx-decode.js';
import { readOnnx } from '../../src/formats/onnx.js';
import { tempDir } from '../cli/helpers.js';
import { assertShrunkIsMasked, weightMaker } from './shrink-compare.js';

const X = [1, 4, 6];

const weight = weightMaker(7, 0.8);

const ints = (name: string, values: number[]): TensorSpec => ({ name, dims: [values.length], data: BigInt64Array.from(values, (v) => BigInt(v)) });
const node = (op: string, inputs: string[], output: string, attrs?: NodeSpec['attrs']): NodeSpec => ({ op, inputs, outputs: [output], ...(attrs && { attrs }) });
const perm = (p: number[]): NodeSpec['attrs'] => ({ perm: { ints: p } });

interface Variant {
  readonly split?: number[];
  readonly merge?: number[];
  /** One shape constant read by all three split Reshapes. */
  readonly sharedSplit?: boolean;
  readonly scale?: 'Div' | 'Mul';
  readonly mask?: number[];
  readonly kTwice?: boolean;
  /** V split into a different head count than Q and K. */
  readonly vSplit?: number[];
  /** Opset 11 and a Softmax without its axis attribute (the default is then 1). */
  readonly opset11?: boolean;
}

function attention(v: Variant): string {
  const nodes: NodeSpec[] = [];
  const inits: TensorSpec[] = [weight('wo', [8, 5]), weight('bo', [5]), { name: 'scale', dims: [], data: Float32Array.of(2) }];
  for (const p of ['q', 'k', 'v']) {
    inits.push(weight(`w${p}`, [6, 8]), weight(`b${p}`, [8]));
    const shape = v.sharedSplit ? 'split' : `split_${p}`;
    if (!v.sharedSplit) inits.push(ints(shape, p === 'v' && v.vSplit ? v.vSplit : v.split ?? [1, 4, 2, 4]));
    nodes.push(node('MatMul', ['x', `w${p}`], `${p}m`), node('Add', [`b${p}`, `${p}m`], `${p}a`), node('Reshape', [`${p}a`, shape], `${p}r`));
  }
  if (v.sharedSplit) inits.push(ints('split', v.split ?? [1, 4, 2, 4]));
  nodes.push(node('Transpose', ['qr'], 'qt', perm([0, 2, 1, 3])));
  if (v.kTwice) nodes.push(node('Transpose', ['kr'], 'kt0', perm([0, 2, 1, 3])), node('Transpose', ['kt0'], 'kt', perm([0, 1, 3, 2])));
  else nodes.push(node('Transpose', ['kr'], 'kt', perm([0, 2, 3, 1])));
  nodes.push(node('Transpose', ['vr'], 'vt', perm([0, 2, 1, 3])), node('MatMul', ['qt', 'kt'], 's0'), node(v.scale ?? 'Div', ['s0', 'scale'], 's1'));
  let scores = 's1';
  if (v.mask) {
    inits.push(weight('mask', v.mask, 3));
    nodes.push(node('Add', ['mask', 's1'], 's2'));
    scores = 's2';
  }
  inits.push(ints('merge', v.merge ?? [1, 4, 8]));
  nodes.push(
    node('Softmax', [scores], 'p', v.opset11 ? undefined : { axis: { int: -1 } }), node('MatMul', ['p', 'vt'], 'c'), node('Transpose', ['c'], 'ct', perm([0, 2, 1, 3])),
    node('Reshape', ['ct', 'merge'], 'cm'), node('MatMul', ['cm', 'wo'], 'om'), node('Add', ['om', 'bo'], 'y'),
  );
  const file = join(tempDir(), 'attention.onnx');
  writeFileSync(file, encodeOnnx({ nodes, initializers: inits, inputs: [{ name: 'x', dims: X }], outputs: [{ name: 'y' }], opset: v.opset11 ? 11 : 17, irVersion: v.opset11 ? 6 : 8 }));
  return file;
}

async function run(file: string): Promise<Float32Array> {
  const x = new Float32Array(numel(X)).map((_, i) => 2 * Math.sin(i * 0.41));
  const s = await ort.InferenceSession.create(file, { intraOpNumThreads: 1 });
  return (await s.run({ x: new ort.Tensor('float32', x, X) })).y.data as Float32Array;
}

function shapes(file: string): number[][] {
  const m = readOnnx(file);
  return m.decoded.nodes.filter((n) => n.opType === 'Reshape').map((n) => Array.from(graphTensor(m.stored(n.inputs[1])!, m.bytes, m.path, m.readExternal)!.data as BigInt64Array, Number));
}

const cases: [string, Variant, number[][]][] = [
  ['H baked, Div by the scale', {}, [[1, 4, 1, 4], [1, 4, 1, 4], [1, 4, 1, 4], [1, 4, 4]]],
  ['H as -1 and a merge to [1, 4, -1]: nothing to rewrite', { split: [1, 4, -1, 4], merge: [1, 4, -1] }, [[1, 4, -1, 4], [1, 4, -1, 4], [1, 4, -1, 4], [1, 4, -1]]],
  ['d as -1, one shape constant shared by Q, K and V (each Reshape gets its own)', { split: [1, 4, 2, -1], sharedSplit: true }, [[1, 4, 1, -1], [1, 4, 1, -1], [1, 4, 1, -1], [1, 4, 4]]],
  ['Mul by the scale, a mask [1, 1, 4, 4] shared by the heads, Kᵀ by two Transposes', { scale: 'Mul', mask: [1, 1, 4, 4], kTwice: true }, [[1, 4, 1, 4], [1, 4, 1, 4], [1, 4, 1, 4], [1, 4, 4]]],
];

for (const [name, variant, after] of cases) {
  test(`attention, ${name}: one of 2 heads goes from Q, K, V and the output projection, equal to the head-masked model`, async () => {
    const file = attention(variant);
    const dir = tempDir();
    const opts = { sparsity: 0.5, norm: 2 as const, scope: 'layer' as const };
    const r = shrinkFile(file, join(dir, 's.onnx'), opts);
    shrinkFile(file, join(dir, 'm.onnx'), { ...opts, mask: true });
    const heads = r.groups.filter((g) => g.headSize !== undefined);
    assert.deepEqual(heads.map((g) => [g.size, g.headSize, g.removed, g.pinned.length]), [[8, 4, 4, 0]]);
    const removed = r.tensors.map((t) => [t.name, t.after]);
    assert.deepEqual(removed, [['wq', [6, 4]], ['bq', [4]], ['wk', [6, 4]], ['bk', [4]], ['wv', [6, 4]], ['bv', [4]], ['wo', [4, 5]]]);
    // 3 · (6·4 + 4) + 4·5 fewer.
    assert.equal(r.parameters.before - r.parameters.after, 3 * (6 * 4 + 4) + 4 * 5);
    assert.deepEqual(shapes(join(dir, 's.onnx')), after);
    const [a, b, o] = [await run(join(dir, 's.onnx')), await run(join(dir, 'm.onnx')), await run(file)];
    assertShrunkIsMasked(a, b, o, 1e-3);
  });
}

test('a mask with one entry per head [1, 2, 4, 4] is not followed: Q, K and V pin at their head Reshapes', () => {
  const groups = buildChannelGraph(readOnnx(attention({ mask: [1, 2, 4, 4] }))).groups;
  assert.equal(groups.filter((g) => g.headSize !== undefined).length, 0);
  for (const p of ['q', 'k', 'v']) {
    const g = groups.find((x) => x.producers[0] === `MatMul MatMul_${['q', 'k', 'v'].indexOf(p) * 3}`)!;
    assert.match(g.pinned[0], /^split into 2 heads of 4 by Reshape Reshape_\d+, which does not lead into an attention sculpt follows/);
  }
});

test('V split into 4 heads of 2 while Q and K have 2 of 4: the attention group pins with its reason', () => {
  const groups = buildChannelGraph(readOnnx(attention({ vSplit: [1, 4, 4, 2] }))).groups;
  const pinned = groups.filter((g) => g.pinned.some((p) => p === 'Q, K and V of the attention merged by Reshape Reshape_17 have different heads'));
  assert.equal(pinned.length, 3);
});

test('a Softmax at opset 11 without an axis normalises over every head at once: not followed, Q, K and V pin', () => {
  const groups = buildChannelGraph(readOnnx(attention({ opset11: true }))).groups;
  assert.equal(groups.filter((g) => g.headSize !== undefined).length, 0);
  assert.equal(groups.filter((g) => /^split into 2 heads of 4 by Reshape/.test(g.pinned[0] ?? '')).length, 3);
});
