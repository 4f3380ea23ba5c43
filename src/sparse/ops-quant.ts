/**
 * Quantized inference as onnxruntime's quantizers write it: QuantizeLinear, DequantizeLinear,
 * DynamicQuantizeLinear, MatMulInteger, ConvInteger, QLinearMatMul and QLinearConv. Integer
 * maths runs in float64 (exact for these ranges); rounding is half to even, as ONNX says.
 */
import { SculptError } from '../core/errors.js';
import type { GraphNode } from '../core/graph.js';
import { at, attrInt, need, numeric, type Attrs, type OpFn } from './ops-common.js';
import { convPlain } from './ops-conv.js';
import { broadcastDims } from './ops-elementwise.js';
import { floatTensor, normAxis, size, strides, type Tensor } from './tensor.js';

/** NumPy matmul shapes: output dims, batch count, m/k/n and each operand's offset for batch p. */
function matmulShapes(a: readonly number[], b: readonly number[], node: GraphNode) {
  const ad = a.length === 1 ? [1, a[0]] : [...a], bd = b.length === 1 ? [b[0], 1] : [...b];
  const m = ad[ad.length - 2], k = ad[ad.length - 1], n = bd[bd.length - 1];
  if (bd[bd.length - 2] !== k) throw new SculptError(`${at(node)} cannot multiply [${a.join(', ')}] by [${b.join(', ')}]`);
  const batchDims = broadcastDims(ad.slice(0, -2), bd.slice(0, -2), node);
  const bs = strides(batchDims);
  const offset = (dims: number[], size_: number) => (p: number) => {
    let off = 0, stride = 1;
    for (let d = dims.length - 1; d >= 0; d--) {
      const full = batchDims.length - dims.length + d;
      off += (dims[d] === 1 ? 0 : Math.floor(p / bs[full]) % batchDims[full]) * stride;
      stride *= dims[d];
    }
    return off * size_;
  };
  let dims = [...batchDims, m, n];
  if (a.length === 1) dims = [...batchDims, n];
  if (b.length === 1) dims = a.length === 1 ? [...batchDims] : [...batchDims, m];
  return { dims, batches: size(batchDims), m, k, n, aOffset: offset(ad.slice(0, -2), m * k), bOffset: offset(bd.slice(0, -2), k * n) };
}

export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 ? 2 * Math.round(v / 2) : r;
}

function range(intType: Tensor['intType']): [number, number] {
  return intType === 'int8' ? [-128, 127] : intType === 'int32' ? [-(2 ** 31), 2 ** 31 - 1] : [0, 255];
}

/** Per-element index into a scale/zero-point tensor: scalar, or 1-D along `axis`. */
function perAxis(t: Tensor | undefined, dims: readonly number[], attrs: Attrs, node: GraphNode): (i: number) => number {
  if (!t || t.data.length <= 1) { const v = t ? t.data[0] : 0; return () => v; }
  const axis = normAxis(attrInt(attrs, 'axis', 1), dims.length, `${at(node)}`);
  if (t.data.length !== dims[axis]) throw new SculptError(`${at(node)} has ${t.data.length} scales for axis ${axis} of size ${dims[axis]}`);
  const inner = size(dims.slice(axis + 1)), n = dims[axis], d = t.data;
  return (i) => d[Math.floor(i / inner) % n];
}

function intOut(dims: readonly number[], data: Float64Array, intType: Tensor['intType']): Tensor {
  return intType ? { dtype: 'int64', dims: [...dims], data, intType } : { dtype: 'int64', dims: [...dims], data };
}

export const quantizeLinear: OpFn = (inputs, attrs, node) => {
  const x = need(inputs[0], node, 0), scale = need(inputs[1], node, 1), zp = inputs[2];
  const xs = numeric(x, node);
  const s = perAxis(scale, x.dims, attrs, node), z = perAxis(zp, x.dims, attrs, node);
  const intType = zp?.intType ?? 'uint8';
  const [lo, hi] = range(intType);
  const out = new Float64Array(xs.length);
  for (let i = 0; i < xs.length; i++) out[i] = Math.min(hi, Math.max(lo, roundHalfEven(Math.fround(xs[i] / s(i))) + z(i)));
  return [intOut(x.dims, out, intType)];
};

export const dequantizeLinear: OpFn = (inputs, attrs, node) => {
  const x = need(inputs[0], node, 0), scale = need(inputs[1], node, 1);
  const xs = numeric(x, node);
  const s = perAxis(scale, x.dims, attrs, node), z = perAxis(inputs[2], x.dims, attrs, node);
  const out = new Float32Array(xs.length);
  for (let i = 0; i < xs.length; i++) out[i] = (xs[i] - z(i)) * s(i);
  return [floatTensor(x.dims, out)];
};

export const dynamicQuantizeLinear: OpFn = (inputs, _attrs, node) => {
  const x = need(inputs[0], node, 0);
  const xs = numeric(x, node);
  let min = 0, max = 0;
  for (let i = 0; i < xs.length; i++) { if (xs[i] < min) min = xs[i]; if (xs[i] > max) max = xs[i]; }
  // Each step rounded to float32, as the reference computes it.
  const scale = Math.fround(Math.fround(max - min) / 255);
  const zp = scale === 0 ? 0 : roundHalfEven(Math.min(255, Math.max(0, -Math.fround(min / scale))));
  const out = new Float64Array(xs.length);
  if (scale !== 0) for (let i = 0; i < xs.length; i++) out[i] = Math.min(255, Math.max(0, roundHalfEven(Math.fround(xs[i] / scale)) + zp));
  return [intOut(x.dims, out, 'uint8'), floatTensor([], Float32Array.of(scale)), intOut([], Float64Array.of(zp), 'uint8')];
};

/** (A − a_zp)·(B − b_zp) with NumPy matmul broadcasting; a_zp per row of A or scalar, b_zp per column of B or scalar. */
function integerMatmul(a: Tensor, b: Tensor, azp: Tensor | undefined, bzp: Tensor | undefined, node: GraphNode): { data: Float64Array; dims: number[] } {
  const { dims, batches, m, k, n, aOffset, bOffset } = matmulShapes(a.dims, b.dims, node);
  const x = numeric(a, node), y = numeric(b, node);
  const out = new Float64Array(batches * m * n);
  const az = (i: number) => (!azp ? 0 : azp.data.length === 1 ? azp.data[0] : azp.data[i]);
  const bz = (j: number) => (!bzp ? 0 : bzp.data.length === 1 ? bzp.data[0] : bzp.data[j]);
  for (let p = 0; p < batches; p++) {
    const ao = aOffset(p), bo = bOffset(p), oo = p * m * n;
    for (let i = 0; i < m; i++) {
      const zi = az(i);
      for (let kk = 0; kk < k; kk++) {
        const v = x[ao + i * k + kk] - zi;
        if (v === 0) continue;
        for (let j = 0; j < n; j++) out[oo + i * n + j] += v * (y[bo + kk * n + j] - bz(j));
      }
    }
  }
  return { data: out, dims };
}

export const matMulInteger: OpFn = (inputs, _attrs, node) => {
  const r = integerMatmul(need(inputs[0], node, 0), need(inputs[1], node, 1), inputs[2], inputs[3], node);
  return [intOut(r.dims, r.data, 'int32')];
};

export const qlinearMatMul: OpFn = (inputs, _attrs, node) => {
  const [a, as, azp, b, bs, bzp, ys, yzp] = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => need(inputs[i], node, i));
  const r = integerMatmul(a, b, azp, bzp, node);
  const n = r.dims[r.dims.length - 1];
  const [lo, hi] = range(yzp.intType ?? 'uint8');
  const out = new Float64Array(r.data.length);
  for (let i = 0; i < out.length; i++) {
    const bScale = bs.data.length === 1 ? bs.data[0] : bs.data[i % n];
    out[i] = Math.min(hi, Math.max(lo, roundHalfEven((r.data[i] * as.data[0] * bScale) / ys.data[0]) + yzp.data[0]));
  }
  return [intOut(r.dims, out, yzp.intType ?? 'uint8')];
};

/** x − zp as float64, zp scalar or per channel (axis 0 of a weight, axis 1 of an input). */
function shifted(t: Tensor, zp: Tensor | undefined, channelAxis: number, node: GraphNode): Float64Array {
  const v = numeric(t, node);
  const out = new Float64Array(v.length);
  if (!zp || zp.data.length <= 1) { const z = zp ? zp.data[0] : 0; for (let i = 0; i < v.length; i++) out[i] = v[i] - z; return out; }
  const inner = size(t.dims.slice(channelAxis + 1)), n = t.dims[channelAxis];
  for (let i = 0; i < v.length; i++) out[i] = v[i] - zp.data[Math.floor(i / inner) % n];
  return out;
}

export const convInteger: OpFn = (inputs, attrs, node) => {
  const x = need(inputs[0], node, 0), w = need(inputs[1], node, 1);
  const r = convPlain(shifted(x, inputs[2], 1, node), x.dims, shifted(w, inputs[3], 0, node), w.dims, attrs, node);
  return [intOut(r.dims, r.data, 'int32')];
};

export const qlinearConv: OpFn = (inputs, attrs, node) => {
  const [x, xs, xzp, w, ws, wzp, ys, yzp] = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => need(inputs[i], node, i));
  const bias = inputs[8];
  const r = convPlain(shifted(x, xzp, 1, node), x.dims, shifted(w, wzp, 0, node), w.dims, attrs, node);
  const m = r.dims[1], plane = size(r.dims.slice(2));
  const [lo, hi] = range(yzp.intType ?? 'uint8');
  const out = new Float64Array(r.data.length);
  for (let i = 0; i < out.length; i++) {
    const ch = Math.floor(i / plane) % m;
    const wScale = ws.data.length === 1 ? ws.data[0] : ws.data[ch];
    const acc = r.data[i] + (bias ? bias.data[ch] : 0);
    out[i] = Math.min(hi, Math.max(lo, roundHalfEven((acc * xs.data[0] * wScale) / ys.data[0]) + yzp.data[0]));
  }
  return [intOut(r.dims, out, yzp.intType ?? 'uint8')];
};
