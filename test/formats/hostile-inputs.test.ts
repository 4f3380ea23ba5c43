// Files from strangers (issue 9): every class of bug the fuzzing campaign found in the readers,
// each refused with one printable line (a SculptError, exit code 2) before anything large is
// allocated, or read correctly where the input is valid after all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { SculptError, escapeUnprintable, isPrintableLine } from '../../src/core/errors.js';
import { EXPANSION_CAP_BYTES, expansionBudget } from '../../src/core/limits.js';
import { duplicateKey, parseStrictJson } from '../../src/core/strict-json.js';
import { encodeIdxUint8, parseIdx } from '../../src/formats/idx.js';
import { OnnxModel } from '../../src/formats/onnx.js';
import { openSafetensors } from '../../src/formats/safetensors.js';
import { openTfjs } from '../../src/formats/tfjs-folder.js';
import { packSculpt, unpackSculpt } from '../../src/api/sculpt-file.js';
import { readSculptHeader, unpackWeights } from '../../src/sparse/container.js';
import { chooseFormat, fitsNm } from '../../src/sparse/formats.js';
import { parseNpy, writeNpy } from '../../src/sparse/npy.js';
import { COUNT_LIMITS, parseInteger } from '../../src/cli/args.js';
import { tempDir } from '../fixtures/temp.js';

const tmp = () => tempDir('sculpt-hostile-');

/** Asserts `fn` throws a one-line printable SculptError with exit code 2 whose message matches `re`. */
function refuses(fn: () => unknown, re: RegExp): string {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof SculptError, `expected a SculptError, got ${caught instanceof Error ? caught.stack : String(caught)}`);
  assert.ok(isPrintableLine(caught.message), `not one printable line: ${JSON.stringify(caught.message)}`);
  assert.equal(caught.exitCode, 2);
  assert.match(caught.message, re);
  return caught.message;
}

// ---- a few protobuf bytes by hand, so each test builds exactly the hostile model it needs ----

function varint(v: number | bigint): number[] {
  let x = BigInt.asUintN(64, BigInt(v));
  const out: number[] = [];
  do {
    let b = Number(x & 0x7fn);
    x >>= 7n;
    if (x > 0n) b |= 0x80;
    out.push(b);
  } while (x > 0n);
  return out;
}
const vfield = (field: number, v: number | bigint) => [...varint(field << 3), ...varint(v)];
const lfield = (field: number, payload: ArrayLike<number>) => [...varint((field << 3) | 2), ...varint(payload.length), ...Array.from(payload)];
const text = (s: string) => [...new TextEncoder().encode(s)];
const f32 = (...xs: number[]) => [...new Uint8Array(Float32Array.from(xs).buffer)];
const i64 = (...xs: number[]) => [...new Uint8Array(BigInt64Array.from(xs.map(BigInt)).buffer)];

/** TensorProto: dims, data type, name, then the payload fields given. */
const tensor = (name: string, dims: number[], dataType: number, ...payload: number[][]) => [
  ...dims.flatMap((d) => vfield(1, d)), ...vfield(2, dataType), ...lfield(8, text(name)), ...payload.flat(),
];
/** A model whose graph holds `fields` (initializers: field 5, sparse initializers: 15). */
const model = (...graphFields: number[][]) => Uint8Array.from([
  ...vfield(1, 8), ...lfield(8, [...vfield(2, 17)]), ...lfield(7, [...lfield(2, text('g')), ...graphFields.flat()]),
]);
const useOnnx = (bytes: Uint8Array, dir = tmp()) => {
  const m = new OnnxModel(join(dir, 'm.onnx'), bytes);
  m.weights();
  m.graph();
  return m;
};

test('ONNX: a tiny model with a sparse initializer of dimension 1e9 is refused before allocating', () => {
  const values = tensor('w', [1], 1, lfield(9, f32(1.5)));
  const indices = tensor('', [1], 7, lfield(9, i64(3)));
  const bytes = model(lfield(15, [...lfield(1, values), ...lfield(2, indices), ...vfield(3, 1e9)]));
  assert.ok(bytes.length < 120, `${bytes.length} bytes`);
  const before = process.memoryUsage().rss;
  refuses(() => useOnnx(bytes), /sparse initializer w of shape \[1000000000\] would expand to 3\.7 GiB from \d+ stored bytes, over sculpt's limit of 64\.0 MiB/);
  assert.ok(process.memoryUsage().rss - before < 256 * 2 ** 20, 'no gigabytes allocated');
  // Within the budget it reads as it always did.
  const small = model(lfield(15, [...lfield(1, values), ...lfield(2, indices), ...vfield(3, 8)]));
  assert.deepEqual([...useOnnx(small).read('w')], [0, 0, 0, 1.5, 0, 0, 0, 0]);
});

test('ONNX: values stored in the typed field of another type, or in two places, are refused', () => {
  // A FLOAT tensor with its values in int32_data (was a RangeError deep in the float decoder).
  refuses(() => useOnnx(model(lfield(5, tensor('w', [2], 1, lfield(5, [...varint(1), ...varint(2)]))))), /tensor w of ONNX type 1 stores its values in int32_data, but that type belongs in float_data or raw_data/);
  // An INT64 tensor in float_data.
  refuses(() => useOnnx(model(lfield(5, tensor('s', [1], 7, lfield(4, f32(1)))))), /stores its values in float_data, but that type belongs in int64_data/);
  // raw_data and float_data both present.
  refuses(() => useOnnx(model(lfield(5, tensor('w', [1], 1, lfield(9, f32(1)), lfield(4, f32(2)))))), /more than one of raw_data, external data and the typed fields float_data/);
  // The right fields still read: FLOAT in float_data, INT64 in int64_data.
  const m = useOnnx(model(lfield(5, tensor('w', [2], 1, lfield(4, f32(0.5, -2)))), lfield(5, tensor('s', [2], 7, lfield(7, [...varint(3), ...varint(-1)])))));
  assert.deepEqual([...m.read('w')], [0.5, -2]);
  assert.deepEqual([...(m.graph().initializers.get('s')!.data as BigInt64Array)], [3n, -1n]);
});

test('ONNX: a million packed dims is refused; a million packed int32 values read without a stack overflow', () => {
  const manyDims = [...varint((1 << 3) | 2), ...varint(1_000_000), ...new Array(1_000_000).fill(1)];
  refuses(() => useOnnx(model(lfield(5, [...manyDims, ...vfield(2, 1), ...lfield(8, text('w'))]))), /tensor w has 1000000 dimensions, more than the 64 sculpt reads/);
  const n = 1_000_000;
  const ints = lfield(5, new Array(n).fill(5));
  const m = useOnnx(model(lfield(5, tensor('ids', [n], 6, ints))));
  const data = m.graph().initializers.get('ids')!.data as Int32Array;
  assert.equal(data.length, n);
  assert.equal(data[n - 1], 5);
});

test('ONNX: two stored tensors with one name are refused; names with control characters are escaped', () => {
  const w = tensor('w', [1], 1, lfield(9, f32(1)));
  refuses(() => useOnnx(model(lfield(5, w), lfield(5, w))), /two stored tensors are both named w/);
  const evil = 'w\n\u001b[31mred';
  const msg = refuses(() => useOnnx(model(lfield(5, tensor(evil, [2], 1, lfield(9, f32(1)))))), /tensor w\\u000a\\u001b\[31mred holds 1 values but its shape \[2\] needs 2/);
  assert.ok(!msg.includes('\n') && !msg.includes('\u001b'));
});

test('SculptError escapes control, line-separator and bidi characters in any message', () => {
  const e = new SculptError('a\nb\r\u0000\u2028\u202e\u009b');
  assert.equal(e.message, 'a\\u000ab\\u000d\\u0000\\u2028\\u202e\\u009b');
  assert.equal(escapeUnprintable('plain ✓ ünïcode'), 'plain ✓ ünïcode');
  assert.ok(isPrintableLine(e.message));
  assert.ok(!isPrintableLine('two\nlines'));
});

test('strict JSON: duplicate keys at any depth and a byte-order mark are refused', () => {
  assert.equal(duplicateKey('{"a":1,"b":{"c":1,"c":2}}'), 'c');
  assert.equal(duplicateKey('{"a":[{"x":1},{"x":2}],"b":"{\\"a\\":1,\\"a\\":2}"}'), undefined);
  assert.equal(duplicateKey('{"\\u0061":1,"a":2}'), 'a');
  assert.equal(duplicateKey('[{"k":1,"j":{},"k":[]}]'), 'k');
  assert.throws(() => parseStrictJson('\ufeff{}'), /byte-order mark/);
  assert.throws(() => parseStrictJson('{"w":1,"w":2}'), /key "w" appears twice/);
  assert.deepEqual(parseStrictJson('{"w":[1,{"w":2}]}'), { w: [1, { w: 2 }] });
});

// ---- safetensors ----

function safetensors(headerText: string, dataBytes = 16): string {
  const h = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + h.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  const file = join(tmp(), 'x.safetensors');
  writeFileSync(file, out);
  return file;
}
const readAll = (file: string) => {
  const f = openSafetensors(file);
  try {
    for (const t of f.tensors) f.read(t.name);
  } finally {
    f.close();
  }
};

test('safetensors: duplicate keys, a byte-order mark and dtypes that are JavaScript property names are refused', () => {
  const entry = '{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}';
  readAll(safetensors(`{"a.weight":${entry}}`));
  refuses(() => readAll(safetensors(`{"a.weight":${entry},"a.weight":${entry}}`)), /not a valid safetensors file \(header is not valid JSON: key "a\.weight" appears twice in one object\)/);
  refuses(() => readAll(safetensors(`\ufeff{"a.weight":${entry}}`)), /byte-order mark/);
  for (const dtype of ['constructor', 'toString', '__proto__']) {
    refuses(() => readAll(safetensors(`{"a.weight":{"dtype":"${dtype}","shape":[2,2],"data_offsets":[0,16]}}`)), new RegExp(`tensor a\\.weight has unknown dtype "${dtype}"`));
  }
  refuses(() => readAll(safetensors(`{"a\\nb":{"dtype":"X","shape":[2],"data_offsets":[0,8]}}`)), /tensor a\\u000ab has unknown dtype/);
});

// ---- TF.js ----

function tfjsFolder(manifest: unknown[], shards: Record<string, number>, extra = ''): string {
  const dir = tmp();
  const json = JSON.stringify({ format: 'layers-model', modelTopology: { class_name: 'Sequential', config: { layers: [] } }, weightsManifest: manifest });
  writeFileSync(join(dir, 'model.json'), extra ? json.replace(/^\{/, `{${extra},`) : json);
  for (const [name, size] of Object.entries(shards)) writeFileSync(join(dir, name), new Uint8Array(size).fill(1));
  return dir;
}
const readTfjs = (dir: string) => {
  const f = openTfjs(dir);
  for (const t of f.tensors) f.read(t.name);
  return f;
};

test('TF.js: dtype constructor, quantization dtype toString, a shard shared by two groups and duplicate keys are refused', () => {
  const w = (name: string, extra: object = {}) => ({ name, shape: [2, 2], dtype: 'float32', ...extra });
  assert.equal(readTfjs(tfjsFolder([{ paths: ['a.bin'], weights: [w('d/kernel')] }], { 'a.bin': 16 })).tensors.length, 1);
  refuses(() => readTfjs(tfjsFolder([{ paths: ['a.bin'], weights: [w('d/kernel', { dtype: 'constructor' })] }], { 'a.bin': 16 })), /weight d\/kernel has unknown dtype "constructor"/);
  refuses(() => readTfjs(tfjsFolder([{ paths: ['a.bin'], weights: [w('d/kernel', { quantization: { dtype: 'toString', scale: 1, min: 0 } })] }], { 'a.bin': 16 })), /unknown quantization dtype "toString"/);
  refuses(
    () => readTfjs(tfjsFolder([{ paths: ['a.bin'], weights: [w('d/kernel')] }, { paths: ['./a.bin'], weights: [w('e/kernel')] }], { 'a.bin': 16 })),
    /shard \.\/a\.bin is listed by both weightsManifest\[0\] and weightsManifest\[1\]/,
  );
  refuses(() => readTfjs(tfjsFolder([{ paths: ['a.bin', 'a.bin'], weights: [w('d/kernel')] }], { 'a.bin': 16 })), /weightsManifest\[0\] lists shard a\.bin twice/);
  refuses(() => readTfjs(tfjsFolder([{ paths: ['a.bin'], weights: [w('d/kernel')] }], { 'a.bin': 16 }, '"format":"graph-model"')), /key "format" appears twice/);
});

// ---- .npy ----

function npy(header: string, dataBytes: number): Uint8Array {
  const h = header.padEnd(Math.ceil((header.length + 11) / 64) * 64 - 11, ' ') + '\n';
  const out = new Uint8Array(10 + h.length + dataBytes);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, h.length, true);
  for (let i = 0; i < h.length; i++) out[10 + i] = h.charCodeAt(i);
  return out;
}

test('.npy: the header dict is parsed strictly (integer shapes, known keys once, dtype codes from a table)', () => {
  assert.deepEqual(parseNpy(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 16), }", 128)).dims, [2, 16]);
  assert.deepEqual(parseNpy(npy("{'shape': (2L, 3L), 'fortran_order': False, 'descr': '<i8'}", 48)).dims, [2, 3]);
  assert.deepEqual(parseNpy(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 4)).dims, []);
  refuses(() => parseNpy(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2.0, 16), }", 128)), /malformed header \(shape entries are not separated by commas\)/);
  refuses(() => parseNpy(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 16), }", 128)), /shape holds something other than non-negative integers/);
  refuses(() => parseNpy(npy("{'descr': 'constructor', 'fortran_order': False, 'shape': (2,), }", 128)), /dtype constructor is not supported/);
  refuses(() => parseNpy(npy("{'descr': '<f4', 'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", 128)), /key 'descr' appears twice/);
  refuses(() => parseNpy(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}", 128)), /unexpected key 'extra'/);
  refuses(() => parseNpy(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999), }", 128)), /more elements than sculpt can address|needs/);
  // What sculpt writes, it reads.
  const t = { dtype: 'float32' as const, dims: [3], data: Float32Array.of(1, 2, 3) };
  assert.deepEqual([...parseNpy(writeNpy(t)).data], [1, 2, 3]);
});

// ---- IDX ----

test('IDX: a gzip bomb stops at the size its header declares; a header claiming terabytes is refused first', () => {
  const header = encodeIdxUint8([10], new Uint8Array(10));
  // 10 bytes declared, 64 MiB of zeros behind them.
  const bomb = new Uint8Array(4 << 20 << 4);
  bomb.set(header);
  const gz = new Uint8Array(gzipSync(bomb, { level: 9 }));
  assert.ok(gz.length < 200_000);
  const before = process.memoryUsage().rss;
  refuses(() => parseIdx(gz, 'bomb.gz'), /bomb\.gz: the gzip stream holds more than the 18 bytes its IDX header declares/);
  assert.ok(process.memoryUsage().rss - before < 48 * 2 ** 20, 'the stream was not inflated in full');
  // [65535, 65535, 65535] uint8: 256 TiB declared by a few hundred bytes.
  const huge = Uint8Array.from([0, 0, 8, 3, 0, 0, 0xff, 0xff, 0, 0, 0xff, 0xff, 0, 0, 0xff, 0xff, 0, 0, 0, 0]);
  refuses(() => parseIdx(new Uint8Array(gzipSync(huge)), 'huge.gz'), /huge\.gz: the IDX header's data would expand to an unbounded size|huge\.gz: the IDX header's data would expand to .* over sculpt's limit of 64\.0 MiB/);
  // A real gzip IDX still reads.
  assert.deepEqual(parseIdx(new Uint8Array(gzipSync(header))).dims, [10]);
});

// ---- .sculpt ----

/** A .sculpt holding one CSR tensor w [16, 64] with two nonzeros, its header edited by `mutate`. */
function container(mutate: (h: Record<string, any>) => void): Uint8Array {
  const onnx = model(lfield(5, tensor('w', [16, 64], 1, lfield(9, f32(...new Array(1024).fill(1))))));
  const data = Float32Array.from({ length: 1024 }, (_, i) => (i % 600 === 0 ? i + 1 : 0));
  const { bytes } = packSculpt(onnx, new Map([['w', { dims: [16, 64], data }]]));
  const dv = new DataView(bytes.buffer, bytes.byteOffset);
  const len = dv.getUint32(8, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + len))) as Record<string, any>;
  mutate(header);
  return withSections(bytes, header);
}

/** The container's sections under a new header: every `offset` in it shifted by the header's growth. */
function withSections(bytes: Uint8Array, header: unknown): Uint8Array {
  const len = new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
  const oldBase = Math.ceil((16 + len) / 8) * 8;
  let base = oldBase;
  let h = new Uint8Array(0);
  for (let i = 0; i < 4; i++) {
    const shift = base - oldBase;
    const text = JSON.stringify(header, (k, v) => (k === 'offset' && typeof v === 'number' ? v + shift : v));
    h = new TextEncoder().encode(text);
    const next = Math.ceil((16 + h.length) / 8) * 8;
    if (next === base) break;
    base = next;
  }
  const out = new Uint8Array(base + bytes.length - oldBase);
  out.set(bytes.subarray(0, 8), 0);
  new DataView(out.buffer).setUint32(8, h.length, true);
  out.set(h, 16);
  out.set(bytes.subarray(oldBase), base);
  return out;
}

test('.sculpt: header schema and version, section sizes, row pointers and indices are checked before unpacking', () => {
  const good = container(() => {});
  assert.equal(readSculptHeader(good).tensors[0].storage, 'csr');
  assert.deepEqual([...unpackWeights(good).get('w')!.data].filter((v) => v !== 0), [1, 601]);
  const bad = (edit: (h: Record<string, any>) => void, re: RegExp) => refuses(() => unpackSculpt(container(edit)), re);
  bad((h) => { for (const k of Object.keys(h)) delete h[k]; }, /invalid header \(format is not "sculpt"\)/);
  refuses(() => readSculptHeader(container((h) => { h.tensors = null; })), /tensors is not a list/);
  bad((h) => { h.version = 2; }, /header version 2 differs from the container's version 1/);
  bad((h) => { h.tensors[0].arrays.values.length -= 2; }, /section w\.values has \d+ bytes, not a whole number of f32 elements/);
  bad((h) => { h.tensors[0].arrays.rowPtr.length += 4; }, /section w\.rowPtr lies outside the file|w has 18 row pointers for 16 rows/);
  bad((h) => { h.tensors[0].dims = [20000, 20000]; h.tensors[0].rows = 20000; h.tensors[0].cols = 20000; }, /tensor w of dims \[20000, 20000\] would expand to 1\.5 GiB/);
  bad((h) => { h.tensors[0].rows = 8; }, /claims a \[8, 64\] matrix, but its dims make it \[16, 64\]/);
  bad((h) => { h.tensors[0].storage = 'constructor'; }, /unknown storage constructor/);
  bad((h) => { h.tensors.push(h.tensors[0]); }, /tensor w is listed twice/);
  bad((h) => { h.tensors[0].arrays.toString = h.tensors[0].arrays.values; }, /unexpected array toString/);
  // Contents: a column index past the row (would write into the next row), a row pointer running past the data.
  const cols = container(() => {});
  const hdr = readSculptHeader(cols);
  const colIndex = hdr.tensors[0].arrays.colIndex;
  new DataView(cols.buffer).setUint16(colIndex.offset, 64, true);
  refuses(() => unpackSculpt(cols), /tensor w has column index 64 outside its 64 columns; the file is damaged/);
  const rows = container(() => {});
  const rowPtr = readSculptHeader(rows).tensors[0].arrays.rowPtr;
  new DataView(rows.buffer).setUint32(rowPtr.offset + 8, 0xfffffff0, true);
  refuses(() => unpackSculpt(rows), /tensor w has row pointers that decrease at row 3|last row pointer/);
});

test('.sculpt: N:M with M = 0 and 0×0 blocks are refused, not looped over', () => {
  const nmOnnx = model(lfield(5, tensor('w', [4, 8], 1, lfield(9, f32(...new Array(32).fill(1))))));
  const data = Float32Array.from({ length: 32 }, (_, i) => (i % 4 === 0 ? 1 : 0));
  const packed = packSculpt(nmOnnx, new Map([['w', { dims: [4, 8], data }]]), { nm: { n: 1, m: 4 } }).bytes;
  assert.equal(readSculptHeader(packed).tensors[0].storage, 'nm');
  const bigOnnx = model(lfield(5, tensor('w', [16, 64], 1, lfield(9, f32(...new Array(1024).fill(1))))));
  const blocky = Float32Array.from({ length: 1024 }, (_, i) => (Math.floor(i / 64) < 2 && i % 64 < 2 ? 1 : 0));
  const blocked = packSculpt(bigOnnx, new Map([['w', { dims: [16, 64], data: blocky }]]), { block: { rows: 2, cols: 2 } }).bytes;
  assert.equal(readSculptHeader(blocked).tensors[0].storage, 'block');
  const withHeader = (edit: (t: Record<string, any>) => void, from = packed) => {
    const len = new DataView(from.buffer).getUint32(8, true);
    const h = JSON.parse(new TextDecoder().decode(from.subarray(16, 16 + len)));
    edit(h.tensors[0]);
    return withSections(from, h);
  };
  refuses(() => unpackSculpt(withHeader((t) => { t.m = 0; })), /invalid N:M pattern 1:0/);
  refuses(() => unpackSculpt(withHeader((t) => { t.blockRows = 0; t.blockCols = 0; }, blocked)), /tensor w has an invalid block shape 0×0/);
  refuses(() => unpackSculpt(withHeader((t) => { t.n = 9; }, packed)), /invalid N:M pattern 9:4/);
  // The same patterns through the format chooser: refused, not an endless loop.
  refuses(() => fitsNm(new Float32Array(8), 1, 8, 1, 0), /N:M pattern 1:0 is invalid/);
  refuses(() => chooseFormat(new Float32Array(8), 1, 8, { nm: { n: 0, m: 0 } }), /N:M pattern 0:0 is invalid/);
  refuses(() => chooseFormat(new Float32Array(8), 1, 8, { block: { rows: 0, cols: 0 } }), /block shape 0×0 is invalid/);
});

test('the expansion budget: 1024 times the stored size, at least 64 MiB, at most 4 GiB', () => {
  assert.equal(expansionBudget(113), 64 * 2 ** 20);
  assert.equal(expansionBudget(1 << 20), 1 << 30);
  assert.equal(expansionBudget(1e12), EXPANSION_CAP_BYTES);
});

// ---- command-line counts ----

test('counts on the command line have upper bounds: 1e20 and 10000 threads are refused', () => {
  refuses(() => parseInteger('--batch-size', '1e20', 1), /--batch-size: 1e20 is more than the limit of 1000000/);
  for (const flag of ['--runs', '--epochs', '--rounds']) refuses(() => parseInteger(flag, '1e20', 1), new RegExp(`${flag}: 1e20 is more than the limit`));
  refuses(() => parseInteger('--threads', '10000', 1), /--threads: 10000 is more than the limit of \d+/);
  assert.equal(parseInteger('--threads', String(COUNT_LIMITS.get('--threads')), 1), COUNT_LIMITS.get('--threads'));
  refuses(() => parseInteger('--seed', '1e300'), /--seed: 1e300 is more than the limit of 9007199254740991/);
  assert.equal(parseInteger('--epochs', '3', 1), 3);
});

test('hostile shard names and external data locations are escaped in messages', () => {
  const dir = tmp();
  mkdirSync(join(dir, 'sub'));
  const ext = tensor('w', [1], 1, lfield(13, [...lfield(1, text('location')), ...lfield(2, text('x\n\u001b[2J.data'))]), vfield(14, 1));
  refuses(() => useOnnx(model(lfield(5, ext)), dir), /x\\u000a\\u001b\[2J\.data/);
});
