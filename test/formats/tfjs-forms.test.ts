// TF.js graph models and bare weights manifests, plain and quantized: roles traced from the
// consuming graph nodes (or names, for manifests), values identical to TensorFlow.js's own decoder,
// pruned weights written as their exact-zero code, every other byte kept.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { SculptError } from '../../src/core/errors.js';
import { Mask } from '../../src/core/mask.js';
import { isTfjsModelPath, openTfjs, type TfjsFolder } from '../../src/formats/tfjs-folder.js';
import { graphWeightRoles } from '../../src/formats/tfjs-graph.js';
import { zeroCode } from '../../src/formats/tfjs-quantization.js';
import { setupBackend } from '../../src/train/backend.js';
import { tempDir } from '../fixtures/temp.js';

const FIX = join(import.meta.dirname, '../fixtures');
const GRAPH = join(FIX, 'tfjs-graph-ops');
const BLAZE = join(FIX, 'tfjs-blazeface/blazeface.json');
const MANIFEST = join(FIX, 'tfjs-face-landmark-tiny/face_landmark_68_tiny_model-weights_manifest.json');
const VARIANTS = ['float32', 'uint8', 'uint16', 'float16'] as const;

before(async () => {
  await setupBackend('cpu');
});

const tmp = (p = 'tfjs-forms-') => tempDir(p);

interface Manifest {
  paths: string[];
  weights: tf.io.WeightsManifestEntry[];
}

/** What TensorFlow.js itself decodes from a JSON file (model.json or a manifest) and its shards. */
function tfDecode(jsonPath: string): tf.NamedTensorMap {
  const json = JSON.parse(readFileSync(jsonPath, 'utf8'));
  const groups: Manifest[] = Array.isArray(json) ? json : json.weightsManifest;
  const dir = join(jsonPath, '..');
  const out: tf.NamedTensorMap = {};
  for (const g of groups) {
    const bytes = Buffer.concat(g.paths.map((p) => readFileSync(join(dir, p))));
    Object.assign(out, tf.io.decodeWeights(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length), g.weights));
  }
  return out;
}

test('graph model: roles and output axes from the consuming nodes, through Identity, Reshape, Cast and Transpose', () => {
  const f = openTfjs(join(GRAPH, 'float32'));
  assert.equal(f.kind, 'graph-model');
  const by = new Map(f.tensors.map((t) => [t.name, t]));
  const expect: [string, string, boolean, number, RegExp][] = [
    ['c1/filter', 'weight', true, 3, /^_FusedConv2D filter/],
    ['c1/bias', 'bias', false, 0, /^bias of _FusedConv2D/],
    ['dw/filter', 'weight', true, 2, /^FusedDepthwiseConv2dNative filter \[kh, kw, in, multiplier\]/],
    ['dw/bias', 'bias', false, 0, /bias of FusedDepthwiseConv2dNative/],
    ['bn/scale', 'norm', false, 0, /FusedBatchNormV3/],
    ['bn/variance', 'norm', false, 0, /FusedBatchNormV3/],
    ['c2/filter', 'weight', true, 3, /Conv2D filter .*\(through Identity\)/],
    ['c2/bias', 'bias', false, 0, /BiasAdd/],
    ['fc1/weights', 'weight', true, 0, /MatMul b \[out, in\] \(transpose_b\)/],
    ['fc2/weights', 'weight', true, 1, /_FusedMatMul b \[in, out\] \(through Reshape, Cast\)/],
    ['fc2/bias', 'bias', false, 0, /bias of _FusedMatMul/],
    // Stored [10, 6] = [in, out]; Transpose(perm [1, 0]) then MatMul transpose_b: the output axis is stored axis 1.
    ['head/kernel', 'weight', true, 1, /through Transpose/],
    ['emb/table', 'embedding', false, 1, /GatherV2 params/],
  ];
  for (const [name, role, prunable, axis, why] of expect) {
    const t = by.get(name);
    assert.ok(t, name);
    assert.equal(t.role, role, name);
    assert.equal(t.prunable, prunable, name);
    assert.equal(t.outputAxis, axis, name);
    assert.match(t.reason, why, name);
  }
  assert.equal(f.tensors.length, 16, 'the four int32 constants are entries, not floating tensors');
  assert.equal(f.entries.length, 20);
  assert.equal(f.tensors.filter((t) => t.prunable).reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0), 2700);
});

test('graph roles inside function bodies (PartitionedCall, If branches), per IdentityN output, and conflicting uses', () => {
  const c = (name: string) => ({ name, op: 'Const', attr: {} });
  const topology = {
    node: [
      c('w_call'), c('w_if'), c('w_a'), c('w_b'), c('w_shared'), c('w_unused'),
      { name: 'x', op: 'Placeholder' },
      { name: 'call', op: 'StatefulPartitionedCall', input: ['x', 'w_call'], attr: { f: { func: { name: 'dense_fn' } } } },
      { name: 'cond', op: 'Placeholder' },
      { name: 'branch', op: 'StatelessIf', input: ['cond', 'x', 'w_if'], attr: { then_branch: { func: { name: 'conv_fn' } }, else_branch: { func: { name: 'conv_fn' } } } },
      { name: 'idn', op: 'IdentityN', input: ['w_a', 'w_b'] },
      { name: 'mm', op: 'MatMul', input: ['x', 'idn'] },
      { name: 'bias', op: 'BiasAdd', input: ['mm', 'idn:1'] },
      { name: 'mm1', op: 'MatMul', input: ['x', 'w_shared'] },
      { name: 'mm2', op: 'MatMul', input: ['x', 'w_shared'], attr: { transpose_b: { b: true } } },
    ],
    library: {
      function: [
        {
          signature: { name: 'dense_fn', inputArg: [{ name: 'inp' }, { name: 'kernel' }] },
          nodeDef: [
            { name: 'kernel_read', op: 'Identity', input: ['kernel'] },
            { name: 'matmul', op: 'MatMul', input: ['inp', 'kernel_read:output:0'], attr: { transpose_b: { b: true } } },
          ],
        },
        {
          signature: { name: 'conv_fn', inputArg: [{ name: 'inp' }, { name: 'filter' }] },
          nodeDef: [{ name: 'conv', op: 'Conv2D', input: ['inp', 'filter'] }],
        },
      ],
    },
  };
  const shapes: Record<string, number[]> = { w_call: [8, 4], w_if: [3, 3, 2, 5], w_a: [4, 6], w_b: [6], w_shared: [4, 4], w_unused: [2, 2] };
  const roles = graphWeightRoles(topology, Object.entries(shapes).map(([name, shape]) => ({ name, shape })), () => undefined);
  const r = (n: string) => roles.get(n)!;
  assert.deepEqual([r('w_call').role, r('w_call').prunable, r('w_call').outputAxis], ['weight', true, 0]);
  assert.match(r('w_call').reason, /MatMul b \[out, in\] \(transpose_b\) \(through StatefulPartitionedCall dense_fn, Identity\)/);
  assert.deepEqual([r('w_if').role, r('w_if').prunable, r('w_if').outputAxis], ['weight', true, 3]);
  assert.match(r('w_if').reason, /through StatelessIf conv_fn/);
  assert.deepEqual([r('w_a').role, r('w_a').outputAxis], ['weight', 1], 'IdentityN output 0 feeds only the MatMul');
  assert.equal(r('w_b').role, 'bias', 'IdentityN output 1 feeds only the BiasAdd');
  assert.deepEqual([r('w_shared').role, r('w_shared').prunable], ['other', false]);
  assert.match(r('w_shared').reason, /MatMul b \[in, out\] of mm1 and MatMul b \[out, in\] \(transpose_b\) of mm2; prune it with --include/);
  assert.equal(r('w_unused').reason, 'not consumed by any graph node');
});

test('blazeface (a real converter output): every conv filter prunable on the right axis, every bias a bias', () => {
  const f = openTfjs(BLAZE);
  assert.equal(f.kind, 'graph-model');
  // The expectation, read straight off the GraphDef.
  const json = JSON.parse(readFileSync(BLAZE, 'utf8'));
  const want = new Map<string, [string, number]>();
  for (const n of json.modelTopology.node) {
    if (n.op === '_FusedConv2D') {
      want.set(n.input[1], ['weight', 3]);
      want.set(n.input[2], ['bias', 0]);
    } else if (n.op === 'DepthwiseConv2dNative') want.set(n.input[1], ['weight', 2]);
  }
  assert.equal(f.tensors.length, 106);
  for (const t of f.tensors) {
    const w = want.get(t.name);
    assert.ok(w, `${t.name} is a conv argument`);
    assert.equal(t.role, w[0], t.name);
    assert.equal(t.outputAxis, w[1], t.name);
    assert.equal(t.prunable, w[0] === 'weight', t.name);
  }
  assert.equal(f.tensors.filter((t) => t.prunable).length, 69);
});

test('bare weights manifest (face-api): roles from names, uint8 zero codes, values equal TF.js decodeWeights', () => {
  const f = openTfjs(MANIFEST);
  assert.equal(f.kind, 'weights-manifest');
  assert.equal(f.jsonPath, MANIFEST);
  const by = new Map(f.tensors.map((t) => [t.name, t]));
  assert.equal(f.tensors.length, 28);
  for (const t of f.tensors) {
    const isBias = t.name.endsWith('/bias');
    assert.equal(t.role, isBias ? 'bias' : 'weight', t.name);
    assert.equal(t.prunable, !isBias, t.name);
  }
  assert.equal(by.get('dense0/conv1/depthwise_filter')!.outputAxis, 2);
  assert.equal(by.get('dense0/conv1/pointwise_filter')!.outputAxis, 3);
  assert.equal(by.get('fc/weights')!.outputAxis, 1);
  assert.match(by.get('fc/weights')!.reason, /uint8-quantized, zero code 135$/);
  const ref = tfDecode(MANIFEST);
  for (const t of f.tensors) assert.deepEqual(f.read(t.name), ref[t.name].dataSync(), t.name);
});

test('quantized graph models read exactly as TF.js decodes them (uint8, uint16 with original_dtype, float16)', () => {
  for (const v of VARIANTS) {
    const f = openTfjs(join(GRAPH, v, 'model.json'));
    const ref = tfDecode(join(GRAPH, v, 'model.json'));
    for (const t of f.tensors) assert.deepEqual(f.read(t.name), ref[t.name].dataSync(), `${v} ${t.name}`);
    assert.equal(f.tensors.filter((t) => t.prunable).length, 6, v);
  }
  const u16 = openTfjs(join(GRAPH, 'uint16')).entry('fc1/weights').quantization!;
  assert.equal(u16.originalDtype, 'float32');
});

test('zero codes: nudged affine grids and float16 have one, un-nudged grids do not', () => {
  assert.deepEqual(zeroCode({ dtype: 'float16' }), { code: 0 });
  assert.deepEqual(zeroCode({ dtype: 'uint8', scale: 0.5, min: -1 }), { code: 2 });
  assert.deepEqual(zeroCode({ dtype: 'uint8', scale: 1, min: 0 }), { code: 0 });
  assert.deepEqual(zeroCode({ dtype: 'uint16', scale: 2 / 65535, min: -(30000 * 2) / 65535 }), { code: 30000 });
  assert.match((zeroCode({ dtype: 'uint8', scale: 0.1, min: -0.25 }) as { why: string }).why, /no uint8 code decodes to exactly 0 \(−min\/scale = 2\.50000\)/);
  assert.ok('why' in zeroCode({ dtype: 'uint8', scale: 0.01, min: 0.5 }), 'all values positive: 0 below the grid');
  const f = openTfjs(join(GRAPH, 'uint8-unnudged'));
  assert.equal(f.tensors.filter((t) => t.prunable).length, 6, 'still targets by role: prune refuses them rather than skipping them');
  assert.match(f.tensors.find((t) => t.name === 'fc1/weights')!.reason, /^MatMul b .*; uint8-quantized and no uint8 code decodes to exactly 0 \(−min\/scale = 127\.472\): prune refuses it, --exclude it$/);
  const one = Mask.full(2304);
  one.set(7, false);
  assert.throws(
    () => f.zero('fc1/weights', one),
    (e: unknown) => e instanceof SculptError && /weight fc1\/weights is uint8-quantized and no uint8 code decodes to exactly 0 .*cannot be written as 0; leave it out with --exclude fc1\/weights$/.test(e.message),
  );
  const before = f.bytes('fc1/weights').slice();
  f.zero('fc1/weights', Mask.full(2304));
  assert.deepEqual(f.bytes('fc1/weights'), before, 'a mask that prunes nothing is no refusal and changes nothing');
});

/** Prunes every other element of every prunable tensor, writes, and checks bytes and TF.js's decoding. */
function roundTrip(f: TfjsFolder, label: string): void {
  const out = join(tmp(), 'pruned');
  const masks = new Map<string, Mask>();
  for (const t of f.tensors) {
    if (!t.prunable) continue;
    const n = t.shape.reduce((a, b) => a * b, 1);
    const m = Mask.full(n);
    for (let i = 0; i < n; i += 2) m.set(i, false);
    masks.set(t.name, m);
  }
  const before = new Map(f.entries.map((e) => [e.name, f.bytes(e.name).slice()]));
  const values = new Map(f.tensors.map((t) => [t.name, f.read(t.name).slice()]));
  for (const [name, m] of masks) f.zero(name, m);
  f.write(out);
  const json = f.jsonPath.split('/').pop()!;
  assert.deepEqual(readFileSync(join(out, json)), readFileSync(f.jsonPath), `${label}: JSON byte for byte`);
  const back = openTfjs(join(out, json));
  const ref = tfDecode(join(out, json));
  for (const e of f.entries) {
    const a = back.bytes(e.name);
    const b = before.get(e.name)!;
    const m = masks.get(e.name);
    const width = e.quantization ? (e.quantization.dtype === 'uint8' ? 1 : 2) : 4;
    let changed = 0;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !(m && !m.get(Math.floor(i / width)))) changed++;
    assert.equal(changed, 0, `${label} ${e.name}: no byte outside pruned elements changed`);
    if (e.dtype !== 'float32') continue;
    const got = ref[e.name].dataSync();
    const orig = values.get(e.name)!;
    for (let i = 0; i < got.length; i++) {
      if (m && !m.get(i)) assert.equal(got[i], 0, `${label} ${e.name}[${i}] pruned → TF.js decodes exactly 0`);
      else assert.equal(got[i], orig[i], `${label} ${e.name}[${i}] kept`);
    }
  }
  const shards = readdirSync(out).filter((x) => x !== json).sort();
  assert.ok(shards.length >= 1);
}

test('round trips: float32, uint8, uint16 and float16 graph models, and the uint8 face-api manifest', () => {
  for (const v of VARIANTS) roundTrip(openTfjs(join(GRAPH, v)), v);
  roundTrip(openTfjs(MANIFEST), 'manifest');
  roundTrip(openTfjs(BLAZE), 'blazeface');
});

test('a manifest is written as a new folder holding the manifest and its shards; bad manifests are refused in one line', () => {
  const f = openTfjs(MANIFEST);
  const parent = tmp();
  f.write(join(parent, 'out'));
  assert.deepEqual(readdirSync(join(parent, 'out')).sort(), ['face_landmark_68_tiny_model-weights_manifest.json', 'face_landmark_68_tiny_model.bin']);
  assert.throws(() => f.write(join(FIX, 'tfjs-face-landmark-tiny')), /the output is the input folder/);

  const one = (fn: () => unknown, re: RegExp): void => {
    assert.throws(fn, (e: unknown) => e instanceof SculptError && re.test(e.message) && !e.message.includes('\n'), String(re));
  };
  const dir = tmp();
  cpSync(join(FIX, 'tfjs-face-landmark-tiny'), dir, { recursive: true });
  const m = join(dir, 'face_landmark_68_tiny_model-weights_manifest.json');
  writeFileSync(m, '{"weights": []}');
  one(() => openTfjs(m), /weights_manifest\.json: not a TF\.js weights manifest \(not a JSON array\); it must be a JSON array of \{paths, weights\} groups/);
  const groups = JSON.parse(readFileSync(MANIFEST, 'utf8'));
  groups[0].paths = ['gone.bin'];
  writeFileSync(m, JSON.stringify(groups));
  one(() => openTfjs(m), /weight shard gone\.bin is missing next to face_landmark_68_tiny_model-weights_manifest\.json/);

  const g = tmp();
  cpSync(join(GRAPH, 'uint16'), g, { recursive: true });
  const model = JSON.parse(readFileSync(join(g, 'model.json'), 'utf8'));
  model.weightsManifest[0].weights[0].quantization.original_dtype = 'int32';
  writeFileSync(join(g, 'model.json'), JSON.stringify(model));
  one(() => openTfjs(g), /not a TF\.js graph model \(weight c1\/filter has dtype float32 but quantization\.original_dtype int32\)/);
  model.weightsManifest[0].weights[0].quantization = { dtype: 'int4' };
  writeFileSync(join(g, 'model.json'), JSON.stringify(model));
  one(() => openTfjs(g), /weight c1\/filter has unknown quantization dtype "int4"/);
  delete model.modelTopology.node;
  writeFileSync(join(g, 'model.json'), JSON.stringify({ ...model, weightsManifest: model.weightsManifest }));
  one(() => openTfjs(g), /not a TF\.js graph model \(modelTopology has no node list\)/);
});

test('isTfjsModelPath: model folders, model.json, *weights_manifest.json, other graph-model .json files', () => {
  assert.equal(isTfjsModelPath(join(GRAPH, 'float32')), true);
  assert.equal(isTfjsModelPath(join(GRAPH, 'float32', 'model.json')), true);
  assert.equal(isTfjsModelPath(MANIFEST), true);
  assert.equal(isTfjsModelPath(BLAZE), true);
  assert.equal(isTfjsModelPath(GRAPH), false, 'a folder without model.json');
  assert.equal(isTfjsModelPath(join(FIX, 'tiny.safetensors.json')), false);
  assert.equal(isTfjsModelPath(join(FIX, 'mlp.onnx')), false);
  assert.equal(isTfjsModelPath(join(FIX, 'no-such-thing')), false);
});
