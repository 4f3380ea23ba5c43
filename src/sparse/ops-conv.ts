/**
 * Convolution geometry for any number of spatial axes, the im2col that feeds Conv's weight kernels
 * (executor.ts), and ConvTranspose (a scatter of each input pixel through the kernel).
 */
import { SculptError } from '../core/errors.js';
import type { GraphNode } from '../core/graph.js';
import { at, attrInt, attrInts, attrString, float, need, type Attrs, type OpFn } from './ops-common.js';
import { checkAxisInts, resolvePads, spatialOut } from './ops-nn.js';
import { checkedSize, floatTensor, size } from './tensor.js';

/** Where a convolution's windows sit: per spatial axis input size, kernel, stride, dilation, begin pad, output size. */
export interface ConvGeometry {
  readonly inSp: readonly number[];
  readonly kernel: readonly number[];
  readonly strides: readonly number[];
  readonly dilations: readonly number[];
  readonly begin: readonly number[];
  readonly outSp: readonly number[];
}

export function convGeometry(attrs: Attrs, inSp: readonly number[], kernel: readonly number[], node: GraphNode): ConvGeometry {
  const r = inSp.length;
  const ks = attrInts(attrs, 'kernel_shape') ?? kernel;
  if (ks.length !== r || ks.some((k, i) => k !== kernel[i])) throw new SculptError(`${at(node)} kernel_shape [${ks.join(', ')}] does not match the weight's [${kernel.join(', ')}]`);
  const strides = attrInts(attrs, 'strides') ?? new Array<number>(r).fill(1);
  const dilations = attrInts(attrs, 'dilations') ?? new Array<number>(r).fill(1);
  const { begin, end } = resolvePads(attrs, inSp, kernel, strides, dilations, node);
  const outSp = inSp.map((d, i) => spatialOut(d, kernel[i], strides[i], begin[i], end[i], dilations[i], false));
  return { inSp, kernel, strides, dilations, begin, outSp };
}

/** A 1-D convolution as a 2-D one of height 1, so it runs on the same im2col and kernels. */
export function liftTo2d(g: ConvGeometry): ConvGeometry {
  if (g.inSp.length !== 1) return g;
  return { inSp: [1, g.inSp[0]], kernel: [1, g.kernel[0]], strides: [1, g.strides[0]], dilations: [1, g.dilations[0]], begin: [0, g.begin[0]], outSp: [1, g.outSp[0]] };
}

/**
 * Output positions per im2col pass when each position takes `rows` values: a pass's scratch stays
 * under CONV_SCRATCH_BYTES, so a huge image costs its output, not Πk·C/g times its input (a model's
 * usual convolutions fit in one pass).
 */
export const CONV_SCRATCH_BYTES = 64 * 2 ** 20;
export function positionsPerPass(rows: number, positions: number, bytesPerValue = 4): number {
  return Math.max(1, Math.min(positions, Math.floor(CONV_SCRATCH_BYTES / (Math.max(1, rows) * bytesPerValue))));
}

/**
 * im2col in transposed layout for `cg` channels starting at plane offset `x0` (channel stride
 * `planeIn`), output positions `q0` to `q1` (all by default): row (ci, tap) holds that tap's input
 * for each of those positions.
 */
export function im2col(xd: Float32Array | Float64Array, x0: number, cg: number, g: ConvGeometry, col: Float32Array | Float64Array, q0 = 0, q1 = size(g.outSp)): void {
  const positions = q1 - q0;
  const planeIn = size(g.inSp);
  if (g.inSp.length === 2) {
    const [h, w] = g.inSp, [kh, kw] = g.kernel, [, ow] = g.outSp, st = g.strides, dil = g.dilations, begin = g.begin;
    const y0 = Math.floor(q0 / ow), y1 = Math.ceil(q1 / ow);
    let r = 0;
    for (let ci = 0; ci < cg; ci++) {
      const plane = x0 + ci * planeIn;
      for (let i = 0; i < kh; i++) {
        for (let j = 0; j < kw; j++, r++) {
          const rowBase = r * positions - q0;
          for (let y = y0; y < y1; y++) {
            const iy = y * st[0] - begin[0] + i * dil[0];
            const xa = Math.max(0, q0 - y * ow), xb = Math.min(ow, q1 - y * ow);
            const dst = rowBase + y * ow;
            if (iy < 0 || iy >= h) { col.fill(0, dst + xa, dst + xb); continue; }
            for (let xx = xa; xx < xb; xx++) {
              const ix = xx * st[1] - begin[1] + j * dil[1];
              col[dst + xx] = ix >= 0 && ix < w ? xd[plane + iy * w + ix] : 0;
            }
          }
        }
      }
    }
    return;
  }
  // Any rank: walk taps and output positions with counters.
  const rk = g.inSp.length;
  const taps = size(g.kernel);
  const inStr = new Array<number>(rk);
  for (let d = rk - 1, s = 1; d >= 0; d--) { inStr[d] = s; s *= g.inSp[d]; }
  const tap = new Array<number>(rk), pos = new Array<number>(rk);
  for (let t = 0; t < taps; t++) {
    let rem = t;
    for (let d = rk - 1; d >= 0; d--) { tap[d] = rem % g.kernel[d]; rem = Math.floor(rem / g.kernel[d]); }
    rem = q0;
    for (let d = rk - 1; d >= 0; d--) { pos[d] = rem % g.outSp[d]; rem = Math.floor(rem / g.outSp[d]); }
    for (let q = 0; q < positions; q++) {
      let off = 0, inside = true;
      for (let d = 0; d < rk; d++) {
        const v = pos[d] * g.strides[d] - g.begin[d] + tap[d] * g.dilations[d];
        if (v < 0 || v >= g.inSp[d]) { inside = false; break; }
        off += v * inStr[d];
      }
      for (let ci = 0; ci < cg; ci++) col[(ci * taps + t) * positions + q] = inside ? xd[x0 + ci * planeIn + off] : 0;
      for (let d = rk - 1; d >= 0; d--) {
        if (++pos[d] < g.outSp[d]) break;
        pos[d] = 0;
      }
    }
  }
}

/** Where each input pixel of a ConvTranspose lands: per (input position, tap), an output offset or −1. */
export interface TransposeGeometry {
  readonly outSp: readonly number[];
  readonly target: Int32Array;
  readonly planeIn: number;
  readonly planeOut: number;
  readonly taps: number;
}

/**
 * ConvTranspose geometry, any number of spatial axes: W [C, M/g, k…]; output size from
 * output_shape, or stride·(in − 1) + output_padding + (k − 1)·dilation + 1 − pads, with auto_pad
 * SAME and output_shape splitting the total padding as ONNX says.
 */
export function transposeGeometry(attrs: Attrs, inSp: readonly number[], kernel: readonly number[], node: GraphNode): TransposeGeometry {
  const r = inSp.length;
  const st = attrInts(attrs, 'strides') ?? new Array<number>(r).fill(1);
  const dil = attrInts(attrs, 'dilations') ?? new Array<number>(r).fill(1);
  const outPad = attrInts(attrs, 'output_padding') ?? new Array<number>(r).fill(0);
  const outputShape = attrInts(attrs, 'output_shape');
  const autoPad = attrString(attrs, 'auto_pad', 'NOTSET');
  let pads = attrInts(attrs, 'pads') ?? new Array<number>(2 * r).fill(0);
  // Checked before the output size and the scatter map depend on them (as Conv's, ops-nn.ts).
  checkAxisInts('kernel', kernel, r, 1, node);
  checkAxisInts('strides', st, r, 1, node);
  checkAxisInts('dilations', dil, r, 1, node);
  checkAxisInts('output_padding', outPad, r, 0, node);
  checkAxisInts('pads', pads, 2 * r, 0, node, 'pad values');
  if (outputShape && outputShape.length < r) throw new SculptError(`${at(node)} has output_shape [${outputShape.slice(0, 8).join(', ')}] for ${r} spatial axes; the model is malformed`);
  const full = inSp.map((d, i) => st[i] * (d - 1) + outPad[i] + (kernel[i] - 1) * dil[i] + 1);
  let outSp: number[];
  if (outputShape || autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    outSp = outputShape ? outputShape.slice(-r) : inSp.map((d, i) => d * st[i]);
    pads = new Array<number>(2 * r).fill(0);
    for (let i = 0; i < r; i++) {
      const total = Math.max(0, full[i] - outSp[i]);
      const small = Math.floor(total / 2);
      // SAME_UPPER puts the odd pixel of padding at the end; SAME_LOWER and output_shape at the start (spec, onnxruntime).
      pads[i] = autoPad === 'SAME_UPPER' ? small : total - small;
      pads[i + r] = total - pads[i];
    }
  } else {
    outSp = full.map((f, i) => f - pads[i] - pads[i + r]);
  }
  if (outSp.some((d) => !Number.isInteger(d) || d < 1)) throw new SculptError(`${at(node)} output would be [${outSp.slice(0, 8).join(', ')}] spatially; its pads or output_shape are malformed`);
  const planeIn = size(inSp), planeOut = size(outSp), taps = size(kernel);
  checkedSize([planeIn, taps], 4, `${at(node)} scatter map`);
  const tapOff = new Int32Array(taps * r);
  for (let t = 0; t < taps; t++) {
    let rem = t;
    for (let d = r - 1; d >= 0; d--) { tapOff[t * r + d] = (rem % kernel[d]) * dil[d]; rem = Math.floor(rem / kernel[d]); }
  }
  const outStr = new Array<number>(r);
  for (let d = r - 1, s = 1; d >= 0; d--) { outStr[d] = s; s *= outSp[d]; }
  const pos = new Array<number>(r).fill(0);
  const target = new Int32Array(planeIn * taps);
  for (let q = 0; q < planeIn; q++) {
    for (let t = 0; t < taps; t++) {
      let off = 0;
      for (let d = 0; d < r; d++) {
        const v = pos[d] * st[d] - pads[d] + tapOff[t * r + d];
        if (v < 0 || v >= outSp[d]) { off = -1; break; }
        off += v * outStr[d];
      }
      target[q * taps + t] = off;
    }
    for (let d = r - 1; d >= 0; d--) {
      if (++pos[d] < inSp[d]) break;
      pos[d] = 0;
    }
  }
  return { outSp, target, planeIn, planeOut, taps };
}

/**
 * col2im of ConvTranspose: `cols` [(M/g)·taps, q1 − q0] (row mo·taps + t; input positions q0 to
 * q1, all by default) scattered into the output planes of channels `o0 / planeOut …` of `out`.
 */
export function col2im(cols: Float32Array, mg: number, g: TransposeGeometry, out: Float32Array, o0: number, q0 = 0, q1 = g.planeIn): void {
  const { target, planeOut, taps } = g;
  const len = q1 - q0;
  for (let mo = 0; mo < mg; mo++) {
    const ob = o0 + mo * planeOut;
    for (let t = 0; t < taps; t++) {
      const row = (mo * taps + t) * len - q0;
      for (let q = q0; q < q1; q++) {
        const off = target[q * taps + t];
        if (off >= 0) out[ob + off] += cols[row + q];
      }
    }
  }
}

/** ConvTranspose with a weight known only at run time (a constant weight runs on the kernels, executor.ts). */
export const convTranspose: OpFn = (inputs, attrs, node) => {
  const x = need(inputs[0], node, 0), wt = need(inputs[1], node, 1);
  const xd = float(x, node), wd = float(wt, node);
  const bias = inputs[2] ? float(inputs[2], node) : undefined;
  const r = x.dims.length - 2;
  if (r < 1 || wt.dims.length !== x.dims.length) throw new SculptError(`${at(node)} needs input and weight of the same rank ≥ 3, got ${x.dims.length} and ${wt.dims.length}`);
  const [n, c] = x.dims;
  const group = attrInt(attrs, 'group', 1);
  const mg = wt.dims[1], m = mg * group, cg = c / group;
  const g = transposeGeometry(attrs, x.dims.slice(2), wt.dims.slice(2), node);
  const { target, planeIn, planeOut, taps } = g;
  const out = new Float32Array(checkedSize([n, m, ...g.outSp], 4, `${at(node)} output`));
  for (let b = 0; b < n; b++) {
    for (let gi = 0; gi < group; gi++) {
      for (let ci = 0; ci < cg; ci++) {
        const xin = (b * c + gi * cg + ci) * planeIn;
        for (let mo = 0; mo < mg; mo++) {
          const w0 = ((gi * cg + ci) * mg + mo) * taps;
          const o0 = (b * m + gi * mg + mo) * planeOut;
          for (let q = 0; q < planeIn; q++) {
            const v = xd[xin + q];
            if (v === 0) continue;
            const tq = q * taps;
            for (let t = 0; t < taps; t++) {
              const off = target[tq + t];
              if (off >= 0) out[o0 + off] += v * wd[w0 + t];
            }
          }
        }
      }
    }
  }
  if (bias) addChannelBias(out, bias, n, m, planeOut);
  return [floatTensor([n, m, ...g.outSp], out)];
};

export function addChannelBias(out: Float32Array, bias: Float32Array, n: number, m: number, plane: number): void {
  for (let b = 0; b < n; b++) for (let mo = 0; mo < m; mo++) for (let j = 0, o0 = (b * m + mo) * plane; j < plane; j++) out[o0 + j] += bias[mo];
}

/**
 * A convolution computed in plain JavaScript with float64 sums, for ops whose values are not the
 * weight kernels' float32 (ConvInteger, QLinearConv): x [N, C, sp…] and w [M, C/g, k…], both
 * already shifted by their zero points. Returns the output values and dims.
 */
export function convPlain(x: Float64Array, xDims: readonly number[], w: Float64Array, wDims: readonly number[], attrs: Attrs, node: GraphNode): { data: Float64Array; dims: number[] } {
  const [n, c] = xDims;
  const [m, cg] = wDims;
  const group = attrInt(attrs, 'group', 1);
  if (cg * group !== c) throw new SculptError(`${at(node)} weight expects ${cg * group} input channels, the input has ${c}`);
  const geometry = liftTo2d(convGeometry(attrs, xDims.slice(2), wDims.slice(2), node));
  const positions = size(geometry.outSp), planeIn = size(geometry.inSp);
  const rows = m / group, cols = cg * size(geometry.kernel);
  const out = new Float64Array(checkedSize([n, m, ...geometry.outSp], 8, `${at(node)} output`));
  const pass = positionsPerPass(cols, positions, 8);
  const col = new Float64Array(cols * pass);
  for (let b = 0; b < n; b++) {
    for (let g = 0; g < group; g++) {
      for (let q0 = 0; q0 < positions; q0 += pass) {
        const q1 = Math.min(positions, q0 + pass), len = q1 - q0;
        im2col(x, (b * c + g * cg) * planeIn, cg, geometry, col, q0, q1);
        for (let r = 0; r < rows; r++) {
          const o = (b * m + g * rows + r) * positions + q0, wr = (g * rows + r) * cols;
          for (let k = 0; k < cols; k++) {
            const wv = w[wr + k];
            if (wv === 0) continue;
            const ck = k * len;
            for (let q = 0; q < len; q++) out[o + q] += wv * col[ck + q];
          }
        }
      }
    }
  }
  return { data: out, dims: [n, m, ...convGeometry(attrs, xDims.slice(2), wDims.slice(2), node).outSp] };
}
