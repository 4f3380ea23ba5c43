/**
 * The `.sculpt` packed container: an ONNX graph with its pruned weights stored sparse.
 *
 * Layout, version 1 (all integers little-endian; every section starts on an 8-byte boundary):
 *
 *   bytes 0..5   ASCII "SCULPT"
 *   bytes 6..7   uint16 format version (1)
 *   bytes 8..11  uint32 byte length H of the header
 *   bytes 12..15 zero
 *   bytes 16..   header: UTF-8 JSON, H bytes (type `SculptHeader`), then zero padding to 8
 *   then         sections named by the header as { offset, length } from the start of the file:
 *                the ONNX model with the packed initializers removed, and each packed tensor's
 *                arrays (values float32 or float16; CSR rowPtr uint32 + colIndex uint16/uint32;
 *                bitmask mask bytes; N:M packed in-group indices; block rowPtr + blockCol).
 *
 * A packed tensor is viewed as a matrix [dims[0], product of the other dims] (a vector is [1, n]).
 * Readers must refuse a version they do not know. Unpacking restores a plain ONNX model whose
 * packed initializers come back as float32 raw data appended to the graph's initializer list.
 */
import { SculptError } from '../core/errors.js';
import { chooseFormat, toDense, toSparse, type FormatOptions, type SparseMatrix, type StorageKind } from './formats.js';

export const SCULPT_VERSION = 1;

type ArrayType = 'f32' | 'f16' | 'u32' | 'u16' | 'u8';

export interface SectionRef {
  readonly offset: number;
  readonly length: number;
  readonly type: ArrayType;
}

export interface PackedTensor {
  readonly name: string;
  readonly dims: readonly number[];
  /** The subgraph the tensor is restored into (absent: the main graph). */
  readonly scope?: string;
  readonly rows: number;
  readonly cols: number;
  readonly storage: StorageKind;
  readonly valueType: 'float32' | 'float16';
  readonly nonzeros: number;
  /** N:M and block parameters, when the storage has them. */
  readonly n?: number;
  readonly m?: number;
  readonly indexBits?: number;
  readonly blockRows?: number;
  readonly blockCols?: number;
  readonly arrays: Readonly<Record<string, SectionRef>>;
}

export interface SculptHeader {
  readonly format: 'sculpt';
  readonly version: number;
  readonly producer: string;
  readonly onnx: SectionRef;
  readonly tensors: readonly PackedTensor[];
}

export interface PackOptions extends FormatOptions {
  /** Store values as IEEE float16 (lossy; the report gives the largest rounding error). */
  readonly fp16?: boolean;
}

export interface PackReport {
  readonly bytes: number;
  readonly onnxBytes: number;
  readonly tensors: readonly { readonly name: string; readonly storage: StorageKind; readonly bytes: number; readonly denseBytes: number; readonly nonzeros: number }[];
  /** Largest |float16(v) − v| over the stored values (0 without fp16). */
  readonly fp16MaxError: number;
}

export interface WeightInput {
  readonly dims: readonly number[];
  readonly data: Float32Array;
  /** The subgraph the tensor belongs to ('' or absent: the main graph), as the ONNX decoder names it. */
  readonly scope?: string;
}


const utf8 = new TextEncoder();
const utf8Decode = new TextDecoder();

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// ---- float16 ----------------------------------------------------------------------------------

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);

/** IEEE binary16 bits of a float32, rounding to nearest even. */
export function toFloat16Bits(v: number): number {
  f32buf[0] = v;
  const x = u32buf[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;
  e = h >>> 10;
  return sign | (e >= 0x1f ? 0x7c00 : h);
}

export function fromFloat16Bits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

// ---- pack / unpack ---------------------------------------------------------------------------

function matrixShape(dims: readonly number[]): [number, number] {
  if (dims.length === 0) return [1, 1];
  if (dims.length === 1) return [1, dims[0]];
  return [dims[0], dims.slice(1).reduce((a, b) => a * b, 1)];
}

function arraysOf(m: SparseMatrix | Float32Array): Record<string, Float32Array | Uint32Array | Uint16Array | Uint8Array> {
  if (m instanceof Float32Array) return { values: m };
  switch (m.kind) {
    case 'csr': return { rowPtr: m.rowPtr, colIndex: m.colIndex, values: m.values };
    case 'bitmask': return { mask: m.mask, values: m.values };
    case 'nm': return { indices: m.indices, values: m.values };
    case 'block': return { rowPtr: m.rowPtr, blockCol: m.blockCol, values: m.values };
  }
}

function typeOf(a: Float32Array | Uint32Array | Uint16Array | Uint8Array): ArrayType {
  return a instanceof Float32Array ? 'f32' : a instanceof Uint32Array ? 'u32' : a instanceof Uint16Array ? 'u16' : 'u8';
}

/**
 * Packs a container: `stripped` is the ONNX model with the tensors of `weights` removed from its
 * initializers (api/sculpt-file.ts does that edit); each tensor is stored in the format that takes
 * the fewest bytes for it (dense included).
 */
export function packContainer(stripped: Uint8Array, weights: ReadonlyMap<string, WeightInput>, options: PackOptions = {}): { bytes: Uint8Array; report: PackReport } {
  const sections: Uint8Array[] = [];
  let cursor = 0; // offsets relative to the first section; fixed up once the header size is known
  const place = (bytes: Uint8Array, type: ArrayType): SectionRef => {
    const ref = { offset: cursor, length: bytes.byteLength, type };
    sections.push(bytes);
    const padded = Math.ceil(bytes.byteLength / 8) * 8;
    if (padded > bytes.byteLength) sections.push(new Uint8Array(padded - bytes.byteLength));
    cursor += padded;
    return ref;
  };
  const onnxRef = place(stripped, 'u8');
  const tensors: PackedTensor[] = [];
  const reportTensors: PackReport['tensors'][number][] = [];
  let fp16MaxError = 0;
  for (const [name, w] of weights) {
    const [rows, cols] = matrixShape(w.dims);
    if (w.data.length !== rows * cols) throw new SculptError(`pack: tensor ${name} has ${w.data.length} values for dims [${w.dims.join(', ')}]`);
    const choice = chooseFormat(w.data, rows, cols, options);
    const matrix = choice.kind === 'dense' ? w.data : toSparse(w.data, rows, cols, choice.kind, options);
    const arrays: Record<string, SectionRef> = {};
    let bytes = 0;
    for (const [key, arr] of Object.entries(arraysOf(matrix))) {
      let data: Uint8Array;
      let type = typeOf(arr);
      if (key === 'values' && options.fp16) {
        const half = new Uint16Array(arr.length);
        for (let i = 0; i < arr.length; i++) {
          half[i] = toFloat16Bits(arr[i]);
          const err = Math.abs(fromFloat16Bits(half[i]) - arr[i]);
          if (err > fp16MaxError) fp16MaxError = err;
        }
        data = new Uint8Array(half.buffer);
        type = 'f16';
      } else data = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
      arrays[key] = place(data, type);
      bytes += data.byteLength;
    }
    const extra = matrix instanceof Float32Array ? {} : matrix.kind === 'nm' ? { n: matrix.n, m: matrix.m, indexBits: matrix.indexBits } : matrix.kind === 'block' ? { blockRows: matrix.blockRows, blockCols: matrix.blockCols } : {};
    tensors.push({ name, dims: [...w.dims], ...(w.scope && { scope: w.scope }), rows, cols, storage: choice.kind, valueType: options.fp16 ? 'float16' : 'float32', nonzeros: choice.nonzeros, ...extra, arrays });
    reportTensors.push({ name, storage: choice.kind, bytes, denseBytes: w.data.byteLength, nonzeros: choice.nonzeros });
  }
  const draft: SculptHeader = { format: 'sculpt', version: SCULPT_VERSION, producer: 'sculpt', onnx: onnxRef, tensors };
  // Section offsets depend on the header's length, which depends on the offsets' digits: iterate.
  let base = 0;
  let json = '';
  for (let i = 0; i < 4; i++) {
    const shift = (r: SectionRef): SectionRef => ({ ...r, offset: r.offset + base });
    const header: SculptHeader = { ...draft, onnx: shift(draft.onnx), tensors: draft.tensors.map((t) => ({ ...t, arrays: Object.fromEntries(Object.entries(t.arrays).map(([k, r]) => [k, shift(r)])) })) };
    json = JSON.stringify(header);
    const next = Math.ceil((16 + utf8.encode(json).length) / 8) * 8;
    if (next === base) break;
    base = next;
  }
  const headerBytes = utf8.encode(json);
  const prefix = new Uint8Array(base);
  prefix.set(utf8.encode('SCULPT'), 0);
  const dv = new DataView(prefix.buffer);
  dv.setUint16(6, SCULPT_VERSION, true);
  dv.setUint32(8, headerBytes.length, true);
  prefix.set(headerBytes, 16);
  const bytes = concat([prefix, ...sections]);
  return { bytes, report: { bytes: bytes.length, onnxBytes: stripped.length, tensors: reportTensors, fp16MaxError } };
}

export function readSculptHeader(bytes: Uint8Array, what = '.sculpt file'): SculptHeader {
  if (bytes.length < 16 || utf8Decode.decode(bytes.subarray(0, 6)) !== 'SCULPT') {
    throw new SculptError(`${what}: not a .sculpt container (missing SCULPT magic)`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint16(6, true);
  if (version !== SCULPT_VERSION) throw new SculptError(`${what}: container version ${version} is not supported (this sculpt reads version ${SCULPT_VERSION}); upgrade sculpt`);
  const len = dv.getUint32(8, true);
  if (16 + len > bytes.length) throw new SculptError(`${what}: truncated header`);
  let header: SculptHeader;
  try {
    header = JSON.parse(utf8Decode.decode(bytes.subarray(16, 16 + len))) as SculptHeader;
  } catch {
    throw new SculptError(`${what}: the header is not valid JSON; the file is damaged`);
  }
  const check = (r: SectionRef, label: string) => {
    if (!(r.offset >= 0 && r.length >= 0 && r.offset + r.length <= bytes.length)) throw new SculptError(`${what}: section ${label} lies outside the file; the file is truncated or damaged`);
  };
  check(header.onnx, 'onnx');
  for (const t of header.tensors) for (const [k, r] of Object.entries(t.arrays)) check(r, `${t.name}.${k}`);
  return header;
}

function section(bytes: Uint8Array, r: SectionRef): Float32Array | Uint32Array | Uint16Array | Uint8Array {
  const copy = bytes.slice(r.offset, r.offset + r.length);
  switch (r.type) {
    case 'f32': return new Float32Array(copy.buffer);
    case 'f16': {
      const h = new Uint16Array(copy.buffer);
      const out = new Float32Array(h.length);
      for (let i = 0; i < h.length; i++) out[i] = fromFloat16Bits(h[i]);
      return out;
    }
    case 'u32': return new Uint32Array(copy.buffer);
    case 'u16': return new Uint16Array(copy.buffer);
    case 'u8': return copy;
  }
}

/** A packed tensor in its stored form (dense tensors as their Float32Array). */
export function packedMatrix(bytes: Uint8Array, t: PackedTensor): SparseMatrix | Float32Array {
  const a = (k: string) => {
    const r = t.arrays[k];
    if (!r) throw new SculptError(`.sculpt file: tensor ${t.name} lacks its ${k} array; the file is damaged`);
    return section(bytes, r);
  };
  const { rows, cols } = t;
  switch (t.storage) {
    case 'dense': return a('values') as Float32Array;
    case 'csr': return { kind: 'csr', rows, cols, rowPtr: a('rowPtr') as Uint32Array, colIndex: a('colIndex') as Uint16Array | Uint32Array, values: a('values') as Float32Array };
    case 'bitmask': return { kind: 'bitmask', rows, cols, mask: a('mask') as Uint8Array, values: a('values') as Float32Array };
    case 'nm': return { kind: 'nm', rows, cols, n: t.n!, m: t.m!, indexBits: t.indexBits!, indices: a('indices') as Uint8Array, values: a('values') as Float32Array };
    case 'block': return { kind: 'block', rows, cols, blockRows: t.blockRows!, blockCols: t.blockCols!, rowPtr: a('rowPtr') as Uint32Array, blockCol: a('blockCol') as Uint16Array | Uint32Array, values: a('values') as Float32Array };
  }
}

/** The packed tensors as dense float32 arrays, by name. */
export function unpackWeights(bytes: Uint8Array): Map<string, WeightInput> {
  const header = readSculptHeader(bytes);
  const out = new Map<string, WeightInput>();
  for (const t of header.tensors) {
    const m = packedMatrix(bytes, t);
    out.set(t.name, { dims: t.dims, data: m instanceof Float32Array ? m : toDense(m), ...(t.scope && { scope: t.scope }) });
  }
  return out;
}

/** The container's ONNX model without its packed weights (as `packContainer` was given it). */
export function containerOnnx(bytes: Uint8Array): Uint8Array {
  const header = readSculptHeader(bytes);
  return bytes.subarray(header.onnx.offset, header.onnx.offset + header.onnx.length);
}
