/**
 * Calibration statistics of a Conv weight through im2col: a Conv computes, at every output
 * position, W_g · patch for the weights W_g [M/g, K] of its group g, where the patch is the
 * K = (C/g)·∏kernel input values under the kernel (zero outside the padded input). So Wanda's
 * input-feature norm and SparseGPT's H = XᵀX are those of the patch rows: every image contributes
 * one row per output position, per group. Features are ordered (channel, kernel offsets) as the
 * weight's [M, C/g, k…] layout flattens them.
 */
import { SculptError } from '../core/errors.js';
import type { GraphNode } from '../core/graph.js';
import type { LayerActivations } from './calibration-onnx.js';

/** Geometry of one Conv node (1-D or 2-D), pads resolved per input size when auto_pad asks. */
export interface ConvGeometry {
  readonly kernel: readonly number[];
  readonly strides: readonly number[];
  readonly dilations: readonly number[];
  /** Explicit pads [begin…, end…], or undefined with `autoPad`. */
  readonly pads?: readonly number[];
  readonly autoPad: 'NOTSET' | 'VALID' | 'SAME_UPPER' | 'SAME_LOWER';
  readonly group: number;
}

function ints(node: GraphNode, name: string): number[] | undefined {
  const v = node.attributes.get(name);
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'number' || !Number.isSafeInteger(x))) throw new SculptError(`Conv '${node.name}': attribute ${name} is not a list of integers`);
  return v as number[];
}

/** The geometry of `node` for a weight of shape [M, C/g, k…]; anything outside 1-D/2-D convolution is a SculptError. */
export function convGeometry(node: GraphNode, weightShape: readonly number[], weightName: string): ConvGeometry {
  const rank = weightShape.length - 2;
  if (rank < 1 || rank > 2) {
    throw new SculptError(`tensor '${weightName}': data criteria calibrate 1-D and 2-D Conv weights, this one has shape [${weightShape.join(', ')}]; add --exclude '${weightName}'`);
  }
  const kernel = ints(node, 'kernel_shape') ?? weightShape.slice(2);
  const strides = ints(node, 'strides') ?? new Array<number>(rank).fill(1);
  const dilations = ints(node, 'dilations') ?? new Array<number>(rank).fill(1);
  const pads = ints(node, 'pads');
  const groupAttr = node.attributes.get('group');
  const group = groupAttr === undefined ? 1 : groupAttr;
  const autoPadAttr = node.attributes.get('auto_pad') ?? 'NOTSET';
  const autoPad = typeof autoPadAttr === 'string' && ['NOTSET', 'VALID', 'SAME_UPPER', 'SAME_LOWER'].includes(autoPadAttr) ? autoPadAttr as ConvGeometry['autoPad'] : undefined;
  const ok = (a: readonly number[], n: number, min: number) => a.length === n && a.every((x) => x >= min && x <= 1 << 16);
  if (typeof group !== 'number' || !Number.isSafeInteger(group) || group < 1 || weightShape[0] % group !== 0 || autoPad === undefined
    || !ok(kernel, rank, 1) || kernel.some((k, i) => k !== weightShape[2 + i]) || !ok(strides, rank, 1) || !ok(dilations, rank, 1) || (pads !== undefined && !ok(pads, 2 * rank, 0))) {
    throw new SculptError(`Conv '${node.name}' of tensor '${weightName}': its kernel, strides, dilations, pads, auto_pad or group do not fit a ${rank}-D convolution of weight [${weightShape.join(', ')}]`);
  }
  return { kernel, strides, dilations, pads: autoPad === 'NOTSET' ? (pads ?? new Array<number>(2 * rank).fill(0)) : undefined, autoPad, group };
}

/** A key that is equal for two convolutions that see the same patches of the same input. */
export function geometryKey(g: ConvGeometry): string {
  return JSON.stringify([g.kernel, g.strides, g.dilations, g.pads ?? g.autoPad, g.group]);
}

/** Begin pads and output sizes of `g` over the spatial sizes `size`. */
function layout(g: ConvGeometry, size: readonly number[]): { begin: number[]; out: number[] } {
  const r = size.length;
  const begin: number[] = [];
  const out: number[] = [];
  for (let a = 0; a < r; a++) {
    const span = (g.kernel[a] - 1) * g.dilations[a] + 1;
    let b: number;
    let e: number;
    if (g.pads) {
      b = g.pads[a];
      e = g.pads[r + a];
    } else if (g.autoPad === 'VALID') {
      b = 0;
      e = 0;
    } else {
      const o = Math.ceil(size[a] / g.strides[a]);
      const total = Math.max(0, (o - 1) * g.strides[a] + span - size[a]);
      b = g.autoPad === 'SAME_UPPER' ? Math.floor(total / 2) : Math.ceil(total / 2);
      e = total - b;
    }
    const o = Math.floor((size[a] + b + e - span) / g.strides[a]) + 1;
    if (!(o >= 1)) throw new SculptError(`Conv: kernel span ${span} does not fit input size ${size[a]} with pads ${b}+${e}`);
    begin.push(b);
    out.push(o);
  }
  return { begin, out };
}

/** Accumulates the patch rows of one Conv's groups; XᵀX through `gram` (a product engine) when asked. */
export class ConvStats {
  readonly channels: number;
  readonly features: number;
  rows = 0;
  readonly sumSquares: Float64Array;
  readonly gramSum?: Float64Array;

  constructor(readonly geometry: ConvGeometry, channels: number, gram: boolean) {
    if (channels % geometry.group !== 0) throw new SculptError(`Conv: ${channels} input channels do not split into ${geometry.group} groups`);
    this.channels = channels;
    this.features = (channels / geometry.group) * geometry.kernel.reduce((a, b) => a * b, 1);
    this.sumSquares = new Float64Array(geometry.group * this.features);
    if (gram) this.gramSum = new Float64Array(geometry.group * this.features * this.features);
  }

  /**
   * One batch X [N, C, spatial…] (float32). `product(x, rows, k)` returns XᵀX [k, k] of a float32
   * [rows, k] matrix (onnxruntime's MatMul); small k is summed here.
   */
  async add(x: Float32Array, dims: readonly number[], product: (data: Float32Array, rows: number, k: number) => Promise<Float32Array>): Promise<void> {
    const g = this.geometry;
    const r = g.kernel.length;
    if (dims.length !== r + 2 || dims[1] !== this.channels) throw new SculptError(`Conv input has shape [${dims.join(', ')}], expected [N, ${this.channels}, ${r} spatial sizes]`);
    const size = dims.slice(2);
    const { begin, out } = layout(g, size);
    const [n] = dims;
    const cg = this.channels / g.group;
    const K = this.features;
    const positions = out.reduce((a, b) => a * b, 1);
    const plane = size.reduce((a, b) => a * b, 1);
    // Offsets of the kernel taps, in (channel, ky, kx) order, relative to a patch's corner.
    const kh = r === 2 ? g.kernel[0] : 1;
    const kw = g.kernel[r - 1];
    const dh = r === 2 ? g.dilations[0] : 1;
    const dw = g.dilations[r - 1];
    const sh = r === 2 ? g.strides[0] : 1;
    const sw = g.strides[r - 1];
    const ph = r === 2 ? begin[0] : 0;
    const pw = begin[r - 1];
    const H = r === 2 ? size[0] : 1;
    const W = size[r - 1];
    const OW = out[r - 1];
    const patches = new Float32Array(positions * K);
    for (let img = 0; img < n; img++) {
      for (let grp = 0; grp < g.group; grp++) {
        patches.fill(0);
        for (let p = 0; p < positions; p++) {
          const oy = Math.floor(p / OW);
          const ox = p % OW;
          let f = p * K;
          for (let c = 0; c < cg; c++) {
            const base = (img * this.channels + grp * cg + c) * plane;
            for (let ky = 0; ky < kh; ky++) {
              const iy = oy * sh + ky * dh - ph;
              if (iy < 0 || iy >= H) { f += kw; continue; }
              const row = base + iy * W;
              for (let kx = 0; kx < kw; kx++, f++) {
                const ix = ox * sw + kx * dw - pw;
                if (ix >= 0 && ix < W) patches[f] = x[row + ix];
              }
            }
          }
        }
        const sq = this.sumSquares;
        const so = grp * K;
        for (let i = 0; i < patches.length; i++) sq[so + (i % K)] += patches[i] * patches[i];
        const acc = this.gramSum;
        if (acc) {
          const go = grp * K * K;
          if (K <= 32) {
            for (let p = 0; p < positions; p++) {
              const o = p * K;
              for (let i = 0; i < K; i++) {
                const v = patches[o + i];
                if (v === 0) continue;
                for (let j = i; j < K; j++) acc[go + i * K + j] += v * patches[o + j];
              }
            }
          } else {
            const gm = await product(patches, positions, K);
            for (let i = 0; i < K; i++) for (let j = i; j < K; j++) acc[go + i * K + j] += gm[i * K + j];
          }
        }
      }
    }
    this.rows += n * positions;
  }

  /** The statistics (gram mirrored from its upper triangles), one block per group. */
  finish(): LayerActivations {
    const K = this.features;
    const acc = this.gramSum;
    if (acc) {
      for (let grp = 0; grp < this.geometry.group; grp++) {
        const go = grp * K * K;
        for (let i = 0; i < K; i++) for (let j = i + 1; j < K; j++) acc[go + j * K + i] = acc[go + i * K + j];
      }
    }
    return { features: K, rows: this.rows, sumSquares: this.sumSquares, gram: acc, groups: this.geometry.group };
  }
}
