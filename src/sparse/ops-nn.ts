/** Reductions, softmax, normalisation and pooling. */
import { SculptError } from '../core/errors.js';
import type { GraphNode } from '../core/graph.js';
import { attrFloat, attrInt, attrInts, attrString, float, need, type Attrs, type OpFn } from './ops-common.js';
import { floatTensor, intValues, normAxis, size, strides, type Tensor } from './tensor.js';


/** Splits dims around the (sorted, unique) axes into outer × reduced × inner loops when contiguous. */
export function reduce(inputs: readonly (Tensor | undefined)[], attrs: Attrs, node: GraphNode, kind: 'mean' | 'sum' | 'max' | 'min'): Tensor[] {
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

export function softmax(log: boolean): OpFn {
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

export const layerNorm: OpFn = (inputs, attrs, node) => {
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

export const batchNorm: OpFn = (inputs, attrs, node) => {
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

export function pool(kind: 'max' | 'avg'): OpFn {
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

export const globalAveragePool: OpFn = (inputs, _attrs, node) => {
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

