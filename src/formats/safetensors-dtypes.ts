/**
 * Floating-point storage types and their conversion to and from float32 for scoring.
 * Named as safetensors names them; the ONNX reader maps its data types onto the same names.
 */

export type FloatDType = 'F32' | 'F16' | 'BF16' | 'F64';

export const FLOAT_DTYPE_BYTES: Readonly<Record<FloatDType, number>> = { F32: 4, F16: 2, BF16: 2, F64: 8 };

export function isFloatDType(dtype: string): dtype is FloatDType {
  return dtype === 'F32' || dtype === 'F16' || dtype === 'BF16' || dtype === 'F64';
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

// 2^-24 (smallest float16 subnormal), used to decode subnormals exactly.
const F16_SUBNORMAL = 2 ** -24;

export function float16ToFloat32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * F16_SUBNORMAL;
  if (exp === 0x1f) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** float32 → float16 bits, round to nearest even (as numpy and PyTorch do). */
export function float32ToFloat16(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let h = mant >>> shift;
    if (rest > half || (rest === half && (h & 1) === 1)) h++;
    return sign | h;
  }
  const rest = mant & 0x1fff;
  mant >>>= 13;
  if (rest > 0x1000 || (rest === 0x1000 && (mant & 1) === 1)) {
    mant++;
    if (mant === 0x400) {
      mant = 0;
      e++;
      if (e >= 0x1f) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | mant;
}

/** float32 → bfloat16 bits, round to nearest even. */
export function float32ToBfloat16(value: number): number {
  f32[0] = value;
  const x = u32[0];
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return ((x >>> 16) | 0x40) & 0xffff;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

// Lookup table: every float16 bit pattern decoded once (256 KiB), so bulk decoding is a gather.
let f16Table: Float32Array | undefined;
function float16Table(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) f16Table[i] = float16ToFloat32(i);
  }
  return f16Table;
}

/** A fresh copy of the first `length` bytes (Buffer#slice would share memory). */
function copyBytes(bytes: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  out.set(bytes.subarray(0, length));
  return out;
}

/**
 * Decodes `count` little-endian values of `dtype` from `bytes` into `out` (float32).
 * `bytes` may start at any alignment.
 */
export function decodeFloats(bytes: Uint8Array, dtype: FloatDType, out: Float32Array): void {
  const n = out.length;
  const aligned = bytes.byteOffset % FLOAT_DTYPE_BYTES[dtype] === 0;
  switch (dtype) {
    case 'F32':
      if (aligned) out.set(new Float32Array(bytes.buffer, bytes.byteOffset, n));
      else new Uint8Array(out.buffer, out.byteOffset, n * 4).set(bytes.subarray(0, n * 4));
      return;
    case 'F16':
    case 'BF16': {
      const src = aligned ? new Uint16Array(bytes.buffer, bytes.byteOffset, n) : new Uint16Array(copyBytes(bytes, n * 2).buffer);
      if (dtype === 'F16') {
        const table = float16Table();
        for (let i = 0; i < n; i++) out[i] = table[src[i]];
      } else {
        const bits = new Uint32Array(out.buffer, out.byteOffset, n);
        for (let i = 0; i < n; i++) bits[i] = src[i] << 16;
      }
      return;
    }
    case 'F64': {
      const src = aligned ? new Float64Array(bytes.buffer, bytes.byteOffset, n) : new Float64Array(copyBytes(bytes, n * 8).buffer);
      for (let i = 0; i < n; i++) out[i] = src[i];
      return;
    }
  }
}

/** Encodes float32 `values` as little-endian `dtype` into `bytes` (at any alignment). */
export function encodeFloats(values: Float32Array, dtype: FloatDType, bytes: Uint8Array): void {
  const n = values.length;
  if (dtype === 'F32') {
    bytes.set(new Uint8Array(values.buffer, values.byteOffset, n * 4));
    return;
  }
  const width = FLOAT_DTYPE_BYTES[dtype];
  const aligned = bytes.byteOffset % width === 0;
  const target = aligned ? bytes : new Uint8Array(n * width);
  switch (dtype) {
    case 'F16': {
      const dst = new Uint16Array(target.buffer, target.byteOffset, n);
      for (let i = 0; i < n; i++) dst[i] = float32ToFloat16(values[i]);
      break;
    }
    case 'BF16': {
      const dst = new Uint16Array(target.buffer, target.byteOffset, n);
      for (let i = 0; i < n; i++) dst[i] = float32ToBfloat16(values[i]);
      break;
    }
    case 'F64': {
      const dst = new Float64Array(target.buffer, target.byteOffset, n);
      for (let i = 0; i < n; i++) dst[i] = values[i];
      break;
    }
  }
  if (!aligned) bytes.set(target.subarray(0, n * width));
}

/**
 * Overwrites, in place, only the elements whose float32 value differs from what `bytes` decodes
 * to; unchanged elements keep their exact stored bits (float16/float64 survive a round trip).
 * Returns the number of elements written.
 */
export function encodeChangedFloats(values: Float32Array, dtype: FloatDType, bytes: Uint8Array): number {
  const n = values.length;
  if (dtype === 'F32') {
    encodeFloats(values, dtype, bytes);
    return n;
  }
  const old = new Float32Array(n);
  decodeFloats(bytes, dtype, old);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let written = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (Object.is(old[i], v)) continue;
    if (dtype === 'F16') view.setUint16(i * 2, float32ToFloat16(v), true);
    else if (dtype === 'BF16') view.setUint16(i * 2, float32ToBfloat16(v), true);
    else view.setFloat64(i * 8, v, true);
    written++;
  }
  return written;
}
