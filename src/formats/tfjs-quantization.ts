/**
 * TF.js weight quantization as the converter writes it in a weights manifest:
 * `{dtype: 'uint8' | 'uint16', scale, min}` (affine, v = q·scale + min, computed in float64 and
 * stored as float32, exactly as tfjs-core's decodeWeight does) and `{dtype: 'float16'}`; newer
 * converters add `original_dtype: 'float32'`. Pruning writes the code that dequantizes to exactly
 * 0 (float16: +0; affine: q = −min/scale when that is an integer code), so kept weights keep their
 * bytes and the quantization error of the pruned model is the original model's. A grid without an
 * exact 0 (un-nudged quantization) is refused rather than rounded: a pruned weight is exactly 0.
 */
import { SculptError } from '../core/errors.js';
import { decodeFloats } from './safetensors-dtypes.js';
import type { MaskLike } from './safetensors.js';

export interface TfjsQuantization {
  readonly dtype: 'uint8' | 'uint16' | 'float16';
  readonly scale?: number;
  readonly min?: number;
  /** The newer converters' `original_dtype` (the dtype the values dequantize to). */
  readonly originalDtype?: string;
}

/** Bytes per stored code. A Map: a dtype read from a file must not find `toString` or `constructor`. */
export const QUANT_BYTES: ReadonlyMap<string, number> = new Map([['uint8', 1], ['uint16', 2], ['float16', 2]]);

/** Parses an entry's `quantization` object; `bad` throws the file's one-line error. */
export function parseQuantization(q: unknown, name: string, bad: (why: string) => never): TfjsQuantization {
  if (typeof q !== 'object' || q === null) return bad(`weight ${name} has a quantization that is not an object`);
  const o = q as { dtype?: unknown; scale?: unknown; min?: unknown; original_dtype?: unknown };
  if (typeof o.dtype !== 'string' || !QUANT_BYTES.has(o.dtype)) bad(`weight ${name} has unknown quantization dtype ${String(JSON.stringify(o.dtype)).slice(0, 60)}`);
  const dtype = o.dtype as TfjsQuantization['dtype'];
  if (dtype !== 'float16' && (typeof o.scale !== 'number' || typeof o.min !== 'number' || !Number.isFinite(o.scale) || !Number.isFinite(o.min))) {
    bad(`weight ${name} is ${dtype}-quantized without finite numeric scale and min`);
  }
  if (o.original_dtype !== undefined && typeof o.original_dtype !== 'string') bad(`weight ${name} has a non-string quantization.original_dtype`);
  return {
    dtype,
    scale: o.scale as number | undefined,
    min: o.min as number | undefined,
    originalDtype: o.original_dtype as string | undefined,
  };
}

/** The stored code whose dequantized value is exactly 0, or why there is none. */
export function zeroCode(q: TfjsQuantization): { code: number } | { why: string } {
  if (q.dtype === 'float16') return { code: 0 };
  const scale = q.scale ?? 1;
  const min = q.min ?? 0;
  const max = q.dtype === 'uint8' ? 0xff : 0xffff;
  const guess = scale === 0 ? 0 : Math.round(-min / scale) + 0; // + 0: no -0 code
  for (const c of [guess, guess - 1, guess + 1]) {
    if (c >= 0 && c <= max && Math.fround(c * scale + min) === 0) return { code: c };
  }
  const where = scale === 0 ? `scale 0, min ${min}` : `−min/scale = ${(-min / scale).toPrecision(6)}`;
  return { why: `no ${q.dtype} code decodes to exactly 0 (${where})` };
}

/** Dequantizes `n` values from `src` (the stored bytes, any alignment) into `out`. */
export function dequantize(src: Uint8Array, q: TfjsQuantization, n: number, out: Float32Array): void {
  if (q.dtype === 'float16') {
    decodeFloats(src.byteOffset % 2 === 0 ? src : src.slice(), 'F16', out);
    return;
  }
  const dv = new DataView(src.buffer, src.byteOffset, src.length);
  const scale = q.scale ?? 1;
  const min = q.min ?? 0;
  if (q.dtype === 'uint8') for (let i = 0; i < n; i++) out[i] = src[i] * scale + min;
  else for (let i = 0; i < n; i++) out[i] = dv.getUint16(i * 2, true) * scale + min;
}

/**
 * Writes the zero code into every element `mask` prunes (`name` and `file` name them in errors).
 * Refuses (SculptError) when the mask prunes something and the quantization has no exact zero.
 */
export function writeQuantizedZeros(bytes: Uint8Array, q: TfjsQuantization, n: number, mask: MaskLike, name: string, file: string): void {
  if (mask.length !== undefined && mask.length !== n) {
    throw new SculptError(`${file}: mask for ${name} covers ${mask.length} elements, the tensor has ${n}`);
  }
  const z = zeroCode(q);
  if ('why' in z) {
    let pruned = 0;
    for (let i = 0; i < n && pruned === 0; i++) if (!mask.get(i)) pruned++;
    if (pruned === 0) return;
    throw new SculptError(`${file}: weight ${name} is ${q.dtype}-quantized and ${z.why}, so its pruned weights cannot be written as 0; leave it out with --exclude ${name}`);
  }
  if (q.dtype === 'uint8') {
    for (let i = 0; i < n; i++) if (!mask.get(i)) bytes[i] = z.code;
    return;
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  for (let i = 0; i < n; i++) if (!mask.get(i)) dv.setUint16(i * 2, z.code, true);
}
