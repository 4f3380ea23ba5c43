/**
 * One converter per Keras layer class of a TF.js layers model: each reads the layer's config and
 * weights, adds ONNX nodes (opset 13) to the graph and returns the layer's output value. Every
 * option that would change the arithmetic and is not handled is refused, naming the layer. The
 * classes are those tfjs-layers can load itself (it has no Subtract, ZeroPadding1D, ...).
 */
import type { AttrValue } from '../formats/onnx-build.js';
import { ACTIVATION_LAYERS, activate } from './export-onnx-activations.js';
import { type Dim, type LayerCall, type LayerConverter, type Val, permute, required, storedAxis } from './export-onnx-graph.js';

export type { LayerCall, LayerConverter, LayerWeight } from './export-onnx-graph.js';

const INT64_MAX_SAFE = Number.MAX_SAFE_INTEGER;


/** A Keras int-or-tuple option as `n` numbers. */
function tuple(c: LayerCall, key: string, n: number, fallback?: number): number[] {
  let v = c.config[key];
  if (v === undefined || v === null) v = fallback;
  if (typeof v === 'number') return new Array<number>(n).fill(v);
  if (Array.isArray(v) && v.length === 1 && n > 1 && typeof v[0] === 'number') return new Array<number>(n).fill(v[0]);
  if (Array.isArray(v) && v.length === n && v.every((x) => Number.isInteger(x))) return v as number[];
  return c.fail(`${key} ${JSON.stringify(v)} is not ${n} integer(s)`);
}

/** Keras [[begin, end], ...] padding/cropping (or an int, or one pair per axis) for `n` axes. */
function pairs(c: LayerCall, key: string, n: number): [number, number][] {
  const v = c.config[key];
  if (typeof v === 'number') return Array.from({ length: n }, () => [v, v]);
  if (Array.isArray(v) && v.length === n) {
    return v.map((p) => {
      if (typeof p === 'number') return [p, p];
      if (Array.isArray(p) && p.length === 2 && p.every((x) => Number.isInteger(x))) return [p[0], p[1]];
      return c.fail(`${key} ${JSON.stringify(v)} is not understood`);
    });
  }
  if (n === 1 && Array.isArray(v) && v.length === 2) return [[v[0], v[1]]];
  return c.fail(`${key} ${JSON.stringify(v)} is not understood`);
}

function channelsLast(c: LayerCall): void {
  const f = c.config.data_format;
  if (f !== undefined && f !== null && f !== 'channels_last') c.fail(`data_format ${f} is not supported (only channels_last, the TF.js default)`);
}

function spatialRank(c: LayerCall, x: Val, expected: number): void {
  if (x.shape.length !== expected + 2) c.fail(`expects a rank-${expected + 2} input, got shape [${x.shape.join(', ')}]`);
}

interface Geometry {
  readonly attrs: Record<string, AttrValue>;
  readonly out: Dim[];
}

/** ONNX pads (or auto_pad) and output sizes for TF's 'valid' / 'same' / 'causal' padding. */
function geometry(c: LayerCall, spatial: readonly Dim[], k: number[], s: number[], d: number[]): Geometry {
  const padding = c.config.padding ?? 'valid';
  const n = spatial.length;
  const keff = k.map((kk, i) => (kk - 1) * d[i] + 1);
  const begins: number[] = [];
  const ends: number[] = [];
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const size = spatial[i];
    if (padding === 'valid') {
      begins.push(0);
      ends.push(0);
    } else if (padding === 'causal') {
      if (n !== 1) c.fail(`padding causal is for 1-D convolutions`);
      begins.push(keff[i] - 1);
      ends.push(0);
    } else if (padding === 'same') {
      if (size === null) {
        // Unknown size: let the runtime pad (SAME_UPPER is TF's rule: the extra pixel at the end).
        const attrs: Record<string, AttrValue> = { auto_pad: { string: 'SAME_UPPER' } };
        return { attrs, out: spatial.map((x, j) => (x === null ? null : Math.ceil(x / s[j]))) };
      }
      const total = Math.max((Math.ceil(size / s[i]) - 1) * s[i] + keff[i] - size, 0);
      begins.push(Math.floor(total / 2));
      ends.push(total - Math.floor(total / 2));
    } else return c.fail(`padding ${JSON.stringify(padding)} is not supported`);
    out.push(size === null ? null : Math.floor((size + begins[i] + ends[i] - keff[i]) / s[i]) + 1);
  }
  if (out.some((x) => x !== null && x < 1)) c.fail(`the input [${spatial.join(', ')}] is smaller than the window`);
  return { attrs: { pads: { ints: [...begins, ...ends] } }, out };
}

function known(c: LayerCall, d: Dim, what: string): number {
  if (d === null) return c.fail(`${what} is unknown; give the model a fixed input shape`);
  return d;
}

function addBias(c: LayerCall, y: string, hint: string): string {
  if (c.config.use_bias === false) return y;
  const b = c.weight('bias');
  if (!b) return y;
  return c.g.node('Add', [y, c.g.float(b.name, b.shape, b.data)], hint);
}

const dense: LayerConverter = (c) => {
  const x = c.g.cl(c.inputs[0]);
  const k = required(c, 'kernel');
  const inF = x.shape[x.shape.length - 1];
  if (k.shape.length !== 2 || (inF !== null && inF !== k.shape[0])) c.fail(`kernel [${k.shape.join(', ')}] does not fit an input of shape [${x.shape.join(', ')}]`);
  // The Dense kernel [in, out] is exactly a MatMul weight: its bytes go over unchanged.
  let y = c.g.node('MatMul', [x.name, c.g.float(k.name, k.shape, k.data)], `${c.name}/matmul`);
  y = addBias(c, y, `${c.name}/bias_add`);
  return activate(c, { name: y, shape: [...x.shape.slice(0, -1), k.shape[1]], cf: false }, c.config.activation);
};

function convLike(kind: 'conv' | 'depthwise' | 'separable', nd: number): LayerConverter {
  return (c) => {
    channelsLast(c);
    const x = c.g.cf(c.inputs[0]);
    spatialRank(c, x, nd);
    if (c.config.groups !== undefined && c.config.groups !== 1) c.fail(`groups ${c.config.groups} is not supported`);
    const k = tuple(c, 'kernel_size', nd);
    const s = tuple(c, 'strides', nd, 1);
    const d = tuple(c, 'dilation_rate', nd, 1);
    const geo = geometry(c, x.shape.slice(1, -1), k, s, d);
    const inC = known(c, x.shape[x.shape.length - 1], 'the number of input channels');
    const spatialPerm = Array.from({ length: nd }, (_, i) => i);
    const g = c.g;
    const attrs: Record<string, AttrValue> = { kernel_shape: { ints: k }, strides: { ints: s }, dilations: { ints: d }, ...geo.attrs };
    const bias = c.config.use_bias === false ? undefined : c.weight('bias');
    let y: string;
    let outC: number;
    if (kind === 'conv') {
      // TF.js kernel [k..., in, out] → ONNX [out, in, k...].
      const w = required(c, 'kernel');
      if (w.shape.length !== nd + 2 || w.shape[nd] !== inC) c.fail(`kernel [${w.shape.join(', ')}] does not fit ${inC} input channels`);
      outC = w.shape[nd + 1];
      const wt = g.float(w.name, [outC, inC, ...w.shape.slice(0, nd)], permute(w.data, w.shape, [nd + 1, nd, ...spatialPerm]));
      const ins = [x.name, wt, ...(bias ? [g.float(bias.name, bias.shape, bias.data)] : [])];
      y = g.node('Conv', ins, `${c.name}/conv`, attrs);
    } else {
      // Depthwise kernel [k..., in, mult] → ONNX grouped Conv [in·mult, 1, k...]: output channel c·mult + m, as in TF.
      const dw = required(c, 'depthwise_kernel');
      if (dw.shape.length !== nd + 2 || dw.shape[nd] !== inC) c.fail(`depthwise kernel [${dw.shape.join(', ')}] does not fit ${inC} input channels`);
      const mult = dw.shape[nd + 1];
      const dwt = g.float(dw.name, [inC * mult, 1, ...dw.shape.slice(0, nd)], permute(dw.data, dw.shape, [nd, nd + 1, ...spatialPerm]));
      outC = inC * mult;
      if (kind === 'depthwise') {
        const ins = [x.name, dwt, ...(bias ? [g.float(bias.name, bias.shape, bias.data)] : [])];
        y = g.node('Conv', ins, `${c.name}/depthwise`, { ...attrs, group: { int: inC } });
      } else {
        const mid = g.node('Conv', [x.name, dwt], `${c.name}/depthwise`, { ...attrs, group: { int: inC } });
        const pw = required(c, 'pointwise_kernel');
        if (pw.shape.length !== nd + 2 || pw.shape[nd] !== outC) c.fail(`pointwise kernel [${pw.shape.join(', ')}] does not fit ${outC} channels`);
        const pwC = pw.shape[nd + 1];
        const pwt = g.float(pw.name, [pwC, outC, ...pw.shape.slice(0, nd)], permute(pw.data, pw.shape, [nd + 1, nd, ...spatialPerm]));
        const ins = [mid, pwt, ...(bias ? [g.float(bias.name, bias.shape, bias.data)] : [])];
        y = g.node('Conv', ins, `${c.name}/pointwise`, { kernel_shape: { ints: new Array(nd).fill(1) } });
        outC = pwC;
      }
    }
    if (bias && bias.shape[0] !== outC) c.fail(`bias [${bias.shape.join(', ')}] does not fit ${outC} output channels`);
    return activate(c, { name: y, shape: [x.shape[0], ...geo.out, outC], cf: true }, c.config.activation);
  };
}

function convTranspose(nd: number): LayerConverter {
  return (c) => {
    channelsLast(c);
    const x = c.g.cf(c.inputs[0]);
    spatialRank(c, x, nd);
    const k = tuple(c, 'kernel_size', nd);
    const s = tuple(c, 'strides', nd, 1);
    const d = tuple(c, 'dilation_rate', nd, 1);
    if (d.some((v) => v !== 1)) c.fail(`dilation_rate ${JSON.stringify(c.config.dilation_rate)} is not supported`);
    const padding = c.config.padding ?? 'valid';
    if (padding !== 'valid' && padding !== 'same') c.fail(`padding ${JSON.stringify(padding)} is not supported`);
    const inC = known(c, x.shape[x.shape.length - 1], 'the number of input channels');
    const w = required(c, 'kernel');
    // TF.js kernel [k..., out, in] → ONNX ConvTranspose [in, out, k...].
    if (w.shape.length !== nd + 2 || w.shape[nd + 1] !== inC) c.fail(`kernel [${w.shape.join(', ')}] does not fit ${inC} input channels`);
    const outC = w.shape[nd];
    const begins: number[] = [];
    const ends: number[] = [];
    const extra: number[] = [];
    const out: Dim[] = [];
    for (let i = 0; i < nd; i++) {
      const size = known(c, x.shape[1 + i], `input size ${i + 1}`);
      // As TF's conv2d_transpose: the output is the size of the conv input it is the gradient of.
      const o = padding === 'same' ? size * s[i] : size * s[i] + Math.max(k[i] - s[i], 0);
      const begin = padding === 'same' ? Math.floor(Math.max(k[i] - s[i], 0) / 2) : 0;
      const end = (size - 1) * s[i] + k[i] - begin - o;
      begins.push(begin);
      ends.push(Math.max(end, 0));
      extra.push(Math.max(-end, 0));
      out.push(o);
    }
    const g = c.g;
    const bias = c.config.use_bias === false ? undefined : c.weight('bias');
    const wt = g.float(w.name, [inC, outC, ...w.shape.slice(0, nd)], permute(w.data, w.shape, [nd + 1, nd, ...Array.from({ length: nd }, (_, i) => i)]));
    const ins = [x.name, wt, ...(bias ? [g.float(bias.name, bias.shape, bias.data)] : [])];
    const y = g.node('ConvTranspose', ins, `${c.name}/conv_transpose`, {
      kernel_shape: { ints: k }, strides: { ints: s }, pads: { ints: [...begins, ...ends] }, output_padding: { ints: extra },
    });
    return activate(c, { name: y, shape: [x.shape[0], ...out, outC], cf: true }, c.config.activation);
  };
}

function pool(op: 'MaxPool' | 'AveragePool', nd: number): LayerConverter {
  return (c) => {
    channelsLast(c);
    const x = c.g.cf(c.inputs[0]);
    spatialRank(c, x, nd);
    const k = tuple(c, 'pool_size', nd, 2);
    const s = c.config.strides === null || c.config.strides === undefined ? k : tuple(c, 'strides', nd);
    const geo = geometry(c, x.shape.slice(1, -1), k, s, new Array<number>(nd).fill(1));
    // TF averages over the window's valid pixels only: count_include_pad 0 (the ONNX default).
    const y = c.g.node(op, [x.name], `${c.name}/${op.toLowerCase()}`, { kernel_shape: { ints: k }, strides: { ints: s }, ...geo.attrs });
    return { name: y, shape: [x.shape[0], ...geo.out, x.shape[x.shape.length - 1]], cf: true };
  };
}

function globalPool(op: 'ReduceMean' | 'ReduceMax', nd: number): LayerConverter {
  return (c) => {
    channelsLast(c);
    const x = c.inputs[0];
    spatialRank(c, x, nd);
    const keep = c.config.keepdims === true;
    const axes = Array.from({ length: nd }, (_, i) => storedAxis(x, i + 1));
    const y = c.g.node(op, [x.name], `${c.name}/${op.toLowerCase()}`, { axes: { ints: axes }, keepdims: { int: keep ? 1 : 0 } });
    const chans = x.shape[x.shape.length - 1];
    return keep ? { name: y, shape: [x.shape[0], ...new Array<Dim>(nd).fill(1), chans], cf: x.cf } : { name: y, shape: [x.shape[0], chans], cf: false };
  };
}

const batchNorm: LayerConverter = (c) => {
  const x = c.inputs[0];
  const r = x.shape.length;
  let axis = c.config.axis ?? -1;
  if (Array.isArray(axis)) axis = axis.length === 1 ? axis[0] : c.fail(`axis ${JSON.stringify(axis)}: only one axis is supported`);
  if (!Number.isInteger(axis)) c.fail(`axis ${JSON.stringify(axis)} is not an integer`);
  const a = axis < 0 ? axis + r : axis;
  // TF.js broadcasts the statistics wrongly for any other axis of a rank ≥ 3 input; nothing to match.
  if (a !== r - 1) c.fail(`axis ${axis}: only the last (channel) axis is supported`);
  const chans = known(c, x.shape[a], `the size of axis ${axis}`);
  const mean = required(c, 'moving_mean');
  const variance = required(c, 'moving_variance');
  const gamma = c.config.scale === false ? undefined : c.weight('gamma');
  const beta = c.config.center === false ? undefined : c.weight('beta');
  for (const w of [mean, variance, gamma, beta]) if (w && w.data.length !== chans) c.fail(`weight ${w.name} has ${w.data.length} values for ${chans} channels`);
  const eps = typeof c.config.epsilon === 'number' ? c.config.epsilon : 1e-3;
  const g = c.g;
  if (a === r - 1 && r >= 3) {
    // ONNX BatchNormalization normalises axis 1: the channels of the channels-first layout.
    const xf = g.cf(x);
    const scale = gamma ? g.float(gamma.name, [chans], gamma.data) : g.float(`${c.name}/gamma`, [chans], new Float32Array(chans).fill(1));
    const shift = beta ? g.float(beta.name, [chans], beta.data) : g.float(`${c.name}/beta`, [chans], new Float32Array(chans));
    const y = g.node('BatchNormalization', [xf.name, scale, shift, g.float(mean.name, [chans], mean.data), g.float(variance.name, [chans], variance.data)],
      `${c.name}/batchnorm`, { epsilon: { float: eps } });
    return { name: y, shape: x.shape, cf: true };
  }
  // A rank-2 input: y = x·m + b with m = γ/√(σ²+ε), b = β − μ·m.
  const xl = g.cl(x);
  const m = new Float32Array(chans);
  const b = new Float32Array(chans);
  for (let i = 0; i < chans; i++) {
    m[i] = (gamma ? gamma.data[i] : 1) / Math.sqrt(variance.data[i] + eps);
    b[i] = (beta ? beta.data[i] : 0) - mean.data[i] * m[i];
  }
  const y1 = g.node('Mul', [xl.name, g.float(`${c.name}/scale`, [chans], m)], `${c.name}/scale_mul`);
  const y = g.node('Add', [y1, g.float(`${c.name}/shift`, [chans], b)], `${c.name}/shift_add`);
  return { name: y, shape: x.shape, cf: false };
};

const identity: LayerConverter = (c) => c.inputs[0];

const flatten: LayerConverter = (c) => {
  channelsLast(c);
  const x = c.g.cl(c.inputs[0]);
  if (x.shape.length === 2) return x;
  const rest = x.shape.slice(1);
  const n = rest.every((d) => d !== null) ? (rest as number[]).reduce((p, q) => p * q, 1) : null;
  // Flattened in TF.js's (channels-last) order, so the Dense kernel after it fits unchanged.
  return { name: c.g.node('Flatten', [x.name], `${c.name}/flatten`, { axis: { int: 1 } }), shape: [x.shape[0], n], cf: false };
};

const reshape: LayerConverter = (c) => {
  const x = c.g.cl(c.inputs[0]);
  const target = c.config.target_shape;
  if (!Array.isArray(target) || !target.every((d) => Number.isInteger(d) && (d > 0 || d === -1))) c.fail(`target_shape ${JSON.stringify(target)} is not understood`);
  const dims = target as number[];
  const total = x.shape.slice(1).every((d) => d !== null) ? (x.shape.slice(1) as number[]).reduce((p, q) => p * q, 1) : null;
  const knownPart = dims.filter((d) => d > 0).reduce((p, q) => p * q, 1);
  const shape: Dim[] = [x.shape[0], ...dims.map((d) => (d === -1 ? (total === null ? null : total / knownPart) : d))];
  // 0 copies the batch size from the input.
  const y = c.g.node('Reshape', [x.name, c.g.int64(`${c.name}/shape`, [0, ...dims])], `${c.name}/reshape`);
  return { name: y, shape, cf: false };
};

const permuteLayer: LayerConverter = (c) => {
  const x = c.g.cl(c.inputs[0]);
  const dims = c.config.dims;
  const r = x.shape.length;
  if (!Array.isArray(dims) || dims.length !== r - 1 || [...dims].sort().some((d, i) => d !== i + 1)) c.fail(`dims ${JSON.stringify(dims)} is not a permutation of 1..${r - 1}`);
  const perm = [0, ...(dims as number[])];
  return { name: c.g.node('Transpose', [x.name], `${c.name}/transpose`, { perm: { ints: perm } }), shape: perm.map((p) => x.shape[p]), cf: false };
};

function zeroPadding(nd: number): LayerConverter {
  return (c) => {
    channelsLast(c);
    const x = c.inputs[0];
    spatialRank(c, x, nd);
    const p = pairs(c, 'padding', nd);
    const r = nd + 2;
    const begins = new Array<number>(r).fill(0);
    const ends = new Array<number>(r).fill(0);
    p.forEach(([b, e], i) => {
      begins[storedAxis(x, i + 1)] = b;
      ends[storedAxis(x, i + 1)] = e;
    });
    const y = c.g.node('Pad', [x.name, c.g.int64(`${c.name}/pads`, [...begins, ...ends])], `${c.name}/pad`);
    return { name: y, shape: x.shape.map((d, i) => (i === 0 || i > nd || d === null ? d : d + p[i - 1][0] + p[i - 1][1])), cf: x.cf };
  };
}

function cropping(nd: number): LayerConverter {
  return (c) => {
    channelsLast(c);
    const x = c.inputs[0];
    spatialRank(c, x, nd);
    const p = pairs(c, 'cropping', nd);
    const axes = p.map((_, i) => storedAxis(x, i + 1));
    const ends = p.map(([, e]) => (e === 0 ? INT64_MAX_SAFE : -e));
    const g = c.g;
    const y = g.node('Slice', [x.name, g.int64(`${c.name}/starts`, p.map(([b]) => b)), g.int64(`${c.name}/ends`, ends), g.int64(`${c.name}/axes`, axes)], `${c.name}/slice`);
    return { name: y, shape: x.shape.map((d, i) => (i === 0 || i > nd || d === null ? d : d - p[i - 1][0] - p[i - 1][1])), cf: x.cf };
  };
}

const upSampling2d: LayerConverter = (c) => {
  channelsLast(c);
  if ((c.config.interpolation ?? 'nearest') !== 'nearest') c.fail(`interpolation ${c.config.interpolation} is not supported (only nearest)`);
  const x = c.g.cf(c.inputs[0]);
  spatialRank(c, x, 2);
  const [sh, sw] = tuple(c, 'size', 2, 2);
  const g = c.g;
  // TF.js resizeNearestNeighbor without align_corners / half-pixel centres: asymmetric, floor.
  const scales = g.float(`${c.name}/scales`, [4], Float32Array.of(1, 1, sh, sw));
  const y = g.node('Resize', [x.name, '', scales], `${c.name}/resize`, {
    mode: { string: 'nearest' }, coordinate_transformation_mode: { string: 'asymmetric' }, nearest_mode: { string: 'floor' },
  });
  const [n, h, w, ch] = x.shape;
  return { name: y, shape: [n, h === null ? null : h * sh, w === null ? null : w * sw, ch], cf: true };
};

/** Inputs of a merge layer in one layout: the first input's if all ranks agree, else channels-last. */
function sameLayout(c: LayerCall): Val[] {
  if (c.inputs.length < 2) c.fail(`needs at least two inputs, got ${c.inputs.length}`);
  const rank = c.inputs[0].shape.length;
  const cf = c.inputs[0].cf && c.inputs.every((v) => v.shape.length === rank);
  return c.inputs.map((v) => (cf ? c.g.cf(v) : c.g.cl(v)));
}

function merge(op: 'Add' | 'Mul' | 'Max' | 'Min' | 'Mean'): LayerConverter {
  return (c) => {
    const xs = sameLayout(c);
    let y: string;
    if (op === 'Max' || op === 'Min' || op === 'Mean') y = c.g.node(op, xs.map((v) => v.name), `${c.name}/${op.toLowerCase()}`);
    else {
      y = xs[0].name;
      for (let i = 1; i < xs.length; i++) y = c.g.node(op, [y, xs[i].name], `${c.name}/${op.toLowerCase()}`);
    }
    const widest = xs.reduce((a, b) => (b.shape.length > a.shape.length ? b : a));
    return { name: y, shape: widest.shape, cf: xs[0].cf };
  };
}

const concatenate: LayerConverter = (c) => {
  const xs = sameLayout(c);
  const r = xs[0].shape.length;
  if (xs.some((v) => v.shape.length !== r)) c.fail(`inputs of different ranks cannot be concatenated`);
  const axis = typeof c.config.axis === 'number' ? c.config.axis : -1;
  const a = axis < 0 ? axis + r : axis;
  const y = c.g.node('Concat', xs.map((v) => v.name), `${c.name}/concat`, { axis: { int: storedAxis(xs[0], a) } });
  const sum = xs.every((v) => v.shape[a] !== null) ? xs.reduce((s, v) => s + (v.shape[a] as number), 0) : null;
  return { name: y, shape: xs[0].shape.map((d, i) => (i === a ? sum : d)), cf: xs[0].cf };
};

const layerNorm: LayerConverter = (c) => {
  const x = c.g.cl(c.inputs[0]);
  const r = x.shape.length;
  const raw = c.config.axis ?? -1;
  const axes = (Array.isArray(raw) ? raw : [raw]).map((a: number) => (a < 0 ? a + r : a)).sort((a: number, b: number) => a - b);
  if (axes.some((a: number, i: number) => a !== r - axes.length + i) || axes[0] < 1) c.fail(`axis ${JSON.stringify(raw)}: only trailing axes are supported`);
  const dims = axes.map((a: number) => known(c, x.shape[a], `the size of axis ${a}`));
  const n = dims.reduce((p: number, q: number) => p * q, 1);
  const eps = typeof c.config.epsilon === 'number' ? c.config.epsilon : 1e-3;
  const g = c.g;
  const h = c.name;
  // (x − mean)/√(var + ε)·γ + β over the trailing axes, from opset-13 operators.
  const mean = g.node('ReduceMean', [x.name], `${h}/mean`, { axes: { ints: axes }, keepdims: { int: 1 } });
  const centred = g.node('Sub', [x.name, mean], `${h}/centred`);
  const variance = g.node('ReduceMean', [g.node('Mul', [centred, centred], `${h}/squared`)], `${h}/variance`, { axes: { ints: axes }, keepdims: { int: 1 } });
  const std = g.node('Sqrt', [g.node('Add', [variance, g.scalar(`${h}/epsilon`, eps)], `${h}/variance_eps`)], `${h}/std`);
  let y = g.node('Div', [centred, std], `${h}/normalised`);
  const gamma = c.config.scale === false ? undefined : c.weight('gamma');
  const beta = c.config.center === false ? undefined : c.weight('beta');
  for (const w of [gamma, beta]) if (w && w.data.length !== n) c.fail(`weight ${w.name} has ${w.data.length} values for ${n}`);
  if (gamma) y = g.node('Mul', [y, g.float(gamma.name, dims, gamma.data)], `${h}/scale`);
  if (beta) y = g.node('Add', [y, g.float(beta.name, dims, beta.data)], `${h}/shift`);
  return { name: y, shape: x.shape, cf: false };
};

const rescaling: LayerConverter = (c) => {
  const x = c.inputs[0];
  const scale = c.config.scale ?? 1;
  const offset = c.config.offset ?? 0;
  if (typeof scale !== 'number' || typeof offset !== 'number') c.fail(`scale and offset must be numbers`);
  const y = c.g.node('Mul', [x.name, c.g.scalar(`${c.name}/scale`, scale)], `${c.name}/scale_mul`);
  return { ...x, name: offset === 0 ? y : c.g.node('Add', [y, c.g.scalar(`${c.name}/offset`, offset)], `${c.name}/offset_add`) };
};

const repeatVector: LayerConverter = (c) => {
  const x = c.inputs[0];
  const n = c.config.n;
  if (x.shape.length !== 2) c.fail(`expects a rank-2 input, got shape [${x.shape.join(', ')}]`);
  if (!Number.isInteger(n) || n < 1) c.fail(`n ${JSON.stringify(n)} is not a positive integer`);
  const g = c.g;
  const u = g.node('Unsqueeze', [x.name, g.int64(`${c.name}/axes`, [1])], `${c.name}/unsqueeze`);
  const y = g.node('Tile', [u, g.int64(`${c.name}/repeats`, [1, n, 1])], `${c.name}/tile`);
  return { name: y, shape: [x.shape[0], n, x.shape[1]], cf: false };
};

const embedding: LayerConverter = (c) => {
  if (c.config.mask_zero === true) c.fail(`mask_zero true is not supported (no layer after it would use the mask)`);
  const x = c.g.cl(c.inputs[0]);
  const e = required(c, 'embeddings');
  const g = c.g;
  // TF.js casts the indices to int32 (truncating); Cast to int64 truncates the same way.
  const idx = g.node('Cast', [x.name], `${c.name}/indices`, { to: { int: 7 } });
  const y = g.node('Gather', [g.float(e.name, e.shape, e.data), idx], `${c.name}/gather`, { axis: { int: 0 } });
  return { name: y, shape: [...x.shape, e.shape[1]], cf: false };
};

/** Converters by Keras class name. */
export const LAYER_CONVERTERS: Readonly<Record<string, LayerConverter>> = {
  Dense: dense,
  Conv1D: convLike('conv', 1),
  Conv2D: convLike('conv', 2),
  Conv3D: convLike('conv', 3),
  DepthwiseConv2D: convLike('depthwise', 2),
  Conv2DTranspose: convTranspose(2),
  Conv3DTranspose: convTranspose(3),
  SeparableConv2D: convLike('separable', 2),
  MaxPooling1D: pool('MaxPool', 1),
  MaxPooling2D: pool('MaxPool', 2),
  MaxPooling3D: pool('MaxPool', 3),
  AveragePooling1D: pool('AveragePool', 1),
  AveragePooling2D: pool('AveragePool', 2),
  AveragePooling3D: pool('AveragePool', 3),
  GlobalAveragePooling1D: globalPool('ReduceMean', 1),
  GlobalAveragePooling2D: globalPool('ReduceMean', 2),
  GlobalMaxPooling1D: globalPool('ReduceMax', 1),
  GlobalMaxPooling2D: globalPool('ReduceMax', 2),
  BatchNormalization: batchNorm,
  LayerNormalization: layerNorm,
  Rescaling: rescaling,
  RepeatVector: repeatVector,
  ...ACTIVATION_LAYERS,
  Flatten: flatten,
  Reshape: reshape,
  Permute: permuteLayer,
  Dropout: identity,
  SpatialDropout1D: identity,
  SpatialDropout2D: identity,
  SpatialDropout3D: identity,
  GaussianNoise: identity,
  GaussianDropout: identity,
  AlphaDropout: identity,
  ZeroPadding2D: zeroPadding(2),
  Cropping2D: cropping(2),
  UpSampling2D: upSampling2d,
  Add: merge('Add'),
  Multiply: merge('Mul'),
  Maximum: merge('Max'),
  Minimum: merge('Min'),
  Average: merge('Mean'),
  Concatenate: concatenate,
  Embedding: embedding,
};
