import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SculptError } from '../../src/core/errors.js';
import { assertFinite } from '../../src/formats/index.js';
import { openSafetensors, readSafetensors, safetensorsRole, writeSafetensorsStreaming, zeroPruned } from '../../src/formats/safetensors.js';
import { Mask } from '../../src/core/mask.js';
import { float16ToFloat32, float32ToBfloat16, float32ToFloat16 } from '../../src/formats/safetensors-dtypes.js';

const FIXTURE = 'test/fixtures/tiny.safetensors';
const expected = JSON.parse(fs.readFileSync('test/fixtures/tiny.safetensors.json', 'utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number]; first: number[]; sum: number }>;

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});
function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'sculpt-st-'));
  dirs.push(d);
  return d;
}

/** A safetensors file from parts, header padded with spaces to a multiple of 8. */
function build(tensors: { name: string; dtype: string; shape: number[]; bytes: Uint8Array }[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let off = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + t.bytes.length] };
    off += t.bytes.length;
  }
  let json = JSON.stringify(header);
  while ((json.length + 8) % 8 !== 0) json += ' ';
  return withHeader(json, Buffer.concat(tensors.map((t) => Buffer.from(t.bytes))));
}

function withHeader(json: string, data: Uint8Array): Uint8Array {
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([len, Buffer.from(json), Buffer.from(data)]);
}

function f32bytes(values: number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

function expectError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof SculptError && pattern.test(e.message) && !e.message.includes('\n'));
}

test('tiny fixture: values, order, dtypes and roles match the generator', () => {
  const ws = readSafetensors(FIXTURE);
  assert.deepEqual(ws.tensors.map((t) => t.name), ['layers.0.weight', 'layers.0.bias', 'embed_tokens.weight', 'layernorm.weight', 'layers.1.weight', 'layers.2.weight']);
  for (const t of ws.tensors) {
    const e = expected[t.name];
    assert.deepEqual(t.shape, e.shape);
    assert.deepEqual(Array.from(t.data.subarray(0, 4)), e.first.map((x) => Math.fround(x)), t.name);
    let sum = 0;
    for (const v of t.data) sum += v;
    assert.ok(Math.abs(sum - e.sum) < 1e-9 * Math.max(1, Math.abs(e.sum)), `${t.name}: sum ${sum} vs ${e.sum}`);
  }
  const roles = Object.fromEntries(ws.tensors.map((t) => [t.name, [t.role, t.prunable, t.outputAxis]]));
  assert.deepEqual(roles, {
    'layers.0.weight': ['weight', true, 0],
    'layers.0.bias': ['bias', false, 0],
    'embed_tokens.weight': ['embedding', false, 0],
    'layernorm.weight': ['norm', false, 0],
    'layers.1.weight': ['weight', true, 0],
    'layers.2.weight': ['weight', true, 0],
  });
  assert.equal(ws.parameterCount, 64 * 32 + 64 + 1600 + 16 + 256 + 256);
});

test('role rule by name', () => {
  const r = (name: string, shape: number[]) => safetensorsRole(name, 'F32', shape).role;
  assert.equal(r('transformer.wte.weight', [50257, 768]), 'embedding');
  assert.equal(r('bert.embeddings.word_embeddings.weight', [30522, 768]), 'embedding');
  assert.equal(r('h.0.ln_1.weight', [768]), 'norm');
  assert.equal(r('transformer.ln_f.weight', [768]), 'norm');
  assert.equal(r('encoder.layer.0.output.LayerNorm.weight', [768]), 'norm');
  assert.equal(r('model.layers.0.input_layernorm.weight', [4096]), 'norm');
  assert.equal(r('h.0.attn.c_attn.bias', [2304]), 'bias');
  assert.equal(r('conv1.weight', [64, 3, 7, 7]), 'weight');
  assert.equal(r('scale', [1]), 'other');
  assert.equal(r('lnx.weight', [8, 8]), 'weight');
  assert.equal(safetensorsRole('h.0.attn.c_attn.weight', 'F16', [768, 2304]).prunable, true);
});

test('streaming read reuses one buffer and converts F16/BF16/F64', () => {
  const f16 = new Uint16Array([float32ToFloat16(1.5), float32ToFloat16(-0.25), 0x3c00, 0x7bff]);
  const bf16 = new Uint16Array([float32ToBfloat16(3.0), float32ToBfloat16(-1.0)]);
  const f64 = new Float64Array([1.25, -2.5, 1e-3]);
  const i64 = new BigInt64Array([7n, -1n]);
  const dir = tmpDir();
  const file = path.join(dir, 'm.safetensors');
  fs.writeFileSync(file, build([
    { name: 'a', dtype: 'F16', shape: [2, 2], bytes: new Uint8Array(f16.buffer) },
    { name: 'b', dtype: 'BF16', shape: [2], bytes: new Uint8Array(bf16.buffer) },
    { name: 'c', dtype: 'F64', shape: [3], bytes: new Uint8Array(f64.buffer) },
    { name: 'ids', dtype: 'I64', shape: [2], bytes: new Uint8Array(i64.buffer) },
  ]));
  const src = openSafetensors(file);
  try {
    assert.deepEqual(src.tensors.map((t) => t.name), ['a', 'b', 'c']);
    assert.equal(src.entries.length, 4);
    assert.deepEqual(Array.from(src.read('a')), [1.5, -0.25, 1, 65504]);
    assert.deepEqual(Array.from(src.read('b')), [3, -1]);
    assert.deepEqual(Array.from(src.read('c')), [1.25, -2.5, Math.fround(1e-3)]);
    expectError(() => src.read('ids'), /m\.safetensors: tensor ids has dtype I64/);
    expectError(() => src.read('nope'), /no tensor named nope/);
  } finally {
    src.close();
  }
});

test('float16 conversion rounds to nearest even and decodes subnormals', () => {
  assert.equal(float32ToFloat16(1 + 2 ** -11), 0x3c00); // tie → even (down)
  assert.equal(float32ToFloat16(1 + 3 * 2 ** -11), 0x3c02); // tie → even (up)
  assert.equal(float32ToFloat16(65520), 0x7c00); // rounds to +Inf
  assert.equal(float32ToFloat16(2 ** -24), 0x0001);
  assert.equal(float16ToFloat32(0x0001), 2 ** -24);
  assert.equal(float32ToFloat16(-0), 0x8000);
  for (let h = 0; h < 0x7c00; h += 37) assert.equal(float32ToFloat16(float16ToFloat32(h)), h);
  assert.equal(float32ToBfloat16(1 + 2 ** -8), 0x3f80); // tie → even
  assert.equal(float32ToBfloat16(1 + 3 * 2 ** -8), 0x3f82);
});

test('streaming write: header and untouched bytes verbatim, mask zeros only pruned elements, dtype kept', () => {
  const dir = tmpDir();
  const out = path.join(dir, 'pruned.safetensors');
  const src = openSafetensors(FIXTURE);
  const seen: string[] = [];
  try {
    writeSafetensorsStreaming(src, out, (name, values) => {
      seen.push(name);
      if (name === 'layers.0.weight') {
        // Prune every element at an even index: a plain get()-only mask.
        return { get: (i: number) => i % 2 === 1 };
      }
      if (name === 'layers.1.weight' || name === 'layers.2.weight') {
        // sculpt's Mask layout: words, bit i & 31 of word i >>> 5; keep the first 100 only.
        const words = new Uint32Array(8);
        for (let i = 0; i < 100; i++) words[i >>> 5] |= 1 << (i & 31);
        return { length: values.length, words, get: (i: number) => ((words[i >>> 5] >>> (i & 31)) & 1) === 1 };
      }
      return undefined;
    });
  } finally {
    src.close();
  }
  assert.deepEqual(seen, ['layers.0.weight', 'layers.0.bias', 'embed_tokens.weight', 'layernorm.weight', 'layers.1.weight', 'layers.2.weight']);
  const a = fs.readFileSync(FIXTURE);
  const b = fs.readFileSync(out);
  assert.equal(b.length, a.length);
  const dataStart = 8 + Number(a.readBigUInt64LE(0));
  const changed = new Set<number>();
  const w0 = dataStart + expected['layers.0.weight'].data_offsets[0];
  for (let i = 0; i < 2048; i += 2) for (let k = 0; k < 4; k++) changed.add(w0 + i * 4 + k);
  for (const name of ['layers.1.weight', 'layers.2.weight']) {
    const start = dataStart + expected[name].data_offsets[0];
    for (let i = 100; i < 256; i++) for (let k = 0; k < 2; k++) changed.add(start + i * 2 + k);
  }
  let differing = 0;
  for (let i = 0; i < a.length; i++) {
    if (changed.has(i)) assert.equal(b[i], 0, `byte ${i} should be zero`);
    else assert.equal(b[i], a[i], `byte ${i} changed`);
    if (a[i] !== b[i]) differing++;
  }
  assert.ok(differing > 4000, `only ${differing} bytes differ`);
  const before = readSafetensors(FIXTURE);
  const after = readSafetensors(out);
  const w = after.get('layers.1.weight')!.data;
  assert.deepEqual(Array.from(w.subarray(0, 100)), Array.from(before.get('layers.1.weight')!.data.subarray(0, 100)));
  assert.equal(w.subarray(100).filter((x) => x !== 0).length, 0);
  assert.equal(after.get('layers.0.weight')!.data.filter((x) => x === 0).length, 1024);
});

test('streaming write with new values re-encodes in the stored dtype; identity transform copies the file exactly', () => {
  const dir = tmpDir();
  const src = openSafetensors(FIXTURE);
  try {
    const same = path.join(dir, 'same.safetensors');
    writeSafetensorsStreaming(src, same, () => undefined);
    assert.ok(fs.readFileSync(same).equals(fs.readFileSync(FIXTURE)));
    const scaled = path.join(dir, 'scaled.safetensors');
    writeSafetensorsStreaming(src, scaled, (name, values) => {
      if (name !== 'layers.1.weight') return undefined;
      for (let i = 0; i < values.length; i++) values[i] *= 2;
      return values;
    });
    const x = readSafetensors(FIXTURE).get('layers.1.weight')!.data;
    const y = readSafetensors(scaled).get('layers.1.weight')!.data;
    for (let i = 0; i < x.length; i++) assert.equal(y[i], x[i] * 2); // doubling is exact in float16 (no overflow here)
    expectError(() => writeSafetensorsStreaming(src, path.join(dir, 'bad.safetensors'), (n) => (n === 'layers.0.bias' ? new Float32Array(3) : undefined)), /layers\.0\.bias have 3 elements/);
    assert.equal(fs.existsSync(path.join(dir, 'bad.safetensors')), false);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['same.safetensors', 'scaled.safetensors']); // no temporary left behind
  } finally {
    src.close();
  }
});

test('refuses to overwrite its input', () => {
  const dir = tmpDir();
  const file = path.join(dir, 'm.safetensors');
  fs.copyFileSync(FIXTURE, file);
  const src = openSafetensors(file);
  try {
    expectError(() => writeSafetensorsStreaming(src, file, () => undefined), /output would overwrite the input/);
    expectError(() => writeSafetensorsStreaming(src, path.join(dir, '.', 'm.safetensors'), () => undefined), /overwrite/);
  } finally {
    src.close();
  }
  assert.ok(fs.readFileSync(file).equals(fs.readFileSync(FIXTURE)));
});

test('cached reads give the same values as streamed reads', () => {
  const a = openSafetensors(FIXTURE);
  const b = openSafetensors(FIXTURE, { cacheBytes: 1 << 20 });
  try {
    for (const t of a.tensors) assert.deepEqual(Array.from(b.read(t.name)), Array.from(a.read(t.name)));
  } finally {
    a.close();
    b.close();
  }
});

test('malformed files fail with one line naming the file', () => {
  const dir = tmpDir();
  const good = fs.readFileSync(FIXTURE);
  const write = (name: string, bytes: Uint8Array) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, bytes);
    return p;
  };
  expectError(() => openSafetensors(write('short.safetensors', good.subarray(0, 5))), /short\.safetensors: not a valid safetensors file \(only 5 bytes/);
  expectError(() => openSafetensors(write('trunc-header.safetensors', good.subarray(0, 100))), /trunc-header\.safetensors: .*header length \d+ exceeds/);
  expectError(() => openSafetensors(write('trunc-data.safetensors', good.subarray(0, good.length - 10))), /trunc-data\.safetensors: .*layers\.2\.weight ends at data byte 15936, past the end .*truncated/);
  expectError(() => openSafetensors(write('json.safetensors', withHeader('{"a": {"dtype": "F32",', new Uint8Array(8)))), /json\.safetensors: .*header is not valid JSON/);
  expectError(() => openSafetensors(write('arr.safetensors', withHeader('[1,2]', new Uint8Array(0)))), /header is not a JSON object/);
  expectError(() => openSafetensors(write('range.safetensors', withHeader('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,80]}}', new Uint8Array(8)))), /range\.safetensors: .*tensor a ends at data byte 80/);
  expectError(() => openSafetensors(write('size.safetensors', withHeader('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', new Uint8Array(8)))), /tensor a has 8 bytes but F32 × \[3\] needs 12/);
  expectError(() => openSafetensors(write('dtype.safetensors', withHeader('{"a":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}}', new Uint8Array(8)))), /unknown dtype "F33"/);
  expectError(() => openSafetensors(write('neg.safetensors', withHeader('{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}', new Uint8Array(8)))), /invalid data_offsets/);
  expectError(() => openSafetensors(write('shape.safetensors', withHeader('{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}', new Uint8Array(8)))), /invalid shape/);
  expectError(
    () => openSafetensors(write('overlap.safetensors', withHeader('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', new Uint8Array(12)))),
    /tensors a and b overlap/,
  );
  const garbage = new Uint8Array(64);
  for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 97 + 13) & 0xff;
  expectError(() => openSafetensors(write('garbage.safetensors', garbage)), /garbage\.safetensors: not a valid safetensors file/);
  expectError(() => openSafetensors(path.join(dir, 'missing.safetensors')), /missing\.safetensors: cannot read \(ENOENT\)/);
});

test('assertFinite names the prunable tensor holding NaN or Inf, in memory and streaming', () => {
  const dir = tmpDir();
  const file = path.join(dir, 'nan.safetensors');
  fs.writeFileSync(file, build([
    { name: 'norm.weight', dtype: 'F32', shape: [2], bytes: f32bytes([NaN, 1]) },
    { name: 'fc.weight', dtype: 'F32', shape: [2, 2], bytes: f32bytes([0.5, -1, Infinity, 2]) },
  ]));
  expectError(() => assertFinite(readSafetensors(file), file), /nan\.safetensors: tensor fc\.weight contains \+Inf at element 2/);
  const src = openSafetensors(file);
  try {
    expectError(() => assertFinite(src, file), /tensor fc\.weight contains \+Inf at element 2/);
  } finally {
    src.close();
  }
  const ok = path.join(dir, 'ok.safetensors');
  fs.writeFileSync(ok, build([{ name: 'norm.weight', dtype: 'F32', shape: [2], bytes: f32bytes([NaN, 1]) }]));
  assert.doesNotThrow(() => assertFinite(readSafetensors(ok), ok)); // NaN outside prunable tensors is not our concern
});

test('mask words: partial last word, fully pruned words and F64 elements are zeroed exactly', () => {
  const dir = tmpDir();
  const n = 3 * 25; // 75 elements: words 0, 1 full, word 2 has 11 elements
  const f64 = new Float64Array(n).map((_, i) => i + 0.5);
  const f32 = new Float32Array(n).map((_, i) => -(i + 1));
  const file = path.join(dir, 'w.safetensors');
  fs.writeFileSync(file, build([
    { name: 'a.weight', dtype: 'F64', shape: [3, 25], bytes: new Uint8Array(f64.buffer) },
    { name: 'b.weight', dtype: 'F32', shape: [3, 25], bytes: new Uint8Array(f32.buffer) },
  ]));
  // Keep elements 3, 40 and 74; word 1 bits all pruned except 40 - 32 = 8; padding bits set on purpose.
  const words = new Uint32Array([1 << 3, 1 << 8, (1 << 10) | 0xfffff800]);
  const mask = { length: n, words, get: (i: number) => ((words[i >>> 5] >>> (i & 31)) & 1) === 1 };
  const empty = { length: n, words: new Uint32Array(3), get: () => false };
  const out = path.join(dir, 'o.safetensors');
  const src = openSafetensors(file);
  try {
    writeSafetensorsStreaming(src, out, (name) => (name === 'a.weight' ? mask : empty));
    expectError(() => writeSafetensorsStreaming(src, path.join(dir, 'x.safetensors'), () => ({ length: 10, get: () => true })), /mask for a\.weight covers 10 elements, the tensor has 75/);
  } finally {
    src.close();
  }
  const ws = readSafetensors(out);
  const a = ws.get('a.weight')!.data;
  const kept = [];
  for (let i = 0; i < n; i++) if (a[i] !== 0) kept.push([i, a[i]]);
  assert.deepEqual(kept, [[3, 3.5], [40, 40.5], [74, 74.5]]);
  assert.equal(ws.get('b.weight')!.data.filter((x) => x !== 0).length, 0);
  // The header and the file size are unchanged.
  const x = fs.readFileSync(file);
  const y = fs.readFileSync(out);
  assert.equal(y.length, x.length);
  const dataStart = 8 + Number(x.readBigUInt64LE(0));
  assert.ok(y.subarray(0, dataStart).equals(x.subarray(0, dataStart)));
});

test('a folder as input or output is a SculptError, not a crash', () => {
  const dir = tmpDir();
  fs.mkdirSync(path.join(dir, 'sub'));
  expectError(() => openSafetensors(dir), /not a file/);
  const src = openSafetensors(FIXTURE);
  try {
    expectError(() => writeSafetensorsStreaming(src, path.join(dir, 'sub'), () => undefined), /sub: cannot replace it \(E\w+(, [a-z ]+)?\)/);
  } finally {
    src.close();
  }
  assert.deepEqual(fs.readdirSync(dir), ['sub']);
});

test('with the cache, a caller modifying read() results cannot change what is written', () => {
  const dir = tmpDir();
  const out = path.join(dir, 'o.safetensors');
  const src = openSafetensors(FIXTURE, { cacheBytes: 1 << 20 });
  try {
    for (const t of src.tensors) src.read(t.name).fill(7);
    assert.notEqual(src.read('layers.0.weight')[0], 7);
    writeSafetensorsStreaming(src, out, () => undefined);
  } finally {
    src.close();
  }
  assert.ok(fs.readFileSync(out).equals(fs.readFileSync(FIXTURE)));
});

test('streaming write through small staging buffers: many buffer switches, odd offsets, direct and buffered I/O give the same bytes', () => {
  // Tensors of odd sizes (an F16 of 3 elements puts every later F32 at an offset ≡ 2 mod 4, which
  // goes through the aligned scratch copy), in a file ~40 times the staging size.
  const rnd = (seed: number) => () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) - 0.5;
  const r = rnd(7);
  const parts: { name: string; dtype: string; shape: number[]; bytes: Uint8Array }[] = [];
  for (let i = 0; i < 24; i++) {
    const n = 1000 + 3517 * i;
    parts.push({ name: `l${i}.weight`, dtype: 'F32', shape: [n, 1], bytes: f32bytes(Array.from({ length: n }, r)) });
    if (i === 5) parts.push({ name: 'odd', dtype: 'F16', shape: [3], bytes: new Uint8Array([0, 60, 0, 61, 0, 62]) });
    if (i === 9) parts.push({ name: 'ids', dtype: 'I64', shape: [1], bytes: new Uint8Array(8).fill(7) });
  }
  const d = tmpDir();
  const input = path.join(d, 'in.safetensors');
  const bytes = build(parts);
  fs.writeFileSync(input, bytes);
  // Expected: every F32 element with |v| < 0.25 zeroed, from the input bytes directly.
  const want = Buffer.from(bytes);
  const header = 8 + Number(want.readBigUInt64LE(0));
  const prunedOf = new Map<string, number>();
  let off = header;
  for (const p of parts) {
    if (p.dtype === 'F32') {
      let c = 0;
      for (let i = 0; i < p.bytes.length; i += 4) {
        if (Math.abs(want.readFloatLE(off + i)) < 0.25) {
          want.writeUInt32LE(0, off + i);
          c++;
        }
      }
      prunedOf.set(p.name, c);
    }
    off += p.bytes.length;
  }
  for (const direct of ['1', '0']) {
    const saved = process.env.SCULPT_DIRECT_IO;
    process.env.SCULPT_DIRECT_IO = direct;
    try {
      const src = openSafetensors(input);
      const out = path.join(d, `out-${direct}.safetensors`);
      const seen: string[] = [];
      writeSafetensorsStreaming(src, out, (name, values) => {
        seen.push(name);
        if (!name.endsWith('.weight')) return undefined;
        let c = 0;
        const keep = { get: (i: number) => Math.abs(values[i]) >= 0.25, length: values.length };
        for (let i = 0; i < values.length; i++) if (!keep.get(i)) c++;
        assert.equal(c, prunedOf.get(name), name);
        return keep;
      }, { stagingBytes: 8192 });
      src.close();
      assert.deepEqual(seen, parts.filter((p) => p.dtype !== 'I64').map((p) => p.name));
      assert.ok(Buffer.from(fs.readFileSync(out)).equals(want), `SCULPT_DIRECT_IO=${direct}: output differs from the expected bytes`);
    } finally {
      if (saved === undefined) delete process.env.SCULPT_DIRECT_IO;
      else process.env.SCULPT_DIRECT_IO = saved;
    }
  }
});

test('read-ahead (helper thread) gives the same bytes as plain reads, in any order of reads', () => {
  const r = ((seed: number) => () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) - 0.5)(11);
  const parts: { name: string; dtype: string; shape: number[]; bytes: Uint8Array }[] = [];
  for (let i = 0; i < 9; i++) {
    const n = 500 + 977 * i;
    parts.push({ name: `b${i}.weight`, dtype: i === 4 ? 'F16' : 'F32', shape: [n, 1], bytes: i === 4 ? new Uint8Array(2 * n).fill(60) : f32bytes(Array.from({ length: n }, r)) });
    parts.push({ name: `b${i}.bias`, dtype: 'F32', shape: [3], bytes: f32bytes([i, i + 1, i + 2]) });
  }
  const d = tmpDir();
  const file = path.join(d, 'ra.safetensors');
  fs.writeFileSync(file, build(parts));
  const plain = openSafetensors(file);
  const ahead = openSafetensors(file, { readAheadFrom: 0 });
  try {
    const names = parts.map((p) => p.name);
    const weights = names.filter((n) => n.endsWith('.weight'));
    // In order twice (the second pass follows the first one's sequence), reversed, repeated, scattered.
    const orders = [weights, weights, [...names].reverse(), [names[3], names[3], names[0], names[17], names[2], names[2]], names];
    for (const order of orders) {
      let previous: Float32Array | undefined;
      let previousName = '';
      for (const name of order) {
        const got = ahead.read(name);
        // The helper reads ahead meanwhile: what this read returned must stay as it is until the next.
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 3);
        assert.deepEqual(Array.from(got), Array.from(plain.read(name)), name);
        if (previous && previousName !== name) assert.ok(previous !== got || previous.length === 0);
        previous = got;
        previousName = name;
        assert.deepEqual(Array.from(ahead.readBytes(name)), Array.from(plain.readBytes(name)), `${name} bytes`);
      }
    }
  } finally {
    plain.close();
    ahead.close();
  }
});

test('zeroPruned zeroes exactly the pruned elements at every density (lane-mask and bit-loop words), F32 and F16', () => {
  let seed = 99;
  const next = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  for (const density of [0, 0.02, 0.1, 0.5, 0.9, 1]) {
    for (const n of [1, 31, 32, 33, 95, 96, 97, 1000]) {
      const kept = Array.from({ length: n }, () => next() < density);
      const mask = new Mask(n);
      for (let i = 0; i < n; i++) mask.set(i, kept[i]);
      const f32 = new Uint32Array(n).map(() => (next() * 2 ** 32) | 1);
      zeroPruned(new Uint8Array(f32.buffer), 'F32', n, mask, 'w', 'f.safetensors');
      const f16 = new Uint16Array(n).map(() => (next() * 2 ** 16) | 1);
      zeroPruned(new Uint8Array(f16.buffer), 'F16', n, mask, 'w', 'f.safetensors');
      for (let i = 0; i < n; i++) {
        assert.equal(f32[i] === 0, !kept[i], `F32 density=${density} n=${n} i=${i}`);
        assert.equal(f16[i] === 0, !kept[i], `F16 density=${density} n=${n} i=${i}`);
      }
    }
  }
});
