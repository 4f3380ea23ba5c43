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
import { escapeUnprintable, SculptError } from '../core/errors.js';
import { checkExpansion } from '../core/limits.js';
import { parseStrictJson } from '../core/strict-json.js';
import { chooseFormat, nmIndexBits, toDense, toSparse, type FormatOptions, type SparseMatrix, type StorageKind } from './formats.js';

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
  let json: unknown;
  try {
    json = parseStrictJson(new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(16, 16 + len)));
  } catch (e) {
    throw new SculptError(`${what}: the header is not valid JSON (${String((e as Error).message).split('\n')[0].slice(0, 80)}); the file is damaged`);
  }
  return validateHeader(json, bytes, what);
}

const ELEMENT_BYTES: Readonly<Record<ArrayType, number>> = { f32: 4, f16: 2, u32: 4, u16: 2, u8: 1 };

/** The arrays each storage holds, and the section types each may have. */
const STORAGE_ARRAYS: ReadonlyMap<StorageKind, Readonly<Record<string, readonly ArrayType[]>>> = new Map<StorageKind, Readonly<Record<string, readonly ArrayType[]>>>([
  ['dense', { values: ['f32', 'f16'] }],
  ['csr', { rowPtr: ['u32'], colIndex: ['u16', 'u32'], values: ['f32', 'f16'] }],
  ['bitmask', { mask: ['u8'], values: ['f32', 'f16'] }],
  ['nm', { indices: ['u8'], values: ['f32', 'f16'] }],
  ['block', { rowPtr: ['u32'], blockCol: ['u16', 'u32'], values: ['f32', 'f16'] }],
]);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * Checks the header against the schema of version 1 before anything is read: field types, every
 * section inside the file with a whole number of elements of an allowed type, shapes that agree
 * with each storage's array lengths, and dense sizes within the expansion budget (core/limits.ts).
 * Contents (row pointers, column and in-group indices) are checked when a tensor is read.
 */
function validateHeader(json: unknown, bytes: Uint8Array, what: string): SculptHeader {
  const bad = (why: string): never => {
    throw new SculptError(`${what}: invalid header (${escapeUnprintable(why)}); the file is damaged or was not written by sculpt`);
  };
  if (!isObject(json)) return bad('not a JSON object');
  if (json.format !== 'sculpt') bad('format is not "sculpt"');
  if (json.version !== SCULPT_VERSION) bad(`header version ${String(json.version).slice(0, 20)} differs from the container's version ${SCULPT_VERSION}`);
  if (json.producer !== undefined && typeof json.producer !== 'string') bad('producer is not a string');
  const sectionRef = (r: unknown, label: string, types: readonly ArrayType[]): SectionRef => {
    if (!isObject(r) || !isCount(r.offset) || !isCount(r.length) || typeof r.type !== 'string') return bad(`section ${label} is not {offset, length, type}`);
    if (!types.includes(r.type as ArrayType)) bad(`section ${label} has type ${r.type.slice(0, 20)}, expected ${types.join(' or ')}`);
    const type = r.type as ArrayType;
    if (r.offset + r.length > bytes.length) bad(`section ${label} lies outside the file`);
    if (r.length % ELEMENT_BYTES[type] !== 0) bad(`section ${label} has ${r.length} bytes, not a whole number of ${type} elements`);
    return { offset: r.offset, length: r.length, type };
  };
  const onnx = sectionRef(json.onnx, 'onnx', ['u8']);
  if (!Array.isArray(json.tensors)) return bad('tensors is not a list');
  const names = new Set<string>();
  const tensors = json.tensors.map((t: unknown, i: number): PackedTensor => {
    if (!isObject(t) || typeof t.name !== 'string' || t.name === '') return bad(`tensors[${i}] has no name`);
    const name = t.name;
    const label = `tensor ${name.length > 60 ? `${name.slice(0, 57)}...` : name}`;
    if (names.has(name)) bad(`${label} is listed twice`);
    names.add(name);
    if (t.scope !== undefined && typeof t.scope !== 'string') bad(`${label} has a scope that is not a string`);
    if (!Array.isArray(t.dims) || t.dims.length > 64 || !t.dims.every(isCount)) return bad(`${label} has invalid dims`);
    const dims = t.dims as number[];
    const [rows, cols] = matrixShape(dims);
    if (t.rows !== rows || t.cols !== cols) bad(`${label} claims a [${String(t.rows)}, ${String(t.cols)}] matrix, but its dims make it [${rows}, ${cols}]`);
    const storage = t.storage as StorageKind;
    const arrays = typeof storage === 'string' ? STORAGE_ARRAYS.get(storage) : undefined;
    if (!arrays) return bad(`${label} has unknown storage ${String(t.storage).slice(0, 20)}`);
    if (t.valueType !== 'float32' && t.valueType !== 'float16') bad(`${label} has valueType ${String(t.valueType).slice(0, 20)}, not float32 or float16`);
    if (!isCount(t.nonzeros)) bad(`${label} has an invalid nonzeros count`);
    if (!isObject(t.arrays)) return bad(`${label} has no arrays`);
    const refs: Record<string, SectionRef> = {};
    for (const key of Object.keys(t.arrays)) if (!Object.hasOwn(arrays, key)) bad(`${label} has an unexpected array ${key.slice(0, 20)} for ${storage} storage`);
    for (const [key, types] of Object.entries(arrays)) refs[key] = sectionRef(t.arrays[key], `${name}.${key}`, types);
    if ((refs.values.type === 'f16') !== (t.valueType === 'float16')) bad(`${label} has valueType ${t.valueType} but ${refs.values.type} values`);
    const count = (key: string) => refs[key].length / ELEMENT_BYTES[refs[key].type];
    const values = count('values');
    // The dense matrix this tensor unpacks to: within the budget of what the file stores for it.
    const stored = Object.values(refs).reduce((a, r) => a + r.length, 0);
    checkExpansion(`${what}: ${escapeUnprintable(label)} of dims [${dims.slice(0, 8).join(', ')}]`, rows * cols * 4, stored);
    const extra: { n?: number; m?: number; indexBits?: number; blockRows?: number; blockCols?: number } = {};
    switch (storage) {
      case 'dense':
        if (values !== rows * cols) bad(`${label} stores ${values} dense values for a [${rows}, ${cols}] matrix`);
        break;
      case 'csr':
        if (count('rowPtr') !== rows + 1) bad(`${label} has ${count('rowPtr')} row pointers for ${rows} rows`);
        if (count('colIndex') !== values || values !== t.nonzeros) bad(`${label} has ${count('colIndex')} column indices and ${values} values for ${t.nonzeros} nonzeros`);
        if (refs.colIndex.type === 'u16' && cols > 0x10000) bad(`${label} has 16-bit column indices for ${cols} columns`);
        break;
      case 'bitmask':
        if (count('mask') !== Math.ceil((rows * cols) / 8)) bad(`${label} has a ${count('mask')}-byte mask for ${rows * cols} elements`);
        if (values !== t.nonzeros) bad(`${label} has ${values} values for ${t.nonzeros} nonzeros`);
        break;
      case 'nm': {
        const { n, m, indexBits } = t;
        if (!Number.isInteger(n) || !Number.isInteger(m) || (n as number) < 1 || (m as number) < 2 || (n as number) > (m as number) || (m as number) > 256) {
          return bad(`${label} has an invalid N:M pattern ${String(n)}:${String(m)}`);
        }
        if (indexBits !== nmIndexBits(m as number)) bad(`${label} has ${String(indexBits)}-bit indices, ${nmIndexBits(m as number)} expected for M=${m}`);
        const slots = rows * Math.ceil(cols / (m as number)) * (n as number);
        if (values !== slots) bad(`${label} has ${values} values for ${slots} N:M slots`);
        if (count('indices') !== Math.ceil((slots * (indexBits as number)) / 8)) bad(`${label} has ${count('indices')} index bytes for ${slots} N:M slots`);
        Object.assign(extra, { n, m, indexBits });
        break;
      }
      case 'block': {
        const { blockRows, blockCols } = t;
        if (!Number.isSafeInteger(blockRows) || !Number.isSafeInteger(blockCols) || (blockRows as number) < 1 || (blockCols as number) < 1) {
          return bad(`${label} has an invalid block shape ${String(blockRows)}×${String(blockCols)}`);
        }
        const br = blockRows as number;
        const bc = blockCols as number;
        if (count('rowPtr') !== Math.ceil(rows / br) + 1) bad(`${label} has ${count('rowPtr')} block-row pointers for ${Math.ceil(rows / br)} block rows`);
        if (values !== count('blockCol') * br * bc) bad(`${label} has ${values} values for ${count('blockCol')} blocks of ${br}×${bc}`);
        if (refs.blockCol.type === 'u16' && Math.ceil(cols / bc) > 0x10000) bad(`${label} has 16-bit block columns for ${Math.ceil(cols / bc)} block columns`);
        Object.assign(extra, { blockRows: br, blockCols: bc });
        break;
      }
    }
    return {
      name, dims, ...(typeof t.scope === 'string' && t.scope !== '' && { scope: t.scope }), rows, cols, storage,
      valueType: t.valueType as PackedTensor['valueType'], nonzeros: t.nonzeros as number, ...extra, arrays: refs,
    };
  });
  return { format: 'sculpt', version: SCULPT_VERSION, producer: typeof json.producer === 'string' ? json.producer : '', onnx, tensors };
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

/**
 * A packed tensor in its stored form (dense tensors as their Float32Array), `t` as
 * `readSculptHeader` returned it. Row pointers, column, block and in-group indices are checked, so
 * a damaged file cannot make a reader write outside a row or loop over a claimed billion entries.
 */
export function packedMatrix(bytes: Uint8Array, t: PackedTensor, what = '.sculpt file'): SparseMatrix | Float32Array {
  const a = (k: string) => {
    const r = t.arrays[k];
    if (!r) throw new SculptError(`${what}: tensor ${escapeUnprintable(t.name)} lacks its ${k} array; the file is damaged`);
    return section(bytes, r);
  };
  const damaged = (why: string): never => {
    throw new SculptError(`${what}: tensor ${escapeUnprintable(t.name)} ${why}; the file is damaged`);
  };
  const { rows, cols } = t;
  switch (t.storage) {
    case 'dense': return a('values') as Float32Array;
    case 'csr': {
      const rowPtr = a('rowPtr') as Uint32Array;
      const colIndex = a('colIndex') as Uint16Array | Uint32Array;
      checkRowPointers(rowPtr, colIndex.length, damaged);
      for (let k = 0; k < colIndex.length; k++) if (colIndex[k] >= cols) damaged(`has column index ${colIndex[k]} outside its ${cols} columns`);
      return { kind: 'csr', rows, cols, rowPtr, colIndex, values: a('values') as Float32Array };
    }
    case 'bitmask': {
      const mask = a('mask') as Uint8Array;
      let set = 0;
      for (let i = 0; i < rows * cols; i++) set += (mask[i >>> 3] >>> (i & 7)) & 1;
      const values = a('values') as Float32Array;
      if (set !== values.length) damaged(`has ${set} mask bits set for ${values.length} values`);
      return { kind: 'bitmask', rows, cols, mask, values };
    }
    case 'nm': {
      const n = t.n!;
      const m = t.m!;
      const indexBits = t.indexBits!;
      const indices = a('indices') as Uint8Array;
      const groups = Math.ceil(cols / m);
      for (let slot = 0; slot < rows * groups * n; slot++) {
        const g = Math.floor(slot / n) % groups;
        let j = 0;
        for (let b = 0; b < indexBits; b++) j |= ((indices[((slot * indexBits) + b) >>> 3] >>> (((slot * indexBits) + b) & 7)) & 1) << b;
        if (j >= Math.min(m, cols - g * m)) damaged(`has in-group index ${j} outside its group of ${Math.min(m, cols - g * m)}`);
      }
      return { kind: 'nm', rows, cols, n, m, indexBits, indices, values: a('values') as Float32Array };
    }
    case 'block': {
      const rowPtr = a('rowPtr') as Uint32Array;
      const blockCol = a('blockCol') as Uint16Array | Uint32Array;
      checkRowPointers(rowPtr, blockCol.length, damaged);
      const blockCols = Math.ceil(cols / t.blockCols!);
      for (let k = 0; k < blockCol.length; k++) if (blockCol[k] >= blockCols) damaged(`has block column ${blockCol[k]} outside its ${blockCols} block columns`);
      return { kind: 'block', rows, cols, blockRows: t.blockRows!, blockCols: t.blockCols!, rowPtr, blockCol, values: a('values') as Float32Array };
    }
  }
}

/** Row pointers start at 0, never decrease and end at the number of stored entries. */
function checkRowPointers(rowPtr: Uint32Array, entries: number, damaged: (why: string) => never): void {
  if (rowPtr[0] !== 0) damaged(`has a first row pointer ${rowPtr[0]}, not 0`);
  for (let r = 1; r < rowPtr.length; r++) if (rowPtr[r] < rowPtr[r - 1]) damaged(`has row pointers that decrease at row ${r}`);
  if (rowPtr[rowPtr.length - 1] !== entries) damaged(`has a last row pointer ${rowPtr[rowPtr.length - 1]} for ${entries} stored entries`);
}

/** The packed tensors as dense float32 arrays, by name. */
export function unpackWeights(bytes: Uint8Array, what = '.sculpt file'): Map<string, WeightInput> {
  const header = readSculptHeader(bytes, what);
  const out = new Map<string, WeightInput>();
  for (const t of header.tensors) {
    const m = packedMatrix(bytes, t, what);
    out.set(t.name, { dims: t.dims, data: m instanceof Float32Array ? m : toDense(m), ...(t.scope && { scope: t.scope }) });
  }
  return out;
}

/** The container's ONNX model without its packed weights (as `packContainer` was given it). */
export function containerOnnx(bytes: Uint8Array): Uint8Array {
  const header = readSculptHeader(bytes);
  return bytes.subarray(header.onnx.offset, header.onnx.offset + header.onnx.length);
}
