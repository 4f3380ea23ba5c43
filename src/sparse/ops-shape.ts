/** The shape operators PyTorch's exporter emits, and data movement (gather, slice, pad, …). */
import { SculptError } from '../core/errors.js';
import type { GraphNode } from '../core/graph.js';
import { at, attrFloat, attrInt, attrInts, attrString, need, type Attrs, type OpFn, nodeLabel } from './ops-common.js';
import { broadcastDims, broadcastIndex, vectorSized } from './ops-elementwise.js';
import { permute3, transpose2d } from './ops-vector.js';
import { allocLike, allocUninit, floatTensor, fromGraphTensor, intTensor, intValues, normAxis, size, strides, type IntType, type Tensor } from './tensor.js';


function reshapeTo(a: Tensor, dims: number[]): Tensor {
  return { dtype: a.dtype, dims, data: a.data };
}

export const reshape: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const target = intValues(need(inputs[1], node, 1), `${nodeLabel(node)} shape`);
  const allowZero = attrInt(attrs, 'allowzero', 0) === 1;
  const dims = target.map((d, i) => (d === 0 && !allowZero ? a.dims[i] : d));
  const known = dims.reduce((p, d) => (d === -1 ? p : p * d), 1);
  const total = size(a.dims);
  const out = dims.map((d) => (d === -1 ? total / known : d));
  if (size(out) !== total) throw new SculptError(`sparse executor: node ${nodeLabel(node)} cannot reshape [${a.dims.join(', ')}] to [${target.join(', ')}]`);
  return [reshapeTo(a, out)];
};

export const flatten: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const axis = attrInt(attrs, 'axis', 1);
  const ax = axis < 0 ? axis + a.dims.length : axis;
  return [reshapeTo(a, [size(a.dims.slice(0, ax)), size(a.dims.slice(ax))])];
};

/**
 * The same permutation over fewer axes: size-1 axes dropped and input axes that stay adjacent
 * and in order merged ([1, S, H, D] by (0, 2, 1, 3) is [S, H, D] by (1, 0, 2)).
 */
export function collapsePermutation(dims: readonly number[], perm: readonly number[]): { dims: number[]; perm: number[] } {
  const kept = perm.filter((p) => dims[p] !== 1);
  // Runs of consecutive input axes in output order become one axis.
  const runs: number[][] = [];
  for (const p of kept) {
    const run = runs[runs.length - 1];
    if (run && run[run.length - 1] + 1 === p) run.push(p);
    else runs.push([p]);
  }
  const byInput = [...runs].sort((x, y) => x[0] - y[0]);
  return {
    dims: byInput.map((r) => r.reduce((acc, p) => acc * dims[p], 1)),
    perm: runs.map((r) => byInput.indexOf(r)),
  };
}

export function transposeTensor(a: Tensor, perm: readonly number[]): Tensor {
  const outDims = perm.map((p) => a.dims[p]);
  const x = a.data;
  const c = collapsePermutation(a.dims, perm);
  const rank = c.perm.length;
  // A large float matrix transpose (attention's Kᵀ): the kernels' 4×4 blocks, not strided reads.
  if (rank === 2 && a.dtype === 'float32' && x instanceof Float32Array && vectorSized(x.length)) {
    return floatTensor(outDims, transpose2d(x, c.dims[0], c.dims[1]));
  }
  // Attention's head transposes ([S, H, D] to [H, S, D], [H, D, S], …): in the kernels too.
  const moved = rank === 3 && a.dtype === 'float32' && x instanceof Float32Array && vectorSized(x.length) ? permute3(x, c.dims, c.perm) : undefined;
  if (moved) return floatTensor(outDims, moved);
  const out = allocUninit(a.dtype, outDims); // every element written below
  const o = out.data;
  if (rank <= 1 || c.perm.every((p, i) => p === i)) {
    (o as Float32Array).set(x as Float32Array);
    return out;
  }
  // Walk the output in order: an outer counter over all but its last axis, and a tight inner loop
  // along the last (a block copy where that axis is the input's last too).
  const inStr = strides(c.dims);
  const permStr = c.perm.map((p) => inStr[p]);
  const cd = c.perm.map((p) => c.dims[p]);
  const n = cd[rank - 1], step = permStr[rank - 1];
  const counter = new Array<number>(rank - 1).fill(0);
  let off = 0;
  for (let k = 0; k < o.length; k += n) {
    if (step === 1 && n >= 16) (o as Float32Array).set((x as Float32Array).subarray(off, off + n), k);
    else for (let j = 0, q = off; j < n; j++, q += step) o[k + j] = x[q];
    for (let d = rank - 2; d >= 0; d--) {
      counter[d]++;
      off += permStr[d];
      if (counter[d] < cd[d]) break;
      off -= permStr[d] * counter[d];
      counter[d] = 0;
    }
  }
  return out;
}

export const transpose: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const perm = attrInts(attrs, 'perm') ?? a.dims.map((_, i) => a.dims.length - 1 - i);
  return [transposeTensor(a, perm)];
};

function axesFrom(inputs: readonly (Tensor | undefined)[], attrs: Attrs, node: GraphNode): number[] | undefined {
  return attrInts(attrs, 'axes') ?? (inputs[1] ? intValues(inputs[1], `${nodeLabel(node)} axes`) : undefined);
}

export const unsqueeze: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const axes = axesFrom(inputs, attrs, node) ?? [];
  const rank = a.dims.length + axes.length;
  const ax = axes.map((v) => normAxis(v, rank, `${nodeLabel(node)} (${node.opType})`));
  const dims: number[] = [];
  let j = 0;
  for (let i = 0; i < rank; i++) dims.push(ax.includes(i) ? 1 : a.dims[j++]);
  return [reshapeTo(a, dims)];
};

export const squeeze: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const axes = axesFrom(inputs, attrs, node);
  const ax = axes?.map((v) => normAxis(v, a.dims.length, `${nodeLabel(node)} (${node.opType})`));
  return [reshapeTo(a, a.dims.filter((d, i) => (ax ? !ax.includes(i) : d !== 1)))];
};

export const concat: OpFn = (inputs, attrs, node) => {
  const parts = inputs.filter((t): t is Tensor => t !== undefined);
  if (parts.length === 0) throw new SculptError(`${at(node)} has no inputs`);
  const rank = parts[0].dims.length;
  const axis = normAxis(attrInt(attrs, 'axis', 0), rank, `${nodeLabel(node)} (${node.opType})`);
  const dtype = parts.some((p) => p.dtype === 'float32') ? 'float32' : parts[0].dtype;
  const dims = [...parts[0].dims];
  dims[axis] = parts.reduce((s, p) => s + p.dims[axis], 0);
  const out = allocLike(dtype, dims);
  const outer = size(dims.slice(0, axis));
  const inner = size(dims.slice(axis + 1));
  let off = 0;
  for (const p of parts) {
    const chunk = p.dims[axis] * inner;
    for (let q = 0; q < outer; q++) {
      for (let j = 0; j < chunk; j++) out.data[q * dims[axis] * inner + off + j] = p.data[q * chunk + j];
    }
    off += chunk;
  }
  return [out];
};

export const gather: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const idxT = need(inputs[1], node, 1);
  const axis = normAxis(attrInt(attrs, 'axis', 0), a.dims.length, `${nodeLabel(node)} (${node.opType})`);
  const idx = intValues(idxT, `${nodeLabel(node)} indices`);
  const n = a.dims[axis];
  const outer = size(a.dims.slice(0, axis));
  const inner = size(a.dims.slice(axis + 1));
  const dims = [...a.dims.slice(0, axis), ...idxT.dims, ...a.dims.slice(axis + 1)];
  const out = allocLike(a.dtype, dims);
  let k = 0;
  for (let p = 0; p < outer; p++) {
    for (const i0 of idx) {
      const i = i0 < 0 ? i0 + n : i0;
      if (i < 0 || i >= n) throw new SculptError(`${at(node)} index ${i0} is out of range for size ${n}`);
      const base = (p * n + i) * inner;
      // Whole rows (an embedding table's) as one copy each; out and a hold the same array type.
      if (inner >= 16) {
        out.data.set(a.data.subarray(base, base + inner) as Float32Array & Float64Array & Uint8Array, k);
        k += inner;
      } else for (let j = 0; j < inner; j++) out.data[k++] = a.data[base + j];
    }
  }
  return [out];
};

/** Slice: starts/ends/axes/steps as inputs (opset ≥ 10) or starts/ends/axes as attributes (before). */
export const slice: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const old = attrInts(attrs, 'starts');
  const starts = old ?? intValues(need(inputs[1], node, 1), `${nodeLabel(node)} starts`);
  const ends = old ? attrInts(attrs, 'ends') ?? [] : intValues(need(inputs[2], node, 2), `${nodeLabel(node)} ends`);
  const axesIn = old ? attrInts(attrs, 'axes') : inputs[3] ? intValues(inputs[3], `${nodeLabel(node)} axes`) : undefined;
  const axes = axesIn ?? starts.map((_, i) => i);
  const steps = !old && inputs[4] ? intValues(inputs[4], `${nodeLabel(node)} steps`) : starts.map(() => 1);
  const rank = a.dims.length;
  const begin = a.dims.map(() => 0);
  const step = a.dims.map(() => 1);
  const outDims = [...a.dims];
  axes.forEach((axis0, i) => {
    const axis = normAxis(axis0, rank, `${nodeLabel(node)} (${node.opType})`);
    const d = a.dims[axis];
    const s = steps[i];
    if (s === 0) throw new SculptError(`${at(node)} has step 0`);
    const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
    let st = starts[i] < 0 ? starts[i] + d : starts[i];
    let en = ends[i] < 0 ? ends[i] + d : ends[i];
    if (s > 0) { st = clamp(st, 0, d); en = clamp(en, 0, d); } else { st = clamp(st, 0, d - 1); en = clamp(en, -1, d - 1); }
    begin[axis] = st;
    step[axis] = s;
    outDims[axis] = Math.max(0, Math.ceil((en - st) / s));
  });
  const out = allocLike(a.dtype, outDims);
  const inStr = strides(a.dims);
  const counter = new Array<number>(rank).fill(0);
  for (let k = 0; k < out.data.length; k++) {
    let off = 0;
    for (let d = 0; d < rank; d++) off += (begin[d] + counter[d] * step[d]) * inStr[d];
    out.data[k] = a.data[off];
    for (let d = rank - 1; d >= 0; d--) {
      if (++counter[d] < outDims[d]) break;
      counter[d] = 0;
    }
  }
  return [out];
};

export const expand: OpFn = (inputs, _attrs, node) => {
  const a = need(inputs[0], node, 0);
  const shape = intValues(need(inputs[1], node, 1), `${nodeLabel(node)} shape`);
  const dims = broadcastDims(a.dims, shape, node);
  const out = allocLike(a.dtype, dims);
  const idx = broadcastIndex(a.dims, dims);
  for (let i = 0; i < out.data.length; i++) out.data[i] = a.data[idx ? idx[i] : i];
  return [out];
};

export const where: OpFn = (inputs, _attrs, node) => {
  const c = need(inputs[0], node, 0), x = need(inputs[1], node, 1), y = need(inputs[2], node, 2);
  const dims = broadcastDims(broadcastDims(c.dims, x.dims, node), y.dims, node);
  const out = allocLike(x.dtype, dims);
  const ic = broadcastIndex(c.dims, dims), ix = broadcastIndex(x.dims, dims), iy = broadcastIndex(y.dims, dims);
  for (let i = 0; i < out.data.length; i++) {
    out.data[i] = c.data[ic ? ic[i] : i] ? x.data[ix ? ix[i] : i] : y.data[iy ? iy[i] : i];
  }
  return [out];
};

const ONNX_INT_TYPE_OF: Readonly<Record<IntType, number>> = { uint8: 2, int8: 3, uint16: 4, int16: 5, int32: 6, uint32: 12, uint64: 13 };
const INT_TYPE_OF_ONNX: ReadonlyMap<number, IntType> = new Map(Object.entries(ONNX_INT_TYPE_OF).map(([t, n]) => [n, t as IntType]));

export const cast: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const to = attrInt(attrs, 'to', 1);
  if (to === 1 || to === 10 || to === 11 || to === 16) {
    // Held as float32 either way; float16 and bfloat16 keep only the values those types can hold.
    const out = Float32Array.from(a.data);
    if (to === 10) for (let i = 0; i < out.length; i++) out[i] = roundToFloat16(out[i]);
    if (to === 16) roundToBfloat16(out);
    return [floatTensor(a.dims, out)];
  }
  if (to === 9) {
    const out = allocLike('bool', a.dims);
    for (let i = 0; i < a.data.length; i++) out.data[i] = a.data[i] !== 0 ? 1 : 0;
    return [out];
  }
  if ([2, 3, 4, 5, 6, 7, 12, 13].includes(to)) {
    const out = allocLike('int64', a.dims);
    for (let i = 0; i < a.data.length; i++) out.data[i] = Math.trunc(a.data[i]);
    const intType = INT_TYPE_OF_ONNX.get(to);
    return [intType ? { ...out, intType } : out];
  }
  throw new SculptError(`${at(node)} casts to ONNX type ${to}, which is not supported; run the model with \`sculpt run --engine onnxruntime\``);
};

const ONNX_TYPE_OF: Readonly<Record<Tensor['dtype'], number>> = { float32: 1, int64: 7, bool: 9 };

/** CastLike: Cast to the type of input 1. */
export const castLike: OpFn = (inputs, attrs, node) => {
  const like = need(inputs[1], node, 1);
  return cast([inputs[0]], new Map([...attrs, ['to', like.intType ? ONNX_INT_TYPE_OF[like.intType] : ONNX_TYPE_OF[like.dtype]]]), node);
};

/**
 * Dropout at inference is the identity (mask all true). In training mode with a nonzero ratio
 * the output is random, which an inference engine does not reproduce: refused.
 */
export const dropout: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const ratio = inputs[1] ? inputs[1].data[0] : attrFloat(attrs, 'ratio', 0.5);
  const training = inputs[2] ? inputs[2].data[0] !== 0 : false;
  if (training && ratio > 0) throw new SculptError(`${at(node)} runs in training mode (random masks), which sculpt's engine does not do; export the model for inference`);
  const mask = allocLike('bool', a.dims);
  mask.data.fill(1);
  return [a, mask];
};

export const constant: OpFn = (_inputs, attrs, node) => {
  const v = attrs.get('value');
  if (v && typeof v === 'object' && 'dims' in v) return [fromGraphTensor(v)];
  const f = attrs.get('value_float'), fs = attrs.get('value_floats'), i = attrs.get('value_int'), is = attrs.get('value_ints');
  if (typeof f === 'number') return [floatTensor([], Float32Array.of(f))];
  if (fs instanceof Float32Array || Array.isArray(fs)) return [floatTensor([fs.length], Float32Array.from(fs as ArrayLike<number>))];
  if (typeof i === 'number') return [intTensor([], [i])];
  if (Array.isArray(is)) return [intTensor([is.length], is as number[])];
  throw new SculptError(`${at(node)} has no value the executor understands (value, value_float(s) or value_int(s)); run the model with \`sculpt run --engine onnxruntime\``);
};

export const constantOfShape: OpFn = (inputs, attrs, node) => {
  const dims = intValues(need(inputs[0], node, 0), `${nodeLabel(node)} shape`);
  const v = attrs.get('value');
  const fill = v && typeof v === 'object' && 'dims' in v ? fromGraphTensor(v) : floatTensor([1], Float32Array.of(0));
  const out = allocLike(fill.dtype, dims);
  out.data.fill(fill.data[0]);
  return [out];
};

export const range: OpFn = (inputs, _attrs, node) => {
  const [s, l, d] = [0, 1, 2].map((i) => need(inputs[i], node, i));
  const start = s.data[0], limit = l.data[0], delta = d.data[0];
  if (delta === 0) throw new SculptError(`${at(node)} has delta 0`);
  const n = Math.max(Math.ceil((limit - start) / delta), 0);
  const out = allocLike(s.dtype, [n]);
  for (let i = 0; i < n; i++) out.data[i] = start + i * delta;
  return [out];
};

export const shape: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const r = a.dims.length;
  let start = attrInt(attrs, 'start', 0), end = attrInt(attrs, 'end', r);
  if (start < 0) start += r;
  if (end < 0) end += r;
  const dims = a.dims.slice(Math.max(0, start), Math.min(r, end));
  return [intTensor([dims.length], dims)];
};

export const split: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const axis = normAxis(attrInt(attrs, 'axis', 0), a.dims.length, `${nodeLabel(node)} (${node.opType})`);
  const n = node.outputs.length;
  const d = a.dims[axis];
  let sizes = attrInts(attrs, 'split') ?? (inputs[1] ? intValues(inputs[1], `${nodeLabel(node)} split`) : undefined);
  if (!sizes) {
    const numOutputs = attrInt(attrs, 'num_outputs', n);
    const chunk = Math.ceil(d / numOutputs);
    sizes = Array.from({ length: numOutputs }, (_, i) => Math.max(0, Math.min(chunk, d - i * chunk)));
  }
  if (sizes.reduce((p, q) => p + q, 0) !== d) throw new SculptError(`${at(node)} sizes [${sizes.join(', ')}] do not add up to ${d}`);
  const outer = size(a.dims.slice(0, axis));
  const inner = size(a.dims.slice(axis + 1));
  let start = 0;
  return sizes.map((len) => {
    const dims = [...a.dims];
    dims[axis] = len;
    const out = allocLike(a.dtype, dims);
    for (let p = 0; p < outer; p++) {
      const src = (p * d + start) * inner;
      for (let j = 0; j < len * inner; j++) out.data[p * len * inner + j] = a.data[src + j];
    }
    start += len;
    return out;
  });
};

export const pad: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const mode = attrString(attrs, 'mode', 'constant');
  if (mode !== 'constant' && mode !== 'reflect' && mode !== 'edge' && mode !== 'wrap') throw new SculptError(`${at(node)} mode ${mode} is not supported; run it with --engine onnxruntime`);
  const rank = a.dims.length;
  const raw = attrInts(attrs, 'pads') ?? intValues(need(inputs[1], node, 1), `${nodeLabel(node)} pads`);
  const value = inputs[2] && inputs[2].data.length > 0 ? inputs[2].data[0] : attrFloat(attrs, 'value', 0);
  const axes = inputs[3] ? intValues(inputs[3], `${nodeLabel(node)} axes`).map((v) => normAxis(v, rank, `${nodeLabel(node)} (${node.opType})`)) : a.dims.map((_, i) => i);
  const begin = new Array<number>(rank).fill(0), end = new Array<number>(rank).fill(0);
  axes.forEach((ax, i) => { begin[ax] = raw[i]; end[ax] = raw[i + axes.length]; });
  const dims = a.dims.map((d, i) => d + begin[i] + end[i]);
  const out = allocLike(a.dtype, dims);
  const inStr = strides(a.dims);
  const counter = new Array<number>(rank).fill(0);
  for (let k = 0; k < out.data.length; k++) {
    let off = 0, inside = true;
    for (let d = 0; d < rank; d++) {
      let i = counter[d] - begin[d];
      const n = a.dims[d];
      if (i < 0 || i >= n) {
        if (mode === 'constant') { inside = false; break; }
        if (mode === 'edge') i = i < 0 ? 0 : n - 1;
        else if (mode === 'wrap') i = ((i % n) + n) % n;
        else if (n === 1) i = 0;
        else { const period = 2 * (n - 1); i = ((i % period) + period) % period; if (i >= n) i = period - i; }
      }
      off += i * inStr[d];
    }
    out.data[k] = inside ? a.data[off] : value;
    for (let d = rank - 1; d >= 0; d--) {
      if (++counter[d] < dims[d]) break;
      counter[d] = 0;
    }
  }
  return [out];
};

export const tile: OpFn = (inputs, _attrs, node) => {
  const a = need(inputs[0], node, 0);
  const reps = intValues(need(inputs[1], node, 1), `${nodeLabel(node)} repeats`);
  const rank = a.dims.length;
  const dims = a.dims.map((d, i) => d * reps[i]);
  const out = allocLike(a.dtype, dims);
  const inStr = strides(a.dims);
  const counter = new Array<number>(rank).fill(0);
  for (let k = 0; k < out.data.length; k++) {
    let off = 0;
    for (let d = 0; d < rank; d++) off += (counter[d] % a.dims[d]) * inStr[d];
    out.data[k] = a.data[off];
    for (let d = rank - 1; d >= 0; d--) {
      if (++counter[d] < dims[d]) break;
      counter[d] = 0;
    }
  }
  return [out];
};


/** CenterCropPad: each listed axis cropped or zero-padded to its target size, centred (the odd pixel at the end). */
export const centerCropPad: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const target = intValues(need(inputs[1], node, 1), `${nodeLabel(node)} shape`);
  const rank = a.dims.length;
  const axes = (attrInts(attrs, 'axes') ?? a.dims.map((_, i) => i)).map((v) => normAxis(v, rank, `${nodeLabel(node)} (CenterCropPad)`));
  const dims = [...a.dims];
  const shift = new Array<number>(rank).fill(0);
  axes.forEach((ax, i) => {
    const d = a.dims[ax], t = target[i];
    dims[ax] = t;
    // Input index = output index + shift: cropping starts inside, padding starts before.
    shift[ax] = t <= d ? Math.floor((d - t) / 2) : -Math.floor((t - d) / 2);
  });
  const out = allocLike(a.dtype, dims);
  const inStr = strides(a.dims);
  const counter = new Array<number>(rank).fill(0);
  for (let k = 0; k < out.data.length; k++) {
    let off = 0, inside = true;
    for (let d = 0; d < rank; d++) {
      const i = counter[d] + shift[d];
      if (i < 0 || i >= a.dims[d]) { inside = false; break; }
      off += i * inStr[d];
    }
    if (inside) out.data[k] = a.data[off];
    for (let d = rank - 1; d >= 0; d--) {
      if (++counter[d] < dims[d]) break;
      counter[d] = 0;
    }
  }
  return [out];
};

/** The float16 value nearest to `v` (ties to even), as a number; overflow becomes ±Infinity. */
export function roundToFloat16(v: number): number {
  if (!Number.isFinite(v) || v === 0) return v;
  const a = Math.abs(v);
  if (a >= 65520) return v > 0 ? Infinity : -Infinity;
  // Spacing of float16 values around a: 2^(e − 10) for normals, 2^−24 below 2^−14.
  const e = Math.max(Math.floor(Math.log2(a)), -14);
  const ulp = 2 ** (e - 10);
  const q = a / ulp, f = Math.floor(q);
  const n = q - f === 0.5 ? (f % 2 === 0 ? f : f + 1) : Math.round(q);
  return Math.sign(v) * n * ulp;
}

/** Rounds float32 values in place to bfloat16 (the top 16 bits, ties to even). */
function roundToBfloat16(x: Float32Array): void {
  const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
  for (let i = 0; i < bits.length; i++) {
    const b = bits[i];
    if ((b & 0x7f800000) === 0x7f800000) continue; // Inf, NaN
    bits[i] = ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) << 16;
  }
}
