/**
 * NumPy datasets: `npy:X.npy[,Y.npy]` and `npz:FILE.npz` (a zip of .npy members, stored or
 * deflated, read with fflate). Float arrays become float32 inputs, integer arrays int32 (token
 * ids, labels); labels must be integers ≥ 0 of shape [N] (or [N, 1]).
 */
import { readFileSync } from 'node:fs';
import { unzipSync } from 'fflate';
import { SculptError } from '../../core/errors.js';
import type { DatasetReader, ExampleSet } from './types.js';

export interface NpyArray {
  readonly dims: readonly number[];
  readonly data: Float32Array | Int32Array;
  /** The stored dtype (`<f4`, `<i8`, ...). */
  readonly descr: string;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
const ITEM: Record<string, number> = { f2: 2, f4: 4, f8: 8, i1: 1, i2: 2, i4: 4, i8: 8, u1: 1, u2: 2, u4: 4, u8: 8, b1: 1 };

function half(bits: number): number {
  const s = bits & 0x8000 ? -1 : 1;
  const e = (bits >> 10) & 0x1f;
  const f = bits & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** Parses `.npy` bytes (versions 1–3, C order, little-endian). `what` names the file in errors. */
export function parseNpyArray(bytes: Uint8Array, what: string): NpyArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw new SculptError(`${what}: not a NumPy .npy file (missing \\x93NUMPY magic)`);
  const major = bytes[6];
  if (major < 1 || major > 3) throw new SculptError(`${what}: .npy format version ${major} is not supported (1 to 3 are)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const start = major === 1 ? 10 : 12;
  const headerLen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  if (start + headerLen > bytes.length) throw new SculptError(`${what}: truncated .npy header`);
  const header = new TextDecoder('latin1').decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw new SculptError(`${what}: malformed .npy header`);
  if (fortran === 'True') throw new SculptError(`${what}: a Fortran-order array; save it with np.ascontiguousarray`);
  const dims = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) throw new SculptError(`${what}: bad shape (${shapeText})`);
  const kind = descr.replace(/^[<|=]/, '');
  const item = ITEM[kind];
  if (!item || (descr.startsWith('>') && item > 1)) {
    throw new SculptError(`${what}: dtype ${descr} is not supported; save as little-endian float16/32/64, int8-64, uint8-64 or bool`);
  }
  const n = dims.reduce((a, b) => a * b, 1);
  const offset = start + headerLen;
  if (offset + n * item > bytes.length) throw new SculptError(`${what}: shape (${dims.join(', ')}) of ${descr} needs ${n * item} data bytes, the file has ${bytes.length - offset}`);
  const at = (i: number): number => offset + i * item;
  if (kind.startsWith('f')) {
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = kind === 'f4' ? dv.getFloat32(at(i), true) : kind === 'f8' ? dv.getFloat64(at(i), true) : half(dv.getUint16(at(i), true));
    return { dims, data, descr };
  }
  const data = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const o = at(i);
    const v = kind === 'i8' ? Number(dv.getBigInt64(o, true)) : kind === 'u8' ? Number(dv.getBigUint64(o, true))
      : kind === 'i4' ? dv.getInt32(o, true) : kind === 'u4' ? dv.getUint32(o, true) : kind === 'i2' ? dv.getInt16(o, true)
        : kind === 'u2' ? dv.getUint16(o, true) : kind === 'i1' ? dv.getInt8(o) : dv.getUint8(o);
    if (v > 0x7fffffff || v < -0x80000000) throw new SculptError(`${what}: value ${v} at index ${i} does not fit int32`);
    data[i] = v;
  }
  return { dims, data, descr };
}

function readBytes(path: string, what: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new SculptError(`${what}: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** Inputs and labels as an ExampleSet; `what` names the files in errors. */
export function arraysToExamples(kind: string, source: string, x: NpyArray, y: NpyArray | undefined, what: { x: string; y?: string }, limit?: number): ExampleSet {
  if (x.dims.length < 1 || x.dims[0] === 0) throw new SculptError(`${what.x}: empty array (shape (${x.dims.join(', ')})); the dataset needs at least one example`);
  const total = x.dims[0];
  const count = Math.min(total, limit ?? Infinity);
  const sampleShape = x.dims.slice(1);
  const per = sampleShape.reduce((a, b) => a * b, 1);
  const inputs = x.data.subarray(0, count * per);
  let labels: Int32Array | undefined;
  let classes: number | undefined;
  if (y) {
    if (!(y.dims.length === 1 || (y.dims.length === 2 && y.dims[1] === 1))) throw new SculptError(`${what.y}: labels must have shape (N,), got (${y.dims.join(', ')})`);
    if (y.dims[0] !== total) throw new SculptError(`${what.y}: ${y.dims[0]} labels for ${total} examples in ${what.x}`);
    if (!(y.data instanceof Int32Array)) {
      for (let i = 0; i < y.data.length; i++) if (!Number.isInteger(y.data[i])) throw new SculptError(`${what.y}: label ${y.data[i]} at index ${i} is not an integer class index`);
    }
    labels = Int32Array.from(y.data.subarray(0, count));
    let max = -1;
    for (let i = 0; i < labels.length; i++) {
      if (labels[i] < 0) throw new SculptError(`${what.y}: label ${labels[i]} at index ${i} is out of range; class indices start at 0`);
      if (labels[i] > max) max = labels[i];
    }
    classes = max + 1;
  }
  return { kind, source, count, sampleShape, inputs, labels, classes, notes: [] };
}

export const npyReader: DatasetReader = {
  kind: 'npy',
  usage: 'npy:X.npy[,Y.npy]',
  describe: 'NumPy arrays: inputs [N, ...] and optional integer labels [N]',
  open(path, opts, source) {
    const files = path.split(',');
    if (files.length > 2 || files.some((f) => f === '')) throw new SculptError(`${source}: give npy:X.npy or npy:X.npy,Y.npy`);
    const x = parseNpyArray(readBytes(files[0], source), files[0]);
    const y = files[1] === undefined ? undefined : parseNpyArray(readBytes(files[1], source), files[1]);
    return arraysToExamples('npy', source, x, y, { x: files[0], y: files[1] }, opts.limit);
  },
};

const X_KEYS = ['x', 'X', 'inputs', 'input', 'images', 'data', 'features', 'input_ids', 'arr_0'];
const Y_KEYS = ['y', 'Y', 'labels', 'label', 'targets', 'target', 'arr_1'];

export const npzReader: DatasetReader = {
  kind: 'npz',
  usage: 'npz:FILE.npz',
  describe: 'a NumPy .npz with inputs (x, inputs, images, arr_0, ...) and labels (y, labels, arr_1, ...)',
  open(path, opts, source) {
    let members: Record<string, Uint8Array>;
    try {
      members = unzipSync(readBytes(path, source));
    } catch (e) {
      if (e instanceof SculptError) throw e;
      throw new SculptError(`${path}: not a readable .npz (zip) file (${(e as Error).message})`);
    }
    const names = Object.keys(members).filter((n) => n.endsWith('.npy')).map((n) => n.slice(0, -4));
    const xKey = X_KEYS.find((k) => names.includes(k));
    if (xKey === undefined) throw new SculptError(`${path}: no inputs array; name it x (or inputs, images, arr_0), it holds ${names.join(', ') || 'no arrays'}`);
    const yKey = Y_KEYS.find((k) => names.includes(k));
    const x = parseNpyArray(members[`${xKey}.npy`], `${path}:${xKey}`);
    const y = yKey === undefined ? undefined : parseNpyArray(members[`${yKey}.npy`], `${path}:${yKey}`);
    const set = arraysToExamples('npz', source, x, y, { x: `${path}:${xKey}`, y: `${path}:${yKey}` }, opts.limit);
    return { ...set, notes: [`${path}: inputs '${xKey}'${yKey ? `, labels '${yKey}'` : ', no labels'}`] };
  },
};
