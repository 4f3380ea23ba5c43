/**
 * Resize (opset 10, 11, 13+) and Upsample (opset 7 attribute scales, 9 input scales): nearest,
 * linear and cubic, separable per axis, with every coordinate transformation mode ONNX defines.
 * Each output axis gets a list of (input index, weight) taps; the output is their tensor product.
 */
import { SculptError } from '../core/errors.js';
import type { GraphNode } from '../core/graph.js';
import { formatBytes, shapeText } from '../core/limits.js';
import { at, attrFloat, attrFloats, attrInt, attrInts, attrString, need, nodeLabel, numeric, type Attrs, type OpFn } from './ops-common.js';
import { allocLike, intValues, size, strides, tensorBudget, type Tensor } from './tensor.js';

interface AxisTaps {
  /** Per output coordinate: `count` taps starting at `o·count`; index −1 marks an extrapolated point. */
  readonly index: Int32Array;
  readonly weight: Float64Array;
  readonly count: number;
}

interface ResizeSettings {
  readonly mode: 'nearest' | 'linear' | 'cubic';
  readonly transform: string;
  readonly nearestMode: string;
  readonly cubicA: number;
  readonly excludeOutside: boolean;
  readonly extrapolation: number;
}

/** `lenOut` is the integer output length; like onnx's reference, the modes use the unrounded lenIn·scale. */
function originalCoordinate(x: number, scale: number, lenIn: number, lenOutInt: number, s: ResizeSettings, roiStart: number, roiEnd: number, node: GraphNode): number {
  const lenOut = lenIn * scale;
  switch (s.transform) {
    case 'half_pixel': return (x + 0.5) / scale - 0.5;
    case 'half_pixel_symmetric': {
      const adjustment = lenOutInt / lenOut;
      const center = lenIn / 2;
      return center * (1 - adjustment) + (x + 0.5) / scale - 0.5;
    }
    case 'pytorch_half_pixel': return lenOut > 1 ? (x + 0.5) / scale - 0.5 : 0;
    case 'align_corners': return lenOut === 1 ? 0 : (x * (lenIn - 1)) / (lenOut - 1);
    case 'asymmetric': return x / scale;
    case 'tf_half_pixel_for_nn': return (x + 0.5) / scale;
    case 'tf_crop_and_resize':
      return lenOut > 1 ? roiStart * (lenIn - 1) + (x * (roiEnd - roiStart) * (lenIn - 1)) / (lenOut - 1) : 0.5 * (roiStart + roiEnd) * (lenIn - 1);
    default: throw new SculptError(`${at(node)} coordinate_transformation_mode ${s.transform} is not supported`);
  }
}

function nearestIndex(x: number, mode: string, node: GraphNode): number {
  switch (mode) {
    case 'round_prefer_floor': return x === Math.floor(x) + 0.5 ? Math.floor(x) : Math.round(x);
    case 'round_prefer_ceil': return x === Math.floor(x) + 0.5 ? Math.ceil(x) : Math.round(x);
    case 'floor': return Math.floor(x);
    case 'ceil': return Math.ceil(x);
    default: throw new SculptError(`${at(node)} nearest_mode ${mode} is not supported`);
  }
}

function cubicWeights(t: number, a: number): number[] {
  const w = (d: number) => {
    const x = Math.abs(d);
    if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    return 0;
  };
  return [w(t + 1), w(t), w(1 - t), w(2 - t)];
}

function axisTaps(lenIn: number, lenOut: number, scale: number, s: ResizeSettings, roiStart: number, roiEnd: number, node: GraphNode): AxisTaps {
  const count = s.mode === 'nearest' ? 1 : s.mode === 'linear' ? 2 : 4;
  const index = new Int32Array(lenOut * count), weight = new Float64Array(lenOut * count);
  const clamp = (i: number) => Math.min(Math.max(i, 0), lenIn - 1);
  for (let o = 0; o < lenOut; o++) {
    const x = originalCoordinate(o, scale, lenIn, lenOut, s, roiStart, roiEnd, node);
    const base = o * count;
    if (s.transform === 'tf_crop_and_resize' && (x < 0 || x > lenIn - 1)) {
      index.fill(-1, base, base + count);
      continue;
    }
    if (s.mode === 'nearest') {
      index[base] = clamp(nearestIndex(x, s.nearestMode, node));
      weight[base] = 1;
    } else if (s.mode === 'linear') {
      const xc = Math.min(Math.max(x, 0), lenIn - 1);
      const i0 = Math.floor(xc), t = xc - i0;
      index[base] = clamp(i0); weight[base] = 1 - t;
      index[base + 1] = clamp(i0 + 1); weight[base + 1] = t;
    } else {
      const i0 = Math.floor(x), t = x - i0;
      const w = cubicWeights(t, s.cubicA);
      let total = 0;
      for (let k = 0; k < 4; k++) {
        const i = i0 - 1 + k;
        const outside = i < 0 || i >= lenIn;
        const wk = s.excludeOutside && outside ? 0 : w[k];
        index[base + k] = clamp(i);
        weight[base + k] = wk;
        total += wk;
      }
      if (s.excludeOutside && total !== 0) for (let k = 0; k < 4; k++) weight[base + k] /= total;
    }
  }
  return { index, weight, count };
}

/** The resized tensor: for each output element, the weighted sum over the product of its axes' taps. */
function resample(a: Tensor, outDims: readonly number[], scales: readonly number[], s: ResizeSettings, roi: readonly number[] | undefined, node: GraphNode): Tensor {
  const r = a.dims.length;
  const x = numeric(a, node);
  // The output's size is checked before anything depends on it (the taps are as long as its axes).
  const out = allocLike(a.dtype, outDims, `${at(node)} output`);
  if (out.data.length === 0) return out;
  const perTap = s.mode === 'nearest' ? 1 : s.mode === 'linear' ? 2 : 4;
  const tapBytes = outDims.reduce((t, d) => t + d * perTap * 12, 0);
  if (tapBytes > tensorBudget()) throw new SculptError(`${at(node)} output ${shapeText(outDims)} needs ${formatBytes(tapBytes)} of interpolation taps, over the ${formatBytes(tensorBudget())} one tensor may take; the model's scales or sizes are malformed`);
  const taps = a.dims.map((d, i) => axisTaps(d, outDims[i], scales[i], s, roi ? roi[i] : 0, roi ? roi[i + r] : 1, node));
  const inStr = strides(a.dims);
  const o = out.data;
  const counter = new Array<number>(r).fill(0);
  const tapPos = new Array<number>(r).fill(0);
  const n = size(outDims);
  const isInt = a.dtype !== 'float32';
  for (let k = 0; k < n; k++) {
    let extrapolate = false;
    for (let d = 0; d < r; d++) if (taps[d].index[counter[d] * taps[d].count] < 0) extrapolate = true;
    let v = 0;
    if (extrapolate) v = s.extrapolation;
    else {
      // Odometer over the taps of every axis.
      tapPos.fill(0);
      for (;;) {
        let off = 0, w = 1;
        for (let d = 0; d < r; d++) {
          const t = taps[d], j = counter[d] * t.count + tapPos[d];
          off += t.index[j] * inStr[d];
          w *= t.weight[j];
        }
        if (w !== 0) v += w * x[off];
        let d = r - 1;
        for (; d >= 0; d--) {
          if (++tapPos[d] < taps[d].count) break;
          tapPos[d] = 0;
        }
        if (d < 0) break;
      }
    }
    o[k] = isInt ? Math.round(v) : v;
    for (let d = r - 1; d >= 0; d--) {
      if (++counter[d] < outDims[d]) break;
      counter[d] = 0;
    }
  }
  return out;
}

function settings(attrs: Attrs, node: GraphNode, legacy: boolean): ResizeSettings {
  const mode = attrString(attrs, 'mode', 'nearest');
  if (mode !== 'nearest' && mode !== 'linear' && mode !== 'cubic') throw new SculptError(`${at(node)} mode ${mode} is not supported`);
  if (attrInt(attrs, 'antialias', 0) === 1) throw new SculptError(`${at(node)} antialias is not supported; run the model with \`sculpt run --engine onnxruntime\``);
  return {
    mode,
    // Upsample and opset-10 Resize have no coordinate modes: asymmetric, nearest rounds down.
    transform: legacy ? 'asymmetric' : attrString(attrs, 'coordinate_transformation_mode', 'half_pixel'),
    nearestMode: legacy ? 'floor' : attrString(attrs, 'nearest_mode', 'round_prefer_floor'),
    cubicA: attrFloat(attrs, 'cubic_coeff_a', -0.75),
    excludeOutside: attrInt(attrs, 'exclude_outside', 0) === 1,
    extrapolation: attrFloat(attrs, 'extrapolation_value', 0),
  };
}

function floats(t: Tensor | undefined): number[] | undefined {
  return t && t.data.length > 0 ? Array.from(t.data) : undefined;
}

export const resize: OpFn = (inputs, attrs, node, ctx) => {
  const a = need(inputs[0], node, 0);
  const r = a.dims.length;
  const legacy = (ctx?.opset ?? 13) < 11;
  const s = settings(attrs, node, legacy);
  const roi = legacy ? undefined : floats(inputs[1]);
  let scales = floats(legacy ? inputs[1] : inputs[2]);
  const sizesIn = legacy ? undefined : inputs[3] && inputs[3].data.length > 0 ? intValues(inputs[3], `${nodeLabel(node)} sizes`) : undefined;
  const axes = attrInts(attrs, 'axes')?.map((v) => (v < 0 ? v + r : v));
  const expand = (vals: number[], fill: number) => {
    if (!axes) return vals;
    const full = new Array<number>(r).fill(fill);
    axes.forEach((ax, i) => { full[ax] = vals[i]; });
    return full;
  };
  let outDims: number[];
  if (sizesIn) {
    let sizes = expand(sizesIn, -1).map((v, i) => (v < 0 ? a.dims[i] : v));
    const policy = attrString(attrs, 'keep_aspect_ratio_policy', 'stretch');
    if (policy !== 'stretch') {
      const ax = axes ?? a.dims.map((_, i) => i);
      const ratios = ax.map((i) => sizes[i] / a.dims[i]);
      const k = policy === 'not_larger' ? Math.min(...ratios) : Math.max(...ratios);
      sizes = sizes.map((v, i) => (ax.includes(i) ? Math.round(a.dims[i] * k) : v));
      scales = a.dims.map((d, i) => (ax.includes(i) ? k : 1));
    } else scales = sizes.map((v, i) => v / a.dims[i]);
    outDims = sizes;
  } else if (scales) {
    scales = expand(scales, 1);
    outDims = a.dims.map((d, i) => Math.floor(d * scales![i]));
  } else throw new SculptError(`${at(node)} has neither scales nor sizes`);
  if (scales.length !== r || outDims.length !== r) throw new SculptError(`${at(node)} scales or sizes have ${scales.length} values for rank ${r}`);
  const roiFull = roi && axes ? [...expand(roi.slice(0, axes.length), 0), ...expand(roi.slice(axes.length), 1)] : roi;
  return [resample(a, outDims, scales, s, s.transform === 'tf_crop_and_resize' ? roiFull : undefined, node)];
};

export const upsample: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const scales = attrFloats(attrs, 'scales') ?? floats(inputs[1]);
  if (!scales || scales.length !== a.dims.length) throw new SculptError(`${at(node)} needs ${a.dims.length} scales`);
  const s = settings(attrs, node, true);
  return [resample(a, a.dims.map((d, i) => Math.floor(d * scales[i])), scales, s, undefined, node)];
};
