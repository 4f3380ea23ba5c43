// Conv weights for the data criteria (im2col): the patch statistics sculpt accumulates are checked
// against onnxruntime's own Conv with one-hot kernels (output channel f of group g copies patch
// feature f, so Σ Y_f² and Σ Y_f·Y_f' are the patch norms and XᵀX computed independently), for
// grouped, strided, dilated, padded and auto_pad convolutions in 1-D and 2-D; then whole prunes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { ConvStats, type ConvGeometry } from '../../src/api/calibration-conv.js';
import { pruneFileWithCalibration } from '../../src/api/calibration-prune.js';
import { GramRunner } from '../../src/api/sequential-ort.js';
import { parsePattern } from '../../src/core/patterns.js';
import type { PruneOptions } from '../../src/core/options.js';
import { encodeOnnx } from '../../src/formats/onnx-build.js';
import { readOnnx } from '../../src/formats/onnx.js';
import { tempDir } from '../cli/helpers.js';

function random(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) - 0.5);
}

/** Σ Y_f² and Σ Y_f·Y_f' per group from onnxruntime's Conv with one-hot kernels over x. */
async function reference(g: ConvGeometry, x: Float32Array, dims: number[]): Promise<{ sq: Float64Array; gram: Float64Array; rows: number }> {
  const cg = dims[1] / g.group;
  const taps = g.kernel.reduce((a, b) => a * b, 1);
  const K = cg * taps;
  const w = new Float32Array(g.group * K * K);
  for (let grp = 0; grp < g.group; grp++) for (let f = 0; f < K; f++) w[(grp * K + f) * K + f] = 1;
  const attrs: Record<string, { ints: number[] } | { int: number } | { string: string }> = {
    kernel_shape: { ints: [...g.kernel] }, strides: { ints: [...g.strides] }, dilations: { ints: [...g.dilations] }, group: { int: g.group },
  };
  if (g.pads) attrs.pads = { ints: [...g.pads] };
  else attrs.auto_pad = { string: g.autoPad };
  const bytes = encodeOnnx({
    nodes: [{ op: 'Conv', inputs: ['x', 'w'], outputs: ['y'], attrs }],
    initializers: [{ name: 'w', dims: [g.group * K, cg, ...g.kernel], data: w }],
    inputs: [{ name: 'x', dims }], outputs: [{ name: 'y' }], opset: 13,
  });
  const s = await ort.InferenceSession.create(bytes);
  const y = (await s.run({ x: new ort.Tensor('float32', x, dims) })).y;
  await s.release();
  const [n, ch] = y.dims;
  const pos = (y.dims as number[]).slice(2).reduce((a, b) => a * b, 1);
  const data = y.data as Float32Array;
  const sq = new Float64Array(ch);
  const gram = new Float64Array(g.group * K * K);
  for (let img = 0; img < n; img++) {
    for (let p = 0; p < pos; p++) {
      for (let c = 0; c < ch; c++) {
        const v = data[(img * ch + c) * pos + p];
        sq[c] += v * v;
        const grp = Math.floor(c / K);
        for (let c2 = grp * K; c2 < (grp + 1) * K; c2++) gram[grp * K * K + (c % K) * K + (c2 % K)] += v * data[(img * ch + c2) * pos + p];
      }
    }
  }
  return { sq, gram, rows: n * pos };
}

const CASES: { what: string; g: ConvGeometry; dims: number[] }[] = [
  { what: '3×3, pads 1', g: { kernel: [3, 3], strides: [1, 1], dilations: [1, 1], pads: [1, 1, 1, 1], autoPad: 'NOTSET', group: 1 }, dims: [2, 3, 6, 5] },
  { what: 'grouped, strided, dilated, uneven pads', g: { kernel: [3, 2], strides: [2, 1], dilations: [1, 2], pads: [1, 0, 0, 1], autoPad: 'NOTSET', group: 2 }, dims: [2, 4, 7, 6] },
  { what: 'depthwise', g: { kernel: [3, 3], strides: [2, 2], dilations: [1, 1], pads: [1, 1, 1, 1], autoPad: 'NOTSET', group: 4 }, dims: [1, 4, 5, 5] },
  { what: 'SAME_UPPER, stride 2', g: { kernel: [2, 3], strides: [2, 2], dilations: [1, 1], autoPad: 'SAME_UPPER', group: 1 }, dims: [2, 2, 5, 6] },
  { what: 'SAME_LOWER', g: { kernel: [2, 2], strides: [1, 1], dilations: [1, 1], autoPad: 'SAME_LOWER', group: 1 }, dims: [1, 3, 4, 4] },
  { what: '1-D, VALID, wide (XᵀX through onnxruntime)', g: { kernel: [5], strides: [1], dilations: [2], autoPad: 'VALID', group: 1 }, dims: [3, 8, 20] },
];

for (const c of CASES) {
  test(`ConvStats: patch Σx² and XᵀX equal onnxruntime's one-hot Conv (${c.what})`, async () => {
    const x = random(c.dims.reduce((a, b) => a * b, 1), c.dims.length * 31 + c.g.group);
    const stats = new ConvStats(c.g, c.dims[1], true);
    const products = new GramRunner(ort);
    try {
      await stats.add(x, c.dims, (d, r, k) => products.gram(d, r, k));
    } finally {
      await products.release();
    }
    const a = stats.finish();
    const ref = await reference(c.g, x, c.dims);
    assert.equal(a.rows, ref.rows);
    assert.equal(a.groups, c.g.group);
    assert.equal(a.sumSquares.length, ref.sq.length);
    for (let i = 0; i < ref.sq.length; i++) assert.ok(Math.abs(a.sumSquares[i] - ref.sq[i]) <= 1e-5 * Math.max(1, ref.sq[i]), `Σx² ${i}: ${a.sumSquares[i]} vs ${ref.sq[i]}`);
    for (let i = 0; i < ref.gram.length; i++) assert.ok(Math.abs(a.gram![i] - ref.gram[i]) <= 1e-5 * Math.max(1, Math.abs(ref.gram[i])), `XᵀX ${i}: ${a.gram![i]} vs ${ref.gram[i]}`);
  });
}

const D = 'test/fixtures/datasets';
const OPTS: PruneOptions = { sparsity: 0.5, scope: 'layer', pattern: parsePattern('unstructured'), criterion: 'wanda', exclude: [], overrides: new Map(), seed: 0 };

test('pruneFileWithCalibration: wanda and sparsegpt prune the Conv weight too (exact counts), 2:4 on cnn.onnx\'s convolutions', async () => {
  const dir = tempDir();
  const cal = { calibration: `images:${D}/images`, samples: 12, dataOptions: { mean: [0.5], std: [0.25] } };
  for (const criterion of ['wanda', 'sparsegpt']) {
    const r = await pruneFileWithCalibration(`${D}/image-net.onnx`, join(dir, `${criterion}.onnx`), { ...OPTS, criterion }, cal);
    const conv = r.stats.find((s) => s.name === 'conv.weight')!;
    assert.equal(conv.pruned, true);
    assert.equal(conv.zerosAfter - conv.zerosBefore, Math.round(0.5 * conv.count), criterion);
    assert.equal(r.stats.find((s) => s.name === 'fc.weight')!.zerosAfter, 96);
  }
  // SparseGPT's update changes the kept Conv weights; Wanda's does not.
  const before = readOnnx(`${D}/image-net.onnx`).read('conv.weight');
  const kept = (name: string) => { const v = readOnnx(join(dir, name)).read('conv.weight'); return v.filter((x, i) => x !== 0 && x !== before[i]).length; };
  assert.equal(kept('wanda.onnx'), 0);
  assert.ok(kept('sparsegpt.onnx') > 0);
  // 2:4 on the MNIST CNN (Conv 1→8 has 9 inputs per channel: not a multiple of 4, so it is excluded).
  const nm = await pruneFileWithCalibration('test/fixtures/cnn.onnx', join(dir, 'cnn.onnx'), { ...OPTS, criterion: 'sparsegpt', pattern: parsePattern('2:4'), exclude: ['onnx::Conv_28'] }, { calibration: 'npy:test/fixtures/cnn.input.npy', samples: 2 });
  const c2 = nm.stats.find((s) => s.name === 'onnx::Conv_31')!;
  assert.equal(c2.zerosAfter, c2.count / 2);
});
