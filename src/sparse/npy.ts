/**
 * NumPy `.npy` in and out for `sculpt run` (bytes only, no file system, so it runs in browsers):
 * format versions 1.0–3.0, C order, little-endian float32/float64/float16, int8–int64, uint8,
 * bool. Floats become float32 tensors, integers int64 tensors, bool stays bool.
 */
import { SculptError } from '../core/errors.js';
import { shapeText } from '../core/limits.js';
import { fromFloat16Bits } from './container.js';
import type { Tensor } from './tensor.js';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** Bytes per element by dtype code. A Map: a descr read from a file must not find `constructor`. */
const ITEM_SIZE: ReadonlyMap<string, number> = new Map([
  ['f4', 4], ['f8', 8], ['f2', 2], ['i1', 1], ['i2', 2], ['i4', 4], ['i8', 8], ['u1', 1], ['u2', 2], ['u4', 4], ['b1', 1],
]);

/** Arrays of more dimensions are refused (NumPy's own limit is 64). */
const MAX_RANK = 64;

/**
 * The header's Python dict literal, parsed as NumPy writes it and nothing looser: exactly the keys
 * descr (a string), fortran_order (True or False) and shape (a tuple of non-negative integers), each
 * once, in any order, with an optional trailing comma.
 */
function parseHeaderDict(header: string, what: string): { descr: string; fortran: boolean; dims: number[] } {
  const bad = (why: string): never => {
    const shown = header.trim();
    throw new SculptError(`${what}: malformed header (${why}): ${shown.length > 80 ? `${shown.slice(0, 77)}...` : shown}`);
  };
  let p = 0;
  const ws = () => {
    while (p < header.length && (header[p] === ' ' || header[p] === '\n' || header[p] === '\t' || header[p] === '\r')) p++;
  };
  const eat = (c: string): boolean => {
    ws();
    if (header[p] !== c) return false;
    p++;
    return true;
  };
  // Sticky regexes at p: no copies of the rest of the header (it may be megabytes long).
  const match = (re: RegExp): RegExpExecArray | null => {
    re.lastIndex = p;
    return re.exec(header);
  };
  const quoted = (): string => {
    ws();
    const q = header[p];
    if (q !== "'" && q !== '"') bad('expected a quoted string');
    const end = header.indexOf(q, p + 1);
    if (end < 0) bad('unterminated string');
    const text = header.slice(p + 1, end);
    p = end + 1;
    return text;
  };
  if (!eat('{')) bad('not a dict');
  const seen = new Map<string, unknown>();
  while (!eat('}')) {
    const key = quoted();
    if (!eat(':')) bad(`no ':' after '${key}'`);
    ws();
    let value: unknown;
    if (key === 'descr') value = quoted();
    else if (key === 'fortran_order') {
      const m = match(/True|False/y);
      if (!m) bad('fortran_order is not True or False');
      value = m![0] === 'True';
      p += m![0].length;
    } else if (key === 'shape') {
      if (!eat('(')) bad('shape is not a tuple');
      const dims: number[] = [];
      while (!eat(')')) {
        ws();
        const m = match(/(\d+)L?/y);
        if (!m) bad('shape holds something other than non-negative integers');
        if (dims.length >= MAX_RANK) bad(`more than ${MAX_RANK} dimensions`);
        const d = Number(m![1]);
        if (!Number.isSafeInteger(d)) bad(`dimension ${m![1]} is too large`);
        dims.push(d);
        p += m![0].length;
        if (!eat(',')) {
          if (!eat(')')) bad('shape entries are not separated by commas');
          break;
        }
      }
      value = dims;
    } else bad(`unexpected key '${key}'`);
    if (seen.has(key)) bad(`key '${key}' appears twice`);
    seen.set(key, value);
    if (!eat(',')) {
      if (!eat('}')) bad('entries are not separated by commas');
      break;
    }
  }
  ws();
  if (p !== header.length) bad('text after the dict');
  if (!seen.has('descr') || !seen.has('fortran_order') || !seen.has('shape')) bad('it needs descr, fortran_order and shape');
  return { descr: seen.get('descr') as string, fortran: seen.get('fortran_order') as boolean, dims: seen.get('shape') as number[] };
}

export function parseNpy(bytes: Uint8Array, what = '.npy file'): Tensor {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw new SculptError(`${what}: not a NumPy .npy file (missing \\x93NUMPY magic)`);
  const major = bytes[6];
  if (major < 1 || major > 3) throw new SculptError(`${what}: .npy format version ${major}.${bytes[7]} is not supported (1.0 to 3.0 are)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const start = major === 1 ? 10 : 12;
  if (bytes.length < start) throw new SculptError(`${what}: truncated header`);
  const headerLen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  if (start + headerLen > bytes.length) throw new SculptError(`${what}: truncated header`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, start + headerLen));
  const { descr, fortran, dims } = parseHeaderDict(header, what);
  if (fortran) throw new SculptError(`${what}: Fortran-order arrays are not supported; save with np.ascontiguousarray`);
  const n = dims.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(n)) throw new SculptError(`${what}: shape ${shapeText(dims)} has more elements than sculpt can address`);
  const kind = descr.replace(/^[<|=]/, '');
  if (descr.startsWith('>') && !/^>[iuf]1$/.test(descr)) throw new SculptError(`${what}: big-endian dtype ${descr} is not supported; save with .astype('<${descr.slice(1)}')`);
  const bytesPer = ITEM_SIZE.get(kind);
  if (!bytesPer) throw new SculptError(`${what}: dtype ${descr} is not supported (float16/32/64, int8-64, uint8-32, bool are)`);
  const offset = start + headerLen;
  if (offset + n * bytesPer > bytes.length) throw new SculptError(`${what}: holds ${bytes.length - offset} data bytes, shape ${shapeText(dims)} of ${descr} needs ${n * bytesPer}`);
  const get = (i: number): number => {
    const o = offset + i * bytesPer;
    switch (kind) {
      case 'f4': return dv.getFloat32(o, true);
      case 'f8': return dv.getFloat64(o, true);
      case 'f2': return fromFloat16Bits(dv.getUint16(o, true));
      case 'i1': return dv.getInt8(o);
      case 'i2': return dv.getInt16(o, true);
      case 'i4': return dv.getInt32(o, true);
      case 'i8': return Number(dv.getBigInt64(o, true));
      case 'u2': return dv.getUint16(o, true);
      case 'u4': return dv.getUint32(o, true);
      default: return dv.getUint8(o);
    }
  };
  if (kind === 'b1') {
    const data = new Uint8Array(n);
    for (let i = 0; i < n; i++) data[i] = get(i) ? 1 : 0;
    return { dtype: 'bool', dims, data };
  }
  if (kind.startsWith('f')) {
    const data = new Float32Array(n);
    if (kind === 'f4' && (bytes.byteOffset + offset) % 4 === 0) data.set(new Float32Array(bytes.buffer, bytes.byteOffset + offset, n));
    else for (let i = 0; i < n; i++) data[i] = get(i);
    return { dtype: 'float32', dims, data };
  }
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) data[i] = get(i);
  return { dtype: 'int64', dims, data };
}

/** A version 1.0 `.npy` file: float32 as '<f4', int64 as '<i8', bool as '|b1'. */
export function writeNpy(t: Tensor): Uint8Array {
  const descr = t.dtype === 'float32' ? '<f4' : t.dtype === 'int64' ? '<i8' : '|b1';
  const shape = t.dims.length === 1 ? `(${t.dims[0]},)` : `(${t.dims.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  // Pad with spaces so that the data starts on a 64-byte boundary, newline last (as NumPy does).
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, ' ') + '\n';
  const itemBytes = t.dtype === 'float32' ? 4 : t.dtype === 'int64' ? 8 : 1;
  const out = new Uint8Array(total + t.data.length * itemBytes);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  const dv = new DataView(out.buffer);
  dv.setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  if (t.dtype === 'float32') out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), total);
  else if (t.dtype === 'int64') for (let i = 0; i < t.data.length; i++) dv.setBigInt64(total + 8 * i, BigInt(t.data[i]), true);
  else out.set(t.data as Uint8Array, total);
  return out;
}
