import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { SculptError } from '../../src/core/errors.js';
import { assertFinite } from '../../src/formats/index.js';
import { readOnnx, writeOnnx, writeOnnxMasked, type OnnxModel } from '../../src/formats/onnx.js';
import { tempDir } from '../fixtures/temp.js';

const FIX = 'test/fixtures';
const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});
function tmpDir(): string {
  const d = tempDir('sculpt-onnx-');
  dirs.push(d);
  return d;
}

function expectError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof SculptError, `not a SculptError: ${String(e)}`);
    assert.match(e.message, pattern);
    assert.ok(!e.message.includes('\n'));
    return true;
  });
}

/** A little-endian float32 .npy file as written by numpy. */
function readNpy(file: string): { shape: number[]; data: Float32Array } {
  const b = fs.readFileSync(file);
  const headerLen = b.readUInt16LE(8);
  const header = b.subarray(10, 10 + headerLen).toString('latin1');
  assert.match(header, /'descr': '<f4'/);
  const shape = /'shape': \(([^)]*)\)/.exec(header)![1].split(',').filter((s) => s.trim()).map(Number);
  const data = new Float32Array(b.buffer.slice(b.byteOffset + 10 + headerLen, b.byteOffset + b.length));
  return { shape, data };
}

async function runOrt(modelPath: string, name: string): Promise<Float32Array> {
  const input = readNpy(`${FIX}/${name}.input.npy`);
  const session = await ort.InferenceSession.create(modelPath);
  const out = await session.run({ input: new ort.Tensor('float32', input.data, input.shape) });
  return out.output.data as Float32Array;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Byte range of an initializer's payload inside the model file. */
function payloadRange(model: OnnxModel, name: string): [number, number] {
  const s = model.initializers.find((t) => t.name === name)!.storage;
  assert.equal(s.kind, 'raw');
  return s.kind === 'raw' ? [s.start, s.end] : [0, 0];
}

test('mlp: Gemm weights with transB=1 are prunable along axis 0; biases are not', () => {
  const m = readOnnx(`${FIX}/mlp.onnx`);
  const ws = m.weights();
  const summary = ws.tensors.map((t) => `${t.name} ${t.shape.join('x')} ${t.role} ${t.op} ${t.prunable} ${t.outputAxis} ${t.reason}`);
  assert.deepEqual(summary, [
    'fc1.weight 300x784 weight Gemm true 0 Gemm weight',
    'fc1.bias 300 bias Gemm false 0 bias of Gemm',
    'fc2.weight 100x300 weight Gemm true 0 Gemm weight',
    'fc2.bias 100 bias Gemm false 0 bias of Gemm',
    'fc3.weight 10x100 weight Gemm true 0 Gemm weight',
    'fc3.bias 10 bias Gemm false 0 bias of Gemm',
  ]);
  assert.equal(ws.parameterCount, 784 * 300 + 300 + 300 * 100 + 100 + 100 * 10 + 10);
  const g = m.graph();
  assert.equal(g.opsetVersion, 13);
  assert.deepEqual(g.nodes.map((n) => n.opType), ['Gemm', 'Relu', 'Gemm', 'Relu', 'Gemm']);
  assert.equal(g.nodes[0].attributes.get('transB'), 1);
  assert.deepEqual(g.inputs, [{ name: 'input', dtype: 'float32', dims: [-1, 784] }]);
  assert.deepEqual(g.outputs, [{ name: 'output', dtype: 'float32', dims: [-1, 10] }]);
  assert.equal(g.initializers.size, 6);
  assert.deepEqual(Array.from((g.initializers.get('fc1.weight')!.data as Float32Array).subarray(0, 3)), Array.from(ws.get('fc1.weight')!.data.subarray(0, 3)));
});

test('cnn: Conv weights axis 0, Conv biases, Gemm head', () => {
  const ws = readOnnx(`${FIX}/cnn.onnx`).weights();
  const by = (n: string) => ws.get(n)!;
  assert.deepEqual([by('onnx::Conv_28').role, by('onnx::Conv_28').op, by('onnx::Conv_28').outputAxis, by('onnx::Conv_28').prunable], ['weight', 'Conv', 0, true]);
  assert.deepEqual(by('onnx::Conv_31').shape, [16, 8, 3, 3]);
  assert.deepEqual([by('onnx::Conv_29').role, by('onnx::Conv_29').reason], ['bias', 'bias of Conv']);
  assert.deepEqual([by('fc.weight').role, by('fc.weight').op, by('fc.weight').prunable], ['weight', 'Gemm', true]);
  assert.equal(ws.tensors.filter((t) => t.prunable).length, 3);
});

test('transformer: weights shared through Identity nodes are MatMul weights (axis 1), LayerNorm params and pos are not prunable', () => {
  const m = readOnnx(`${FIX}/transformer.onnx`);
  const g = m.graph();
  const identities = g.nodes.filter((n) => n.opType === 'Identity');
  assert.equal(identities.length, 8);
  const ws = m.weights();
  const shared = ['onnx::MatMul_234', 'onnx::MatMul_238', 'onnx::MatMul_239', 'onnx::MatMul_240', 'onnx::MatMul_241', 'onnx::MatMul_242'];
  for (const name of shared) {
    const t = ws.get(name)!;
    assert.equal(t.role, 'weight', name);
    assert.equal(t.op, 'MatMul');
    assert.equal(t.outputAxis, 1);
    assert.equal(t.prunable, true);
    assert.match(t.reason, /shared by 2 nodes/);
  }
  assert.deepEqual(ws.tensors.filter((t) => t.prunable).map((t) => t.name).sort(), [...shared, 'head.weight'].sort());
  assert.equal(ws.get('layer.ln1.weight')!.prunable, false);
  assert.equal(ws.get('pos')!.prunable, false);
  assert.equal(ws.get('layer.q.bias')!.role, 'bias');
});

test('writeOnnx: only the updated payload changes, onnxruntime loads the result and agrees with PyTorch', async () => {
  const dir = tmpDir();
  const m = readOnnx(`${FIX}/mlp.onnx`);
  const original = fs.readFileSync(`${FIX}/mlp.onnx`);
  // Same values back: the file must be identical.
  const same = path.join(dir, 'same.onnx');
  writeOnnx(m, same, new Map([['fc2.weight', m.read('fc2.weight')]]));
  assert.ok(fs.readFileSync(same).equals(original));

  const w = m.read('fc1.weight');
  let pruned = 0;
  for (let i = 0; i < w.length; i++) if (Math.abs(w[i]) < 0.02) {
    w[i] = 0;
    pruned++;
  }
  const out = path.join(dir, 'pruned.onnx');
  writeOnnx(m, out, new Map([['fc1.weight', w]]));
  const b = fs.readFileSync(out);
  assert.equal(b.length, original.length);
  const [start, end] = payloadRange(m, 'fc1.weight');
  assert.ok(b.subarray(0, start).equals(original.subarray(0, start)));
  assert.ok(b.subarray(end).equals(original.subarray(end)));
  assert.ok(!b.subarray(start, end).equals(original.subarray(start, end)));
  const back = readOnnx(out).read('fc1.weight');
  assert.equal(back.filter((x) => x === 0).length, pruned);
  assert.ok(pruned > 50000 && pruned < 235200, `pruned ${pruned}`);

  const expected = readNpy(`${FIX}/mlp.output.npy`).data;
  assert.ok(maxAbsDiff(await runOrt(same, 'mlp'), expected) < 1e-5);
  const prunedOut = await runOrt(out, 'mlp');
  const d = maxAbsDiff(prunedOut, expected);
  assert.ok(d > 0 && d < 5, `pruned output differs by ${d}`);
});

test('writeOnnxMasked zeroes pruned elements; shared transformer weights stay valid for onnxruntime', async () => {
  const dir = tmpDir();
  const m = readOnnx(`${FIX}/transformer.onnx`);
  const masks = new Map<string, { get(i: number): boolean }>();
  for (const t of m.tensors) if (t.prunable) masks.set(t.name, { get: (i: number) => i % 4 !== 0 });
  const out = path.join(dir, 't.onnx');
  writeOnnxMasked(m, out, masks);
  const after = readOnnx(out);
  for (const name of masks.keys()) {
    const before = m.read(name);
    const now = after.read(name);
    for (let i = 0; i < now.length; i++) assert.equal(now[i], i % 4 === 0 ? 0 : before[i]);
  }
  // Nothing else changed.
  const a = m.bytes;
  const b = fs.readFileSync(out);
  const ranges = [...masks.keys()].map((n) => payloadRange(m, n));
  let outside = 0;
  for (let i = 0; i < a.length; i++) {
    if (ranges.some(([s, e]) => i >= s && i < e)) continue;
    assert.equal(b[i], a[i], `byte ${i}`);
    outside++;
  }
  assert.ok(outside > 1000);
  const expected = readNpy(`${FIX}/transformer.output.npy`).data;
  const got = await runOrt(out, 'transformer');
  assert.equal(got.length, expected.length);
  assert.ok(got.every(Number.isFinite));
  assert.ok(maxAbsDiff(got, expected) > 1e-4);
});

test('external data: read, write next to the input in the same folder, input files untouched', async () => {
  const dir = tmpDir();
  fs.copyFileSync(`${FIX}/mlp-external.onnx`, path.join(dir, 'mlp-external.onnx'));
  fs.copyFileSync(`${FIX}/mlp-external.data`, path.join(dir, 'mlp-external.data'));
  const input = path.join(dir, 'mlp-external.onnx');
  const ext = readOnnx(input);
  const inline = readOnnx(`${FIX}/mlp.onnx`);
  assert.deepEqual(ext.externalFiles(), [path.join(dir, 'mlp-external.data')]);
  const kinds = Object.fromEntries(ext.initializers.map((t) => [t.name, t.storage.kind]));
  assert.deepEqual(kinds, { 'fc1.weight': 'external', 'fc1.bias': 'external', 'fc2.weight': 'external', 'fc2.bias': 'raw', 'fc3.weight': 'external', 'fc3.bias': 'raw' });
  for (const t of inline.tensors) assert.deepEqual(ext.read(t.name), inline.read(t.name), t.name);

  const masks = new Map([['fc1.weight', { get: (i: number) => i % 3 !== 0 }], ['fc2.bias', { get: (i: number) => i >= 50 }]]);
  const out = path.join(dir, 'pruned.onnx');
  writeOnnxMasked(ext, out, masks);
  assert.ok(fs.readFileSync(path.join(dir, 'mlp-external.data')).equals(fs.readFileSync(`${FIX}/mlp-external.data`)));
  assert.ok(fs.readFileSync(input).equals(fs.readFileSync(`${FIX}/mlp-external.onnx`)));
  const names = fs.readdirSync(dir).sort();
  assert.equal(names.length, 4);
  assert.deepEqual(names.slice(0, 3), ['mlp-external.data', 'mlp-external.onnx', 'pruned.onnx']);
  // The data file is named by its content: pruned.onnx.<16 hex digits of its SHA-256>.data.
  const dataName = names[3];
  assert.match(dataName, /^pruned\.onnx\.[0-9a-f]{16}\.data$/);
  assert.equal(dataName.slice(12, 28), createHash('sha256').update(fs.readFileSync(path.join(dir, dataName))).digest('hex').slice(0, 16));
  // location renamed: 4 tensors × ("pruned.onnx.<hash>.data" − "mlp-external.data") = 4 × 16 bytes.
  assert.equal(fs.statSync(out).size, fs.statSync(input).size + 4 * 16);
  assert.equal(fs.statSync(path.join(dir, dataName)).size, 1066000);

  const back = readOnnx(out);
  assert.deepEqual(back.externalFiles(), [path.join(dir, dataName)]);
  const w = back.read('fc1.weight');
  const w0 = ext.read('fc1.weight');
  for (let i = 0; i < w.length; i++) assert.equal(w[i], i % 3 === 0 ? 0 : w0[i]);
  assert.equal(back.read('fc2.bias').subarray(0, 50).filter((x) => x !== 0).length, 0);

  // onnxruntime reads the renamed data file, and agrees with the same pruning on the inline model.
  const inlineOut = path.join(dir, 'inline-pruned.onnx');
  writeOnnxMasked(inline, inlineOut, masks);
  const a = await runOrt(out, 'mlp');
  const b = await runOrt(inlineOut, 'mlp');
  assert.deepEqual(Array.from(a), Array.from(b));

  expectError(() => writeOnnx(ext, path.join(dir, 'mlp-external.data'), new Map()), /output would overwrite the input/);
});

test('output equal to the input is refused and the input survives', () => {
  const dir = tmpDir();
  const file = path.join(dir, 'm.onnx');
  fs.copyFileSync(`${FIX}/cnn.onnx`, file);
  const m = readOnnx(file);
  expectError(() => writeOnnxMasked(m, file, new Map([['fc.weight', { get: () => false }]])), /m\.onnx: output would overwrite the input/);
  expectError(() => writeOnnx(m, path.join(dir, 'sub', '..', 'm.onnx'), new Map()), /overwrite/);
  assert.ok(fs.readFileSync(file).equals(fs.readFileSync(`${FIX}/cnn.onnx`)));
  expectError(() => writeOnnx(m, path.join(dir, 'x.onnx'), new Map([['fc.weight', new Float32Array(3)]])), /update for fc\.weight has 3 values/);
  expectError(() => writeOnnx(m, path.join(dir, 'x.onnx'), new Map([['nope', new Float32Array(3)]])), /cannot update nope/);
  expectError(() => writeOnnxMasked(m, path.join(dir, 'x.onnx'), new Map([['fc.weight', { length: 5, get: () => true }]])), /mask for fc\.weight covers 5 elements, the tensor has 7840/);
  expectError(() => writeOnnx(m, path.join(dir, 'no-such-dir', 'x.onnx'), new Map()), /does not exist/);
  assert.deepEqual(fs.readdirSync(dir), ['m.onnx']);
});

test('truncated, garbage and empty files fail with one line naming the file', () => {
  const dir = tmpDir();
  const good = fs.readFileSync(`${FIX}/mlp.onnx`);
  const write = (name: string, bytes: Uint8Array) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, bytes);
    return p;
  };
  for (const cut of [1, 7, 100, 500, 1000, 500000, good.length - 1]) {
    expectError(() => readOnnx(write(`cut${cut}.onnx`, good.subarray(0, cut))).weights(), new RegExp(`cut${cut}\\.onnx: not a valid ONNX model \\((truncated at byte \\d+|no graph found)`));
  }
  const garbage = new Uint8Array(4096);
  let x = 12345;
  for (let i = 0; i < garbage.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    garbage[i] = x >>> 24;
  }
  expectError(() => readOnnx(write('garbage.onnx', garbage)), /garbage\.onnx: not a valid ONNX model/);
  expectError(() => readOnnx(write('empty.onnx', new Uint8Array(0))), /empty\.onnx: not a valid ONNX model \(no graph found\)/);
  expectError(() => readOnnx(write('text.onnx', Buffer.from('hello, this is not a model\n'))), /text\.onnx: not a valid ONNX model/);
  expectError(() => readOnnx(write('st.onnx', fs.readFileSync(`${FIX}/tiny.safetensors`))), /st\.onnx: not a valid ONNX model/);
  expectError(() => readOnnx(path.join(dir, 'missing.onnx')), /missing\.onnx: cannot read \(ENOENT\)/);
  // External data missing or short.
  fs.copyFileSync(`${FIX}/mlp-external.onnx`, path.join(dir, 'ext.onnx'));
  expectError(() => readOnnx(path.join(dir, 'ext.onnx')), /ext\.onnx: external data of tensor fc1\.weight: file .mlp-external\.data. not found/);
  fs.writeFileSync(path.join(dir, 'mlp-external.data'), fs.readFileSync(`${FIX}/mlp-external.data`).subarray(0, 1000));
  expectError(() => readOnnx(path.join(dir, 'ext.onnx')).weights(), /ext\.onnx: tensor fc1\.weight needs bytes 0\.\.940800 of mlp-external\.data, which has only 1000 bytes/);
});

// ---- hand-built models: float16/float64/float_data storage, NaN, splicing ----

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}
function cat(...parts: (Uint8Array | number[])[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((p) => Array.from(p)));
}
const fInt = (field: number, v: number) => cat(varint(field << 3), varint(v));
const fLen = (field: number, bytes: Uint8Array) => cat(varint((field << 3) | 2), varint(bytes.length), bytes);
const fStr = (field: number, s: string) => fLen(field, new TextEncoder().encode(s));
function tensor(name: string, dataType: number, dims: number[], data: Uint8Array, field = 9): Uint8Array {
  return cat(...dims.map((d) => fInt(1, d)), fInt(2, dataType), fStr(8, name), fLen(field, data));
}
function valueInfo(name: string, dims: number[]): Uint8Array {
  const shape = cat(...dims.map((d) => fLen(1, fInt(1, d))));
  return cat(fStr(1, name), fLen(2, fLen(1, cat(fInt(1, 1), fLen(2, shape)))));
}
function node(op: string, inputs: string[], outputs: string[]): Uint8Array {
  return cat(...inputs.map((i) => fStr(1, i)), ...outputs.map((o) => fStr(2, o)), fStr(3, `${op}_0`), fStr(4, op));
}
function model(initializers: Uint8Array[], nodes: Uint8Array[], inputs: Uint8Array[], outputs: Uint8Array[]): Uint8Array {
  const graph = cat(...nodes.map((n) => fLen(1, n)), fStr(2, 'g'), ...initializers.map((t) => fLen(5, t)), ...inputs.map((i) => fLen(11, i)), ...outputs.map((o) => fLen(12, o)));
  return cat(fInt(1, 8), fStr(2, 'sculpt-test'), fLen(8, cat(fStr(1, ''), fInt(2, 13))), fLen(7, graph), fLen(14, cat(fStr(1, 'k'), fStr(2, 'v'))));
}

test('float16, float64 and packed float_data initializers: read as float32, written back in their dtype, kept elements bit-exact', async () => {
  const dir = tmpDir();
  const h = new Uint16Array([0x3c00, 0xbc00, 0x3555, 0x0001, 0x7bff, 0x4000]); // 1, -1, 0.33325, 2^-24, 65504, 2
  const d = new Float64Array([0.1, -0.2, 0.3, 1e-40, 5, 6]);
  const f = new Float32Array([1, 2, 3, 4, 5, 6]);
  const ids = new BigInt64Array([1n, 0n]);
  const bytes = model(
    [
      tensor('W16', 10, [3, 2], new Uint8Array(h.buffer)),
      tensor('W64', 11, [2, 3], new Uint8Array(d.buffer)),
      tensor('WF', 1, [3, 2], new Uint8Array(f.buffer), 4),
      tensor('ids', 7, [2], new Uint8Array(ids.buffer)),
    ],
    [node('Cast', ['W16'], ['W16f']), node('MatMul', ['x', 'WF'], ['y']), node('Gather', ['W64', 'ids'], ['e'])],
    [valueInfo('x', [1, 3])],
    [valueInfo('y', [1, 2])],
  );
  const file = path.join(dir, 'mixed.onnx');
  fs.writeFileSync(file, bytes);
  const m = readOnnx(file);
  const ws = m.weights();
  assert.deepEqual(ws.tensors.map((t) => `${t.name}:${t.role}:${t.prunable}:${t.outputAxis}`), ['W16:other:false:0', 'W64:embedding:false:0', 'WF:weight:true:1']);
  assert.deepEqual(Array.from(ws.get('W16')!.data), [1, -1, 0.333251953125, 2 ** -24, 65504, 2]);
  assert.deepEqual(Array.from(ws.get('W64')!.data), Array.from(d, (v) => Math.fround(v)));
  assert.deepEqual(Array.from(ws.get('WF')!.data), [1, 2, 3, 4, 5, 6]);
  const g = m.graph();
  assert.equal(g.initializers.get('ids')!.dtype, 'int64');
  assert.deepEqual(Array.from(g.initializers.get('ids')!.data as BigInt64Array), [1n, 0n]);
  assert.equal(g.initializers.get('W16')!.dtype, 'float16');

  const out = path.join(dir, 'out.onnx');
  const masks = new Map([['W16', { get: (i: number) => i !== 2 }], ['W64', { get: (i: number) => i !== 0 }], ['WF', { get: (i: number) => i >= 3 }]]);
  writeOnnxMasked(m, out, masks);
  const b = fs.readFileSync(out);
  assert.equal(b.length, bytes.length);
  const back = readOnnx(out);
  const rawOf = (mm: OnnxModel, name: string) => {
    const s = mm.initializers.find((t) => t.name === name)!.storage;
    if (s.kind === 'raw') return mm.bytes.subarray(s.start, s.end);
    assert.equal(s.kind, 'fixed');
    return s.kind === 'fixed' ? mm.bytes.subarray(s.runs[0].start, s.runs[0].start + 4 * s.runs[0].count) : new Uint8Array();
  };
  assert.deepEqual(Array.from(new Uint16Array(rawOf(back, 'W16').slice().buffer)), [0x3c00, 0xbc00, 0, 0x0001, 0x7bff, 0x4000]);
  assert.deepEqual(Array.from(new Float64Array(rawOf(back, 'W64').slice().buffer)), [0, -0.2, 0.3, 1e-40, 5, 6]); // float64 bits kept exactly
  assert.deepEqual(Array.from(new Float32Array(rawOf(back, 'WF').slice().buffer)), [0, 0, 0, 4, 5, 6]);
  let diff = 0;
  for (let i = 0; i < b.length; i++) if (b[i] !== bytes[i]) diff++;
  // Non-zero bytes of the zeroed values: 0x3555 (2), 0.1 as float64 (8), 1f/2f/3f (2 + 1 + 2).
  assert.equal(diff, 2 + 8 + 5);
});

test('splice with length fix-up: renaming external data across a varint-size boundary keeps the model valid', async () => {
  const dir = tmpDir();
  fs.copyFileSync(`${FIX}/mlp-external.onnx`, path.join(dir, 'a.onnx'));
  fs.copyFileSync(`${FIX}/mlp-external.data`, path.join(dir, 'mlp-external.data'));
  const m = readOnnx(path.join(dir, 'a.onnx'));
  // A 150-character output name: every location value and its entry grow past 127 bytes.
  const long = path.join(dir, `${'x'.repeat(140)}.onnx`);
  writeOnnx(m, long, new Map([['fc3.weight', new Float32Array(1000).fill(0.5)]]));
  const back = readOnnx(long);
  assert.match(back.externalFiles()[0], new RegExp(`^${long}\\.[0-9a-f]{16}\\.data$`));
  assert.deepEqual(Array.from(back.read('fc3.weight').subarray(0, 3)), [0.5, 0.5, 0.5]);
  assert.deepEqual(back.read('fc1.weight'), m.read('fc1.weight'));
  assert.deepEqual(back.graph().nodes.map((n) => n.opType), m.graph().nodes.map((n) => n.opType));
  const got = await runOrt(long, 'mlp');
  assert.equal(got.length, 40);
  assert.ok(got.every(Number.isFinite));
});

test('assertFinite refuses NaN in a prunable ONNX weight, naming it', () => {
  const dir = tmpDir();
  const f = new Float32Array([1, NaN, 3, 4]);
  const file = path.join(dir, 'nan.onnx');
  fs.writeFileSync(file, model([tensor('W', 1, [2, 2], new Uint8Array(f.buffer)), tensor('c', 1, [2], new Uint8Array(new Float32Array([NaN, 0]).buffer))], [node('MatMul', ['x', 'W'], ['y']), node('Add', ['y', 'c'], ['z'])], [valueInfo('x', [1, 2])], [valueInfo('z', [1, 2])]));
  const m = readOnnx(file);
  expectError(() => assertFinite(m.weights(), file), /nan\.onnx: tensor W contains NaN at element 1/);
  expectError(() => assertFinite(m, file), /tensor W contains NaN at element 1/);
  assert.equal(m.weights().get('c')!.role, 'bias');
});

test('float16 kept as int32_data varints: pruning shortens the field, lengths are fixed up, onnxruntime runs it', async () => {
  const dir = tmpDir();
  const bits = [0x3c00, 0x4000, 0xbc00, 0x3555]; // 1, 2, -1, 0.33325
  const packed = cat(...bits.map((b) => varint(b)));
  const castTo = fLen(5, cat(fStr(1, 'to'), fInt(3, 1), fInt(20, 2)));
  const cast = cat(fStr(1, 'W16'), fStr(2, 'Wf'), fStr(3, 'cast'), fStr(4, 'Cast'), castTo);
  const bytes = model([tensor('W16', 10, [2, 2], packed, 5)], [cast, node('MatMul', ['x', 'Wf'], ['y'])], [valueInfo('x', [1, 2])], [valueInfo('y', [1, 2])]);
  const file = path.join(dir, 'h.onnx');
  fs.writeFileSync(file, bytes);
  const m = readOnnx(file);
  assert.deepEqual(Array.from(m.read('W16')), [1, 2, -1, 0.333251953125]);
  assert.equal(m.initializers[0].storage.kind, 'varint');
  assert.equal(m.graph().nodes[0].attributes.get('to'), 1);
  const run = async (p: string) => {
    const s = await ort.InferenceSession.create(p);
    const r = await s.run({ x: new ort.Tensor('float32', Float32Array.from([1, 1]), [1, 2]) });
    return Array.from(r.y.data as Float32Array);
  };
  assert.deepEqual(await run(file), [0, 2.333251953125]);
  const out = path.join(dir, 'p.onnx');
  writeOnnxMasked(m, out, new Map([['W16', { get: (i: number) => i !== 1 }]]));
  assert.equal(fs.statSync(out).size, bytes.length - 2); // 0x4000 took 3 varint bytes, 0 takes 1
  assert.deepEqual(Array.from(readOnnx(out).read('W16')), [1, 0, -1, 0.333251953125]);
  assert.deepEqual(await run(out), [0, 0.333251953125]);
  writeOnnx(m, path.join(dir, 'q.onnx'), new Map([['W16', Float32Array.from([1, 2, 0.5, 0.333251953125])]]));
  assert.deepEqual(Array.from(readOnnx(path.join(dir, 'q.onnx')).read('W16')), [1, 2, 0.5, 0.333251953125]);
});

test('roles look through Transpose (mapping the output axis back) and Cast', () => {
  const dir = tmpDir();
  const permAttr = fLen(5, cat(fStr(1, 'perm'), fLen(8, cat(varint(1), varint(0))), fInt(20, 7)));
  const transpose = cat(fStr(1, 'W'), fStr(2, 'Wt'), fStr(3, 't'), fStr(4, 'Transpose'), permAttr);
  const castTo = fLen(5, cat(fStr(1, 'to'), fInt(3, 1), fInt(20, 2)));
  const cast = cat(fStr(1, 'V'), fStr(2, 'Vc'), fStr(3, 'c'), fStr(4, 'Cast'), castTo);
  const file = path.join(dir, 'tc.onnx');
  fs.writeFileSync(file, model(
    [tensor('W', 1, [3, 2], new Uint8Array(24)), tensor('V', 1, [3, 4], new Uint8Array(48))],
    [transpose, node('MatMul', ['x', 'Wt'], ['h']), cast, node('MatMul', ['h', 'Vc'], ['y'])],
    [valueInfo('x', [1, 2])],
    [valueInfo('y', [1, 4])],
  ));
  const m = readOnnx(file);
  assert.deepEqual(m.graph().nodes[0].attributes.get('perm'), [1, 0]);
  const ws = m.weights();
  assert.deepEqual([ws.get('W')!.role, ws.get('W')!.outputAxis, ws.get('W')!.reason], ['weight', 0, 'MatMul weight (through Transpose)']);
  assert.deepEqual([ws.get('V')!.role, ws.get('V')!.outputAxis, ws.get('V')!.reason], ['weight', 1, 'MatMul weight (through Cast)']);
});

test('external data written to another folder: the data file goes next to the output model', async () => {
  const dir = tmpDir();
  fs.mkdirSync(path.join(dir, 'out'));
  const m = readOnnx(`${FIX}/mlp-external.onnx`);
  const out = path.join(dir, 'out', 'p.onnx');
  writeOnnx(m, out, new Map([['fc2.weight', new Float32Array(30000)]]));
  const names = fs.readdirSync(path.join(dir, 'out')).sort();
  assert.equal(names.length, 2);
  assert.equal(names[0], 'p.onnx');
  assert.match(names[1], /^p\.onnx\.[0-9a-f]{16}\.data$/);
  const back = readOnnx(out);
  assert.deepEqual(back.externalFiles(), [path.join(dir, 'out', names[1])]);
  assert.equal(back.read('fc2.weight').filter((x) => x !== 0).length, 0);
  assert.deepEqual(back.read('fc1.weight'), m.read('fc1.weight'));
  const a = await runOrt(out, 'mlp');
  assert.equal(a.length, 40);
});

test('replaceValues: a raw float32 tensor changes in the in-memory copy only (reads and writes see it, the file not); other storages are left to the write', () => {
  const file = 'test/fixtures/mlp.onnx';
  const before = fs.readFileSync(file);
  const m = readOnnx(file);
  const name = m.tensors[0].name;
  const values = m.read(name).map((_, i) => i / 7);
  assert.equal(m.replaceValues(name, values), true);
  assert.deepEqual(m.read(name), values);
  const out = path.join(tempDir('sculpt-replace-'), 'out.onnx');
  writeOnnxMasked(m, out, new Map());
  assert.deepEqual(readOnnx(out).read(name), values);
  assert.ok(fs.readFileSync(file).equals(before), 'the input file is untouched');
  assert.throws(() => m.replaceValues(name, values.subarray(1)), /needs/);
  const external = readOnnx('test/fixtures/mlp-external.onnx');
  assert.equal(external.replaceValues('fc1.weight', external.read('fc1.weight')), false);
  const sparse = readOnnx('test/fixtures/exporters/sparse-initializer.onnx');
  assert.equal(sparse.replaceValues('w', sparse.read('w')), false);
});
