// TF.js layers model folders parsed without TensorFlow.js: roles from the topology, weights that
// span shard boundaries or sit at unaligned offsets, quantized weights pruned to their zero code, byte-exact writing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SculptError } from '../../src/core/errors.js';
import { Mask } from '../../src/core/mask.js';
import { openTfjsFolder, writeTfjsFolder } from '../../src/formats/tfjs-folder.js';
import { tempDir } from '../fixtures/temp.js';

interface Spec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; scale?: number; min?: number };
}

const layer = (className: string, name: string) => ({ class_name: className, config: { name, trainable: true } });
const topology = {
  class_name: 'Sequential',
  config: {
    name: 'synthetic',
    layers: [
      layer('Conv2D', 'conv'), layer('BatchNormalization', 'bn'), layer('DepthwiseConv2D', 'dw'),
      layer('Embedding', 'emb'), layer('Dense', 'dense_Dense1'), layer('Dense', 'dense_Dense2'),
    ],
  },
};

// Byte layout: a 6-byte uint8-quantized weight puts dw/depthwise_kernel at an unaligned offset;
// the shard cuts (SPLITS) fall inside conv/kernel and dw/depthwise_kernel.
const specs: Spec[] = [
  { name: 'conv/kernel', shape: [3, 3, 1, 4], dtype: 'float32' },
  { name: 'conv/bias', shape: [4], dtype: 'float32' },
  { name: 'step', shape: [1], dtype: 'int32' },
  { name: 'dense_Dense1/kernel', shape: [3, 2], dtype: 'float32', quantization: { dtype: 'uint8', scale: 0.5, min: -1 } },
  { name: 'dw/depthwise_kernel', shape: [3, 3, 4, 1], dtype: 'float32' },
  { name: 'bn/gamma', shape: [4], dtype: 'float32' },
  { name: 'bn/moving_mean', shape: [4], dtype: 'float32' },
  { name: 'emb/embeddings', shape: [5, 2], dtype: 'float32' },
  { name: 'dense_Dense2/kernel', shape: [4, 3], dtype: 'float32' },
  { name: 'dense_Dense2/bias', shape: [3], dtype: 'float32' },
];
const SPLITS = [100, 250];
const SHARDS = ['group1-shard1of3.bin', 'group1-shard2of3.bin', 'group1-shard3of3.bin'];

const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** Writes the folder; float32 weight `k` has values (k+1)·(i+1)·(−1)^i / 100. */
function makeFolder(): { dir: string; values: Map<string, Float32Array>; bytes: Uint8Array; offsets: Map<string, number> } {
  const dir = tempDir('tfjs-folder-');
  const parts: Uint8Array[] = [];
  const values = new Map<string, Float32Array>();
  const offsets = new Map<string, number>();
  let at = 0;
  specs.forEach((s, k) => {
    const n = numel(s.shape);
    let b: Uint8Array;
    if (s.quantization) b = Uint8Array.from({ length: n }, (_, i) => i * 3);
    else if (s.dtype === 'int32') b = new Uint8Array(Int32Array.of(7).buffer);
    else {
      const v = Float32Array.from({ length: n }, (_, i) => ((k + 1) * (i + 1) * (i % 2 ? -1 : 1)) / 100);
      values.set(s.name, v);
      b = new Uint8Array(v.buffer);
    }
    offsets.set(s.name, at);
    parts.push(b);
    at += b.length;
  });
  const bytes = new Uint8Array(at);
  let o = 0;
  for (const p of parts) {
    bytes.set(p, o);
    o += p.length;
  }
  const cuts = [0, ...SPLITS, bytes.length];
  SHARDS.forEach((f, i) => writeFileSync(join(dir, f), bytes.subarray(cuts[i], cuts[i + 1])));
  const json = { modelTopology: topology, format: 'layers-model', weightsManifest: [{ paths: SHARDS.map((f) => `./${f}`), weights: specs }] };
  writeFileSync(join(dir, 'model.json'), JSON.stringify(json, null, 1));
  return { dir, values, bytes, offsets };
}

test('roles and prunability come from the layer classes in modelTopology', () => {
  const { dir } = makeFolder();
  const f = openTfjsFolder(dir);
  const by = new Map(f.tensors.map((t) => [t.name, t]));
  assert.deepEqual(f.tensors.map((t) => t.name), specs.filter((s) => s.dtype === 'float32').map((s) => s.name));
  assert.equal(f.entries.length, specs.length, 'the int32 weight is an entry, not a floating tensor');
  const expect: [string, string, boolean, number][] = [
    ['conv/kernel', 'weight', true, 3], ['conv/bias', 'bias', false, 0],
    ['dense_Dense1/kernel', 'weight', true, 1], ['dw/depthwise_kernel', 'weight', true, 2],
    ['bn/gamma', 'norm', false, 0], ['bn/moving_mean', 'norm', false, 0],
    ['emb/embeddings', 'embedding', false, 1], ['dense_Dense2/kernel', 'weight', true, 1], ['dense_Dense2/bias', 'bias', false, 0],
  ];
  for (const [name, role, prunable, axis] of expect) {
    const t = by.get(name)!;
    assert.equal(t.role, role, name);
    assert.equal(t.prunable, prunable, name);
    assert.equal(t.outputAxis, axis, name);
  }
  assert.equal(by.get('dense_Dense2/kernel')!.op, 'Dense');
  assert.match(by.get('dense_Dense1/kernel')!.reason, /uint8-quantized, zero code 2$/, 'min −1, scale 0.5: code 2 decodes to 0');
});

test('reads weights across shard boundaries, at unaligned offsets, and dequantizes uint8', () => {
  const { dir, values, offsets } = makeFolder();
  assert.ok(offsets.get('conv/kernel')! < SPLITS[0] && SPLITS[0] < offsets.get('conv/kernel')! + 144, 'conv/kernel spans shard 1 and 2');
  assert.equal(offsets.get('dw/depthwise_kernel')! % 4, 2, 'dw/depthwise_kernel is unaligned');
  assert.ok(offsets.get('dw/depthwise_kernel')! < SPLITS[1] && SPLITS[1] < offsets.get('dw/depthwise_kernel')! + 144, 'dw spans shard 2 and 3');
  const f = openTfjsFolder(join(dir, 'model.json'));
  for (const [name, v] of values) assert.deepEqual([...f.read(name)], [...v], name);
  assert.deepEqual([...f.read('dense_Dense1/kernel')], [0, 3, 6, 9, 12, 15].map((q) => q * 0.5 - 1));
});

test('writing zeroes exactly the masked elements; model.json and every other byte are identical', () => {
  const { dir, bytes, offsets } = makeFolder();
  const f = openTfjsFolder(dir);
  const pruned: Record<string, number[]> = { 'conv/kernel': [0, 15, 16, 35], 'dw/depthwise_kernel': [1, 2, 20, 35] };
  for (const [name, idx] of Object.entries(pruned)) {
    const t = f.tensors.find((x) => x.name === name)!;
    const m = Mask.full(numel([...t.shape]));
    for (const i of idx) m.set(i, false);
    f.zero(name, m);
  }
  const out = join(tempDir('tfjs-out-'), 'pruned');
  writeTfjsFolder(f, out);
  assert.deepEqual(readFileSync(join(out, 'model.json')), readFileSync(join(dir, 'model.json')));
  assert.deepEqual(readdirSync(out).sort(), ['model.json', ...SHARDS].sort());
  const written = Buffer.concat(SHARDS.map((s) => readFileSync(join(out, s))));
  const sizes = SHARDS.map((s) => readFileSync(join(out, s)).length);
  assert.deepEqual(sizes, SHARDS.map((s) => readFileSync(join(dir, s)).length), 'shard sizes kept');
  const changed = new Set<number>();
  for (const [name, idx] of Object.entries(pruned)) for (const i of idx) for (let b = 0; b < 4; b++) changed.add(offsets.get(name)! + 4 * i + b);
  let diff = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (changed.has(i)) assert.equal(written[i], 0, `byte ${i} zeroed`);
    else if (written[i] !== bytes[i]) diff++;
  }
  assert.equal(diff, 0, 'no byte outside pruned elements changed');
  const back = openTfjsFolder(out);
  const dw = back.read('dw/depthwise_kernel');
  assert.deepEqual([1, 2, 20, 35].map((i) => dw[i]), [0, 0, 0, 0]);
  assert.notEqual(dw[0], 0);
});

test('refuses int32 weights, missing and truncated shards, and existing or input output folders', () => {
  const { dir } = makeFolder();
  const f = openTfjsFolder(dir);
  assert.throws(() => f.zero('step', Mask.empty(1)), (e: unknown) => e instanceof SculptError && /weight step is int32; sculpt prunes only floating weights/.test(e.message));
  assert.throws(() => writeTfjsFolder(f, dir), /is the input folder/);
  const busy = tempDir('tfjs-busy-');
  mkdirSync(join(busy, 'x'));
  assert.throws(() => writeTfjsFolder(f, busy), /not empty/);
  assert.throws(() => openTfjsFolder(busy), /no model\.json here/);

  const { dir: d2 } = makeFolder();
  truncateSync(join(d2, SHARDS[2]), 10);
  assert.throws(() => openTfjsFolder(d2), (e: unknown) => e instanceof SculptError && /group1-shard3of3\.bin: weight group 0 holds \d+ bytes/.test(e.message) && !e.message.includes('\n'));
  const { dir: d3 } = makeFolder();
  unlinkSync(join(d3, SHARDS[1]));
  assert.throws(() => openTfjsFolder(d3), /weight shard \.\/group1-shard2of3\.bin is missing next to model\.json/);
  const { dir: d4 } = makeFolder();
  writeFileSync(join(d4, 'model.json'), '{"modelTopology": {}, ');
  assert.throws(() => openTfjsFolder(d4), /model\.json: not a TF\.js model \(not valid JSON/);
});

test('an existing empty output folder is filled; a .json or a file as -o is refused', () => {
  const { dir } = makeFolder();
  const f = openTfjsFolder(dir);
  const parent = tempDir('tfjs-empty-');
  const empty = join(parent, 'out');
  mkdirSync(empty);
  writeTfjsFolder(f, empty);
  assert.deepEqual(readdirSync(empty).sort(), ['model.json', ...SHARDS].sort());
  assert.deepEqual(readdirSync(parent), ['out'], 'no temporary folder left behind');
  assert.throws(() => writeTfjsFolder(f, join(parent, 'model.json')), /not a \.json file/);
  writeFileSync(join(parent, 'file'), 'x');
  assert.throws(() => writeTfjsFolder(f, join(parent, 'file')), /exists and is not a folder/);
  assert.deepEqual(readdirSync(parent).sort(), ['file', 'out']);
});
