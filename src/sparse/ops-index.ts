/** Indexing: GatherElements/ND, ScatterElements/ND, OneHot, Trilu, Compress, NonZero, TopK, EyeLike, ReverseSequence. */
import { SculptError } from '../core/errors.js';
import type { GraphNode } from '../core/graph.js';
import { at, attrInt, attrString, need, nodeLabel, type OpFn } from './ops-common.js';
import { allocLike, intTensor, intValues, normAxis, size, strides, type Tensor } from './tensor.js';

function index(i: number, n: number, node: GraphNode): number {
  const j = i < 0 ? i + n : i;
  if (j < 0 || j >= n) throw new SculptError(`${at(node)} index ${i} is out of range for size ${n}`);
  return j;
}

/** Calls `f(flat, counter)` for every element of a tensor of `dims` in row-major order. */
function forEachIndex(dims: readonly number[], f: (flat: number, counter: readonly number[]) => void): void {
  const n = size(dims), r = dims.length;
  const counter = new Array<number>(r).fill(0);
  for (let k = 0; k < n; k++) {
    f(k, counter);
    for (let d = r - 1; d >= 0; d--) {
      if (++counter[d] < dims[d]) break;
      counter[d] = 0;
    }
  }
}

export const gatherElements: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0), idx = need(inputs[1], node, 1);
  const r = a.dims.length;
  const axis = normAxis(attrInt(attrs, 'axis', 0), r, `${nodeLabel(node)} (GatherElements)`);
  const s = strides(a.dims);
  const out = allocLike(a.dtype, idx.dims);
  forEachIndex(idx.dims, (k, c) => {
    let off = 0;
    for (let d = 0; d < r; d++) off += (d === axis ? index(idx.data[k], a.dims[d], node) : c[d]) * s[d];
    out.data[k] = a.data[off];
  });
  return [out];
};

function combine(reduction: string, node: GraphNode): (old: number, v: number) => number {
  switch (reduction) {
    case 'none': return (_o, v) => v;
    case 'add': return (o, v) => o + v;
    case 'mul': return (o, v) => o * v;
    case 'max': return (o, v) => Math.max(o, v);
    case 'min': return (o, v) => Math.min(o, v);
    default: throw new SculptError(`${at(node)} reduction ${reduction} is not supported`);
  }
}

export const scatterElements: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0), idx = need(inputs[1], node, 1), upd = need(inputs[2], node, 2);
  const r = a.dims.length;
  const axis = normAxis(attrInt(attrs, 'axis', 0), r, `${nodeLabel(node)} (${node.opType})`);
  const f = combine(attrString(attrs, 'reduction', 'none'), node);
  const s = strides(a.dims);
  const out = allocLike(a.dtype, a.dims);
  out.data.set(a.data);
  forEachIndex(idx.dims, (k, c) => {
    let off = 0;
    for (let d = 0; d < r; d++) off += (d === axis ? index(idx.data[k], a.dims[d], node) : c[d]) * s[d];
    out.data[off] = f(out.data[off], upd.data[k]);
  });
  return [out];
};

export const scatterND: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0), idx = need(inputs[1], node, 1), upd = need(inputs[2], node, 2);
  const f = combine(attrString(attrs, 'reduction', 'none'), node);
  const q = idx.dims[idx.dims.length - 1];
  const s = strides(a.dims);
  const slice = size(a.dims.slice(q));
  const out = allocLike(a.dtype, a.dims);
  out.data.set(a.data);
  const count = size(idx.dims.slice(0, -1));
  for (let i = 0; i < count; i++) {
    let off = 0;
    for (let d = 0; d < q; d++) off += index(idx.data[i * q + d], a.dims[d], node) * s[d];
    for (let j = 0; j < slice; j++) out.data[off + j] = f(out.data[off + j], upd.data[i * slice + j]);
  }
  return [out];
};

export const gatherND: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0), idx = need(inputs[1], node, 1);
  const b = attrInt(attrs, 'batch_dims', 0);
  const q = idx.dims[idx.dims.length - 1];
  const batch = size(a.dims.slice(0, b));
  const inner = a.dims.slice(b);
  const s = strides(inner);
  const slice = size(inner.slice(q));
  const perBatch = size(idx.dims.slice(b, -1));
  const dims = [...idx.dims.slice(0, -1), ...inner.slice(q)];
  const out = allocLike(a.dtype, dims);
  const innerSize = size(inner);
  let k = 0;
  for (let p = 0; p < batch; p++) {
    for (let i = 0; i < perBatch; i++) {
      const row = (p * perBatch + i) * q;
      let off = p * innerSize;
      for (let d = 0; d < q; d++) off += index(idx.data[row + d], inner[d], node) * s[d];
      for (let j = 0; j < slice; j++) out.data[k++] = a.data[off + j];
    }
  }
  return [out];
};

export const oneHot: OpFn = (inputs, attrs, node) => {
  const idx = need(inputs[0], node, 0), depthT = need(inputs[1], node, 1), values = need(inputs[2], node, 2);
  const depth = Math.trunc(depthT.data[0]);
  const r = idx.dims.length + 1;
  const axis = normAxis(attrInt(attrs, 'axis', -1), r, `${nodeLabel(node)} (OneHot)`);
  const dims = [...idx.dims.slice(0, axis), depth, ...idx.dims.slice(axis)];
  const out = allocLike(values.dtype, dims);
  out.data.fill(values.data[0]);
  const inner = size(idx.dims.slice(axis));
  for (let k = 0; k < idx.data.length; k++) {
    let v = Math.trunc(idx.data[k]);
    if (v < 0) v += depth;
    if (v < 0 || v >= depth) continue;
    const p = Math.floor(k / inner), q = k % inner;
    out.data[(p * depth + v) * inner + q] = values.data[1];
  }
  return [out];
};

export const trilu: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const k = inputs[1] ? intValues(inputs[1], `${nodeLabel(node)} k`)[0] : 0;
  const upper = attrInt(attrs, 'upper', 1) === 1;
  const r = a.dims.length;
  const rows = a.dims[r - 2], cols = a.dims[r - 1];
  const out = allocLike(a.dtype, a.dims);
  const plane = rows * cols;
  for (let p = 0; p < a.data.length / Math.max(plane, 1); p++) {
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) {
        const keep = upper ? j - i >= k : j - i <= k;
        const o = p * plane + i * cols + j;
        if (keep) out.data[o] = a.data[o];
      }
    }
  }
  return [out];
};

export const compress: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0), cond = need(inputs[1], node, 1);
  const axisAttr = attrs.get('axis');
  if (typeof axisAttr !== 'number') {
    const picked: number[] = [];
    for (let i = 0; i < Math.min(cond.data.length, a.data.length); i++) if (cond.data[i]) picked.push(i);
    const out = allocLike(a.dtype, [picked.length]);
    picked.forEach((i, k) => { out.data[k] = a.data[i]; });
    return [out];
  }
  const axis = normAxis(axisAttr, a.dims.length, `${nodeLabel(node)} (Compress)`);
  const n = a.dims[axis], outer = size(a.dims.slice(0, axis)), inner = size(a.dims.slice(axis + 1));
  const keep: number[] = [];
  for (let i = 0; i < Math.min(n, cond.data.length); i++) if (cond.data[i]) keep.push(i);
  const dims = [...a.dims];
  dims[axis] = keep.length;
  const out = allocLike(a.dtype, dims);
  let k = 0;
  for (let p = 0; p < outer; p++) for (const i of keep) for (let j = 0; j < inner; j++) out.data[k++] = a.data[(p * n + i) * inner + j];
  return [out];
};

export const nonZero: OpFn = (inputs, _attrs, node) => {
  const a = need(inputs[0], node, 0);
  const r = a.dims.length;
  const hits: number[][] = [];
  forEachIndex(a.dims, (k, c) => { if (a.data[k] !== 0) hits.push([...c]); });
  const out = allocLike('int64', [r, hits.length]);
  hits.forEach((c, j) => { for (let d = 0; d < r; d++) out.data[d * hits.length + j] = c[d]; });
  return [out];
};

/** TopK: ties keep the lower index first, as onnxruntime does. */
export const topK: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const k = inputs[1] ? intValues(inputs[1], `${nodeLabel(node)} K`)[0] : attrInt(attrs, 'k', 1);
  const axis = normAxis(attrInt(attrs, 'axis', -1), a.dims.length, `${nodeLabel(node)} (TopK)`);
  const largest = attrInt(attrs, 'largest', 1) === 1;
  const n = a.dims[axis], outer = size(a.dims.slice(0, axis)), inner = size(a.dims.slice(axis + 1));
  if (k > n) throw new SculptError(`${at(node)} K ${k} exceeds the axis size ${n}`);
  const dims = [...a.dims];
  dims[axis] = k;
  const values = allocLike(a.dtype, dims), indices = allocLike('int64', dims);
  const order = new Array<number>(n);
  for (let p = 0; p < outer; p++) {
    for (let q = 0; q < inner; q++) {
      for (let j = 0; j < n; j++) order[j] = j;
      const v = (j: number) => a.data[(p * n + j) * inner + q];
      order.sort((i, j) => (v(i) === v(j) ? i - j : largest ? v(j) - v(i) : v(i) - v(j)));
      for (let j = 0; j < k; j++) {
        const o = (p * k + j) * inner + q;
        values.data[o] = v(order[j]);
        indices.data[o] = order[j];
      }
    }
  }
  return [values, indices];
};

export const eyeLike: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const k = attrInt(attrs, 'k', 0);
  const dt = attrs.get('dtype');
  const dtype = typeof dt === 'number' ? (dt === 1 || dt === 10 || dt === 11 ? 'float32' : dt === 9 ? 'bool' : 'int64') : a.dtype;
  const [rows, cols] = a.dims;
  const out = allocLike(dtype, a.dims);
  for (let i = 0; i < rows; i++) if (i + k >= 0 && i + k < cols) out.data[i * cols + i + k] = 1;
  return [out];
};

export const reverseSequence: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0), lens = intValues(need(inputs[1], node, 1), `${nodeLabel(node)} sequence_lens`);
  const batchAxis = attrInt(attrs, 'batch_axis', 1), timeAxis = attrInt(attrs, 'time_axis', 0);
  const s = strides(a.dims);
  const out = allocLike(a.dtype, a.dims);
  forEachIndex(a.dims, (k, c) => {
    const b = c[batchAxis], t = c[timeAxis];
    const src = t < lens[b] ? k + (lens[b] - 1 - 2 * t) * s[timeAxis] : k;
    out.data[k] = a.data[src];
  });
  return [out];
};

export const sizeOp: OpFn = (inputs, _attrs, node) => [intTensor([], [size(need(inputs[0], node, 0).dims)])];

export const depthToSpace: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const bs = attrInt(attrs, 'blocksize', 1);
  const crd = attrString(attrs, 'mode', 'DCR') === 'CRD';
  const [n, c, h, w] = a.dims;
  const oc = c / (bs * bs);
  const out = allocLike(a.dtype, [n, oc, h * bs, w * bs]);
  let k = 0;
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < oc; ch++) {
      for (let y = 0; y < h * bs; y++) {
        for (let x = 0; x < w * bs; x++) {
          const i = y % bs, j = x % bs;
          const src = crd ? ch * bs * bs + i * bs + j : (i * bs + j) * oc + ch;
          out.data[k++] = a.data[((b * c + src) * h + Math.floor(y / bs)) * w + Math.floor(x / bs)];
        }
      }
    }
  }
  return [out];
};

export const spaceToDepth: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const bs = attrInt(attrs, 'blocksize', 1);
  const [n, c, h, w] = a.dims;
  const oh = h / bs, ow = w / bs;
  const out: Tensor = allocLike(a.dtype, [n, c * bs * bs, oh, ow]);
  let k = 0;
  for (let b = 0; b < n; b++) {
    for (let oc = 0; oc < c * bs * bs; oc++) {
      const ch = oc % c, blk = Math.floor(oc / c), i = Math.floor(blk / bs), j = blk % bs;
      for (let y = 0; y < oh; y++) for (let x = 0; x < ow; x++) out.data[k++] = a.data[((b * c + ch) * h + y * bs + i) * w + x * bs + j];
    }
  }
  return [out];
};

/** Unique over the flattened input or over slices along `axis`; sorted ascending (lexicographic for slices) or by first occurrence. */
export const unique: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const sorted = attrInt(attrs, 'sorted', 1) === 1;
  const axisAttr = attrs.get('axis');
  const axis = typeof axisAttr === 'number' ? normAxis(axisAttr, a.dims.length, `${nodeLabel(node)} (Unique)`) : undefined;
  const n = axis === undefined ? a.data.length : a.dims[axis];
  const outer = axis === undefined ? 1 : size(a.dims.slice(0, axis)), inner = axis === undefined ? 1 : size(a.dims.slice(axis + 1));
  const sliceOf = (i: number) => {
    const v: number[] = [];
    for (let p = 0; p < outer; p++) for (let j = 0; j < inner; j++) v.push(a.data[(p * n + i) * inner + j]);
    return v;
  };
  const slices = Array.from({ length: n }, (_, i) => sliceOf(i));
  const key = (v: number[]) => v.join(',');
  const first = new Map<string, number>();
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const k = key(slices[i]);
    if (!first.has(k)) first.set(k, i);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  const order = [...first.values()];
  if (sorted) {
    order.sort((p, q) => {
      const u = slices[p], v = slices[q];
      for (let j = 0; j < u.length; j++) if (u[j] !== v[j]) return u[j] - v[j];
      return 0;
    });
  }
  const rank = new Map(order.map((i, r) => [key(slices[i]), r]));
  const dims = axis === undefined ? [order.length] : a.dims.map((d, i) => (i === axis ? order.length : d));
  const y = allocLike(a.dtype, dims);
  order.forEach((i, r) => {
    const v = slices[i];
    for (let p = 0; p < outer; p++) for (let j = 0; j < inner; j++) y.data[(p * order.length + r) * inner + j] = v[p * inner + j];
  });
  const inverse = slices.map((v) => rank.get(key(v))!);
  return [y, intTensor([order.length], order), intTensor([n], inverse), intTensor([order.length], order.map((i) => counts.get(key(slices[i]))!))];
};

/** Determinant of each trailing [M, M] matrix, by LU with partial pivoting in float64. */
export const det: OpFn = (inputs, _attrs, node) => {
  const a = need(inputs[0], node, 0);
  const r = a.dims.length;
  const m = a.dims[r - 1];
  if (a.dims[r - 2] !== m) throw new SculptError(`${at(node)} needs square matrices, got [${a.dims.join(', ')}]`);
  const count = size(a.dims.slice(0, -2));
  const out = allocLike('float32', a.dims.slice(0, -2));
  const lu = new Float64Array(m * m);
  for (let p = 0; p < count; p++) {
    for (let i = 0; i < m * m; i++) lu[i] = a.data[p * m * m + i];
    let d = 1;
    for (let k = 0; k < m; k++) {
      let piv = k;
      for (let i = k + 1; i < m; i++) if (Math.abs(lu[i * m + k]) > Math.abs(lu[piv * m + k])) piv = i;
      if (lu[piv * m + k] === 0) { d = 0; break; }
      if (piv !== k) { for (let j = 0; j < m; j++) { const t = lu[k * m + j]; lu[k * m + j] = lu[piv * m + j]; lu[piv * m + j] = t; } d = -d; }
      d *= lu[k * m + k];
      for (let i = k + 1; i < m; i++) {
        const f = lu[i * m + k] / lu[k * m + k];
        for (let j = k; j < m; j++) lu[i * m + j] -= f * lu[k * m + j];
      }
    }
    out.data[p] = d;
  }
  return [out];
};
