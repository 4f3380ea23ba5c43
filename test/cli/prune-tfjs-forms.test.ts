// `sculpt prune` and `sculpt inspect` on TF.js graph models (the converter-format fixture in four
// encodings and the real blazeface) and on a bare weights manifest (face-api's): exact counts, the
// JSON file byte for byte, shards unchanged outside pruned weights, and the pruned graph model
// loading in TensorFlow.js (tfjs-converter's loadGraphModel, cpu backend) and computing exactly what
// the original computes with the same weights masked. Bad inputs: one line, non-zero exit, nothing written.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, readdirSync, truncateSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import { countToPrune } from '../../src/core/counting.js';
import { openTfjs } from '../../src/formats/tfjs-folder.js';
import { setupBackend } from '../../src/train/backend.js';
import { FIXTURES, sculpt, tempDir } from './helpers.js';

const GRAPH = join(FIXTURES, 'tfjs-graph-ops');
const BLAZE = join(FIXTURES, 'tfjs-blazeface/blazeface.json');
const MANIFEST = join(FIXTURES, 'tfjs-face-landmark-tiny/face_landmark_68_tiny_model-weights_manifest.json');

before(async () => {
  await setupBackend('cpu');
});

interface Group {
  paths: string[];
  weights: tf.io.WeightsManifestEntry[];
}

/** The artifacts TF.js's own loaders build from a graph model's JSON file and shards. */
function artifacts(jsonPath: string): tf.io.ModelArtifacts {
  const json = JSON.parse(readFileSync(jsonPath, 'utf8'));
  const groups: Group[] = json.weightsManifest;
  const bytes = Buffer.concat(groups.flatMap((g) => g.paths.map((p) => readFileSync(join(dirname(jsonPath), p)))));
  return {
    modelTopology: json.modelTopology, format: json.format, generatedBy: json.generatedBy, convertedBy: json.convertedBy,
    signature: json.signature, userDefinedMetadata: json.userDefinedMetadata,
    weightSpecs: groups.flatMap((g) => g.weights),
    weightData: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length),
  };
}

/**
 * The original graph model with TF.js's own decoding of its weights, masked where the pruned
 * model's weights decode to 0, re-encoded as float32: the reference the pruned model must equal.
 */
async function maskedOriginal(original: string, pruned: string): Promise<{ model: Awaited<ReturnType<typeof loadGraphModel>>; newlyZero: number }> {
  const a = artifacts(original);
  const p = artifacts(pruned);
  const orig = tf.io.decodeWeights(a.weightData!, a.weightSpecs!);
  const after = tf.io.decodeWeights(p.weightData!, p.weightSpecs!);
  let newlyZero = 0;
  const masked: tf.NamedTensorMap = {};
  for (const [name, t] of Object.entries(orig)) {
    if (t.dtype !== 'float32') {
      masked[name] = t;
      continue;
    }
    const o = t.dataSync();
    const n = after[name].dataSync();
    const v = Float32Array.from(o, (x, i) => (n[i] === 0 ? 0 : x));
    for (let i = 0; i < o.length; i++) {
      if (n[i] === 0) newlyZero += o[i] !== 0 ? 1 : 0; // an original −0 may come back as +0
      else assert.equal(n[i], o[i], `${name}[${i}] kept but changed`);
    }
    masked[name] = tf.tensor(v, t.shape, 'float32');
  }
  const { data, specs } = await tf.io.encodeWeights(masked);
  const model = await loadGraphModel(tf.io.fromMemory({ ...a, weightSpecs: specs, weightData: data }));
  return { model, newlyZero };
}

/** Byte equality of every shard outside the byte ranges of the tensors in `pruned`. */
function assertShardsKept(input: string, output: string, pruned: Set<string>): void {
  const before = openTfjs(input);
  const after = openTfjs(output);
  for (const e of before.entries) {
    if (pruned.has(e.name)) continue;
    assert.deepEqual(after.bytes(e.name), before.bytes(e.name), `${e.name} bytes unchanged`);
  }
  const sizes = (f: typeof before) => f.groups.map((g) => g.sizes.join(','));
  assert.deepEqual(sizes(after), sizes(before), 'shard sizes kept');
}

function run(args: string[]): { report: any; out: string } {
  const out = join(tempDir('sculpt-tfjs-forms-'), 'pruned');
  const r = sculpt(['prune', args[0], '-o', out, ...args.slice(1), '--json']);
  assert.equal(r.code, 0, r.stderr);
  return { report: JSON.parse(r.stdout), out };
}

const sample = (shape: number[], seed: number): Float32Array => Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(seed + i * 0.37));

for (const v of ['float32', 'uint8', 'uint16', 'float16'] as const) {
  test(`graph model (${v}): prune 0.5 global, exact count, model.json verbatim, runs in TF.js like the masked original`, async () => {
    const input = join(GRAPH, v);
    const { report, out } = run([input, '--sparsity', '0.5']);
    assert.equal(report.format, 'tfjs');
    const targets = report.tensors.filter((t: any) => t.pruned).map((t: any) => t.name);
    assert.deepEqual(targets, ['c1/filter', 'dw/filter', 'c2/filter', 'fc1/weights', 'fc2/weights', 'head/kernel']);
    assert.equal(report.target.count, 2700);
    assert.equal(report.target.zerosAfter, countToPrune(0.5, 2700));
    assert.deepEqual(readFileSync(join(out, 'model.json')), readFileSync(join(input, 'model.json')), 'model.json byte for byte');
    assert.deepEqual(readdirSync(out).sort(), ['group1-shard1of2.bin', 'group1-shard2of2.bin', 'model.json']);
    assertShardsKept(input, out, new Set(targets));

    const pruned = await loadGraphModel(tf.io.fromMemory(artifacts(join(out, 'model.json'))));
    const { model: reference, newlyZero } = await maskedOriginal(join(input, 'model.json'), join(out, 'model.json'));
    const zerosBefore = report.tensors.filter((t: any) => t.pruned).reduce((a: number, t: any) => a + t.zerosBefore, 0);
    assert.equal(newlyZero, countToPrune(0.5, 2700) - zerosBefore, 'TF.js sees exactly the removed weights as new zeros');
    const x = tf.tensor4d(sample([3, 6, 6, 2], 1), [3, 6, 6, 2]);
    const ids = tf.tensor1d([0, 3, 4], 'int32');
    const y = (pruned.execute({ x, ids }) as tf.Tensor).dataSync();
    const yRef = (reference.execute({ x, ids }) as tf.Tensor).dataSync();
    assert.equal(y.length, 18);
    for (let i = 0; i < y.length; i++) assert.ok(Math.abs(y[i] - yRef[i]) <= 1e-6, `output ${i}: ${y[i]} vs ${yRef[i]}`);
    const original = await loadGraphModel(tf.io.fromMemory(artifacts(join(input, 'model.json'))));
    const y0 = (original.execute({ x, ids }) as tf.Tensor).dataSync();
    assert.ok(y0.some((a, i) => Math.abs(a - y[i]) > 1e-3), 'pruning changed the outputs');
    pruned.dispose();
    reference.dispose();
    original.dispose();
  });
}

test('channel pruning of a graph model zeroes whole channels on each weight\'s output axis (depthwise: the input channel)', () => {
  const { report, out } = run([join(GRAPH, 'uint8'), '--pattern', 'channel', '--scope', 'layer', '--sparsity', '0.5']);
  const f = openTfjs(out);
  const axes: Record<string, number> = { 'c1/filter': 3, 'dw/filter': 2, 'c2/filter': 3, 'fc1/weights': 0, 'fc2/weights': 1, 'head/kernel': 1 };
  for (const t of report.tensors.filter((x: any) => x.pruned)) {
    const w = f.tensors.find((x) => x.name === t.name)!;
    assert.equal(w.outputAxis, axes[t.name], t.name);
    const v = f.read(t.name);
    const channels = w.shape[w.outputAxis];
    const stride = w.shape.slice(w.outputAxis + 1).reduce((a, b) => a * b, 1);
    const alive = new Uint8Array(channels);
    for (let i = 0; i < v.length; i++) if (v[i] !== 0) alive[Math.floor(i / stride) % channels] = 1;
    assert.equal(channels - alive.reduce((a, b) => a + b, 0), countToPrune(0.5, channels), `${t.name}: whole channels removed`);
  }
});

test('blazeface (real converter output): prune 0.5 per layer, exact counts, runs in TF.js like the masked original', async () => {
  const { report, out } = run([BLAZE, '--sparsity', '0.5', '--scope', 'layer']);
  const targets = report.tensors.filter((t: any) => t.pruned);
  assert.equal(targets.length, 69);
  for (const t of targets) assert.equal(t.zerosAfter, Math.max(t.zerosBefore, countToPrune(0.5, t.count)), t.name);
  assert.deepEqual(readdirSync(out).sort(), ['blazeface.bin', 'blazeface.json']);
  assert.deepEqual(readFileSync(join(out, 'blazeface.json')), readFileSync(BLAZE));
  assertShardsKept(BLAZE, join(out, 'blazeface.json'), new Set(targets.map((t: any) => t.name)));

  const pruned = await loadGraphModel(tf.io.fromMemory(artifacts(join(out, 'blazeface.json'))));
  const { model: reference } = await maskedOriginal(BLAZE, join(out, 'blazeface.json'));
  const x = tf.tensor4d(sample([1, 256, 256, 3], 2).map((a) => (a + 1) / 2), [1, 256, 256, 3]);
  const ys = pruned.execute(x) as tf.Tensor[];
  const refs = reference.execute(x) as tf.Tensor[];
  assert.equal(ys.length, 4);
  ys.forEach((y, k) => {
    const a = y.dataSync();
    const b = refs[k].dataSync();
    let maxErr = 0;
    for (let i = 0; i < a.length; i++) maxErr = Math.max(maxErr, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])));
    assert.ok(maxErr <= 1e-5, `output ${k}: max relative error ${maxErr}`);
  });
  pruned.dispose();
  reference.dispose();
});

test('weights manifest (face-api, uint8): prune 0.5 into a new folder; manifest verbatim, pruned codes decode to exactly 0', () => {
  const { report, out } = run([MANIFEST, '--sparsity', '0.5']);
  assert.equal(report.target.count, 76416);
  assert.equal(report.target.zerosAfter, countToPrune(0.5, 76416));
  const name = basename(MANIFEST);
  assert.deepEqual(readdirSync(out).sort(), [name, 'face_landmark_68_tiny_model.bin'].sort());
  assert.deepEqual(readFileSync(join(out, name)), readFileSync(MANIFEST), 'manifest byte for byte');
  const targets = new Set<string>(report.tensors.filter((t: any) => t.pruned).map((t: any) => t.name));
  assertShardsKept(MANIFEST, join(out, name), targets);
  // TF.js's own decoder on the pruned manifest: the zeros are exact and number what the report says.
  const groups: Group[] = JSON.parse(readFileSync(join(out, name), 'utf8'));
  const bytes = readFileSync(join(out, groups[0].paths[0]));
  const decoded = tf.io.decodeWeights(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length), groups[0].weights);
  let zeros = 0;
  for (const t of targets) zeros += (decoded[t].dataSync() as Float32Array).reduce((n, x) => n + (x === 0 ? 1 : 0), 0);
  assert.equal(zeros, countToPrune(0.5, 76416));
});

test('inspect reads every form: folder, model.json, another .json graph model, a weights manifest', () => {
  const cases: [string, number][] = [[join(GRAPH, 'uint8'), 2700], [join(GRAPH, 'float16', 'model.json'), 2700], [BLAZE, -1], [MANIFEST, 76416]];
  for (const [p, prunable] of cases) {
    const r = sculpt(['inspect', p, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const info = JSON.parse(r.stdout);
    assert.equal(info.format, 'tfjs');
    if (prunable >= 0) assert.equal(info.prunableParameters, prunable, p);
    else assert.ok(info.prunableParameters > 100000, p);
  }
  const r = sculpt(['inspect', join(GRAPH, 'uint8-unnudged')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /fc1\/weights .* yes {2,}MatMul b \[out, in\] \(transpose_b\); uint8-quantized and no uint8 code decodes to exactly 0 \(−min\/scale = 127\.472\): prune refuses it, --exclude it/);
});

/** Runs a prune that must fail: one line on stderr matching `why`, non-zero exit, nothing written. */
function assertRefused(args: string[], why: RegExp): void {
  const parent = tempDir();
  const r = sculpt(['prune', args[0], '-o', join(parent, 'out'), '--sparsity', '0.5', ...args.slice(1)]);
  assert.notEqual(r.code, 0);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], why);
  assert.deepEqual(readdirSync(parent), [], 'nothing written');
}

test('refusals: a weight with no exact-zero code, truncated or missing shards, the input folder as output', () => {
  // Un-nudged uint8: the first pruned target in file order is named; excluding it names the next.
  assertRefused([join(GRAPH, 'uint8-unnudged')], /uint8-unnudged\/model\.json: weight c1\/filter is uint8-quantized and no uint8 code decodes to exactly 0 \(−min\/scale = 124\.563\), so its pruned weights cannot be written as 0; leave it out with --exclude c1\/filter$/);
  assertRefused([join(GRAPH, 'uint8-unnudged'), '--exclude', 'c1/filter,dw/filter'], /weight c2\/filter is uint8-quantized .* --exclude c2\/filter$/);

  const dir = join(tempDir(), 'face');
  cpSync(dirname(MANIFEST), dir, { recursive: true });
  truncateSync(join(dir, 'face_landmark_68_tiny_model.bin'), 5000);
  assertRefused([join(dir, basename(MANIFEST))], /face_landmark_68_tiny_model\.bin: weight group 0 holds 5000 bytes .*truncated/);

  const graph = join(tempDir(), 'graph');
  cpSync(join(GRAPH, 'float16'), graph, { recursive: true });
  truncateSync(join(graph, 'group1-shard2of2.bin'), 0);
  assertRefused([graph], /group1-shard2of2\.bin: weight group 0 holds 2819 bytes/);

  const listing = readdirSync(dirname(MANIFEST)).sort();
  const r = sculpt(['prune', MANIFEST, '-o', dirname(MANIFEST), '--sparsity', '0.5']);
  assert.notEqual(r.code, 0);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.match(r.stderr, /the output is the input folder/);
  assert.deepEqual(readdirSync(dirname(MANIFEST)).sort(), listing);
  const json = sculpt(['prune', MANIFEST, '-o', join(tempDir(), 'x.json'), '--sparsity', '0.5']);
  assert.match(json.stderr, /-o names the folder to write the pruned TF\.js model to, not a \.json file/);
});
