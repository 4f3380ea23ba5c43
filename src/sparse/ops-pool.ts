/** Pooling over 1, 2 or 3 (any number of) spatial axes: Max (with Indices), Average, Lp, global forms, MaxUnpool. */
import { SculptError } from '../core/errors.js';
import { at, attrInt, attrInts, need, nodeLabel, numeric, type OpFn } from './ops-common.js';
import { resolvePads, spatialOut } from './ops-nn.js';
import { maxPool2d } from './ops-vector.js';
import { allocLike, floatTensor, intValues, size, strides, tensorBudget, type Tensor } from './tensor.js';

/** Window taps a pooling node may visit per value a tensor may hold (2^31 at the default budget; a 3×3 pool of 64 channels at 4K takes 1.2·10^9). */
const WINDOW_TAPS_PER_VALUE = 16;

export function pool(kind: 'max' | 'avg' | 'lp'): OpFn {
  return (inputs, attrs, node) => {
    const a = need(inputs[0], node, 0);
    const x = numeric(a, node);
    if (a.dims.length < 3) throw new SculptError(`${at(node)} needs an input of rank 3 or more ([N, C, spatial…]), got rank ${a.dims.length}`);
    const [n, c] = a.dims;
    const sp = a.dims.slice(2);
    const r = sp.length;
    const kernel = attrInts(attrs, 'kernel_shape');
    if (!kernel || kernel.length !== r) throw new SculptError(`${at(node)} needs kernel_shape with ${r} values`);
    const st = attrInts(attrs, 'strides') ?? new Array<number>(r).fill(1);
    const dil = attrInts(attrs, 'dilations') ?? new Array<number>(r).fill(1);
    const ceil = attrInt(attrs, 'ceil_mode', 0) === 1;
    const { begin, end } = resolvePads(attrs, sp, kernel, st, dil, node);
    const includePad = attrInt(attrs, 'count_include_pad', 0) === 1;
    const p = attrInt(attrs, 'p', 2);
    const columnMajor = attrInt(attrs, 'storage_order', 0) === 1;
    const outSp = sp.map((d, i) => spatialOut(d, kernel[i], st[i], begin[i], end[i], dil[i], ceil));
    const planeIn = size(sp), planeOut = size(outSp);
    const kTotal = size(kernel);
    // Each output visits its whole window: a huge window over a huge input would run for hours.
    const work = n * c * planeOut * kTotal, allowed = WINDOW_TAPS_PER_VALUE * (tensorBudget() / 4);
    if (work > allowed) throw new SculptError(`${at(node)} would visit ${work.toExponential(2)} window taps (${n * c * planeOut} outputs × a window of ${kTotal}), over the ${allowed.toExponential(2)} sculpt allows; check kernel_shape, or run the model with \`sculpt run --engine onnxruntime\``);
    const wantIndices = kind === 'max' && node.outputs.length > 1 && node.outputs[1] !== '';
    const float2d = r === 2 && !wantIndices && x instanceof Float32Array && a.dtype === 'float32';
    // The kernel's output is the result (no zeroed array to copy it into: 0.2 ms on ResNet-18's MaxPool).
    if (float2d && kind === 'max') return [floatTensor([n, c, ...outSp], maxPool2d(x, n * c, sp, outSp, kernel, st, dil, begin))];
    const out = allocLike(a.dtype, [n, c, ...outSp], `${at(node)} output`);
    const o = out.data;
    if (float2d && kind === 'avg' && o instanceof Float32Array) {
      avgPool2d(x, o, n * c, sp, outSp, kernel, st, dil, begin, end, includePad);
      return [out];
    }
    const indices = wantIndices ? new Float64Array(o.length) : undefined;
    const inStr = new Array<number>(r), colStr = new Array<number>(r);
    for (let d = r - 1, s = 1; d >= 0; d--) { inStr[d] = s; s *= sp[d]; }
    for (let d = 0, s = 1; d < r; d++) { colStr[d] = s; s *= sp[d]; }
    // Per kernel tap, its offset along each axis (dilated).
    const taps = new Int32Array(kTotal * r);
    for (let t = 0; t < kTotal; t++) {
      let rem = t;
      for (let d = r - 1; d >= 0; d--) { taps[t * r + d] = (rem % kernel[d]) * dil[d]; rem = Math.floor(rem / kernel[d]); }
    }
    const pos = new Array<number>(r).fill(0);
    const origin = new Array<number>(r);
    for (let q = 0; q < planeOut; q++) {
      for (let d = 0; d < r; d++) origin[d] = pos[d] * st[d] - begin[d];
      // The window clipped to input + pads (count_include_pad counts pads, not what lies beyond them).
      let padCount = 1;
      if (kind === 'avg' && includePad) {
        for (let d = 0; d < r; d++) {
          const tmin = Math.max(0, Math.ceil((-begin[d] - origin[d]) / dil[d]));
          const tmax = Math.min(kernel[d] - 1, Math.floor((sp[d] + end[d] - 1 - origin[d]) / dil[d]));
          padCount *= Math.max(0, tmax - tmin + 1);
        }
      }
      for (let pc = 0; pc < n * c; pc++) {
        const base = pc * planeIn;
        let m = -Infinity, mi = -1, s = 0, cnt = 0;
        for (let t = 0; t < kTotal; t++) {
          let off = 0, col = 0, inside = true;
          for (let d = 0; d < r; d++) {
            const v = origin[d] + taps[t * r + d];
            if (v < 0 || v >= sp[d]) { inside = false; break; }
            off += v * inStr[d];
            col += v * colStr[d];
          }
          if (!inside) continue;
          const v = x[base + off];
          if (kind === 'max') { if (v > m || mi < 0) { m = v; mi = columnMajor ? col : off; } }
          else if (kind === 'lp') s += Math.abs(v) ** p;
          else s += v;
          cnt++;
        }
        const k = pc * planeOut + q;
        if (kind === 'max') {
          o[k] = m;
          if (indices) indices[k] = base + mi;
        } else if (kind === 'lp') o[k] = s ** (1 / p);
        else o[k] = s / (includePad ? padCount : cnt);
      }
      for (let d = r - 1; d >= 0; d--) {
        if (++pos[d] < outSp[d]) break;
        pos[d] = 0;
      }
    }
    return indices ? [out, { dtype: 'int64', dims: out.dims, data: indices }] : [out];
  };
}

/**
 * Average pooling of float planes over two axes: per output, the window's rows and columns
 * clipped to the input once, then a plain double loop (the general path above decodes every tap).
 * Max pooling of this form runs in WebAssembly (ops-vector.ts).
 */
function avgPool2d(x: Float32Array, o: Float32Array, planes: number, sp: readonly number[], outSp: readonly number[], kernel: readonly number[], st: readonly number[], dil: readonly number[], begin: readonly number[], end: readonly number[], includePad: boolean): void {
  const [h, w] = sp, [oh, ow] = outSp, [kh, kw] = kernel, [sh, sw] = st, [dh, dw] = dil;
  // Per output row (column): the first tap inside the input, one past the last, and, for
  // count_include_pad, how many taps fall inside input + pads.
  const span = (count: number, size: number, k: number, s: number, d: number, b: number, e: number) => {
    const first = new Int32Array(count), last = new Int32Array(count), padded = new Int32Array(count);
    for (let q = 0; q < count; q++) {
      const origin = q * s - b;
      first[q] = Math.max(0, Math.ceil(-origin / d));
      last[q] = Math.min(k, Math.floor((size - 1 - origin) / d) + 1);
      padded[q] = Math.max(0, Math.min(k - 1, Math.floor((size + e - 1 - origin) / d)) - Math.max(0, Math.ceil((-b - origin) / d)) + 1);
    }
    return { first, last, padded };
  };
  const ys = span(oh, h, kh, sh, dh, begin[0], end[0]);
  const xs = span(ow, w, kw, sw, dw, begin[1], end[1]);
  const plane = h * w;
  for (let p = 0; p < planes; p++) {
    const base = p * plane;
    let k = p * oh * ow;
    for (let oy = 0; oy < oh; oy++) {
      const y0 = oy * sh - begin[0], ia = ys.first[oy], ib = ys.last[oy];
      for (let ox = 0; ox < ow; ox++, k++) {
        const x0 = ox * sw - begin[1], ja = xs.first[ox], jb = xs.last[ox];
        let s = 0;
        for (let i = ia; i < ib; i++) {
          const row = base + (y0 + i * dh) * w + x0;
          for (let j = ja; j < jb; j++) s += x[row + j * dw];
        }
        o[k] = s / (includePad ? ys.padded[oy] * xs.padded[ox] : Math.max(0, ib - ia) * Math.max(0, jb - ja));
      }
    }
  }
}

export function globalPool(kind: 'max' | 'avg' | 'lp'): OpFn {
  return (inputs, attrs, node) => {
    const a = need(inputs[0], node, 0);
    const x = numeric(a, node);
    const [n, c] = a.dims;
    const inner = size(a.dims.slice(2));
    const p = attrInt(attrs, 'p', 2);
    const out = allocLike(a.dtype, [n, c, ...a.dims.slice(2).map(() => 1)]);
    if (kind === 'avg' && x instanceof Float32Array && out.data instanceof Float32Array) {
      // One monomorphic loop for the common case (CNN heads): the same sums in double, 1.8× faster (ResNet-18's 512 × 7 × 7).
      averageRows(x, out.data, n * c, inner);
      return [out];
    }
    for (let q = 0; q < n * c; q++) {
      let s = 0, m = -Infinity;
      for (let j = 0; j < inner; j++) {
        const v = x[q * inner + j];
        if (kind === 'max') { if (v > m) m = v; } else if (kind === 'lp') s += Math.abs(v) ** p; else s += v;
      }
      out.data[q] = kind === 'max' ? m : kind === 'lp' ? s ** (1 / p) : s / inner;
    }
    return [out];
  };
}

/** o[q] = the mean of x's q-th run of `inner` values, summed in double. */
function averageRows(x: Float32Array, o: Float32Array, rows: number, inner: number): void {
  for (let q = 0; q < rows; q++) {
    let s = 0;
    for (let j = q * inner, end = j + inner; j < end; j++) s += x[j];
    o[q] = s / inner;
  }
}

/** MaxUnpool: scatters values to the flat positions MaxPool's Indices name; output_shape (input 2) overrides the size. */
export const maxUnpool: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const idx = need(inputs[1], node, 1);
  const [n, c] = a.dims;
  const sp = a.dims.slice(2);
  const kernel = attrInts(attrs, 'kernel_shape') ?? sp.map(() => 1);
  const st = attrInts(attrs, 'strides') ?? sp.map(() => 1);
  const pads = attrInts(attrs, 'pads') ?? new Array<number>(2 * sp.length).fill(0);
  const dims = [n, c, ...sp.map((d, i) => (d - 1) * st[i] + kernel[i] - pads[i] - pads[i + sp.length])];
  const out: Tensor = floatTensor(dims);
  for (let i = 0; i < a.data.length; i++) out.data[idx.data[i]] = a.data[i];
  if (!inputs[2]) return [out];
  // output_shape: the indices still address the default shape, which sits at the origin of the larger output.
  const want = intValues(inputs[2], `${nodeLabel(node)} output_shape`);
  const big = floatTensor(want);
  const s = strides(dims), t = strides(want);
  for (let i = 0; i < out.data.length; i++) {
    let rem = i, off = 0;
    for (let d = 0; d < dims.length; d++) { const q = Math.floor(rem / s[d]); rem -= q * s[d]; off += q * t[d]; }
    big.data[off] = out.data[i];
  }
  return [big];
};
