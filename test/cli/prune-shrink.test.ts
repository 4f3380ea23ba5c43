// `sculpt prune --pattern channel --shrink` and `sculpt inspect --groups` as a user runs them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { encodeOnnx } from '../../src/formats/onnx-build.js';
import { readOnnx } from '../../src/formats/onnx.js';
import { numel } from '../../src/core/types.js';
import { FIXTURES, sculpt, tempDir } from './helpers.js';

const RESNET = join(FIXTURES, 'shrink/resnet.onnx');

test('prune --shrink: exit 0, JSON with groups and parameters, a smaller model onnxruntime runs', async () => {
  const out = join(tempDir(), 'small.onnx');
  const r = sculpt(['prune', RESNET, '-o', out, '--pattern', 'channel:l1', '--sparsity', '0.5', '--shrink', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  const j = JSON.parse(r.stdout);
  assert.equal(j.mode, 'shrink');
  assert.deepEqual(j.options, { sparsity: 0.5, norm: 1, scope: 'layer', importance: 'magnitude' });
  assert.equal(j.groups.length, 10);
  assert.equal(j.groups.filter((g: { pinned: string[] }) => g.pinned.length).length, 1);
  // 9 free groups of 8, 8, 8, 16, 16, 16, 32, 32, 32 channels: half of each.
  assert.equal(j.channels.removed, 84);
  const params = readOnnx(out).tensors.reduce((s, t) => s + numel(t.shape), 0);
  assert.equal(j.parameters.after, params);
  assert.ok(params < j.parameters.before / 3, `${params} of ${j.parameters.before}`);
  const session = await ort.InferenceSession.create(out, { intraOpNumThreads: 1 });
  const y = await session.run({ input: new ort.Tensor('float32', new Float32Array(3 * 32 * 32).fill(0.5), [1, 3, 32, 32]) });
  assert.deepEqual(y.logits.dims, [1, 10]);
});

test('prune --shrink: the table names groups, pins and the parameter change', () => {
  const out = join(tempDir(), 'small.onnx');
  const r = sculpt(['prune', join(FIXTURES, 'shrink/mobilenetv2.onnx'), '-o', out, '--pattern', 'channel', '--sparsity', '0.25', '--shrink', '--scope', 'global']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /pinned: reaches graph output logits/);
  assert.match(r.stdout, /\(global, L2\); 1 of 25 groups pinned/);
  assert.match(r.stdout, /parameters: 245,664 -> [\d,]+\nwrote /);
});

test('inspect --groups: sizes and pin reasons, as a table and as JSON', () => {
  const t = sculpt(['inspect', join(FIXTURES, 'shrink/densenet.onnx'), '--groups']);
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stdout, /15 channel groups, 14 shrinkable/);
  const j = JSON.parse(sculpt(['inspect', RESNET, '--groups', '--json']).stdout);
  assert.deepEqual(j.groups.map((g: { size: number }) => g.size).sort((a: number, b: number) => a - b), [8, 8, 8, 10, 16, 16, 16, 32, 32, 32]);
});

test('prune --shrink refuses in one line: a non-channel pattern, a non-ONNX model, nothing shrinkable', () => {
  const dir = tempDir();
  const nm = sculpt(['prune', RESNET, '-o', join(dir, 'a.onnx'), '--pattern', '2:4', '--shrink']);
  assert.equal(nm.code, 2);
  assert.equal(nm.stderr, 'sculpt: --shrink removes whole channels: use it with --pattern channel (or channel:l1, channel:l2), not --pattern 2:4\n');
  const st = sculpt(['prune', join(FIXTURES, 'tiny.safetensors'), '-o', join(dir, 'a.safetensors'), '--pattern', 'channel', '--sparsity', '0.5', '--shrink']);
  assert.equal(st.code, 2);
  assert.match(st.stderr, /^sculpt: .*--shrink works on ONNX and TF.js layers models only for now \(this is a safetensors model\)[^\n]*\n$/);
  // One Gemm whose output is the graph output: its only group is pinned.
  const single = join(dir, 'single.onnx');
  writeFileSync(single, encodeOnnx({
    nodes: [{ op: 'Gemm', inputs: ['x', 'w', 'b'], outputs: ['y'], attrs: { transB: { int: 1 } } }],
    initializers: [{ name: 'w', dims: [3, 4], data: new Float32Array(12).fill(0.5) }, { name: 'b', dims: [3], data: new Float32Array(3) }],
    inputs: [{ name: 'x', dims: [1, 4] }], outputs: [{ name: 'y', dims: [1, 3] }], opset: 13,
  }));
  const pinned = sculpt(['prune', single, '-o', join(dir, 'b.onnx'), '--pattern', 'channel', '--sparsity', '0.5', '--shrink']);
  assert.equal(pinned.code, 2);
  assert.match(pinned.stderr, /^sculpt: .*single\.onnx: nothing can be shrunk: its only channel group is pinned \(reaches graph output y\)\n$/);
  const flags = sculpt(['prune', RESNET, '-o', join(dir, 'c.onnx'), '--pattern', 'channel', '--sparsity', '0.5', '--shrink', '--exclude', 'fc.weight']);
  assert.equal(flags.code, 2);
  assert.equal(flags.stderr, 'sculpt: --shrink --criterion magnitude does not take --exclude\n');
  for (const f of ['a.onnx', 'a.safetensors', 'b.onnx', 'c.onnx']) assert.ok(!existsSync(join(dir, f)), f);
});
