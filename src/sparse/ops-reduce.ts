/** Reductions (ReduceSum … ReduceLogSumExp), ArgMax/ArgMin, CumSum and Hardmax. */
import type { GraphNode } from '../core/graph.js';
import { attrInt, attrInts, need, nodeLabel, numeric, type Attrs, type OpFn } from './ops-common.js';
import { allocLike, intValues, normAxis, size, strides, type Tensor } from './tensor.js';

export type ReduceKind = 'sum' | 'mean' | 'max' | 'min' | 'prod' | 'l1' | 'l2' | 'logsum' | 'logsumexp' | 'sumsquare';

/** For each element of a tensor of `dims`, the flat index of its cell after reducing `axes` (kept as 1). */
export function reduceIndex(dims: readonly number[], keptDims: readonly number[]): Int32Array {
  const n = size(dims);
  const rank = dims.length;
  const outStr = strides(keptDims);
  const step = dims.map((_, d) => (keptDims[d] === 1 ? 0 : outStr[d]));
  const idx = new Int32Array(n);
  const counter = new Array<number>(rank).fill(0);
  let off = 0;
  for (let k = 0; k < n; k++) {
    idx[k] = off;
    for (let d = rank - 1; d >= 0; d--) {
      counter[d]++;
      off += step[d];
      if (counter[d] < dims[d]) break;
      off -= step[d] * counter[d];
      counter[d] = 0;
    }
  }
  return idx;
}

/** The axes a Reduce* node reduces: attribute (opset < 18, < 13 for ReduceSum) or input 1. */
function reduceAxes(inputs: readonly (Tensor | undefined)[], attrs: Attrs, node: GraphNode, rank: number): number[] | undefined {
  const axes = attrInts(attrs, 'axes') ?? (inputs[1] ? intValues(inputs[1], `${nodeLabel(node)} axes`) : undefined);
  if (!axes || axes.length === 0) return attrInt(attrs, 'noop_with_empty_axes', 0) === 1 ? undefined : Array.from({ length: rank }, (_, i) => i);
  return [...new Set(axes.map((v) => normAxis(v, rank, `${nodeLabel(node)} (${node.opType})`)))];
}

export function reduce(kind: ReduceKind): OpFn {
  return (inputs, attrs, node) => {
    const a = need(inputs[0], node, 0);
    const x = numeric(a, node);
    const rank = a.dims.length;
    const ax = reduceAxes(inputs, attrs, node, rank);
    // noop_with_empty_axes and no axes: the input unchanged.
    if (!ax) return [a];
    const axes = ax;
    const keep = attrInt(attrs, 'keepdims', 1) === 1;
    const kept = a.dims.map((d, i) => (axes.includes(i) ? 1 : d));
    const outN = size(kept);
    const acc = new Float64Array(outN);
    const init = kind === 'max' ? -Infinity : kind === 'min' ? Infinity : kind === 'prod' ? 1 : 0;
    acc.fill(init);
    const idx = reduceIndex(a.dims, kept);
    const n = x.length;
    switch (kind) {
      case 'max': for (let i = 0; i < n; i++) { const v = x[i]; if (v > acc[idx[i]] || Number.isNaN(v)) acc[idx[i]] = v; } break;
      case 'min': for (let i = 0; i < n; i++) { const v = x[i]; if (v < acc[idx[i]] || Number.isNaN(v)) acc[idx[i]] = v; } break;
      case 'prod': for (let i = 0; i < n; i++) acc[idx[i]] *= x[i]; break;
      case 'l1': for (let i = 0; i < n; i++) acc[idx[i]] += Math.abs(x[i]); break;
      case 'l2': case 'sumsquare': for (let i = 0; i < n; i++) acc[idx[i]] += x[i] * x[i]; break;
      case 'logsumexp': {
        const m = new Float64Array(outN).fill(-Infinity);
        for (let i = 0; i < n; i++) if (x[i] > m[idx[i]]) m[idx[i]] = x[i];
        for (let i = 0; i < n; i++) acc[idx[i]] += Math.exp(x[i] - m[idx[i]]);
        for (let j = 0; j < outN; j++) acc[j] = Math.log(acc[j]) + (Number.isFinite(m[j]) ? m[j] : 0);
        break;
      }
      default: for (let i = 0; i < n; i++) acc[idx[i]] += x[i];
    }
    if (kind === 'mean') { const count = n / Math.max(outN, 1); for (let j = 0; j < outN; j++) acc[j] /= count; }
    else if (kind === 'l2') for (let j = 0; j < outN; j++) acc[j] = Math.sqrt(acc[j]);
    else if (kind === 'logsum') for (let j = 0; j < outN; j++) acc[j] = Math.log(acc[j]);
    const dims = keep ? kept : a.dims.filter((_, i) => !axes.includes(i));
    const out = allocLike(a.dtype === 'bool' ? 'int64' : a.dtype, dims);
    if (out.dtype === 'int64') for (let j = 0; j < outN; j++) out.data[j] = Math.trunc(acc[j]);
    else out.data.set(acc);
    return [out];
  };
}

export function argExtreme(max: boolean): OpFn {
  return (inputs, attrs, node) => {
    const a = need(inputs[0], node, 0);
    const x = numeric(a, node);
    const axis = normAxis(attrInt(attrs, 'axis', 0), a.dims.length, `${nodeLabel(node)} (${node.opType})`);
    const keep = attrInt(attrs, 'keepdims', 1) === 1;
    const last = attrInt(attrs, 'select_last_index', 0) === 1;
    const n = a.dims[axis];
    const outer = size(a.dims.slice(0, axis));
    const inner = size(a.dims.slice(axis + 1));
    const values = new Float64Array(outer * inner);
    for (let p = 0; p < outer; p++) {
      for (let q = 0; q < inner; q++) {
        let best = 0, bv = x[p * n * inner + q];
        for (let j = 1; j < n; j++) {
          const v = x[(p * n + j) * inner + q];
          if (max ? v > bv || (last && v === bv) : v < bv || (last && v === bv)) { bv = v; best = j; }
        }
        values[p * inner + q] = best;
      }
    }
    const dims = keep ? a.dims.map((d, i) => (i === axis ? 1 : d)) : a.dims.filter((_, i) => i !== axis);
    return [{ dtype: 'int64', dims, data: values }];
  };
}

export const cumSum: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const x = numeric(a, node);
  const axisT = need(inputs[1], node, 1);
  const axis = normAxis(intValues(axisT, `${nodeLabel(node)} axis`)[0], a.dims.length, `${nodeLabel(node)} (CumSum)`);
  const exclusive = attrInt(attrs, 'exclusive', 0) === 1;
  const reverse = attrInt(attrs, 'reverse', 0) === 1;
  const n = a.dims[axis], outer = size(a.dims.slice(0, axis)), inner = size(a.dims.slice(axis + 1));
  const out = allocLike(a.dtype, a.dims);
  const o = out.data;
  for (let p = 0; p < outer; p++) {
    for (let q = 0; q < inner; q++) {
      let s = 0;
      for (let t = 0; t < n; t++) {
        const j = reverse ? n - 1 - t : t;
        const i = (p * n + j) * inner + q;
        if (exclusive) { o[i] = s; s += x[i]; } else { s += x[i]; o[i] = s; }
      }
    }
  }
  return [out];
};

export const hardmax: OpFn = (inputs, attrs, node, ctx) => {
  const a = need(inputs[0], node, 0);
  const x = numeric(a, node);
  const rank = a.dims.length;
  const opset = ctx?.opset ?? 13;
  const axis = normAxis(attrInt(attrs, 'axis', opset < 13 ? 1 : -1), rank, `${nodeLabel(node)} (Hardmax)`);
  // Before opset 13 the input is coerced to 2-D at `axis`; from 13 on `axis` alone is the row.
  const n = opset < 13 ? size(a.dims.slice(axis)) : a.dims[axis];
  const inner = opset < 13 ? 1 : size(a.dims.slice(axis + 1));
  const outer = x.length / (n * inner);
  const out = allocLike(a.dtype, a.dims);
  for (let p = 0; p < outer; p++) {
    for (let q = 0; q < inner; q++) {
      let best = 0;
      for (let j = 1; j < n; j++) if (x[(p * n + j) * inner + q] > x[(p * n + best) * inner + q]) best = j;
      out.data[(p * n + best) * inner + q] = 1;
    }
  }
  return [out];
};
