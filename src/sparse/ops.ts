/**
 * The executor's operators other than the weight-carrying MatMul/Gemm/Conv (executor.ts):
 * elementwise maths with NumPy broadcasting, reductions, normalisation, pooling and the shape
 * operators PyTorch's exporter emits. Each is a pure function of its inputs and attributes.
 */
import { SculptError } from '../core/errors.js';
import type { AttributeValue, GraphNode } from '../core/graph.js';
import { allocLike, floatTensor, fromGraphTensor, intTensor, intValues, normAxis, size, strides, type DType, type Tensor } from './tensor.js';

export type Attrs = ReadonlyMap<string, AttributeValue>;
export type OpFn = (inputs: readonly (Tensor | undefined)[], attrs: Attrs, node: GraphNode) => Tensor[];

export function attrInt(attrs: Attrs, name: string, fallback: number): number {
  const v = attrs.get(name);
  return typeof v === 'number' ? v : fallback;
}

export function attrFloat(attrs: Attrs, name: string, fallback: number): number {
  const v = attrs.get(name);
  return typeof v === 'number' ? v : fallback;
}

export function attrInts(attrs: Attrs, name: string): number[] | undefined {
  const v = attrs.get(name);
  if (Array.isArray(v)) return v as number[];
  if (typeof v === 'number') return [v];
  return undefined;
}

function attrString(attrs: Attrs, name: string, fallback: string): string {
  const v = attrs.get(name);
  return typeof v === 'string' ? v : fallback;
}

export function need(t: Tensor | undefined, node: GraphNode, i: number): Tensor {
  if (!t) throw new SculptError(`sparse executor: node ${node.name} (${node.opType}) is missing input ${i}`);
  return t;
}

function float(t: Tensor, node: GraphNode): Float32Array {
  if (t.dtype !== 'float32') throw new SculptError(`sparse executor: node ${node.name} (${node.opType}) needs float32 input, got ${t.dtype}`);
  return t.data as Float32Array;
}

// ---- broadcasting ----------------------------------------------------------------------------

export function broadcastDims(a: readonly number[], b: readonly number[], node: GraphNode): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new SculptError(`sparse executor: node ${node.name} (${node.opType}) cannot broadcast [${a.join(', ')}] with [${b.join(', ')}]`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** For each output element, the flat index into a tensor of `dims` broadcast to `outDims`. */
function broadcastIndex(dims: readonly number[], outDims: readonly number[]): Int32Array | null {
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

type Binary = (x: number, y: number) => number;

function binary(f: Binary, intF?: Binary, outBool = false): OpFn {
  return (inputs, _attrs, node) => {
    const a = need(inputs[0], node, 0);
    const b = need(inputs[1], node, 1);
    const dims = broadcastDims(a.dims, b.dims, node);
    const isInt = a.dtype !== 'float32' && b.dtype !== 'float32';
    const dtype: DType = outBool ? 'bool' : isInt ? 'int64' : 'float32';
    const out = allocLike(dtype, dims);
    const o = out.data;
    const x = a.data, y = b.data;
    const fn = isInt && intF ? intF : f;
    const n = o.length;
    const ia = broadcastIndex(a.dims, dims), ib = broadcastIndex(b.dims, dims);
    if (!ia && !ib) for (let i = 0; i < n; i++) o[i] = fn(x[i], y[i]);
    else if (!ia && y.length === 1) { const v = y[0]; for (let i = 0; i < n; i++) o[i] = fn(x[i], v); }
    else if (!ia) for (let i = 0; i < n; i++) o[i] = fn(x[i], y[ib![i]]);
    else if (!ib) for (let i = 0; i < n; i++) o[i] = fn(x[ia[i]], y[i]);
    else for (let i = 0; i < n; i++) o[i] = fn(x[ia[i]], y[ib![i]]);
    return [out];
  };
}

function unary(f: (x: number) => number): OpFn {
  return (inputs, _attrs, node) => {
    const a = need(inputs[0], node, 0);
    const x = float(a, node);
    const o = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) o[i] = f(x[i]);
    return [floatTensor(a.dims, o)];
  };
}

/**
 * erf in double precision (errors far below float32's): the Maclaurin series for |x| < 3, where
 * its cancellation costs at most ~1e-13, and the continued fraction of erfc beyond.
 */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 3) {
    const x2 = x * x;
    let term = x, sum = x;
    for (let n = 1; n < 100; n++) {
      term *= -x2 / n;
      const t = term / (2 * n + 1);
      sum += t;
      if (Math.abs(t) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  if (ax > 6) return x > 0 ? 1 : -1;
  let k = ax;
  for (let n = 60; n >= 1; n--) k = ax + n / 2 / k;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / k;
  return x > 0 ? 1 - erfc : erfc - 1;
}

// ---- reductions, softmax, normalisation --------------------------------------------------------

/** Splits dims around the (sorted, unique) axes into outer × reduced × inner loops when contiguous. */
function reduce(inputs: readonly (Tensor | undefined)[], attrs: Attrs, node: GraphNode, kind: 'mean' | 'sum' | 'max' | 'min'): Tensor[] {
  const a = need(inputs[0], node, 0);
  const x = float(a, node);
  const rank = a.dims.length;
  let axes = attrInts(attrs, 'axes') ?? (inputs[1] ? intValues(inputs[1], `${node.name} axes`) : undefined);
  const noopEmpty = attrInt(attrs, 'noop_with_empty_axes', 0) === 1;
  if (!axes || axes.length === 0) {
    if (noopEmpty) return [a];
    axes = a.dims.map((_, i) => i);
  }
  const keep = attrInt(attrs, 'keepdims', 1) === 1;
  const ax = [...new Set(axes.map((v) => normAxis(v, rank, `${node.name} (${node.opType})`)))].sort((p, q) => p - q);
  const outDimsKeep = a.dims.map((d, i) => (ax.includes(i) ? 1 : d));
  const outN = size(outDimsKeep);
  const o = new Float32Array(outN).fill(kind === 'max' ? -Infinity : kind === 'min' ? Infinity : 0);
  const inStr = strides(a.dims);
  const outStr = strides(outDimsKeep);
  const counter = new Array<number>(rank).fill(0);
  for (let i = 0; i < x.length; i++) {
    let oi = 0;
    let rem = i;
    for (let d = 0; d < rank; d++) {
      counter[d] = Math.floor(rem / inStr[d]);
      rem -= counter[d] * inStr[d];
      if (outDimsKeep[d] !== 1) oi += counter[d] * outStr[d];
    }
    const v = x[i];
    if (kind === 'max') { if (v > o[oi]) o[oi] = v; }
    else if (kind === 'min') { if (v < o[oi]) o[oi] = v; }
    else o[oi] += v;
  }
  if (kind === 'mean') {
    const count = x.length / Math.max(outN, 1);
    for (let i = 0; i < outN; i++) o[i] /= count;
  }
  const dims = keep ? outDimsKeep : a.dims.filter((_, i) => !ax.includes(i));
  return [floatTensor(dims, o)];
}

function softmax(log: boolean): OpFn {
  return (inputs, attrs, node) => {
    const a = need(inputs[0], node, 0);
    const x = float(a, node);
    const axis = normAxis(attrInt(attrs, 'axis', -1), a.dims.length, `${node.name} (${node.opType})`);
    const n = a.dims[axis];
    const inner = size(a.dims.slice(axis + 1));
    const outer = size(a.dims.slice(0, axis));
    const o = new Float32Array(x.length);
    for (let p = 0; p < outer; p++) {
      for (let q = 0; q < inner; q++) {
        const base = p * n * inner + q;
        let m = -Infinity;
        for (let j = 0; j < n; j++) m = Math.max(m, x[base + j * inner]);
        let s = 0;
        for (let j = 0; j < n; j++) s += Math.exp(x[base + j * inner] - m);
        const ls = Math.log(s);
        for (let j = 0; j < n; j++) {
          const v = x[base + j * inner] - m;
          o[base + j * inner] = log ? v - ls : Math.exp(v) / s;
        }
      }
    }
    return [floatTensor(a.dims, o)];
  };
}

const layerNorm: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const x = float(a, node);
  const scale = inputs[1] ? float(inputs[1], node) : undefined;
  const bias = inputs[2] ? float(inputs[2], node) : undefined;
  const axis = normAxis(attrInt(attrs, 'axis', -1), a.dims.length, `${node.name} (LayerNormalization)`);
  const eps = attrFloat(attrs, 'epsilon', 1e-5);
  const n = size(a.dims.slice(axis));
  const o = new Float32Array(x.length);
  for (let base = 0; base < x.length; base += n) {
    let mean = 0;
    for (let j = 0; j < n; j++) mean += x[base + j];
    mean /= n;
    let v = 0;
    for (let j = 0; j < n; j++) v += (x[base + j] - mean) ** 2;
    const inv = 1 / Math.sqrt(v / n + eps);
    for (let j = 0; j < n; j++) {
      const s = scale ? scale[scale.length === 1 ? 0 : j] : 1;
      const b = bias ? bias[bias.length === 1 ? 0 : j] : 0;
      o[base + j] = (x[base + j] - mean) * inv * s + b;
    }
  }
  return [floatTensor(a.dims, o)];
};

const batchNorm: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const x = float(a, node);
  const [scale, bias, mean, variance] = [1, 2, 3, 4].map((i) => float(need(inputs[i], node, i), node));
  const eps = attrFloat(attrs, 'epsilon', 1e-5);
  const c = a.dims[1];
  const inner = size(a.dims.slice(2));
  const o = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const ch = Math.floor(i / inner) % c;
    o[i] = ((x[i] - mean[ch]) / Math.sqrt(variance[ch] + eps)) * scale[ch] + bias[ch];
  }
  return [floatTensor(a.dims, o)];
};

// ---- pooling -----------------------------------------------------------------------------------

/** Output size of one spatial axis (ONNX pooling/conv), honouring ceil_mode and auto_pad. */
export function spatialOut(inSize: number, k: number, stride: number, padBegin: number, padEnd: number, dilation: number, ceil: boolean): number {
  const span = (k - 1) * dilation + 1;
  const v = (inSize + padBegin + padEnd - span) / stride + 1;
  let out = ceil ? Math.ceil(v) : Math.floor(v);
  // With ceil_mode the last window must start inside the input or left padding.
  if (ceil && (out - 1) * stride >= inSize + padBegin) out--;
  return out;
}

/** Begin/end pads per spatial axis from `pads` or `auto_pad`. */
export function resolvePads(attrs: Attrs, inSizes: readonly number[], kernel: readonly number[], strides_: readonly number[], dilations: readonly number[], node: GraphNode): { begin: number[]; end: number[] } {
  const r = kernel.length;
  const autoPad = attrString(attrs, 'auto_pad', 'NOTSET');
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    const begin: number[] = [], end: number[] = [];
    for (let i = 0; i < r; i++) {
      const out = Math.ceil(inSizes[i] / strides_[i]);
      const total = Math.max(0, (out - 1) * strides_[i] + (kernel[i] - 1) * dilations[i] + 1 - inSizes[i]);
      const small = Math.floor(total / 2);
      begin.push(autoPad === 'SAME_UPPER' ? small : total - small);
      end.push(autoPad === 'SAME_UPPER' ? total - small : small);
    }
    return { begin, end };
  }
  if (autoPad !== 'NOTSET' && autoPad !== 'VALID') throw new SculptError(`sparse executor: node ${node.name} has auto_pad ${autoPad}, which is not supported`);
  const pads = attrInts(attrs, 'pads') ?? new Array<number>(2 * r).fill(0);
  return { begin: pads.slice(0, r), end: pads.slice(r, 2 * r) };
}

function pool(kind: 'max' | 'avg'): OpFn {
  return (inputs, attrs, node) => {
    const a = need(inputs[0], node, 0);
    const x = float(a, node);
    if (a.dims.length !== 4) throw new SculptError(`sparse executor: node ${node.name} (${node.opType}) supports 2-D pooling only (input rank ${a.dims.length})`);
    const [n, c, h, w] = a.dims;
    const kernel = attrInts(attrs, 'kernel_shape') ?? [1, 1];
    const st = attrInts(attrs, 'strides') ?? [1, 1];
    const dil = attrInts(attrs, 'dilations') ?? [1, 1];
    const ceil = attrInt(attrs, 'ceil_mode', 0) === 1;
    const { begin, end } = resolvePads(attrs, [h, w], kernel, st, dil, node);
    const includePad = attrInt(attrs, 'count_include_pad', 0) === 1;
    const oh = spatialOut(h, kernel[0], st[0], begin[0], end[0], dil[0], ceil);
    const ow = spatialOut(w, kernel[1], st[1], begin[1], end[1], dil[1], ceil);
    const o = new Float32Array(n * c * oh * ow);
    let k = 0;
    for (let p = 0; p < n * c; p++) {
      const base = p * h * w;
      for (let i = 0; i < oh; i++) {
        for (let j = 0; j < ow; j++) {
          let m = -Infinity, s = 0, cnt = 0, padCnt = 0;
          for (let di = 0; di < kernel[0]; di++) {
            const y = i * st[0] - begin[0] + di * dil[0];
            for (let dj = 0; dj < kernel[1]; dj++) {
              const xx = j * st[1] - begin[1] + dj * dil[1];
              if (y < 0 || y >= h || xx < 0 || xx >= w) {
                if (y < h + end[0] && xx < w + end[1]) padCnt++;
                continue;
              }
              const v = x[base + y * w + xx];
              if (v > m) m = v;
              s += v;
              cnt++;
            }
          }
          o[k++] = kind === 'max' ? m : s / (includePad ? cnt + padCnt : cnt);
        }
      }
    }
    return [floatTensor([n, c, oh, ow], o)];
  };
}

const globalAveragePool: OpFn = (inputs, _attrs, node) => {
  const a = need(inputs[0], node, 0);
  const x = float(a, node);
  const [n, c] = a.dims;
  const inner = size(a.dims.slice(2));
  const o = new Float32Array(n * c);
  for (let p = 0; p < n * c; p++) {
    let s = 0;
    for (let j = 0; j < inner; j++) s += x[p * inner + j];
    o[p] = s / inner;
  }
  return [floatTensor([n, c, ...a.dims.slice(2).map(() => 1)], o)];
};

// ---- shape operators ---------------------------------------------------------------------------

function reshapeTo(a: Tensor, dims: number[]): Tensor {
  return { dtype: a.dtype, dims, data: a.data };
}

const reshape: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const target = intValues(need(inputs[1], node, 1), `${node.name} shape`);
  const allowZero = attrInt(attrs, 'allowzero', 0) === 1;
  const dims = target.map((d, i) => (d === 0 && !allowZero ? a.dims[i] : d));
  const known = dims.reduce((p, d) => (d === -1 ? p : p * d), 1);
  const total = size(a.dims);
  const out = dims.map((d) => (d === -1 ? total / known : d));
  if (size(out) !== total) throw new SculptError(`sparse executor: node ${node.name} cannot reshape [${a.dims.join(', ')}] to [${target.join(', ')}]`);
  return [reshapeTo(a, out)];
};

const flatten: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const axis = attrInt(attrs, 'axis', 1);
  const ax = axis < 0 ? axis + a.dims.length : axis;
  return [reshapeTo(a, [size(a.dims.slice(0, ax)), size(a.dims.slice(ax))])];
};

export function transposeTensor(a: Tensor, perm: readonly number[]): Tensor {
  const rank = a.dims.length;
  const outDims = perm.map((p) => a.dims[p]);
  const inStr = strides(a.dims);
  const permStr = perm.map((p) => inStr[p]);
  const out = allocLike(a.dtype, outDims);
  const o = out.data, x = a.data;
  const counter = new Array<number>(rank).fill(0);
  let off = 0;
  for (let k = 0; k < o.length; k++) {
    o[k] = x[off];
    for (let d = rank - 1; d >= 0; d--) {
      counter[d]++;
      off += permStr[d];
      if (counter[d] < outDims[d]) break;
      off -= permStr[d] * counter[d];
      counter[d] = 0;
    }
  }
  return out;
}

const transpose: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const perm = attrInts(attrs, 'perm') ?? a.dims.map((_, i) => a.dims.length - 1 - i);
  return [transposeTensor(a, perm)];
};

function axesFrom(inputs: readonly (Tensor | undefined)[], attrs: Attrs, node: GraphNode): number[] | undefined {
  return attrInts(attrs, 'axes') ?? (inputs[1] ? intValues(inputs[1], `${node.name} axes`) : undefined);
}

const unsqueeze: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const axes = axesFrom(inputs, attrs, node) ?? [];
  const rank = a.dims.length + axes.length;
  const ax = axes.map((v) => normAxis(v, rank, `${node.name} (Unsqueeze)`));
  const dims: number[] = [];
  let j = 0;
  for (let i = 0; i < rank; i++) dims.push(ax.includes(i) ? 1 : a.dims[j++]);
  return [reshapeTo(a, dims)];
};

const squeeze: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const axes = axesFrom(inputs, attrs, node);
  const ax = axes?.map((v) => normAxis(v, a.dims.length, `${node.name} (Squeeze)`));
  return [reshapeTo(a, a.dims.filter((d, i) => (ax ? !ax.includes(i) : d !== 1)))];
};

const concat: OpFn = (inputs, attrs, node) => {
  const parts = inputs.filter((t): t is Tensor => t !== undefined);
  if (parts.length === 0) throw new SculptError(`sparse executor: node ${node.name} (Concat) has no inputs`);
  const rank = parts[0].dims.length;
  const axis = normAxis(attrInt(attrs, 'axis', 0), rank, `${node.name} (Concat)`);
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

const gather: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const idxT = need(inputs[1], node, 1);
  const axis = normAxis(attrInt(attrs, 'axis', 0), a.dims.length, `${node.name} (Gather)`);
  const idx = intValues(idxT, `${node.name} indices`);
  const n = a.dims[axis];
  const outer = size(a.dims.slice(0, axis));
  const inner = size(a.dims.slice(axis + 1));
  const dims = [...a.dims.slice(0, axis), ...idxT.dims, ...a.dims.slice(axis + 1)];
  const out = allocLike(a.dtype, dims);
  let k = 0;
  for (let p = 0; p < outer; p++) {
    for (const i0 of idx) {
      const i = i0 < 0 ? i0 + n : i0;
      if (i < 0 || i >= n) throw new SculptError(`sparse executor: node ${node.name} (Gather) index ${i0} is out of range for size ${n}`);
      const base = (p * n + i) * inner;
      for (let j = 0; j < inner; j++) out.data[k++] = a.data[base + j];
    }
  }
  return [out];
};

const slice: OpFn = (inputs, _attrs, node) => {
  const a = need(inputs[0], node, 0);
  const starts = intValues(need(inputs[1], node, 1), `${node.name} starts`);
  const ends = intValues(need(inputs[2], node, 2), `${node.name} ends`);
  const axes = inputs[3] ? intValues(inputs[3], `${node.name} axes`) : starts.map((_, i) => i);
  const steps = inputs[4] ? intValues(inputs[4], `${node.name} steps`) : starts.map(() => 1);
  const rank = a.dims.length;
  const begin = a.dims.map(() => 0);
  const step = a.dims.map(() => 1);
  const outDims = [...a.dims];
  axes.forEach((axis0, i) => {
    const axis = normAxis(axis0, rank, `${node.name} (Slice)`);
    const d = a.dims[axis];
    const s = steps[i];
    if (s === 0) throw new SculptError(`sparse executor: node ${node.name} (Slice) has step 0`);
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

const expand: OpFn = (inputs, _attrs, node) => {
  const a = need(inputs[0], node, 0);
  const shape = intValues(need(inputs[1], node, 1), `${node.name} shape`);
  const dims = broadcastDims(a.dims, shape, node);
  const out = allocLike(a.dtype, dims);
  const idx = broadcastIndex(a.dims, dims);
  for (let i = 0; i < out.data.length; i++) out.data[i] = a.data[idx ? idx[i] : i];
  return [out];
};

const where: OpFn = (inputs, _attrs, node) => {
  const c = need(inputs[0], node, 0), x = need(inputs[1], node, 1), y = need(inputs[2], node, 2);
  const dims = broadcastDims(broadcastDims(c.dims, x.dims, node), y.dims, node);
  const out = allocLike(x.dtype, dims);
  const ic = broadcastIndex(c.dims, dims), ix = broadcastIndex(x.dims, dims), iy = broadcastIndex(y.dims, dims);
  for (let i = 0; i < out.data.length; i++) {
    out.data[i] = c.data[ic ? ic[i] : i] ? x.data[ix ? ix[i] : i] : y.data[iy ? iy[i] : i];
  }
  return [out];
};

const cast: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const to = attrInt(attrs, 'to', 1);
  if (to === 1 || to === 10 || to === 11 || to === 16) {
    return [floatTensor(a.dims, Float32Array.from(a.data))];
  }
  if (to === 9) {
    const out = allocLike('bool', a.dims);
    for (let i = 0; i < a.data.length; i++) out.data[i] = a.data[i] !== 0 ? 1 : 0;
    return [out];
  }
  if ([2, 3, 4, 5, 6, 7, 12, 13].includes(to)) {
    const out = allocLike('int64', a.dims);
    for (let i = 0; i < a.data.length; i++) out.data[i] = Math.trunc(a.data[i]);
    return [out];
  }
  throw new SculptError(`sparse executor: node ${node.name} casts to ONNX type ${to}, which is not supported; run it with --engine onnxruntime`);
};

const constant: OpFn = (_inputs, attrs, node) => {
  const v = attrs.get('value');
  if (v && typeof v === 'object' && 'dims' in v) return [fromGraphTensor(v)];
  const f = attrs.get('value_float'), fs = attrs.get('value_floats'), i = attrs.get('value_int'), is = attrs.get('value_ints');
  if (typeof f === 'number') return [floatTensor([], Float32Array.of(f))];
  if (fs instanceof Float32Array || Array.isArray(fs)) return [floatTensor([fs.length], Float32Array.from(fs as ArrayLike<number>))];
  if (typeof i === 'number') return [intTensor([], [i])];
  if (Array.isArray(is)) return [intTensor([is.length], is as number[])];
  throw new SculptError(`sparse executor: Constant node ${node.name} has no value the executor understands`);
};

const constantOfShape: OpFn = (inputs, attrs, node) => {
  const dims = intValues(need(inputs[0], node, 0), `${node.name} shape`);
  const v = attrs.get('value');
  const fill = v && typeof v === 'object' && 'dims' in v ? fromGraphTensor(v) : floatTensor([1], Float32Array.of(0));
  const out = allocLike(fill.dtype, dims);
  out.data.fill(fill.data[0]);
  return [out];
};

const range: OpFn = (inputs, _attrs, node) => {
  const [s, l, d] = [0, 1, 2].map((i) => need(inputs[i], node, i));
  const start = s.data[0], limit = l.data[0], delta = d.data[0];
  const n = Math.max(Math.ceil((limit - start) / delta), 0);
  const out = allocLike(s.dtype, [n]);
  for (let i = 0; i < n; i++) out.data[i] = start + i * delta;
  return [out];
};

const shape: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const r = a.dims.length;
  let start = attrInt(attrs, 'start', 0), end = attrInt(attrs, 'end', r);
  if (start < 0) start += r;
  if (end < 0) end += r;
  const dims = a.dims.slice(Math.max(0, start), Math.min(r, end));
  return [intTensor([dims.length], dims)];
};

const clip: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const lo = inputs[1] ? inputs[1].data[0] : attrFloat(attrs, 'min', -Infinity);
  const hi = inputs[2] ? inputs[2].data[0] : attrFloat(attrs, 'max', Infinity);
  const x = float(a, node);
  const o = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) o[i] = Math.min(Math.max(x[i], lo), hi);
  return [floatTensor(a.dims, o)];
};

const gelu: OpFn = (inputs, attrs, node) => {
  const tanhApprox = attrString(attrs, 'approximate', 'none') === 'tanh';
  const f = tanhApprox
    ? (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)))
    : (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2));
  return unary(f)(inputs, attrs, node);
};

const leakyRelu: OpFn = (inputs, attrs, node) => {
  const alpha = attrFloat(attrs, 'alpha', 0.01);
  return unary((x) => (x >= 0 ? x : alpha * x))(inputs, attrs, node);
};

const identity: OpFn = (inputs, _attrs, node) => [need(inputs[0], node, 0)];

function withAttrs(make: (attrs: Attrs) => (x: number) => number): OpFn {
  return (inputs, attrs, node) => unary(make(attrs))(inputs, attrs, node);
}

/** Sum / Mean / Max / Min over any number of inputs, broadcasting. */
function variadic(f: Binary, mean = false): OpFn {
  const pair = binary(f);
  return (inputs, attrs, node) => {
    const parts = inputs.filter((t): t is Tensor => t !== undefined);
    if (parts.length === 0) throw new SculptError(`sparse executor: node ${node.name} (${node.opType}) has no inputs`);
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

const split: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const axis = normAxis(attrInt(attrs, 'axis', 0), a.dims.length, `${node.name} (Split)`);
  const n = node.outputs.length;
  const d = a.dims[axis];
  let sizes = attrInts(attrs, 'split') ?? (inputs[1] ? intValues(inputs[1], `${node.name} split`) : undefined);
  if (!sizes) {
    const numOutputs = attrInt(attrs, 'num_outputs', n);
    const chunk = Math.ceil(d / numOutputs);
    sizes = Array.from({ length: numOutputs }, (_, i) => Math.max(0, Math.min(chunk, d - i * chunk)));
  }
  if (sizes.reduce((p, q) => p + q, 0) !== d) throw new SculptError(`sparse executor: node ${node.name} (Split) sizes [${sizes.join(', ')}] do not add up to ${d}`);
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

const pad: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const mode = attrString(attrs, 'mode', 'constant');
  if (mode !== 'constant' && mode !== 'reflect' && mode !== 'edge') throw new SculptError(`sparse executor: node ${node.name} (Pad) mode ${mode} is not supported; run it with --engine onnxruntime`);
  const rank = a.dims.length;
  const raw = attrInts(attrs, 'pads') ?? intValues(need(inputs[1], node, 1), `${node.name} pads`);
  const value = inputs[2] && inputs[2].data.length > 0 ? inputs[2].data[0] : attrFloat(attrs, 'value', 0);
  const axes = inputs[3] ? intValues(inputs[3], `${node.name} axes`).map((v) => normAxis(v, rank, `${node.name} (Pad)`)) : a.dims.map((_, i) => i);
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
        else { while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i; }
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

const tile: OpFn = (inputs, _attrs, node) => {
  const a = need(inputs[0], node, 0);
  const reps = intValues(need(inputs[1], node, 1), `${node.name} repeats`);
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

const argMax: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const axis = normAxis(attrInt(attrs, 'axis', 0), a.dims.length, `${node.name} (ArgMax)`);
  const keep = attrInt(attrs, 'keepdims', 1) === 1;
  const last = attrInt(attrs, 'select_last_index', 0) === 1;
  const n = a.dims[axis];
  const outer = size(a.dims.slice(0, axis));
  const inner = size(a.dims.slice(axis + 1));
  const values = new Float64Array(outer * inner);
  for (let p = 0; p < outer; p++) {
    for (let q = 0; q < inner; q++) {
      let best = 0, bv = -Infinity;
      for (let j = 0; j < n; j++) {
        const v = a.data[(p * n + j) * inner + q];
        if (v > bv || (last && v === bv)) { bv = v; best = j; }
      }
      values[p * inner + q] = best;
    }
  }
  const dims = keep ? a.dims.map((d, i) => (i === axis ? 1 : d)) : a.dims.filter((_, i) => i !== axis);
  return [{ dtype: 'int64', dims, data: values }];
};

const prelu: OpFn = binary((x, slope) => (x >= 0 ? x : slope * x));
const logicalNot: OpFn = (inputs, _attrs, node) => {
  const a = need(inputs[0], node, 0);
  const out = allocLike('bool', a.dims);
  for (let i = 0; i < a.data.length; i++) out.data[i] = a.data[i] ? 0 : 1;
  return [out];
};

/** Operators by ONNX op type (default domain; Gelu also from com.microsoft). */
export const OPS: Readonly<Record<string, OpFn>> = {
  Add: binary((x, y) => x + y),
  Sub: binary((x, y) => x - y),
  Mul: binary((x, y) => x * y),
  Div: binary((x, y) => x / y, (x, y) => Math.trunc(x / y)),
  Pow: binary((x, y) => Math.pow(x, y)),
  Max: variadic((x, y) => Math.max(x, y)),
  Min: variadic((x, y) => Math.min(x, y)),
  Equal: binary((x, y) => (x === y ? 1 : 0), undefined, true),
  Less: binary((x, y) => (x < y ? 1 : 0), undefined, true),
  Greater: binary((x, y) => (x > y ? 1 : 0), undefined, true),
  Relu: unary((x) => (x > 0 ? x : 0)),
  Sigmoid: unary((x) => 1 / (1 + Math.exp(-x))),
  Tanh: unary(Math.tanh),
  Erf: unary(erf),
  Exp: unary(Math.exp),
  Log: unary(Math.log),
  Sqrt: unary(Math.sqrt),
  Neg: unary((x) => -x),
  Abs: unary(Math.abs),
  Reciprocal: unary((x) => 1 / x),
  Gelu: gelu,
  LeakyRelu: leakyRelu,
  Clip: clip,
  Softmax: softmax(false),
  LogSoftmax: softmax(true),
  ReduceMean: (i, a, n) => reduce(i, a, n, 'mean'),
  ReduceSum: (i, a, n) => reduce(i, a, n, 'sum'),
  ReduceMax: (i, a, n) => reduce(i, a, n, 'max'),
  ReduceMin: (i, a, n) => reduce(i, a, n, 'min'),
  LayerNormalization: layerNorm,
  BatchNormalization: batchNorm,
  MaxPool: pool('max'),
  AveragePool: pool('avg'),
  GlobalAveragePool: globalAveragePool,
  Reshape: reshape,
  Flatten: flatten,
  Transpose: transpose,
  Unsqueeze: unsqueeze,
  Squeeze: squeeze,
  Concat: concat,
  Gather: gather,
  Slice: slice,
  Expand: expand,
  Where: where,
  Cast: cast,
  Constant: constant,
  ConstantOfShape: constantOfShape,
  Range: range,
  Shape: shape,
  Identity: identity,
  Dropout: identity,
  Elu: withAttrs((a) => { const alpha = attrFloat(a, 'alpha', 1); return (x) => (x >= 0 ? x : alpha * (Math.exp(x) - 1)); }),
  Selu: withAttrs((a) => {
    const alpha = attrFloat(a, 'alpha', 1.6732632423543772), gamma = attrFloat(a, 'gamma', 1.0507009873554805);
    return (x) => gamma * (x > 0 ? x : alpha * (Math.exp(x) - 1));
  }),
  Softplus: unary((x) => (x > 20 ? x : Math.log1p(Math.exp(x)))),
  Softsign: unary((x) => x / (1 + Math.abs(x))),
  HardSigmoid: withAttrs((a) => { const al = attrFloat(a, 'alpha', 0.2), be = attrFloat(a, 'beta', 0.5); return (x) => Math.max(0, Math.min(1, al * x + be)); }),
  HardSwish: unary((x) => x * Math.max(0, Math.min(1, x / 6 + 0.5))),
  Floor: unary(Math.floor),
  Ceil: unary(Math.ceil),
  Round: unary((x) => { const r = Math.round(x); return Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : r; }),
  Sign: unary(Math.sign),
  Sin: unary(Math.sin),
  Cos: unary(Math.cos),
  PRelu: prelu,
  Mod: (inputs, attrs, node) => (attrInt(attrs, 'fmod', 0) === 1 ? binary((x, y) => x % y) : binary((x, y) => x - Math.floor(x / y) * y))(inputs, attrs, node),
  Sum: variadic((x, y) => x + y),
  Mean: variadic((x, y) => x + y, true),
  And: binary((x, y) => (x && y ? 1 : 0), undefined, true),
  Or: binary((x, y) => (x || y ? 1 : 0), undefined, true),
  Not: logicalNot,
  Split: split,
  Pad: pad,
  Tile: tile,
  ArgMax: argMax,
};
