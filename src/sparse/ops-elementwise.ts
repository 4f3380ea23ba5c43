/** Elementwise operators with NumPy broadcasting, activations and erf. */
import { erf, erf32 } from '../core/erf.js';
import { SculptError } from '../core/errors.js';
import type { GraphNode } from '../core/graph.js';
import { at, attrFloat, attrString, float, need, needValue, numeric, type Attrs, type OpFn } from './ops-common.js';
import { INT_RANGE, allocLike, floatTensor, size, strides, type DType, type Tensor } from './tensor.js';
import { binaryRows, clampArray, expArray, geluRows, reluArray } from './ops-vector.js';


export function broadcastDims(a: readonly number[], b: readonly number[], node: GraphNode): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new SculptError(`${at(node)} cannot broadcast [${a.join(', ')}] with [${b.join(', ')}]`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** For each output element, the flat index into a tensor of `dims` broadcast to `outDims`. */
export function broadcastIndex(dims: readonly number[], outDims: readonly number[]): Int32Array | null {
  const n = size(outDims);
  if (size(dims) === n) return null; // same element count under broadcasting means same layout
  const rank = outDims.length;
  const s = strides(dims);
  const eff = new Array<number>(rank).fill(0);
  for (let i = 0; i < dims.length; i++) eff[rank - dims.length + i] = dims[i] === 1 ? 0 : s[i];
  const idx = new Int32Array(n);
  const counter = new Array<number>(rank).fill(0);
  let off = 0;
  for (let k = 0; k < n; k++) {
    idx[k] = off;
    for (let d = rank - 1; d >= 0; d--) {
      counter[d]++;
      off += eff[d];
      if (counter[d] < outDims[d]) break;
      off -= eff[d] * counter[d];
      counter[d] = 0;
    }
  }
  return idx;
}

export type Binary = (x: number, y: number) => number;

/** `typeOfA`: the output takes the first input's type (Pow, PRelu), else float wins over integers. */
export function binary(f: Binary, intF?: Binary, outBool = false, typeOfA = false): OpFn {
  return (inputs, _attrs, node) => {
    const a = need(inputs[0], node, 0);
    const b = need(inputs[1], node, 1);
    const dims = broadcastDims(a.dims, b.dims, node);
    const isInt = typeOfA ? a.dtype !== 'float32' : a.dtype !== 'float32' && b.dtype !== 'float32';
    const dtype: DType = outBool ? 'bool' : isInt ? (a.dtype === 'bool' && b.dtype === 'bool' ? 'bool' : 'int64') : 'float32';
    const out = allocLike(dtype, dims);
    const o = out.data;
    const x = a.data, y = b.data;
    const fn = isInt && intF ? intF : isInt && !outBool ? (p: number, q: number) => Math.trunc(f(p, q)) : f;
    const n = o.length;
    const ia = broadcastIndex(a.dims, dims), ib = broadcastIndex(b.dims, dims);
    if (!ia && !ib) for (let i = 0; i < n; i++) o[i] = fn(x[i], y[i]);
    else if (!ia && y.length === 1) { const v = y[0]; for (let i = 0; i < n; i++) o[i] = fn(x[i], v); }
    else if (!ia) for (let i = 0; i < n; i++) o[i] = fn(x[i], y[ib![i]]);
    else if (!ib) for (let i = 0; i < n; i++) o[i] = fn(x[ia[i]], y[i]);
    else for (let i = 0; i < n; i++) o[i] = fn(x[ia[i]], y[ib![i]]);
    // An integer result keeps the ONNX type its inputs share (uint16 stays uint16 for CastLike, BitShift, …).
    const intType = dtype === 'int64' ? a.intType ?? b.intType : undefined;
    return [intType ? { ...out, intType } : out];
  };
}

export type Arithmetic = 'add' | 'sub' | 'mul' | 'div';

/** Elements from which float ops run in WebAssembly (below it, copying in and out costs more than it saves). */
export const VECTOR_MIN = 4096;
/** Elements up to which they do: beyond, the scratch copies (kept for later calls) would hold too much of wasm32's 4 GiB. */
export const VECTOR_MAX = 1 << 25;

/** Whether a float op over `n` elements runs in WebAssembly. */
export function vectorSized(n: number): boolean {
  return n >= VECTOR_MIN && n <= VECTOR_MAX;
}
const VECTOR_OP = { add: 'Add', sub: 'Sub', mul: 'Mul', div: 'Div' } as const;

type VecVec = (o: Float32Array, ob: number, x: Float32Array, xb: number, y: Float32Array, yb: number, n: number) => void;
type VecScalar = (o: Float32Array, ob: number, x: Float32Array, xb: number, v: number, n: number) => void;
type ScalarVec = (o: Float32Array, ob: number, v: number, y: Float32Array, yb: number, n: number) => void;

/** One loop per operator and operand shape, so that each stays monomorphic (a shared loop calling `f` per element is several times slower). */
const LOOPS: Readonly<Record<Arithmetic, { vv: VecVec; vs: VecScalar; sv: ScalarVec; f: Binary }>> = {
  add: {
    vv: (o, ob, x, xb, y, yb, n) => { for (let i = 0; i < n; i++) o[ob + i] = x[xb + i] + y[yb + i]; },
    vs: (o, ob, x, xb, v, n) => { for (let i = 0; i < n; i++) o[ob + i] = x[xb + i] + v; },
    sv: (o, ob, v, y, yb, n) => { for (let i = 0; i < n; i++) o[ob + i] = v + y[yb + i]; },
    f: (x, y) => x + y,
  },
  sub: {
    vv: (o, ob, x, xb, y, yb, n) => { for (let i = 0; i < n; i++) o[ob + i] = x[xb + i] - y[yb + i]; },
    vs: (o, ob, x, xb, v, n) => { for (let i = 0; i < n; i++) o[ob + i] = x[xb + i] - v; },
    sv: (o, ob, v, y, yb, n) => { for (let i = 0; i < n; i++) o[ob + i] = v - y[yb + i]; },
    f: (x, y) => x - y,
  },
  mul: {
    vv: (o, ob, x, xb, y, yb, n) => { for (let i = 0; i < n; i++) o[ob + i] = x[xb + i] * y[yb + i]; },
    vs: (o, ob, x, xb, v, n) => { for (let i = 0; i < n; i++) o[ob + i] = x[xb + i] * v; },
    sv: (o, ob, v, y, yb, n) => { for (let i = 0; i < n; i++) o[ob + i] = v * y[yb + i]; },
    f: (x, y) => x * y,
  },
  div: {
    vv: (o, ob, x, xb, y, yb, n) => { for (let i = 0; i < n; i++) o[ob + i] = x[xb + i] / y[yb + i]; },
    vs: (o, ob, x, xb, v, n) => { for (let i = 0; i < n; i++) o[ob + i] = x[xb + i] / v; },
    sv: (o, ob, v, y, yb, n) => { for (let i = 0; i < n; i++) o[ob + i] = v / y[yb + i]; },
    f: (x, y) => x / y,
  },
};

/**
 * How a float operand of an output seen as R rows of L (its last axis) is read: `full` (the
 * output's layout), `col` (one value per column, repeated on every row: a bias), `row` (one value
 * per row: a LayerNorm mean [.., S, 1]) or `scalar`; undefined for any other broadcast.
 */
function rowsView(dims: readonly number[], out: readonly number[]): 'full' | 'col' | 'row' | 'scalar' | undefined {
  const n = size(dims);
  const rank = out.length;
  const L = out[rank - 1];
  if (n === size(out)) return 'full';
  if (n === 1) return 'scalar';
  const padded = [...new Array<number>(rank - dims.length).fill(1), ...dims];
  if (n === L && padded[rank - 1] === L) return 'col';
  if (padded[rank - 1] === 1 && padded.slice(0, -1).every((d, i) => d === out[i])) return 'row';
  return undefined;
}

/**
 * Add, Sub, Mul and Div: float32 operands whose broadcast is by rows or columns of the output's
 * last axis (the shapes transformers and CNNs use) run in monomorphic loops; anything else goes
 * through `binary`. Same values either way (each element computed in double, stored as float32).
 */
export function arithmetic(op: Arithmetic, intF?: Binary): OpFn {
  const general = binary(LOOPS[op].f, intF);
  const { vv, vs, sv, f } = LOOPS[op];
  return (inputs, attrs, node) => {
    const a = need(inputs[0], node, 0);
    const b = need(inputs[1], node, 1);
    if (!(a.data instanceof Float32Array) || !(b.data instanceof Float32Array) || a.dtype !== 'float32' || b.dtype !== 'float32') return general(inputs, attrs, node);
    const dims = broadcastDims(a.dims, b.dims, node);
    const [ka, kb] = [rowsView(a.dims, dims), rowsView(b.dims, dims)];
    if (!ka || !kb || dims.length === 0) return general(inputs, attrs, node);
    const L = dims[dims.length - 1];
    const total = size(dims);
    const R = L === 0 ? 0 : total / L;
    // Large operands run in WebAssembly SIMD: the same float32 results (+ − × ÷ of two float32
    // values rounded once to float32 equal the double result rounded to float32).
    if (vectorSized(total)) return [floatTensor(dims, binaryRows(VECTOR_OP[op], a.data, ka, b.data, kb, R, L))];
    const o = new Float32Array(total);
    const x = a.data, y = b.data;
    for (let r = 0; r < R; r++) {
      const ob = r * L;
      const xv = ka === 'full' || ka === 'col';
      const yv = kb === 'full' || kb === 'col';
      const xb = ka === 'full' ? ob : 0, yb = kb === 'full' ? ob : 0;
      const xs = ka === 'row' ? x[r] : x[0], ys = kb === 'row' ? y[r] : y[0];
      if (xv && yv) vv(o, ob, x, xb, y, yb, L);
      else if (xv) vs(o, ob, x, xb, ys, L);
      else if (yv) sv(o, ob, xs, y, yb, L);
      else o.fill(f(xs, ys), ob, ob + L);
    }
    return [floatTensor(dims, o)];
  };
}

/** A function of each element; integer inputs stay integers (`intOk`), else they are refused. */
export function unary(f: (x: number) => number, intOk = false): OpFn {
  return (inputs, _attrs, node) => {
    const a = need(inputs[0], node, 0);
    if (intOk && a.dtype === 'int64') {
      const x = a.data, out = allocLike('int64', a.dims), o = out.data;
      for (let i = 0; i < x.length; i++) o[i] = f(x[i]);
      return [out];
    }
    const x = float(a, node);
    const o = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) o[i] = f(x[i]);
    return [floatTensor(a.dims, o)];
  };
}

/**
 * Relu with its own loop, and in WebAssembly SIMD from VECTOR_MIN elements: through `unary`, whose
 * one loop calls every unary op's function, the call is never inlined (4× slower on a ResNet's
 * activations), and the sign test is a branch the CPU mispredicts half the time.
 */
export const relu: OpFn = (inputs, _attrs, node) => {
  const x = float(need(inputs[0], node, 0), node);
  if (vectorSized(x.length)) return [floatTensor(inputs[0]!.dims, reluArray(x))];
  const o = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    o[i] = v > 0 ? v : 0;
  }
  return [floatTensor(inputs[0]!.dims, o)];
};

/** A boolean test of each float element (IsNaN, IsInf). */
export function test(f: (x: number) => boolean, attrsF?: (attrs: Attrs) => (x: number) => boolean): OpFn {
  return (inputs, attrs, node) => {
    const a = need(inputs[0], node, 0);
    const g = attrsF ? attrsF(attrs) : f;
    const out = allocLike('bool', a.dims);
    for (let i = 0; i < a.data.length; i++) out.data[i] = g(a.data[i]) ? 1 : 0;
    return [out];
  };
}

export { erf, erf32 };

/** Clip: bounds as inputs (opset ≥ 11) or the min/max attributes (before). */
export const clip: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const lo = inputs[1] ? inputs[1].data[0] : attrFloat(attrs, 'min', -Infinity);
  const hi = inputs[2] ? inputs[2].data[0] : attrFloat(attrs, 'max', Infinity);
  const x = numeric(a, node);
  // Float32 bounds are exact in the kernel (a float32 tensor's min and max are float32 too).
  if (x instanceof Float32Array && vectorSized(x.length) && Math.fround(lo) === lo && Math.fround(hi) === hi) return [floatTensor(a.dims, clampArray(x, lo, hi))];
  const out = allocLike(a.dtype, a.dims);
  const o = out.data;
  for (let i = 0; i < x.length; i++) o[i] = Math.min(Math.max(x[i], lo), hi);
  return [out];
};

export const gelu: OpFn = (inputs, attrs, node) => {
  const tanhApprox = attrString(attrs, 'approximate', 'none') === 'tanh';
  if (tanhApprox) return unary((x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))))(inputs, attrs, node);
  // Its own loop, so that erf32 is inlined (a shared loop calling a function per element is not).
  const a = need(inputs[0], node, 0);
  const x = float(a, node);
  if (vectorSized(x.length)) return [floatTensor(a.dims, geluRows(x, x.length))];
  const o = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    o[i] = 0.5 * v * (1 + erf32(v / Math.SQRT2));
  }
  return [floatTensor(a.dims, o)];
};

const expScalar = unary(Math.exp);

/** Exp: in WebAssembly for large float tensors (relative error about 1e-7), else Math.exp. */
export const exp: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  if (a.dtype === 'float32' && a.data instanceof Float32Array && vectorSized(a.data.length)) return [floatTensor(a.dims, expArray(a.data))];
  return expScalar(inputs, attrs, node);
};

/** Erf, in its own loop (see `gelu`). */
export const erfOp: OpFn = (inputs, _attrs, node) => {
  const a = need(inputs[0], node, 0);
  const x = float(a, node);
  const o = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) o[i] = erf32(x[i]);
  return [floatTensor(a.dims, o)];
};

export const leakyRelu: OpFn = (inputs, attrs, node) => {
  const alpha = attrFloat(attrs, 'alpha', 0.01);
  return unary((x) => (x >= 0 ? x : alpha * x))(inputs, attrs, node);
};

export const identity: OpFn = (inputs, _attrs, node) => [needValue(inputs[0], node, 0)];

export function withAttrs(make: (attrs: Attrs) => (x: number) => number): OpFn {
  return (inputs, attrs, node) => unary(make(attrs))(inputs, attrs, node);
}

/** Sum / Mean / Max / Min over any number of inputs, broadcasting. */
export function variadic(f: Binary, mean = false): OpFn {
  const pair = binary(f);
  return (inputs, attrs, node) => {
    const parts = inputs.filter((t): t is Tensor => t !== undefined);
    if (parts.length === 0) throw new SculptError(`${at(node)} has no inputs`);
    let acc = parts[0];
    for (let i = 1; i < parts.length; i++) acc = pair([acc, parts[i]], attrs, node)[0];
    if (mean) {
      const out = allocLike(acc.dtype, acc.dims);
      for (let i = 0; i < out.data.length; i++) out.data[i] = acc.data[i] / parts.length;
      return [out];
    }
    return [parts.length === 1 ? { ...acc } : acc];
  };
}

const preluPair = binary((x, slope) => (x >= 0 ? x : slope * x), undefined, false, true);
/** PRelu: slope broadcasts to x; a 1-D slope of x's channel count is per channel (as Keras and some exporters write it). */
export const prelu: OpFn = (inputs, attrs, node) => {
  const x = need(inputs[0], node, 0), slope = need(inputs[1], node, 1);
  const r = x.dims.length;
  if (slope.dims.length === 1 && r > 2 && slope.dims[0] === x.dims[1] && slope.dims[0] !== x.dims[r - 1] && slope.dims[0] !== 1) {
    const perChannel = { ...slope, dims: [slope.dims[0], ...new Array<number>(r - 2).fill(1)] };
    return preluPair([x, perChannel], attrs, node);
  }
  return preluPair(inputs, attrs, node);
};
export const logicalNot: OpFn = (inputs, _attrs, node) => {
  const a = need(inputs[0], node, 0);
  const out = allocLike('bool', a.dims);
  for (let i = 0; i < a.data.length; i++) out.data[i] = a.data[i] ? 0 : 1;
  return [out];
};

/** Operators by ONNX op type (default domain; Gelu also from com.microsoft). */

/** Two's-complement bitwise maths on integers held as doubles: 32-bit fast path, BigInt beyond. */
export function bitwise(f: (x: bigint, y: bigint) => bigint, f32: (x: number, y: number) => number): Binary {
  return (x, y) => (Math.abs(x) < 2 ** 31 && Math.abs(y) < 2 ** 31 ? f32(x, y) : Number(BigInt.asIntN(64, f(BigInt(x), BigInt(y)))));
}

/** BitwiseNot: ~x, within the range of the input's type (uint8 stays 0…255, uint16 0…65535). */
export const bitwiseNot: OpFn = (inputs, _attrs, node) => {
  const a = need(inputs[0], node, 0);
  const out = allocLike(a.dtype, a.dims);
  const top = a.intType && INT_RANGE[a.intType][0] === 0 ? INT_RANGE[a.intType][1] : undefined;
  for (let i = 0; i < a.data.length; i++) out.data[i] = top !== undefined ? top - a.data[i] : -a.data[i] - 1;
  return [a.intType ? { ...out, intType: a.intType } : out];
};

const UINT_BITS: Readonly<Record<string, number>> = { uint8: 8, uint16: 16, uint32: 32, uint64: 64 };

/** BitShift on unsigned integers: a left shift drops the bits past the type's width (64 when untyped). */
export const bitShift: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const bits = (a.intType && UINT_BITS[a.intType]) || 64;
  const left = attrString(attrs, 'direction', 'LEFT') === 'LEFT';
  const shl: Binary = (x, y) => {
    if (y >= bits) return 0;
    const v = x * 2 ** y;
    return v < 2 ** Math.min(bits, 53) ? v : Number(BigInt.asUintN(bits, BigInt(x) << BigInt(y)));
  };
  return binary(left ? shl : (x, y) => (y >= bits ? 0 : Math.floor(x / 2 ** y)))(inputs, attrs, node);
};
