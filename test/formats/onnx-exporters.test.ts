/**
 * ONNX files in the shapes other exporters write (test/fixtures/exporters, made by PyTorch and
 * onnx's helpers: see the README there): weights in Constant nodes, inside If branches, behind
 * Transpose, in LSTM/GRU, as sparse initializers, quantized (QDQ, QLinearMatMul, MatMulInteger).
 * `sculpt prune` finds them, removes exactly round(s·N) per tensor, changes no byte outside the
 * pruned payloads, and onnxruntime runs the result and computes what the pruned weights say.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { readOnnx, type OnnxModel } from '../../src/formats/onnx.js';
import { editGraph } from '../../src/formats/onnx-edit.js';
import { FIXTURES, sculpt, tempDir } from '../cli/helpers.js';
import { readNpy } from '../fixtures/npy.js';

const DIR = path.join(FIXTURES, 'exporters');
const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});
function out(name: string): string {
  const d = tempDir();
  dirs.push(d);
  return path.join(d, name);
}

/** Prunable tensors each fixture must expose (name → output axis), worked out from the script that made it. */
const EXPECTED: Record<string, Record<string, number>> = {
  'constant-nodes': { 'onnx::MatMul_10': 1, 'onnx::MatMul_11': 1 },
  'transposed-folded': { 'onnx::MatMul_10': 1, 'onnx::MatMul_11': 1 },
  'transposed-unfolded': { w1: 0, w2: 0 },
  'if-subgraph': { w_then: 1, w_else: 1 },
  'scripted-if': { 'a.weight': 0, 'b.weight': 0 },
  recurrent: { 'fc.weight': 0, 'onnx::LSTM_197': 1, 'onnx::LSTM_198': 1, 'onnx::GRU_219': 1, 'onnx::GRU_220': 1 },
  opset9: { 'conv.weight': 0, 'conv2.weight': 0 },
  'sparse-initializer': { w: 1 },
  qdq: { 'conv.weight_quantized': 0, 'fc.weight_quantized': 1 },
  qoperator: { 'fc1.weight_quantized': 1, 'fc2.weight_quantized': 1 },
  'conv-bn': { 'conv.weight': 0, 'fc.weight': 0 },
  'einsum-attention': { proj: 1, 'qkv.weight': 1 },
};

/** Byte ranges of a stored tensor's values in the model file. */
function payloadRanges(m: OnnxModel, name: string): [number, number][] {
  const s = m.stored(name)!.storage;
  if (s.kind === 'raw') return [[s.start, s.end]];
  if (s.kind === 'fixed') return s.runs.map((r) => [r.start, r.start + r.count * s.width]);
  throw new Error(`${name}: storage ${s.kind} in a fixture`);
}

async function runOrt(file: string, input: { shape: number[]; data: Float32Array }): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(file);
  const res = await session.run({ input: new ort.Tensor('float32', input.data, input.shape) });
  return res[session.outputNames[0]].data as Float32Array;
}

const halfEven = (x: number): number => {
  const f = Math.floor(x);
  const d = x - f;
  return d > 0.5 || (d === 0.5 && f % 2 === 1) ? f + 1 : f;
};

for (const [name, expected] of Object.entries(EXPECTED)) {
  test(`${name}: the exporter's weights are found and pruned per layer at 50%, only their payload bytes change, onnxruntime runs it`, async () => {
    const file = path.join(DIR, `${name}.onnx`);
    const before = readOnnx(file);
    const prunable = Object.fromEntries(before.tensors.filter((t) => t.prunable).map((t) => [t.name, t.outputAxis]));
    assert.deepEqual(prunable, expected);

    const o = out(`${name}-50.onnx`);
    const r = sculpt(['prune', file, '-o', o, '--sparsity', '0.5', '--scope', 'layer', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const after = readOnnx(o);
    const inBytes = fs.readFileSync(file);
    const outBytes = fs.readFileSync(o);
    assert.equal(outBytes.length, inBytes.length);
    const allowed = Object.keys(expected).flatMap((t) => payloadRanges(before, t));
    for (let i = 0; i < inBytes.length; i++) {
      if (inBytes[i] !== outBytes[i]) assert.ok(allowed.some(([a, b]) => i >= a && i < b), `byte ${i} changed outside the pruned payloads`);
    }
    for (const t of Object.keys(expected)) {
      const old = before.read(t);
      const now = after.read(t);
      let zerosOld = 0;
      let zerosNow = 0;
      let maxPruned = 0;
      let minKept = Infinity;
      for (let i = 0; i < now.length; i++) {
        if (old[i] === 0) zerosOld++;
        if (now[i] === 0) {
          zerosNow++;
          maxPruned = Math.max(maxPruned, Math.abs(old[i]));
        } else {
          assert.equal(now[i], old[i], `${t}[${i}]: a kept weight changed`);
          minKept = Math.min(minKept, Math.abs(old[i]));
        }
      }
      assert.equal(zerosNow, Math.max(zerosOld, halfEven(0.5 * now.length)), `${t}: zeros after pruning`);
      assert.ok(maxPruned <= minKept, `${t}: a pruned weight (${maxPruned}) is larger than a kept one (${minKept})`);
    }
    const input = readNpy(path.join(DIR, `${name}.input.npy`));
    const y = await runOrt(o, input);
    assert.ok(y.length > 0 && y.every(Number.isFinite));
  });
}

test('quantized weights: a pruned weight is stored as its zero point (int8 0, uint8 128), read straight from the payload', () => {
  for (const [name, tensor, zp] of [['qdq', 'fc.weight_quantized', 0], ['qoperator', 'fc1.weight_quantized', 128]] as const) {
    const file = path.join(DIR, `${name}.onnx`);
    const o = out(`${name}-q.onnx`);
    assert.equal(sculpt(['prune', file, '-o', o, '--sparsity', '0.75', '--scope', 'layer']).code, 0);
    const m = readOnnx(o);
    const [a, b] = payloadRanges(m, tensor)[0];
    const bytes = fs.readFileSync(o).subarray(a, b);
    let atZp = 0;
    for (const v of bytes) if (v === zp) atZp++;
    assert.equal(atZp, halfEven(0.75 * bytes.length));
  }
});

test('If subgraph: onnxruntime computes input·W + bias with the pruned W of the branch taken, for both branches', async () => {
  const file = path.join(DIR, 'if-subgraph.onnx');
  const o = out('if-90.onnx');
  assert.equal(sculpt(['prune', file, '-o', o, '--sparsity', '0.9']).code, 0);
  const m = readOnnx(o);
  const bias = m.graph().initializers.get('bias')!.data as Float32Array;
  const x = readNpy(path.join(DIR, 'if-subgraph.input.npy'));
  for (const sign of [1, -1]) {
    const data = x.data.map((v) => Math.abs(v) * sign);
    const w = m.read(sign > 0 ? 'w_then' : 'w_else');
    const y = await runOrt(o, { shape: x.shape, data });
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 8; j++) {
        let s = bias[j];
        for (let k = 0; k < 16; k++) s += data[i * 16 + k] * w[k * 8 + j];
        assert.ok(Math.abs(y[i * 8 + j] - s) <= 1e-5 * (1 + Math.abs(s)), `branch ${sign > 0 ? 'then' : 'else'} [${i},${j}]: ${y[i * 8 + j]} vs ${s}`);
      }
    }
  }
});

test('global scope over MatMulInteger weights (no scale of their own) is refused in one line; --scope layer works', () => {
  const file = path.join(DIR, 'qoperator.onnx');
  const o = out('qop-global.onnx');
  const r = sculpt(['prune', file, '-o', o, '--sparsity', '0.5']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr.trim(), /fc2\.weight_quantized is a MatMulInteger weight.*--scope layer/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.ok(!fs.existsSync(o));
});

test('inspect lists Constant-node and subgraph weights with where they live', () => {
  const r = sculpt(['inspect', path.join(DIR, 'if-subgraph.onnx'), '--json']);
  assert.equal(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout.trim().split('\n').pop()!);
  const reasons = Object.fromEntries(info.tensors.map((t: { name: string; reason: string }) => [t.name, t.reason]));
  assert.match(reasons.w_then, /initializer in subgraph gate\/then_branch/);
  assert.match(reasons.w_else, /Constant node in subgraph gate\/else_branch/);
  assert.match(reasons.bias, /bias/);
});

test('channel pruning removes a filter\'s whole contribution: its bias and its BatchNormalization scale and shift are zeroed too, so the channel is exactly 0', async () => {
  const file = path.join(DIR, 'conv-bn.onnx');
  const o = out('conv-bn-ch.onnx');
  const r = sculpt(['prune', file, '-o', o, '--pattern', 'channel', '--scope', 'layer', '--sparsity', '0.5', '--exclude', 'fc.weight', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.deepEqual(result.companions, [
    { tensor: 'conv.bias', weight: 'conv.weight', what: 'bias', channels: 4 },
    { tensor: 'bn.weight', weight: 'conv.weight', what: 'norm scale', channels: 4 },
    { tensor: 'bn.bias', weight: 'conv.weight', what: 'norm shift', channels: 4 },
  ]);
  const m = readOnnx(o);
  const w = m.read('conv.weight');
  const removed = [...Array(8).keys()].filter((c) => w.subarray(c * 27, (c + 1) * 27).every((v) => v === 0));
  assert.equal(removed.length, 4);
  const before = readOnnx(file);
  for (const t of ['conv.bias', 'bn.weight', 'bn.bias']) {
    const was = before.read(t);
    const now = m.read(t);
    for (let c = 0; c < 8; c++) assert.equal(now[c], removed.includes(c) ? 0 : was[c], `${t}[${c}]`);
  }
  // onnxruntime: the normalised activation of every removed channel is exactly 0, of every kept one not.
  const bytes = editGraph(new Uint8Array(fs.readFileSync(o)), o, { addOutputs: [{ name: 'n' }] });
  const session = await ort.InferenceSession.create(bytes);
  const x = readNpy(path.join(DIR, 'conv-bn.input.npy'));
  const n = (await session.run({ input: new ort.Tensor('float32', x.data, x.shape) })).n;
  const [batch, ch, h, wd] = n.dims as number[];
  const data = n.data as Float32Array;
  for (let c = 0; c < ch; c++) {
    let nonzero = 0;
    for (let b = 0; b < batch; b++) for (let i = 0; i < h * wd; i++) if (data[(b * ch + c) * h * wd + i] !== 0) nonzero++;
    if (removed.includes(c)) assert.equal(nonzero, 0, `channel ${c}`);
    else assert.ok(nonzero > 0, `channel ${c}`);
  }
});

test('unstructured pruning leaves biases alone even where a whole row happens to be pruned', () => {
  const file = path.join(DIR, 'conv-bn.onnx');
  const o = out('conv-bn-u.onnx');
  const r = sculpt(['prune', file, '-o', o, '--sparsity', '0.99', '--scope', 'layer', '--exclude', 'fc.weight', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.equal(result.companions, undefined);
  assert.deepEqual(Array.from(readOnnx(o).read('conv.bias')), Array.from(readOnnx(file).read('conv.bias')));
});

test('the output layer comes from the graph: channel pruning warns for the Gemm that makes the output, not for the last weight in file order', () => {
  const file = path.join(DIR, 'recurrent.onnx');
  const before = readOnnx(file);
  const prunable = before.tensors.filter((t) => t.prunable).map((t) => t.name);
  assert.equal(prunable[0], 'fc.weight'); // first in the file, although it is the last layer
  const r = sculpt(['prune', file, '-o', out('rec-ch.onnx'), '--pattern', 'channel', '--scope', 'layer', '--sparsity', '0.5']);
  assert.equal(r.code, 0, r.stderr);
  const warnings = r.stderr.split('\n').filter((l) => /output rows/.test(l));
  assert.equal(warnings.length, 1, r.stderr);
  assert.match(warnings[0], /'fc\.weight' \(an output layer\)/);
});
