/** Normalisation: Layer (any axis), Batch (inference and training mode), Instance, LRN, MeanVariance. */
import { attrFloat, attrInt, attrInts, float, need, nodeLabel, type OpFn } from './ops-common.js';
import { broadcastIndex } from './ops-elementwise.js';
import { vectorSized } from './ops-elementwise.js';
import { layerNormRows } from './ops-vector.js';
import { floatTensor, normAxis, size } from './tensor.js';

/** Normalises each row of the trailing dims from `axis`; outputs Y, Mean and InvStdDev (the last two with the trailing dims as 1). */
export const layerNorm: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const x = float(a, node);
  const axis = normAxis(attrInt(attrs, 'axis', -1), a.dims.length, `${nodeLabel(node)} (LayerNormalization)`);
  const eps = attrFloat(attrs, 'epsilon', 1e-5);
  const trailing = a.dims.slice(axis);
  const n = size(trailing);
  const rows = n === 0 ? 0 : x.length / n;
  // Scale and bias broadcast against the trailing dims.
  const sT = inputs[1], bT = inputs[2];
  const scale = sT ? float(sT, node) : undefined, bias = bT ? float(bT, node) : undefined;
  const si = sT ? broadcastIndex(sT.dims, trailing) : null, bi = bT ? broadcastIndex(bT.dims, trailing) : null;
  // Scale and bias spread to one value per trailing element once, so the row loop is plain.
  const spread = (v: Float32Array | undefined, idx: Int32Array | null, fill: number): Float32Array => {
    const out = new Float32Array(n);
    for (let j = 0; j < n; j++) out[j] = v ? v[idx ? idx[j] : j] : fill;
    return out;
  };
  const sv = spread(scale, si, 1), bv = spread(bias, bi, 0);
  // The common case in WebAssembly; Mean and InvStdDev, when read, from the loop below.
  const statsRead = node.outputs.slice(1).some((o) => o !== '');
  if (vectorSized(x.length) && a.dtype === 'float32' && !statsRead) return [floatTensor(a.dims, layerNormRows(x, rows, n, sT ? sv : undefined, bT ? bv : undefined, eps))];
  const o = new Float32Array(x.length);
  const means = new Float32Array(rows), invs = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    const base = r * n;
    let mean = 0;
    for (let j = 0; j < n; j++) mean += x[base + j];
    mean /= n;
    let v = 0;
    for (let j = 0; j < n; j++) {
      const d = x[base + j] - mean;
      v += d * d;
    }
    const inv = 1 / Math.sqrt(v / n + eps);
    means[r] = mean;
    invs[r] = inv;
    for (let j = 0; j < n; j++) o[base + j] = (x[base + j] - mean) * inv * sv[j] + bv[j];
  }
  const statDims = a.dims.map((d, i) => (i < axis ? d : 1));
  return [floatTensor(a.dims, o), floatTensor(statDims, means), floatTensor(statDims, invs)];
};

/** Per-channel statistics over N and the spatial axes. */
function channelStats(x: Float32Array, n: number, c: number, inner: number): { mean: Float64Array; variance: Float64Array } {
  const mean = new Float64Array(c), variance = new Float64Array(c);
  const count = n * inner;
  for (let ch = 0; ch < c; ch++) {
    let s = 0;
    for (let b = 0; b < n; b++) for (let j = 0, base = (b * c + ch) * inner; j < inner; j++) s += x[base + j];
    const m = s / count;
    let v = 0;
    for (let b = 0; b < n; b++) for (let j = 0, base = (b * c + ch) * inner; j < inner; j++) v += (x[base + j] - m) ** 2;
    mean[ch] = m;
    variance[ch] = v / count;
  }
  return { mean, variance };
}

export const batchNorm: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const x = float(a, node);
  const [scale, bias, runMean, runVar] = [1, 2, 3, 4].map((i) => float(need(inputs[i], node, i), node));
  const eps = attrFloat(attrs, 'epsilon', 1e-5);
  const n = a.dims[0], c = a.dims.length > 1 ? a.dims[1] : 1;
  const inner = size(a.dims.slice(2));
  const training = attrInt(attrs, 'training_mode', 0) === 1;
  let mean: ArrayLike<number> = runMean, variance: ArrayLike<number> = runVar;
  const extra = [];
  if (training) {
    // Batch statistics normalise; the running ones are updated with `momentum`.
    const stats = channelStats(x, n, c, inner);
    mean = stats.mean;
    variance = stats.variance;
    const momentum = attrFloat(attrs, 'momentum', 0.9);
    const rm = new Float32Array(c), rv = new Float32Array(c);
    for (let ch = 0; ch < c; ch++) {
      rm[ch] = runMean[ch] * momentum + mean[ch] * (1 - momentum);
      rv[ch] = runVar[ch] * momentum + variance[ch] * (1 - momentum);
    }
    extra.push(floatTensor([c], rm), floatTensor([c], rv));
  }
  const o = new Float32Array(x.length);
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      const k = scale[ch] / Math.sqrt(variance[ch] + eps), m = mean[ch], off = bias[ch];
      for (let j = 0, base = (b * c + ch) * inner; j < inner; j++) o[base + j] = (x[base + j] - m) * k + off;
    }
  }
  return [floatTensor(a.dims, o), ...extra];
};

export const instanceNorm: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const x = float(a, node);
  const scale = float(need(inputs[1], node, 1), node), bias = float(need(inputs[2], node, 2), node);
  const eps = attrFloat(attrs, 'epsilon', 1e-5);
  const [n, c] = a.dims;
  const inner = size(a.dims.slice(2));
  const o = new Float32Array(x.length);
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      const base = (b * c + ch) * inner;
      let m = 0;
      for (let j = 0; j < inner; j++) m += x[base + j];
      m /= inner;
      let v = 0;
      for (let j = 0; j < inner; j++) v += (x[base + j] - m) ** 2;
      const k = scale[ch] / Math.sqrt(v / inner + eps);
      for (let j = 0; j < inner; j++) o[base + j] = (x[base + j] - m) * k + bias[ch];
    }
  }
  return [floatTensor(a.dims, o)];
};

/** Local response normalisation across channels. */
export const lrn: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const x = float(a, node);
  const alpha = attrFloat(attrs, 'alpha', 1e-4), beta = attrFloat(attrs, 'beta', 0.75), bias = attrFloat(attrs, 'bias', 1);
  const sizeN = attrInt(attrs, 'size', 1);
  const [n, c] = a.dims;
  const inner = size(a.dims.slice(2));
  const lo = Math.floor((sizeN - 1) / 2), hi = Math.ceil((sizeN - 1) / 2);
  const o = new Float32Array(x.length);
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      for (let j = 0; j < inner; j++) {
        let s = 0;
        for (let k = Math.max(0, ch - lo); k <= Math.min(c - 1, ch + hi); k++) s += x[(b * c + k) * inner + j] ** 2;
        const i = (b * c + ch) * inner + j;
        o[i] = x[i] / (bias + (alpha / sizeN) * s) ** beta;
      }
    }
  }
  return [floatTensor(a.dims, o)];
};

/** (x − mean) / std over `axes` (default N and the spatial axes). */
export const meanVarianceNorm: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const x = float(a, node);
  const rank = a.dims.length;
  const axes = (attrInts(attrs, 'axes') ?? [0, 2, 3]).map((v) => normAxis(v, rank, `${nodeLabel(node)} (MeanVarianceNormalization)`));
  const kept = a.dims.map((d, i) => (axes.includes(i) ? 1 : d));
  const idx = broadcastIndex(kept, a.dims);
  const cells = size(kept);
  const sum = new Float64Array(cells), sq = new Float64Array(cells);
  const count = x.length / cells;
  // broadcastIndex maps output elements to the kept cell; null means one cell per element.
  for (let i = 0; i < x.length; i++) { const k = idx ? idx[i] : i; sum[k] += x[i]; sq[k] += x[i] * x[i]; }
  const o = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const k = idx ? idx[i] : i;
    const m = sum[k] / count;
    o[i] = (x[i] - m) / (Math.sqrt(Math.max(sq[k] / count - m * m, 0)) + 1e-9);
  }
  return [floatTensor(a.dims, o)];
};

/**
 * GroupNormalization: statistics per (sample, group of C/num_groups channels). Scale and bias are
 * per group (opset 18) or per channel (opset 21); their length says which.
 */
export const groupNorm: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const x = float(a, node);
  const scale = float(need(inputs[1], node, 1), node), bias = float(need(inputs[2], node, 2), node);
  const eps = attrFloat(attrs, 'epsilon', 1e-5);
  const groups = attrInt(attrs, 'num_groups', 1);
  const [n, c] = a.dims;
  const inner = size(a.dims.slice(2));
  const perGroup = c / groups;
  const perChannel = scale.length === c && c !== groups;
  const o = new Float32Array(x.length);
  const span = perGroup * inner;
  for (let b = 0; b < n; b++) {
    for (let g = 0; g < groups; g++) {
      const base = (b * groups + g) * span;
      let m = 0;
      for (let j = 0; j < span; j++) m += x[base + j];
      m /= span;
      let v = 0;
      for (let j = 0; j < span; j++) v += (x[base + j] - m) ** 2;
      const inv = 1 / Math.sqrt(v / span + eps);
      for (let ch = 0; ch < perGroup; ch++) {
        const k = perChannel ? g * perGroup + ch : g;
        const s = scale[k], off = bias[k];
        for (let j = 0, i = base + ch * inner; j < inner; j++, i++) o[i] = (x[i] - m) * inv * s + off;
      }
    }
  }
  return [floatTensor(a.dims, o)];
};
