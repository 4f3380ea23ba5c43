// `sculpt prune --pattern channel --shrink --criterion bn-scale | wanda`: which channels go is
// computed here independently of sculpt (BatchNorm γ read from the file; the MLP's hidden
// activations computed from its weights in double precision) and compared with the channels the
// channel-masked model zeroes; the shrunk model equals the masked one in onnxruntime.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { parseNpy } from '../../src/sparse/npy.js';
import { graphTensor } from '../../src/formats/onnx-decode.js';
import { readOnnx } from '../../src/formats/onnx.js';
import { relativeDiff } from '../formats/shrink-compare.js';
import { FIXTURES, sculpt, tempDir } from './helpers.js';
import { readFileSync } from 'node:fs';

const floats = (file: string, name: string): Float32Array => {
  const m = readOnnx(file);
  return graphTensor(m.stored(name)!, m.bytes, m.path, m.readExternal)!.data as Float32Array;
};

/** Indices of the k smallest scores (ties: lower index). */
function smallest(scores: ArrayLike<number>, k: number): number[] {
  return Array.from(scores, (v, i) => [v, i]).sort((a, b) => a[0] - b[0] || a[1] - b[1]).slice(0, k).map((e) => e[1]).sort((a, b) => a - b);
}

/** Rows of an [O, ...] weight that are all zero. */
function zeroRows(w: Float32Array, rows: number): number[] {
  const per = w.length / rows;
  const out: number[] = [];
  for (let o = 0; o < rows; o++) if (w.subarray(o * per, (o + 1) * per).every((v) => v === 0)) out.push(o);
  return out;
}

async function output(file: string, feeds: Record<string, ort.Tensor>): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(file, { intraOpNumThreads: 1 });
  return Object.values(await s.run(feeds))[0].data as Float32Array;
}

test('shrink --criterion bn-scale: in a ResNet with BatchNorm nodes each block\'s inner group loses the channels of smallest |γ|', async () => {
  const file = join(FIXTURES, 'shrink/resnet-bn.onnx');
  const dir = tempDir();
  const run = (out: string, extra: string[] = []) => sculpt(['prune', file, '-o', join(dir, out), '--pattern', 'channel', '--sparsity', '0.5', '--shrink', '--criterion', 'bn-scale', '--json', ...extra]);
  const r = run('shrunk.onnx');
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.options.importance, 'bn-scale');
  assert.deepEqual(j.notes, []);
  // The channel-masked reference through the library (same options).
  const { shrinkFile } = await import('../../src/api/shrink-file.js');
  shrinkFile(file, join(dir, 'masked.onnx'), { sparsity: 0.5, norm: 2, scope: 'layer', importance: 'bn-scale', mask: true });
  const m = readOnnx(file);
  // The first block's first Conv feeds only its own BatchNorm: that group's γ alone decides.
  const conv = m.decoded.nodes.find((n) => n.opType === 'Conv' && n.name === '/layers/layers.0/conv1/Conv')!;
  const bn = m.decoded.nodes.find((n) => n.opType === 'BatchNormalization' && n.inputs[0] === conv.outputs[0])!;
  const gamma = floats(file, bn.inputs[1]);
  const expected = smallest(gamma.map(Math.abs), Math.round(0.5 * gamma.length));
  assert.equal(expected.length, 4);
  assert.deepEqual(zeroRows(floats(join(dir, 'masked.onnx'), conv.inputs[1]), gamma.length), expected);
  // By norm the same group keeps other channels (the criterion matters on this fixture).
  shrinkFile(file, join(dir, 'norm.onnx'), { sparsity: 0.5, norm: 2, scope: 'layer', mask: true });
  assert.notDeepEqual(zeroRows(floats(join(dir, 'norm.onnx'), conv.inputs[1]), gamma.length), expected);
  const x = new Float32Array(3 * 32 * 32).map((_, i) => Math.sin(i * 0.37));
  const feeds = { input: new ort.Tensor('float32', x, [1, 3, 32, 32]) };
  assert.ok(relativeDiff(await output(join(dir, 'shrunk.onnx'), feeds), await output(join(dir, 'masked.onnx'), feeds)) < 1e-5);
  // Without BatchNorm nodes (folded into the Convs) every group falls back to its norm, and says so.
  const folded = sculpt(['prune', join(FIXTURES, 'shrink/resnet.onnx'), '-o', join(dir, 'f.onnx'), '--pattern', 'channel', '--sparsity', '0.5', '--shrink', '--criterion', 'bn-scale']);
  assert.equal(folded.code, 0, folded.stderr);
  assert.equal(folded.stderr, 'sculpt: note: 9 of 9 shrinkable groups have no BatchNorm scale: ranked by their L2 norm\n');
});

test('shrink --criterion wanda --calibration: each hidden layer loses the neurons of smallest ‖h_c‖₂ · Σ_o |W_next[o, c]|', async () => {
  const file = join(FIXTURES, 'mlp.onnx');
  const npy = join(FIXTURES, 'mlp.input.npy');
  const dir = tempDir();
  const r = sculpt(['prune', file, '-o', join(dir, 'shrunk.onnx'), '--pattern', 'channel', '--sparsity', '0.5', '--shrink', '--criterion', 'wanda', '--calibration', `npy:${npy}`, '--calibration-samples', '4', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.calibration.samples, 4);
  assert.deepEqual(j.groups.map((g: { removed: number }) => g.removed), [150, 50, 0]);
  // Independently: the hidden activations of the 4 examples from the weights, in double precision.
  const x = parseNpy(readFileSync(npy));
  const layer = (input: Float64Array[], w: Float32Array, b: Float32Array, out: number): Float64Array[] => input.map((v) => {
    const h = new Float64Array(out);
    for (let o = 0; o < out; o++) {
      let s = b[o];
      for (let i = 0; i < v.length; i++) s += w[o * v.length + i] * v[i];
      h[o] = Math.max(0, s);
    }
    return h;
  });
  const w = (n: string) => floats(file, n);
  const h1 = layer(Array.from({ length: 4 }, (_, e) => Float64Array.from(x.data.subarray(e * 784, (e + 1) * 784) as Float32Array)), w('fc1.weight'), w('fc1.bias'), 300);
  const h2 = layer(h1, w('fc2.weight'), w('fc2.bias'), 100);
  const score = (h: Float64Array[], next: Float32Array, rows: number): Float64Array => {
    const n = h[0].length;
    const s = new Float64Array(n);
    for (let c = 0; c < n; c++) {
      let sq = 0;
      for (const e of h) sq += e[c] * e[c];
      let col = 0;
      for (let o = 0; o < rows; o++) col += Math.abs(next[o * n + c]);
      s[c] = Math.sqrt(sq) * col;
    }
    return s;
  };
  const { shrinkFileWithCalibration } = await import('../../src/api/shrink-file.js');
  const { pruneOptions } = await import('../../src/core/options.js');
  await shrinkFileWithCalibration(file, join(dir, 'masked.onnx'), { sparsity: 0.5, norm: 2, scope: 'layer', mask: true }, { calibration: `npy:${npy}`, samples: 4 }, pruneOptions({ sparsity: 0.5 }));
  const masked = join(dir, 'masked.onnx');
  assert.deepEqual(zeroRows(floats(masked, 'fc1.weight'), 300), smallest(score(h1, w('fc2.weight'), 100), 150));
  assert.deepEqual(zeroRows(floats(masked, 'fc2.weight'), 100), smallest(score(h2, w('fc3.weight'), 10), 50));
  const feeds = { input: new ort.Tensor('float32', x.data as Float32Array, [4, 784]) };
  assert.ok(relativeDiff(await output(join(dir, 'shrunk.onnx'), feeds), await output(masked, feeds)) < 1e-5);
  // wanda needs data; bn-scale and magnitude take none.
  const none = sculpt(['prune', file, '-o', join(dir, 'a.onnx'), '--pattern', 'channel', '--sparsity', '0.5', '--shrink', '--criterion', 'wanda']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /^sculpt: --shrink --criterion wanda needs calibration data: pass --calibration KIND:PATH/);
  const extra = sculpt(['prune', file, '-o', join(dir, 'b.onnx'), '--pattern', 'channel', '--sparsity', '0.5', '--shrink', '--calibration', `npy:${npy}`]);
  assert.equal(extra.stderr, 'sculpt: --shrink --criterion magnitude does not take --calibration (only wanda calibrates)\n');
  const bad = sculpt(['prune', file, '-o', join(dir, 'c.onnx'), '--pattern', 'channel', '--sparsity', '0.5', '--shrink', '--criterion', 'sparsegpt']);
  assert.equal(bad.stderr, 'sculpt: --shrink ranks channel groups by --criterion magnitude, bn-scale, wanda; not sparsegpt\n');
});
