/**
 * The channel dependency graph of a TF.js layers model (Sequential or functional model.json):
 * the same `ChannelGraph` the ONNX path builds (onnx-depgraph.ts), from Keras layer configs. A
 * Dense, Conv2D or SeparableConv2D output starts a group; channels (always the last axis, NHWC)
 * stay coupled through BatchNormalization, activations, pooling, Dropout, ZeroPadding2D,
 * UpSampling2D, depthwise convs (their channels are their input's), GlobalAveragePooling2D and
 * Flatten into the next Dense, where channel c of C is the features p·C + c: a slice with a
 * `period`. Add, Subtract, Multiply, Average, Maximum and Minimum of grouped values merge their
 * groups; Concatenate puts each part at its offset.
 *
 * Exactness, as in ONNX: in the channel-masked model a removed channel's kernel column is zero
 * and the bias and BatchNorm scale/shift its kernel owns (`TfjsFolder.channelCompanions`) too;
 * what the channel still carries (relu(0), a BatchNorm shift further on) is a constant per
 * channel, folded into the consuming Dense's or Conv2D's bias. With `asStored` the model is taken
 * as already masked (by training): constants come from the stored biases and norms. A group is
 * pinned when it reaches a model output, is read by a layer not modelled, its weights are missing
 * or quantized, or a constant cannot be folded (a 'same'-padded kernel larger than 1×1, a consumer
 * without bias, a Softmax over channels).
 */
import { erf } from '../core/erf.js';
import type { ChannelGraph, ChannelGroup, ChannelSlice, Segment } from './onnx-depgraph.js';
import type { TfjsFolder } from './tfjs-folder.js';
import { ChannelUnion } from './channel-union.js';

/** A slice whose positions repeat every `period` entries along its axis (NHWC Flatten: channel c of C at p·C + c). */
export interface PeriodicSlice extends ChannelSlice {
  readonly period?: number;
}

/** Where a channel slice's group channel c sits on its axis of `n` entries: every position, in order. */
export function slicePositions(s: PeriodicSlice, c: number, n: number): number[] {
  const out: number[] = [];
  const base = s.at + (c - s.start) * s.block;
  const period = s.period ?? n;
  for (let r = 0; base + r * period < n; r++) for (let j = 0; j < s.block; j++) out.push(base + r * period + j);
  return out;
}

/** The group channel index an axis position belongs to in slice `s`, or −1. */
export function sliceChannel(s: PeriodicSlice, position: number): number {
  let p = position - s.at;
  if (p < 0) return -1;
  if (s.period !== undefined) p %= s.period;
  return p < s.length * s.block ? s.start + Math.floor(p / s.block) : -1;
}

/** A Dense/Conv2D whose bias takes what removed input channels still carry: bias[o] += Σ_c k_c · Σ W[.., slice of c, .., o]. */
export interface TfjsFold {
  readonly layer: string;
  readonly weight: string;
  readonly inAxis: number;
  readonly outAxis: number;
  readonly bias: string;
  readonly parts: readonly { readonly slice: PeriodicSlice; readonly constants: Float64Array }[];
}

/** The graph plus what the TF.js writer needs: folds and the layers whose units/filters follow their kernel. */
export interface TfjsChannelGraph {
  readonly graph: ChannelGraph;
  readonly folds: readonly TfjsFold[];
  /** Producing layers: config key ('units' or 'filters') set to the kernel's new size on `axis`. */
  readonly sized: readonly { readonly layer: string; readonly key: string; readonly kernel: string; readonly axis: number }[];
}

export interface TfjsGraphOptions {
  /** Constants from the stored values (an already channel-masked model) instead of the masked model's zeroed companions. */
  readonly asStored?: boolean;
}

interface Value {
  segs: Segment[];
  rank: number;
  /** After Flatten of a spatial map: channel c of C is every feature p·C + c. */
  flat: boolean;
  /** Per value channel: what it carries in the masked model if removed; NaN when not one constant. */
  consts: Float64Array;
}

interface LayerSpec {
  readonly className: string;
  readonly name: string;
  readonly config: Record<string, unknown>;
  /** Inputs as value keys (layer:node:tensor), over all its calls. */
  readonly inputs: string[];
  /** Called more than once (a shared layer), or with inputs this module cannot read. */
  readonly shared: boolean;
}

const ACTIVATIONS: Readonly<Record<string, (x: number) => number>> = {
  linear: (x) => x,
  relu: (x) => Math.max(0, x),
  relu6: (x) => Math.min(6, Math.max(0, x)),
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  tanh: (x) => Math.tanh(x),
  elu: (x) => (x >= 0 ? x : Math.exp(x) - 1),
  selu: (x) => 1.0507009873554805 * (x >= 0 ? x : 1.6732632423543772 * (Math.exp(x) - 1)),
  softplus: (x) => Math.log1p(Math.exp(x)),
  softsign: (x) => x / (1 + Math.abs(x)),
  hardsigmoid: (x) => Math.max(0, Math.min(1, 0.2 * x + 0.5)),
  swish: (x) => x / (1 + Math.exp(-x)),
  mish: (x) => x * Math.tanh(Math.log1p(Math.exp(x))),
  gelu: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
  gelunew: (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
};

/** Identity at inference, whatever the layout. */
const DROPOUTS = new Set(['Dropout', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout']);
/** Per channel over space: a constant channel stays that constant (TF's average pooling excludes padding). */
const SPATIAL_LAYERS = new Set(['SpatialDropout1D', 'SpatialDropout2D', 'MaxPooling2D', 'AveragePooling2D', 'MaxPooling1D', 'AveragePooling1D', 'UpSampling2D']);
const GLOBAL_POOLS = new Set(['GlobalAveragePooling2D', 'GlobalMaxPooling2D', 'GlobalAveragePooling1D', 'GlobalMaxPooling1D']);
const MERGES: Readonly<Record<string, (ks: number[]) => number>> = {
  Add: (ks) => ks.reduce((a, b) => a + b, 0),
  Subtract: (ks) => ks[0] - ks[1],
  Multiply: (ks) => ks.reduce((a, b) => a * b, 1),
  Average: (ks) => ks.reduce((a, b) => a + b, 0) / ks.length,
  Maximum: (ks) => Math.max(...ks),
  Minimum: (ks) => Math.min(...ks),
};

/** Builds the channel graph of a TF.js layers model folder. */
export function buildTfjsChannelGraph(src: TfjsFolder, options: TfjsGraphOptions = {}): TfjsChannelGraph {
  return new TfjsBuilder(src, options).build();
}

class TfjsBuilder extends ChannelUnion {
  private readonly slices: PeriodicSlice[] = [];
  private readonly values = new Map<string, Value>();
  private readonly folds: (Omit<TfjsFold, 'parts'> & { parts: { slice: PeriodicSlice; constants: Float64Array }[]; padded: boolean; label: string })[] = [];
  private readonly sized: { layer: string; key: string; kernel: string; axis: number }[] = [];
  private readonly zeroed = new Set<string>();
  private readonly shapes = new Map<string, readonly number[]>();

  constructor(private readonly src: TfjsFolder, private readonly options: TfjsGraphOptions) {
    super();
    for (const e of src.entries) if (e.dtype === 'float32' && !e.quantization) this.shapes.set(e.name, e.shape);
    if (!options.asStored) {
      for (const t of src.tensors) if (t.prunable) for (const c of src.channelCompanions(t.name)) this.zeroed.add(c.name);
    }
  }

  build(): TfjsChannelGraph {
    const { layers, outputs } = topology(JSON.parse(new TextDecoder().decode(this.src.jsonBytes)));
    for (const l of layers) this.visit(l);
    for (const o of outputs) this.pinValue(o, `reaches model output ${o.split(':')[0]}`);
    for (const f of this.folds) {
      for (const { slice, constants } of f.parts) {
        const k = constants.find((v) => v !== 0);
        if (k === undefined) continue;
        if (Number.isNaN(k) || constants.some((v) => Number.isNaN(v))) this.pin(slice.group, `a removed channel would not be one constant at ${f.label}`);
        else if (f.padded) this.pin(slice.group, `a removed channel carries a constant into the 'same'-padded ${f.label}, which cannot be folded into its bias`);
        else if (f.bias === '') this.pin(slice.group, `a removed channel carries a constant into ${f.label}, which has no bias to fold it into`);
      }
    }
    const roots = this.collectRoots(this.slices);
    const resolve = (s: PeriodicSlice): PeriodicSlice => {
      const { root, at } = this.locate(s.group);
      return { ...s, group: root, start: s.start + at };
    };
    const groups = [...roots].map(([id, e]): ChannelGroup => ({ id, size: this.sizes[id], pinned: e.pins, producers: e.producers, slices: e.slices }));
    const folds = this.folds.map(({ padded: _p, label: _l, ...f }) => ({ ...f, parts: f.parts.map((p) => ({ slice: resolve(p.slice), constants: p.constants })) }));
    const values = new Map<string, Segment[]>();
    for (const [name, v] of this.values) values.set(name, v.segs.map((s) => this.resolveSeg(s)));
    const graph: ChannelGraph = { groups, folds: [], depthwise: [], splits: [], reshapes: [], grouped: [], headShapes: [], copies: [], values };
    return { graph, folds, sized: this.sized };
  }

  // --- union-find (as in onnx-depgraph.ts) -------------------------------------------------------

  private pinValue(key: string, why: string): void {
    for (const s of this.values.get(key)?.segs ?? []) this.pin(s.group, why);
  }

  // --- weights -----------------------------------------------------------------------------------

  /** The dims of the layer's unquantized float32 weight `short`, or undefined. */
  private weight(layer: string, short: string): readonly number[] | undefined {
    return this.shapes.get(`${layer}/${short}`);
  }

  private floats(name: string): Float32Array {
    return this.src.read(name).slice();
  }

  private addSlices(tensor: string, axis: number, segs: readonly Segment[], kind: ChannelSlice['kind'], period?: number): PeriodicSlice[] {
    const out: PeriodicSlice[] = [];
    let at = 0;
    for (const s of segs) {
      const slice: PeriodicSlice = { tensor, axis, group: s.group, start: s.start, length: s.length, at, block: 1, kind, ...(period !== undefined && { period }) };
      this.slices.push(slice);
      out.push(slice);
      at += s.length;
    }
    return out;
  }

  /**
   * What a removed channel's bias contributes in the masked model: 0 where the mask zeroes it. As
   * stored, only channels whose kernel entries (last axis of `kernel`) are all zero are masked; the
   * others are never removed and carry 0 here.
   */
  private biasConsts(name: string, size: number, kernel: string): Float64Array {
    if (name === '' || this.zeroed.has(name)) return new Float64Array(size);
    const out = Float64Array.from(this.floats(name));
    if (this.options.asStored) {
      const w = this.src.read(kernel);
      for (let i = 0; i < w.length; i++) if (w[i] !== 0) out[i % size] = 0;
    }
    return out;
  }

  // --- layers ------------------------------------------------------------------------------------

  private visit(l: LayerSpec): void {
    const label = `${l.className} ${l.name}`;
    const inputs = l.inputs.map((k) => this.values.get(k));
    const why = l.shared ? `read by ${label}, which is called more than once (a shared layer is not shrunk)` : this.handle(l, label, inputs);
    if (why !== undefined) inputs.forEach((v) => v?.segs.forEach((s) => this.pin(s.group, why)));
  }

  /** Records the layer's output channels and slices; returns why its inputs must be pinned, if they must. */
  private handle(l: LayerSpec, label: string, inputs: (Value | undefined)[]): string | undefined {
    const cls = l.className;
    const c = l.config;
    const x = inputs[0];
    const out = `${l.name}:0:0`;
    const notModelled = `read by ${label}, which shrinking does not model`;
    if (cls === 'InputLayer') return undefined;
    if (cls in MERGES) return this.merge(l, label, inputs, MERGES[cls]);
    if (cls === 'Concatenate') return this.concatenate(l, label, inputs);
    if (cls === 'Dense') return this.dense(l, label, x);
    if (cls === 'Conv2D' || cls === 'Conv1D') return this.conv(l, label, x);
    if (cls === 'SeparableConv2D') return this.separable(l, label, x);
    if (cls === 'DepthwiseConv2D') return this.depthwise(l, label, x);
    if (!x) return undefined;
    if (inputs.length !== 1) return notModelled;
    if (cls === 'BatchNormalization') {
      const axis = Array.isArray(c.axis) ? (c.axis.length === 1 ? c.axis[0] : NaN) : (c.axis ?? -1);
      if (axis !== -1 && axis !== x.rank - 1) return `normalised over axis ${String(axis)} by ${label}, not the channel axis`;
      const C = channels(x);
      const names = ['gamma', 'beta', 'moving_mean', 'moving_variance'].map((s) => `${l.name}/${s}`);
      const present = names.map((n) => this.shapes.get(n));
      if (!present[2] || !present[3] || (c.scale !== false && !present[0]) || (c.center !== false && !present[1]) || present.some((d) => d && (d.length !== 1 || d[0] !== C))) {
        return `read by ${label}, whose parameters are missing, quantized or not [${C}]`;
      }
      names.forEach((n, i) => present[i] && this.addSlices(n, 0, x.segs, 'param'));
      const gamma = present[0] ? (this.zeroed.has(names[0]) ? new Float32Array(C) : this.floats(names[0])) : new Float32Array(C).fill(1);
      const beta = present[1] && !this.zeroed.has(names[1]) ? this.floats(names[1]) : new Float32Array(C);
      const mean = this.floats(names[2]);
      const variance = this.floats(names[3]);
      const eps = typeof c.epsilon === 'number' ? c.epsilon : 1e-3;
      this.values.set(out, { ...x, consts: x.consts.map((k, i) => (gamma[i] * (k - mean[i])) / Math.sqrt(variance[i] + eps) + beta[i]) });
      return undefined;
    }
    if (cls === 'Activation' || cls === 'ReLU' || cls === 'LeakyReLU' || cls === 'ELU' || cls === 'Softmax') {
      const f = activationOf(cls, c);
      if (!f) return cls === 'Softmax' || c.activation === 'softmax' ? `normalised across channels by ${label}` : notModelled;
      this.values.set(out, { ...x, consts: x.consts.map(f) });
      return undefined;
    }
    if (DROPOUTS.has(cls)) {
      this.values.set(out, x);
      return undefined;
    }
    if (SPATIAL_LAYERS.has(cls)) {
      if (x.flat || x.rank < 3 || (c.data_format !== undefined && c.data_format !== 'channels_last')) return notModelled;
      this.values.set(out, x);
      return undefined;
    }
    if (cls === 'ZeroPadding2D') {
      if (x.rank !== 4 || (c.data_format !== undefined && c.data_format !== 'channels_last')) return notModelled;
      // A zero border changes a nonzero constant channel into a pattern.
      this.values.set(out, { ...x, consts: x.consts.map((k) => (k === 0 ? 0 : NaN)) });
      return undefined;
    }
    if (GLOBAL_POOLS.has(cls)) {
      if (x.flat || x.rank < 3 || (c.data_format !== undefined && c.data_format !== 'channels_last') || c.keepdims === true) return notModelled;
      this.values.set(out, { ...x, rank: 2 });
      return undefined;
    }
    if (cls === 'Flatten') {
      if (c.data_format !== undefined && c.data_format !== 'channels_last') return notModelled;
      this.values.set(out, { ...x, rank: 2, flat: x.flat || x.rank > 2 });
      return undefined;
    }
    return notModelled;
  }

  /** Dense [K, O]: reads channels on K (each channel K/C features apart after Flatten), produces O. */
  private dense(l: LayerSpec, label: string, x: Value | undefined): string | undefined {
    const kernel = `${l.name}/kernel`;
    const dims = this.weight(l.name, 'kernel');
    const bias = l.config.use_bias === false ? '' : `${l.name}/bias`;
    if (!dims || dims.length !== 2 || (bias !== '' && this.weight(l.name, 'bias')?.[0] !== dims[1])) return `read by ${label}, whose kernel or bias is missing or quantized`;
    const [K, O] = dims;
    if (x) {
      const C = channels(x);
      if (x.flat ? K % C !== 0 : K !== C) return `read by ${label} with ${K} features for ${C} channels`;
      const slices = this.addSlices(kernel, 0, x.segs, 'in', x.flat ? C : undefined);
      this.addFold(l.name, label, kernel, 0, 1, bias, slices, x, false);
    }
    return this.produce(l, label, kernel, bias, O, 1, 'units', x?.rank ?? 2);
  }

  /** Conv2D/Conv1D [..., I, O] channels_last, groups 1. */
  private conv(l: LayerSpec, label: string, x: Value | undefined): string | undefined {
    const c = l.config;
    const kernel = `${l.name}/kernel`;
    const dims = this.weight(l.name, 'kernel');
    const bias = c.use_bias === false ? '' : `${l.name}/bias`;
    if (!dims || dims.length < 3 || (bias !== '' && this.weight(l.name, 'bias')?.[0] !== dims[dims.length - 1])) return `read by ${label}, whose kernel or bias is missing or quantized`;
    if ((c.data_format !== undefined && c.data_format !== 'channels_last') || (typeof c.groups === 'number' && c.groups !== 1)) return `read by ${label} (channels_first or grouped), which shrinking does not model`;
    const inAxis = dims.length - 2;
    if (x) {
      if (x.flat || x.rank !== dims.length || channels(x) !== dims[inAxis]) return `read by ${label} with a layout it does not model`;
      const slices = this.addSlices(kernel, inAxis, x.segs, 'in');
      const padded = c.padding !== 'valid' && dims.slice(0, -2).some((d) => d > 1);
      this.addFold(l.name, label, kernel, inAxis, dims.length - 1, bias, slices, x, padded);
    }
    return this.produce(l, label, kernel, bias, dims[dims.length - 1], dims.length - 1, 'filters', dims.length);
  }

  /** SeparableConv2D: depthwise [kh, kw, C, m] then pointwise [1, 1, C·m, O]; input channels index both (m = 1 only). */
  private separable(l: LayerSpec, label: string, x: Value | undefined): string | undefined {
    const c = l.config;
    const dw = this.weight(l.name, 'depthwise_kernel');
    const pw = this.weight(l.name, 'pointwise_kernel');
    const bias = c.use_bias === false ? '' : `${l.name}/bias`;
    if (!dw || !pw || dw.length !== 4 || pw.length !== 4 || (bias !== '' && this.weight(l.name, 'bias')?.[0] !== pw[3])) return `read by ${label}, whose kernels or bias are missing or quantized`;
    if ((c.data_format !== undefined && c.data_format !== 'channels_last') || dw[3] !== 1) return `read by ${label} (channels_first or depth multiplier ≠ 1), which shrinking does not model`;
    if (x) {
      if (x.flat || x.rank !== 4 || channels(x) !== dw[2]) return `read by ${label} with a layout it does not model`;
      this.addSlices(`${l.name}/depthwise_kernel`, 2, x.segs, 'in');
      let at = 0;
      for (const s of x.segs) {
        if (x.consts.subarray(at, at + s.length).some((k) => k !== 0)) this.pin(s.group, `a removed channel carries a constant into ${label}, which is not folded`);
        at += s.length;
      }
      this.addSlices(`${l.name}/pointwise_kernel`, 2, x.segs, 'in');
    }
    return this.produce(l, label, `${l.name}/pointwise_kernel`, bias, pw[3], 3, 'filters', 4);
  }

  /** DepthwiseConv2D (multiplier 1): output channel c reads input channel c, both in the input's group. */
  private depthwise(l: LayerSpec, label: string, x: Value | undefined): string | undefined {
    const c = l.config;
    const kernel = `${l.name}/depthwise_kernel`;
    const dims = this.weight(l.name, 'depthwise_kernel');
    const bias = c.use_bias === false ? '' : `${l.name}/bias`;
    if (!x) return undefined;
    if (!dims || dims.length !== 4 || dims[3] !== 1 || (bias !== '' && this.weight(l.name, 'bias')?.[0] !== dims[2])) return `read by ${label}, whose kernel is missing, quantized or has a depth multiplier ≠ 1`;
    if ((c.data_format !== undefined && c.data_format !== 'channels_last') || x.flat || x.rank !== 4 || channels(x) !== dims[2]) return `read by ${label} with a layout it does not model`;
    const f = activationOf('Activation', { activation: c.activation ?? 'linear' });
    if (!f) return `read by ${label}, whose activation is not modelled`;
    this.addSlices(kernel, 2, x.segs, 'out');
    if (bias !== '') this.addSlices(bias, 0, x.segs, 'param');
    // The masked model zeroes the channel's kernel: it carries its (activated) bias.
    this.values.set(`${l.name}:0:0`, { ...x, consts: this.biasConsts(bias, channels(x), kernel).map(f) });
    return undefined;
  }

  /** A new group of `size` channels: the kernel's `axis` and the bias; its constants are act(bias) (0 where masked). */
  private produce(l: LayerSpec, label: string, kernel: string, bias: string, size: number, axis: number, key: string, rank: number): undefined {
    const g = this.newGroup(size, label);
    const segs = [{ group: g, start: 0, length: size }];
    this.addSlices(kernel, axis, segs, 'out');
    if (bias !== '') this.addSlices(bias, 0, segs, 'param');
    this.sized.push({ layer: l.name, key, kernel, axis });
    const f = activationOf('Activation', { activation: l.config.activation ?? 'linear' });
    if (!f) this.pin(g, `activation ${JSON.stringify(l.config.activation)} of ${label} is not modelled (a softmax mixes channels)`);
    this.values.set(`${l.name}:0:0`, { segs, rank, flat: false, consts: this.biasConsts(bias, size, kernel).map(f ?? (() => NaN)) });
    return undefined;
  }

  private addFold(layer: string, label: string, weight: string, inAxis: number, outAxis: number, bias: string, slices: PeriodicSlice[], x: Value, padded: boolean): void {
    const parts: { slice: PeriodicSlice; constants: Float64Array }[] = [];
    let at = 0;
    x.segs.forEach((s, i) => {
      parts.push({ slice: slices[i], constants: x.consts.slice(at, at + s.length) });
      at += s.length;
    });
    this.folds.push({ layer, label, weight, inAxis, outAxis, bias, parts, padded });
  }

  private merge(l: LayerSpec, label: string, inputs: (Value | undefined)[], f: (ks: number[]) => number): string | undefined {
    if (inputs.every((v) => !v)) return undefined;
    if (inputs.some((v) => !v)) return `merged by ${label} with a value whose channels are not followed`;
    const vs = inputs as Value[];
    const a = vs[0];
    for (const b of vs.slice(1)) {
      if (b.rank !== a.rank || b.flat !== a.flat || b.segs.length !== a.segs.length) return `merged by ${label} with a value of another layout`;
      for (let i = 0; i < a.segs.length; i++) if (!this.unite(a.segs[i], b.segs[i])) return `merged by ${label} with channels that cannot be coupled one to one`;
    }
    this.values.set(`${l.name}:0:0`, { ...a, consts: a.consts.map((_, i) => f(vs.map((v) => v.consts[i]))) });
    return undefined;
  }

  private concatenate(l: LayerSpec, label: string, inputs: (Value | undefined)[]): string | undefined {
    if (inputs.every((v) => !v)) return undefined;
    const first = inputs.find((v) => v)!;
    const axis = typeof l.config.axis === 'number' ? l.config.axis : -1;
    if (inputs.some((v) => !v) || (axis !== -1 && axis !== first.rank - 1)) return `concatenated by ${label} with a value whose channels are not followed, or not on the channel axis`;
    const vs = inputs as Value[];
    if (vs.some((v) => v.rank !== first.rank || v.flat || first.flat)) return `concatenated by ${label} with a value of another layout`;
    const consts = new Float64Array(vs.reduce((s, v) => s + v.consts.length, 0));
    let at = 0;
    for (const v of vs) {
      consts.set(v.consts, at);
      at += v.consts.length;
    }
    this.values.set(`${l.name}:0:0`, { ...first, segs: vs.flatMap((v) => v.segs), consts });
    return undefined;
  }
}

function channels(v: Value): number {
  return v.segs.reduce((s, g) => s + g.length, 0);
}

/** The elementwise function of an activation layer or `activation` option, or undefined (Softmax, unknown). */
function activationOf(cls: string, c: Record<string, unknown>): ((x: number) => number) | undefined {
  const num = (k: string, d: number): number => (typeof c[k] === 'number' ? (c[k] as number) : d);
  if (cls === 'ReLU') {
    const max = typeof c.max_value === 'number' ? c.max_value : Infinity;
    const slope = num('negative_slope', 0);
    const threshold = num('threshold', 0);
    return (x) => Math.min(max, x >= threshold ? x : slope * (x - threshold));
  }
  if (cls === 'LeakyReLU') {
    const alpha = num('alpha', 0.3);
    return (x) => (x >= 0 ? x : alpha * x);
  }
  if (cls === 'ELU') {
    const alpha = num('alpha', 1);
    return (x) => (x >= 0 ? x : alpha * (Math.exp(x) - 1));
  }
  if (cls !== 'Activation') return undefined;
  const a = c.activation;
  const name = a === null || a === undefined ? 'linear' : typeof a === 'string' ? a.replace(/_/g, '').toLowerCase() : '';
  return ACTIVATIONS[name];
}

/**
 * The layers of a Sequential or functional topology in an order where each comes after its inputs,
 * with their inputs as value keys, and the model's output value keys.
 */
function topology(json: unknown): { layers: LayerSpec[]; outputs: string[] } {
  const root = (json as { modelTopology?: unknown }).modelTopology as Record<string, unknown> | undefined;
  const model = (root?.model_config ?? root) as { class_name?: unknown; config?: unknown } | undefined;
  const config = model?.config as { layers?: unknown; output_layers?: unknown } | unknown[] | undefined;
  const list = (Array.isArray(config) ? config : config?.layers) as { class_name?: unknown; config?: Record<string, unknown>; name?: unknown; inbound_nodes?: unknown }[] | undefined;
  if (!Array.isArray(list)) return { layers: [], outputs: [] };
  const nameOf = (o: (typeof list)[number]): string => String(o.config?.name ?? o.name ?? '');
  if (model?.class_name === 'Sequential') {
    const layers: LayerSpec[] = [];
    let prev: string | undefined;
    for (const o of list) {
      const name = nameOf(o);
      layers.push({ className: String(o.class_name), name, config: o.config ?? {}, inputs: prev === undefined ? [] : [prev], shared: false });
      prev = `${name}:0:0`;
    }
    return { layers, outputs: prev === undefined ? [] : [prev] };
  }
  const specs = new Map<string, LayerSpec>();
  for (const o of list) {
    const name = nameOf(o);
    const nodes = Array.isArray(o.inbound_nodes) ? (o.inbound_nodes as unknown[]) : [];
    const inputs: string[] = [];
    let shared = nodes.length > 1;
    for (const node of nodes) {
      if (!Array.isArray(node)) shared = true;
      else {
        for (const ref of node as unknown[]) {
          if (Array.isArray(ref) && typeof ref[0] === 'string') inputs.push(`${ref[0]}:${Number(ref[1] ?? 0)}:${Number(ref[2] ?? 0)}`);
          else shared = true;
        }
      }
    }
    specs.set(name, { className: String(o.class_name), name, config: o.config ?? {}, inputs, shared });
  }
  const ordered: LayerSpec[] = [];
  const state = new Map<string, 1 | 2>();
  const visit = (name: string): void => {
    const s = specs.get(name);
    if (!s || state.get(name) === 2) return;
    if (state.get(name) === 1) return; // a cycle: leave it where it is
    state.set(name, 1);
    for (const k of s.inputs) visit(k.split(':')[0]);
    state.set(name, 2);
    ordered.push(s);
  };
  for (const name of specs.keys()) visit(name);
  const outs = Array.isArray((config as { output_layers?: unknown })?.output_layers) ? ((config as { output_layers: unknown[] }).output_layers) : [];
  const outputs = outs.filter((r): r is unknown[] => Array.isArray(r) && typeof r[0] === 'string').map((r) => `${r[0] as string}:${Number(r[1] ?? 0)}:${Number(r[2] ?? 0)}`);
  return { layers: ordered, outputs };
}
