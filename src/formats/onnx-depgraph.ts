/**
 * The channel dependency graph of an ONNX model: which tensor axes must shrink together when one
 * output channel of a Conv/Gemm/MatMul goes. A producer starts a group; the channel axis of every
 * value it reaches (through BatchNormalization, InstanceNormalization, elementwise activations, per-channel constants,
 * pools, Flatten, Concat, Split and depthwise Conv) is a list of segments of groups (a MatMul's
 * channels are the last axis of [batch, tokens, features]: a transformer MLP's neurons through
 * its bias Add and GELU into the next MatMul's rows; an attention's Q, K and V, coupled channel by
 * channel through its head Reshapes into the output projection's rows, heads going whole), and residual
 * Add/Mul/Sub/Div of two such values merge their groups (union-find; a whole group may become a
 * range of another, as after a Split). Every stored tensor a
 * group's channels index is a slice: producing weights on their output axis, consuming weights on
 * their input axis (a channel is a block of features after Flatten), biases and norm parameters.
 *
 * Exactness: the channel-masked model zeroes a removed channel's producing weights and the bias and
 * BatchNorm scale/shift that `channelCompanions` owns; what the channel still carries is then a
 * constant per channel, computed here for every channel as if it were removed, and folded into the
 * bias of the Conv/Gemm that consumes it. A group is pinned (never shrunk) when an axis must keep
 * its size: graph outputs, ops not modelled, shared or non-float32 tensors, a constant that cannot
 * be folded (a padded Conv, a MatMul), or couplings this module does not model (a transformer's
 * hidden dimension under LayerNorm, heads split by a Reshape outside the attention pattern followed).
 */
import { erf } from '../core/erf.js';
import type { DecodedNode } from './onnx-decode.js';
import { graphTensor, ONNX_DTYPE } from './onnx-decode.js';
import type { OnnxModel } from './onnx.js';
import { channelCompanions } from './onnx-roles.js';
import { ChannelUnion } from './channel-union.js';

/** Channels `start..start+length` of group `group`, laid out consecutively on a value's channel axis. */
export interface Segment {
  readonly group: number;
  readonly start: number;
  readonly length: number;
}

/** Entries of a stored tensor that belong to channels of a group. */
export interface ChannelSlice {
  readonly tensor: string;
  readonly axis: number;
  /** Group (root id, see `ChannelGroup.id`). */
  readonly group: number;
  /** Group channels start..start+length map to axis positions at + (c - start)·block .. + block. */
  readonly start: number;
  readonly length: number;
  readonly at: number;
  readonly block: number;
  /** out: a weight's producing axis; in: a weight's consuming axis; param: bias, norm, per-channel constant. */
  readonly kind: 'out' | 'in' | 'param';
}

/**
 * A consumer whose bias takes what removed channels still carry: bias[o] += scale · Σ_c k_c ·
 * Σ W[o, slice of c] over the weight's other axes.
 */
export interface BiasFold {
  /** Main-graph node position and name. */
  readonly node: number;
  readonly nodeName: string;
  readonly weight: string;
  /** The weight's consuming axis and its output axis. */
  readonly inAxis: number;
  readonly outAxis: number;
  /** Input index of the bias on the node, and its stored name ('' when the node has none yet). */
  readonly biasIndex: number;
  readonly bias: string;
  readonly scale: number;
  /** Per consuming segment: the slice on the weight's input axis and each channel's constant. */
  readonly parts: readonly { readonly slice: ChannelSlice; readonly constants: Float64Array }[];
}

export interface ChannelGroup {
  readonly id: number;
  readonly size: number;
  /** Why it must keep its size; empty when it can shrink. */
  readonly pinned: readonly string[];
  /** Names of the producing nodes (for display). */
  readonly producers: readonly string[];
  readonly slices: readonly ChannelSlice[];
  /** Read or produced by grouped Convs: every run of this many channels must lose the same number. */
  readonly evenBlock?: number;
  /** Attention heads of this many channels (Q, K, V and the output projection's rows): a head goes or stays whole. */
  readonly headSize?: number;
  /**
   * A fused projection's heads (GPT-2's c_attn: Q, K and V as the group's first, second and third
   * part, cut by a Split): channel c of each of the `tied` equal parts is one channel.
   */
  readonly tied?: number;
}

export interface ChannelGraph {
  readonly groups: readonly ChannelGroup[];
  readonly folds: readonly BiasFold[];
  /** Depthwise Convs (main-graph position): their `group` attribute is their input's channel count. */
  readonly depthwise: readonly { readonly node: number; readonly segs: readonly Segment[] }[];
  /** Splits along the channel axis (main-graph position and node name): their own `split` sizes input ('' when absent or shared: the writer sets a new one) per output. */
  readonly splits: readonly { readonly node: number; readonly nodeName: string; readonly input: string; readonly outputs: readonly (readonly Segment[])[] }[];
  /** Channel ranges a Slice cuts out along the channel axis: like a Split output, each must keep a channel. */
  readonly cuts?: readonly (readonly Segment[])[];
  /** Grouped Convs whose input group shrinks: row block b of `weight` reads input channels b·ci..(b+1)·ci. */
  readonly grouped: readonly { readonly node: number; readonly weight: string; readonly input: readonly Segment[]; readonly ci: number; readonly co: number; readonly groups: number }[];
  /** Reshapes to [batch, features] whose shape constant `input` names the features count (shape[1] = channels × block). */
  readonly reshapes: readonly { readonly node: number; readonly input: string; readonly shape: readonly number[]; readonly segs: readonly Segment[] }[];
  /**
   * Parameters (biases, norms, per-channel constants) a node reads from a tensor it does not own
   * (shared, or through Identity, as exporters deduplicate equal tensors): slices name `tensor`,
   * a copy of `source` the writer creates for input `index` of main-graph node `node`.
   */
  readonly copies: readonly { readonly tensor: string; readonly source: string; readonly node: number; readonly index: number }[];
  /**
   * Shape constants of attention Reshapes with the head count baked in, and int64 Slice bounds
   * along a channel axis (unit 1: `shape[axis]` counts the channels of `segs`): input `index` of
   * main-graph node `node` (the Reshape's shape, or a Concat input that builds it at run time);
   * entry `axis` is `shape[axis] − removed / unit` after shrinking (unit: the head size where the
   * entry counts heads, 1 where it counts features). `input` is '' when the constant is shared.
   */
  readonly headShapes: readonly { readonly node: number; readonly nodeName: string; readonly input: string; readonly index: number; readonly shape: readonly number[]; readonly axis: number; readonly unit: number; readonly segs: readonly Segment[] }[];
  /** Values whose channel axis is made of group segments (their value_info goes stale when a group shrinks). */
  readonly values: ReadonlyMap<string, readonly Segment[]>;
  /** Normalisation scales (BatchNorm γ) among the slices' tensors: slice tensor → the stored tensor holding its values (`--criterion bn-scale`). */
  readonly normScales?: ReadonlyMap<string, string>;
}

/** One self-attention as exported: the split Reshapes of Q, K and V, the merge Reshape, and the values between them. */
interface Attention {
  readonly q: DecodedNode;
  readonly k: DecodedNode;
  readonly v: DecodedNode;
  readonly merge: DecodedNode;
  /** Values from the split Reshapes to the merge Reshape's input (their value_info holds the head count). */
  readonly inner: readonly string[];
  /** Q, K and V as they reach the split Reshapes, with their head count and size. */
  readonly seen: Map<DecodedNode, { x: ValueChannels; heads: number; size: number }>;
}

/** One entry of a shape vector (see `shapeEntries`). */
interface ShapeEntry {
  readonly value: number;
  readonly source?: { readonly tensor: string; readonly at: number; readonly node?: DecodedNode; readonly index: number };
  readonly dimOf?: { readonly value: string; readonly axis: number };
  /** A run-time entry: the Concat input it comes from. */
  readonly slot?: { readonly node: DecodedNode; readonly index: number };
}

interface ValueChannels {
  segs: Segment[];
  rank: number;
  axis: number;
  /** Entries per channel along the axis: 1, or 0 after a Flatten of a spatial map (known at the consumer). */
  block: number;
  /** Per value channel: what it carries in the masked model if removed; NaN when not one constant. */
  consts: Float64Array;
}

const DEFAULT_DOMAIN = (n: DecodedNode): boolean => n.domain === '' || n.domain === 'ai.onnx';

const UNARY: Readonly<Record<string, (x: number, n: DecodedNode, clip: [number, number]) => number>> = {
  Relu: (x) => Math.max(0, x),
  LeakyRelu: (x, n) => (x >= 0 ? x : x * numAttr(n, 'alpha', 0.01)),
  Sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  Tanh: (x) => Math.tanh(x),
  HardSigmoid: (x, n) => Math.max(0, Math.min(1, numAttr(n, 'alpha', 0.2) * x + numAttr(n, 'beta', 0.5))),
  HardSwish: (x) => x * Math.max(0, Math.min(1, x / 6 + 0.5)),
  Clip: (x, _n, [lo, hi]) => Math.min(hi, Math.max(lo, x)),
  Identity: (x) => x,
  Dropout: (x) => x,
  Neg: (x) => -x,
  Abs: (x) => Math.abs(x),
  Elu: (x, n) => (x >= 0 ? x : numAttr(n, 'alpha', 1) * (Math.exp(x) - 1)),
  Softplus: (x) => Math.log1p(Math.exp(x)),
  // Exact GELU, decomposed (x · 0.5 · (1 + Erf(x / √2))) by exporters before opset 20, or one node.
  Erf: (x) => erf(x),
  Gelu: (x, n) => (n.attributes.get('approximate') === 'tanh'
    ? 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)))
    : 0.5 * x * (1 + erf(x / Math.SQRT2))),
};

const BINARY: Readonly<Record<string, (a: number, b: number) => number>> = {
  Add: (a, b) => a + b,
  Sub: (a, b) => a - b,
  Mul: (a, b) => a * b,
  Div: (a, b) => a / b,
  // GELU's tanh form x · 0.5 · (1 + tanh(√(2/π) · (x + 0.044715 · x³))) as exporters decompose it.
  Pow: (a, b) => a ** b,
};

/** Ops whose output has the largest rank of their inputs (elementwise with broadcasting, normalisations, MatMul of rank ≥ 2). */
const RANK_KEEPING = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Sqrt', 'Erf', 'Gelu', 'Relu', 'Sigmoid', 'Tanh', 'Softmax', 'LayerNormalization', 'Transpose', 'MatMul', 'Identity', 'Dropout', 'Neg', 'Cast', 'Where']);

const POOLS = new Set(['GlobalAveragePool', 'GlobalMaxPool', 'MaxPool', 'AveragePool']);

function numAttr(n: DecodedNode, name: string, fallback: number): number {
  const v = n.attributes.get(name);
  return typeof v === 'number' ? v : fallback;
}

function intsAttr(n: DecodedNode, name: string): number[] {
  const v = n.attributes.get(name);
  return Array.isArray(v) ? (v as number[]) : [];
}

/** Builds the channel dependency graph of the main graph of `model`. */
export function buildChannelGraph(model: OnnxModel): ChannelGraph {
  return new Builder(model).build();
}

class Builder extends ChannelUnion {
  private readonly nodes: readonly DecodedNode[];
  private readonly consumers = new Map<string, { node: DecodedNode; index: number }[]>();
  private readonly slices: ChannelSlice[] = [];
  private readonly folds: (Omit<BiasFold, 'parts'> & { parts: { slice: ChannelSlice; constants: Float64Array }[]; padded: boolean })[] = [];
  private readonly values = new Map<string, ValueChannels>();
  private readonly depthwise: { node: number; segs: Segment[] }[] = [];
  private readonly copies = new Map<string, { tensor: string; source: string; node: number; index: number }>();
  private readonly producerOf = new Map<string, DecodedNode>();
  private readonly positionOf = new Map<DecodedNode, number>();
  private readonly splits: { node: number; nodeName: string; input: string; outputs: Segment[][] }[] = [];
  private readonly cuts: Segment[][] = [];
  private readonly reshapes: { node: number; input: string; shape: number[]; segs: Segment[] }[] = [];
  private readonly even: { segs: Segment[]; block: number }[] = [];
  private readonly grouped: { node: number; weight: string; input: Segment[]; ci: number; co: number; groups: number }[] = [];
  /** Biases and norm parameters the masked model zeroes with the channel. */
  private readonly zeroed = new Set<string>();
  /** Attentions the export's pattern was followed through, by their split and merge Reshapes. */
  private readonly attentionAt = new Map<DecodedNode, Attention>();
  private readonly heads: { segs: Segment[]; size: number; label: string; tied?: number }[] = [];
  private readonly headShapes: { node: number; nodeName: string; input: string; index: number; shape: number[]; axis: number; unit: number; segs: Segment[] }[] = [];
  /** Values inside attentions whose value_info names the head count. */
  private readonly headValues = new Map<string, Segment[]>();
  /** Ranks found by `rankOf`. */
  private readonly ranks = new Map<string, number>();
  /** Why the node being visited was refused, when more can be said than "not modelled". */
  private refusal: string | undefined;

  constructor(private readonly model: OnnxModel) {
    super();
    this.nodes = model.decoded.nodes;
    for (const node of model.decoded.allNodes) {
      node.inputs.forEach((input, index) => {
        if (input === '') return;
        const list = this.consumers.get(input) ?? [];
        list.push({ node, index });
        this.consumers.set(input, list);
      });
    }
    this.nodes.forEach((n, i) => {
      this.positionOf.set(n, i);
      for (const o of n.outputs) this.producerOf.set(o, n);
    });
    const isStored = (name: string, rank: number): boolean => model.stored(name)?.dims.length === rank;
    for (const t of model.tensors) {
      if (!t.prunable) continue;
      for (const c of channelCompanions(model.decoded.allNodes, t.name, isStored)) this.zeroed.add(c.name);
    }
    for (const n of this.nodes) {
      if (n.opType !== 'Softmax' || !DEFAULT_DOMAIN(n)) continue;
      const a = this.matchAttention(n);
      if (a) for (const r of [a.q, a.k, a.v, a.merge]) this.attentionAt.set(r, a);
    }
  }

  build(): ChannelGraph {
    const main = new Set(this.nodes);
    // A subgraph may read any outer value by name: such values keep their channels.
    const inner = new Set<string>();
    for (const n of this.model.decoded.allNodes) if (!main.has(n)) for (const i of n.inputs) inner.add(i);
    for (const n of this.nodes) if (n.subgraphs.size) for (const g of n.subgraphs.values()) for (const m of g.nodes) for (const i of m.inputs) inner.add(i);
    this.nodes.forEach((node, position) => this.visit(node, position));
    for (const o of this.model.decoded.outputs) this.pinValue(o.name, `reaches graph output ${o.name}`);
    for (const v of inner) this.pinValue(v, `read inside a subgraph (${v})`);
    for (const f of this.folds) {
      for (const { slice, constants } of f.parts) {
        for (let i = 0; i < constants.length; i++) {
          const k = constants[i];
          if (Number.isNaN(k)) this.pin(slice.group, `a removed channel would not be one constant at ${f.nodeName}`);
          else if (k !== 0 && f.padded) this.pin(slice.group, `a removed channel carries a constant into the padded ${f.nodeName}, which cannot be folded into its bias`);
          else if (k !== 0 && f.biasIndex < 0) this.pin(slice.group, `a removed channel carries a constant into ${f.nodeName}, which has no bias to fold it into`);
          else continue;
          break;
        }
      }
    }
    // One block size per group, over the whole group; a group both split and grouped is not modelled.
    const blockOf = new Map<number, number>();
    const splitRoots = new Set(this.splits.flatMap((sp) => sp.outputs.flat().map((s) => this.find(s.group))));
    for (const e of this.even) {
      const seg = this.resolveSeg(e.segs[0]);
      const prior = blockOf.get(seg.group);
      if (seg.start !== 0 || seg.length !== this.sizes[seg.group] || (prior !== undefined && prior !== e.block)) this.pin(seg.group, 'read or produced by grouped Convs with different group widths');
      else if (splitRoots.has(seg.group)) this.pin(seg.group, 'both split and read by a grouped Conv');
      blockOf.set(seg.group, e.block);
    }
    // Heads go whole, so their group must be exactly the heads' channels and shrink by nothing else's blocks.
    const headOf = new Map<number, number>();
    const tiedOf = new Map<number, number>();
    for (const h of this.heads) {
      const seg = h.segs.length === 1 ? this.resolveSeg(h.segs[0]) : undefined;
      if (!seg) h.segs.forEach((s) => this.pin(s.group, `the heads of the attention merged by ${h.label} take channels from more than one group`));
      else if (seg.start !== 0 || seg.length !== this.sizes[seg.group] || (headOf.has(seg.group) && headOf.get(seg.group) !== h.size)) this.pin(seg.group, `the heads of the attention merged by ${h.label} are part of a larger group`);
      // A fused projection's own Q/K/V Split is the tie itself.
      else if (blockOf.has(seg.group) || (splitRoots.has(seg.group) && !h.tied)) this.pin(seg.group, `the heads of the attention merged by ${h.label} are also split or read by grouped Convs`);
      else {
        headOf.set(seg.group, h.size);
        if (h.tied) tiedOf.set(seg.group, h.tied);
      }
    }
    const roots = this.collectRoots(this.slices);
    const resolve = (s: ChannelSlice): ChannelSlice => {
      const { root, at } = this.locate(s.group);
      return { ...s, group: root, start: s.start + at };
    };
    const groups = [...roots].map(([id, e]): ChannelGroup => ({ id, size: this.sizes[id], pinned: e.pins, producers: e.producers, slices: e.slices, ...(blockOf.has(id) && { evenBlock: blockOf.get(id) }), ...(headOf.has(id) && { headSize: headOf.get(id) }), ...(tiedOf.has(id) && { tied: tiedOf.get(id) }) }));
    const folds = this.folds.map(({ padded: _padded, ...f }) => ({ ...f, parts: f.parts.map((p) => ({ slice: resolve(p.slice), constants: p.constants })) }));
    const values = new Map<string, Segment[]>();
    for (const [name, v] of this.values) values.set(name, v.segs.map((s) => this.resolveSeg(s)));
    for (const [name, segs] of this.headValues) values.set(name, segs.map((s) => this.resolveSeg(s)));
    const headShapes = this.headShapes.map((d) => ({ ...d, segs: d.segs.map((s) => this.resolveSeg(s)) }));
    const depthwise = this.depthwise.map((d) => ({ node: d.node, segs: d.segs.map((s) => this.resolveSeg(s)) }));
    const splits = this.splits.map((d) => ({ ...d, outputs: d.outputs.map((segs) => segs.map((s) => this.resolveSeg(s))) }));
    const reshapes = this.reshapes.map((d) => ({ ...d, segs: d.segs.map((s) => this.resolveSeg(s)) }));
    const grouped = this.grouped.map((d) => ({ ...d, input: d.input.map((s) => this.resolveSeg(s)) }));
    const normScales = new Map<string, string>();
    for (const n of this.nodes) if (n.opType === 'BatchNormalization' && DEFAULT_DOMAIN(n) && this.model.stored(n.inputs[1] ?? '')) normScales.set(n.inputs[1], n.inputs[1]);
    for (const c of this.copies.values()) if (this.nodes[c.node].opType === 'BatchNormalization' && c.index === 1) normScales.set(c.tensor, c.source);
    const cuts = this.cuts.map((segs) => segs.map((x) => this.resolveSeg(x)));
    return { groups, folds, depthwise, splits, cuts, reshapes, grouped, headShapes, copies: [...this.copies.values()], values, normScales };
  }

  private pinValue(value: string, why: string): void {
    for (const s of this.values.get(value)?.segs ?? []) this.pin(s.group, why);
  }

  // --- stored tensors ---------------------------------------------------------------------------

  /** The dims of a float32 stored tensor that only `node` reads (once), or undefined. */
  private ownTensor(name: string, node: DecodedNode): readonly number[] | undefined {
    const t = this.model.stored(name);
    if (!t || t.dataType !== ONNX_DTYPE.FLOAT || t.sparseIndices || t.scope !== '') return undefined;
    const uses = this.consumers.get(name) ?? [];
    return uses.length === 1 && uses[0].node === node ? t.dims : undefined;
  }

  /**
   * The tensor whose entries stand for input `index` of `node`, a parameter: its own stored tensor,
   * or else a copy (named here, made by the writer) of the float32 tensor it reads, through Identity.
   */
  private param(name: string, node: DecodedNode, index: number): string | undefined {
    if (this.ownTensor(name, node)) return name;
    let source = name;
    for (let hops = 0; !this.model.stored(source) && hops < 8; hops++) {
      const p = this.producerOf.get(source);
      if (!p || p.opType !== 'Identity' || !DEFAULT_DOMAIN(p)) return undefined;
      source = p.inputs[0];
    }
    const t = this.model.stored(source);
    if (!t || t.dataType !== ONNX_DTYPE.FLOAT || t.sparseIndices || t.scope !== '') return undefined;
    const position = this.positionOf.get(node)!;
    let tensor = `${source}_sculpt_${position}_${index}`;
    for (let i = 1; this.model.stored(tensor) || this.consumers.has(tensor) || this.producerOf.has(tensor); i++) tensor = `${source}_sculpt_${position}_${index}_${i}`;
    this.copies.set(tensor, { tensor, source, node: position, index });
    return tensor;
  }

  private dimsOf(tensor: string): readonly number[] {
    return this.model.stored(this.copies.get(tensor)?.source ?? tensor)!.dims;
  }

  /** Values of a stored tensor of any type (constants: Clip bounds, Reshape shapes, pads), as numbers. */
  private constant(name: string, depth = 0): number[] | undefined {
    const t = this.model.stored(name);
    if (!t) {
      // Exports without constant folding build small vectors (Resize scales) by Concat of constants.
      const p = this.producerOf.get(name);
      if (!p || p.opType !== 'Concat' || !DEFAULT_DOMAIN(p) || depth > 4 || p.inputs.some((i) => (this.model.stored(i)?.dims.length ?? 1) !== 1)) return undefined;
      const parts = p.inputs.map((i) => this.constant(i, depth + 1));
      return parts.every((v) => v !== undefined) ? parts.flat() as number[] : undefined;
    }
    const g = graphTensor(t, this.model.bytes, this.model.path, this.model.readExternal);
    return g ? Array.from(g.data as ArrayLike<number | bigint>, Number) : undefined;
  }

  /**
   * Whether a Shape node of a value of rank `rank` is only read in ways shrinking keeps true: a
   * Gather (axis 0) of constant indices or a Slice of constant bounds that reads no axis in
   * `changed` (exports with dynamic axes read [batch, tokens] off a value), or — when it reads a
   * changed axis — a chain of Slice/Gather/Squeeze/Unsqueeze/Concat/Cast ending in the shape of a
   * Reshape of the same value (Hugging Face's Conv1D: `x.view(-1, x.size(-1))`).
   */
  private shapeReadOnly(shape: DecodedNode, changed: readonly number[], rank: number): boolean {
    if (shape.attributes.has('start') || shape.attributes.has('end')) return false;
    const src = shape.inputs[0];
    const follows = (value: string, depth: number): boolean => !this.model.decoded.outputs.some((o) => o.name === value) && (this.consumers.get(value) ?? []).every(({ node, index }) => {
      if (!DEFAULT_DOMAIN(node) || depth > 6) return false;
      if (depth === 0 && index === 0) {
        const axes = this.shapeAxesRead(node, rank);
        if (axes && !axes.some((a) => changed.includes(a))) return true;
      }
      if (node.opType === 'Reshape') return index === 1 && node.inputs[0] === src;
      return ['Slice', 'Gather', 'Squeeze', 'Unsqueeze', 'Concat', 'Cast'].includes(node.opType) && follows(node.outputs[0], depth + 1);
    });
    return follows(shape.outputs[0], 0);
  }

  /** The axes a Gather (axis 0, constant indices) or a Slice (constant bounds, step 1) of a shape vector of length `rank` reads. */
  private shapeAxesRead(node: DecodedNode, rank: number): number[] | undefined {
    if (node.opType === 'Gather') {
      const at = numAttr(node, 'axis', 0) === 0 ? this.constant(node.inputs[1] ?? '') : undefined;
      if (!at?.length || !at.every((a) => Number.isInteger(a) && a >= -rank && a < rank)) return undefined;
      return at.map((a) => (a < 0 ? a + rank : a));
    }
    if (node.opType === 'Slice') {
      const range = this.sliceRange(node, rank);
      if (!range) return undefined;
      return Array.from({ length: Math.max(0, range[1] - range[0]) }, (_, i) => range[0] + i);
    }
    return undefined;
  }

  /** [start, end) of a Slice of a 1-D value of length `n` with constant bounds, axis 0 and step 1. */
  private sliceRange(node: DecodedNode, n: number): [number, number] | undefined {
    const [starts, ends, axes, steps] = [1, 2, 3, 4].map((i) => (node.inputs[i] ? this.constant(node.inputs[i]) : undefined));
    if (starts?.length !== 1 || ends?.length !== 1 || (axes && (axes.length !== 1 || (axes[0] !== 0 && axes[0] !== -1))) || (steps && (steps.length !== 1 || steps[0] !== 1))) return undefined;
    const clamp = (v: number): number => Math.min(n, Math.max(0, v < 0 ? v + n : v));
    return [clamp(starts[0]), clamp(ends[0])];
  }

  /**
   * The entries of a shape vector: a stored constant, or (exports with dynamic axes) a Concat of
   * stored constants and run-time scalars (Unsqueeze of a Gather, or of a Squeezed one-entry
   * Slice, of a Shape). Each entry is its value (NaN at run time) and, for a constant, where it
   * is stored: the Concat's input `index` of node `node` (or the Reshape's own shape when `node`
   * is undefined), entry `at` of it; for a run-time entry read off a value's shape, which (`dimOf`).
   */
  private shapeEntries(name: string): ShapeEntry[] | undefined {
    const whole = this.constant(name);
    if (this.model.stored(name)) return whole?.map((value, at) => ({ value, source: { tensor: name, at, index: 1 } }));
    const p = this.producerOf.get(name);
    if (!p || p.opType !== 'Concat' || !DEFAULT_DOMAIN(p) || numAttr(p, 'axis', 0) !== 0) return undefined;
    const out: ShapeEntry[] = [];
    for (const [index, input] of p.inputs.entries()) {
      const t = this.model.stored(input);
      if (t) {
        if (t.dims.length !== 1) return undefined;
        const v = this.constant(input);
        if (!v) return undefined;
        v.forEach((value, at) => out.push({ value, source: { tensor: input, at, node: p, index } }));
        continue;
      }
      const u = this.producerOf.get(input);
      const axes = u?.opType === 'Unsqueeze' ? (u.attributes.has('axes') ? intsAttr(u, 'axes') : this.constant(u.inputs[1] ?? '')) : undefined;
      const scalar = u && this.staticDims(u.inputs[0])?.length === 0;
      if (!axes || axes.length !== 1 || !scalar) return undefined;
      const dimOf = this.dimOf(u.inputs[0]);
      out.push({ value: NaN, slot: { node: p, index }, ...(dimOf && { dimOf }) });
    }
    return out;
  }

  /** The value and axis whose size a run-time scalar is: Gather(Shape(v), i), or Squeeze(Slice(Shape(v), i, i + 1)). */
  private dimOf(scalar: string): { value: string; axis: number } | undefined {
    let p = this.producerOf.get(scalar);
    let pick: DecodedNode | undefined;
    if (p?.opType === 'Gather') pick = p;
    else if (p?.opType === 'Squeeze' && this.producerOf.get(p.inputs[0])?.opType === 'Slice') pick = this.producerOf.get(p.inputs[0]);
    p = pick && this.producerOf.get(pick.inputs[0]);
    if (!pick || p?.opType !== 'Shape' || !DEFAULT_DOMAIN(p) || p.attributes.has('start') || p.attributes.has('end')) return undefined;
    const rank = this.rankOf(p.inputs[0]);
    const axes = rank === undefined ? undefined : this.shapeAxesRead(pick, rank);
    return axes?.length === 1 ? { value: p.inputs[0], axis: axes[0] } : undefined;
  }

  /** The dims of a value where they follow from stored tensors, graph inputs, value_info-free elementwise ops and Unsqueeze/Gather (-1: not known). */
  private staticDims(name: string, depth = 0): number[] | undefined {
    const t = this.model.stored(name);
    if (t) return [...t.dims];
    const input = this.model.decoded.inputs.find((i) => i.name === name);
    if (input) return [...input.dims];
    const p = this.producerOf.get(name);
    if (!p || !DEFAULT_DOMAIN(p) || depth > 12) return undefined;
    if (['Cast', 'Identity', 'Neg', 'Not', 'Relu', 'Sqrt', 'Exp', 'Log'].includes(p.opType)) return this.staticDims(p.inputs[0], depth + 1);
    if (p.opType === 'Unsqueeze') {
      const dims = this.staticDims(p.inputs[0], depth + 1);
      const axes = p.attributes.has('axes') ? intsAttr(p, 'axes') : this.constant(p.inputs[1] ?? '');
      if (!dims || !axes) return undefined;
      const rank = dims.length + axes.length;
      const at = new Set(axes.map((a) => (a < 0 ? a + rank : a)));
      const out: number[] = [];
      for (let a = 0, k = 0; a < rank; a++) out.push(at.has(a) ? 1 : dims[k++]);
      return out;
    }
    if (p.opType === 'Squeeze') {
      const dims = this.staticDims(p.inputs[0], depth + 1);
      const given = p.attributes.has('axes') ? intsAttr(p, 'axes') : p.inputs[1] ? this.constant(p.inputs[1]) : undefined;
      if (!dims || (p.inputs[1] && !given)) return undefined;
      const axes = new Set((given ?? dims.flatMap((d, i) => (d === 1 ? [i] : []))).map((a) => (a < 0 ? a + dims.length : a)));
      return dims.filter((_, i) => !axes.has(i));
    }
    if (p.opType === 'Slice') {
      const dims = this.staticDims(p.inputs[0], depth + 1);
      if (!dims) return undefined;
      const range = dims.length === 1 && dims[0] >= 0 ? this.sliceRange(p, dims[0]) : undefined;
      if (range) return [Math.max(0, range[1] - range[0])];
      // Bounds known at run time only (GPT-2's bias[:, :, :S, :S]): the sliced axes' sizes are unknown, the others kept.
      const axes = p.inputs[3] ? this.constant(p.inputs[3]) : undefined;
      if (!axes) return undefined;
      const at = new Set(axes.map((a) => (a < 0 ? a + dims.length : a)));
      return dims.map((d, i) => (at.has(i) ? -1 : d));
    }
    if (p.opType === 'Range') return [-1];
    if (p.opType === 'Shape') {
      const r = p.attributes.has('start') || p.attributes.has('end') ? undefined : this.rankOf(p.inputs[0]);
      return r === undefined ? undefined : [r];
    }
    if (p.opType === 'Gather') {
      const [data, idx] = [this.staticDims(p.inputs[0], depth + 1), this.staticDims(p.inputs[1] ?? '', depth + 1)];
      if (!data || !idx) return undefined;
      let axis = numAttr(p, 'axis', 0);
      if (axis < 0) axis += data.length;
      return [...data.slice(0, axis), ...idx, ...data.slice(axis + 1)];
    }
    if (p.opType in BINARY || p.opType === 'Where' || p.opType === 'Pow' || p.opType === 'Equal' || p.opType === 'Less' || p.opType === 'Greater') {
      const all = p.inputs.map((i) => this.staticDims(i, depth + 1));
      if (all.some((d) => !d)) return undefined;
      const rank = Math.max(...all.map((d) => d!.length));
      const out: number[] = [];
      for (let a = 0; a < rank; a++) {
        let dim = 1;
        for (const d of all) {
          const v = d![a - rank + d!.length] ?? 1;
          if (v === 1) continue;
          dim = dim === 1 || dim === -1 ? v : dim;
        }
        out.push(dim);
      }
      return out;
    }
    return undefined;
  }

  private floats(name: string): Float32Array {
    return this.model.read(this.copies.get(name)?.source ?? name);
  }

  private addSlices(tensor: string, axis: number, segs: readonly Segment[], kind: ChannelSlice['kind'], block = 1): ChannelSlice[] {
    const out: ChannelSlice[] = [];
    let at = 0;
    for (const s of segs) {
      const slice: ChannelSlice = { tensor, axis, group: s.group, start: s.start, length: s.length, at: at * block, block, kind };
      this.slices.push(slice);
      out.push(slice);
      at += s.length;
    }
    return out;
  }

  // --- nodes -----------------------------------------------------------------------------------

  private visit(node: DecodedNode, position: number): void {
    const label = `${node.opType} ${node.name || `#${position}`}`;
    const inputs = node.inputs.map((i) => this.values.get(i));
    this.refusal = undefined;
    const handled = DEFAULT_DOMAIN(node) && this.handle(node, position, label, inputs);
    if (!handled) {
      const why = this.refusal ?? `read by ${label}, which shrinking does not model`;
      inputs.forEach((v) => v?.segs.forEach((s) => this.pin(s.group, why)));
    }
  }

  /** Whether the node was understood; it records its output's channels and its slices. */
  private handle(node: DecodedNode, position: number, label: string, inputs: (ValueChannels | undefined)[]): boolean {
    const op = node.opType;
    const x = inputs[0];
    const out = node.outputs[0];
    // Channels may enter these only as their data input (a computed weight or bias is not modelled).
    if ((op === 'Conv' || op === 'ConvTranspose' || op === 'Gemm') && inputs.slice(1).some((v) => v)) return false;
    if (op === 'Conv') return this.conv(node, position, label, x);
    if (op === 'ConvTranspose') return this.convTranspose(node, label, x);
    if (op === 'Gemm') return this.gemm(node, position, label, x);
    if (op === 'MatMul') return this.matmul(node, position, label, x, inputs[1]);
    if (op in BINARY) return this.binary(node, inputs);
    if (op === 'Concat') return this.concat(node, inputs);
    const attention = op === 'Reshape' ? this.attentionAt.get(node) : undefined;
    if (attention) return this.attentionReshape(node, position, label, x, attention);
    // Below, channels enter through the first input only.
    if (!x) return !inputs.some((v) => v);
    if (op === 'BatchNormalization') {
      if (node.outputs.length > 1 && node.outputs.slice(1).some((o) => o !== '' && this.consumers.has(o))) return false;
      const params = node.inputs.slice(1, 5);
      const tensors = params.map((p, i) => this.param(p, node, i + 1));
      if (params.length !== 4 || tensors.some((t) => !t || this.dimsOf(t).length !== 1)) return false;
      const [scale, bias, mean, variance] = tensors.map((t) => this.floats(t!));
      const eps = numAttr(node, 'epsilon', 1e-5);
      const zero = this.zeroed.has(params[0]) && this.zeroed.has(params[1]);
      for (const t of tensors) this.addSlices(t!, 0, x.segs, 'param');
      const consts = x.consts.map((k, i) => (zero ? 0 : (scale[i] * (k - mean[i])) / Math.sqrt(variance[i] + eps) + bias[i]));
      this.values.set(out, { ...x, consts });
      return true;
    }
    if (op === 'InstanceNormalization') {
      // Each channel is normalised over its own spatial positions: a constant channel becomes its shift.
      const tensors = node.inputs.slice(1, 3).map((p, i) => this.param(p, node, i + 1));
      if (tensors.length !== 2 || tensors.some((t) => !t || this.dimsOf(t).length !== 1) || x.axis !== 1 || x.rank < 3) return false;
      const shift = this.floats(tensors[1]!);
      for (const t of tensors) this.addSlices(t!, 0, x.segs, 'param');
      this.values.set(out, { ...x, consts: x.consts.map((_, i) => shift[i]) });
      return true;
    }
    if (op in UNARY) {
      if (op === 'Dropout' && node.outputs[1] && this.consumers.has(node.outputs[1])) return false;
      let clip: [number, number] = [-Infinity, Infinity];
      if (op === 'Clip') {
        const lo = node.inputs[1] ? this.constant(node.inputs[1]) : [numAttr(node, 'min', -Infinity)];
        const hi = node.inputs[2] ? this.constant(node.inputs[2]) : [numAttr(node, 'max', Infinity)];
        if (lo?.length !== 1 || hi?.length !== 1) return false;
        clip = [lo[0], hi[0]];
      } else if (node.inputs.length > 1 && op !== 'Dropout') return false;
      const f = UNARY[op];
      this.values.set(out, { ...x, consts: x.consts.map((k) => f(k, node, clip)) });
      return true;
    }
    if (POOLS.has(op)) {
      if (node.outputs.length > 1 && node.outputs[1] && this.consumers.has(node.outputs[1])) return false;
      if (x.rank < 3 || x.axis !== 1) return false;
      // An average over padding that counts the padded zeros turns a constant into a border pattern.
      const pads = intsAttr(node, 'pads').some((p) => p !== 0) || !['', 'NOTSET', 'VALID'].includes(String(node.attributes.get('auto_pad') ?? ''));
      const averagesPadding = op === 'AveragePool' && pads && numAttr(node, 'count_include_pad', 0) === 1;
      this.values.set(out, { ...x, consts: averagesPadding ? x.consts.map((k) => (k === 0 ? 0 : NaN)) : x.consts });
      return true;
    }
    if (op === 'Pad') {
      const pads = node.inputs[1] ? this.constant(node.inputs[1]) : intsAttr(node, 'pads');
      const mode = String(node.attributes.get('mode') ?? 'constant');
      if (!pads || pads.length !== 2 * x.rank || node.inputs[3] || x.axis !== 1) return false;
      // Pads must leave the batch and channel axes alone; a constant border changes a constant channel.
      if ([0, 1, x.rank, x.rank + 1].some((a) => pads[a] !== 0)) return false;
      const value = node.inputs[2] ? this.constant(node.inputs[2])?.[0] : numAttr(node, 'value', 0);
      if (value === undefined) return false;
      const border = mode === 'constant' && pads.some((p) => p !== 0);
      this.values.set(out, { ...x, consts: border ? x.consts.map((k) => (k === value ? k : NaN)) : x.consts });
      return true;
    }
    if (op === 'Split') return this.split(node, position, x);
    if (op === 'Slice') return this.slice(node, position, label, x);
    if (op === 'Shape') {
      // Exports with dynamic axes read [batch, tokens] off a value to build the next Reshape's shape.
      if (this.shapeReadOnly(node, [x.axis], x.rank)) return true;
      this.refusal = `its shape is read by ${label} in a way that would see the channel count`;
      return false;
    }
    if (op === 'LayerNormalization') {
      let axis = numAttr(node, 'axis', -1);
      if (axis < 0) axis += x.rank;
      if (axis <= x.axis) this.refusal = `normalised over its channel axis by ${label} (a transformer's hidden dimension is not shrunk yet)`;
      return false;
    }
    if (op === 'Resize') {
      // Interpolating a constant gives the constant; `sizes` would bake the channel count in.
      const [, roi = '', scales = '', sizes = ''] = node.inputs;
      const sc = scales ? this.constant(scales) : undefined;
      // roi is only read by tf_crop_and_resize.
      const crops = node.attributes.get('coordinate_transformation_mode') === 'tf_crop_and_resize';
      if (sizes || (roi && crops) || !sc || sc.length !== x.rank || sc[0] !== 1 || sc[x.axis] !== 1) return false;
      this.values.set(out, x);
      return true;
    }
    if (op === 'ReduceMean' || op === 'ReduceMax' || op === 'ReduceMin') {
      // Over spatial axes only: the mean (max, min) of a constant channel is that constant.
      const given = node.attributes.has('axes') ? intsAttr(node, 'axes') : node.inputs[1] ? this.constant(node.inputs[1]) : undefined;
      if (!given?.length || node.inputs.length > 2) return false;
      const axes = given.map((a) => (a < 0 ? a + x.rank : a));
      if (axes.includes(x.axis)) this.refusal = `reduced over its channel axis by ${label} (a decomposed LayerNorm: a transformer's hidden dimension is not shrunk yet)`;
      if (axes.includes(x.axis) || axes.includes(0)) return false;
      const keep = numAttr(node, 'keepdims', 1) === 1;
      const axis = keep ? x.axis : x.axis - axes.filter((a) => a < x.axis).length;
      this.values.set(out, { ...x, rank: keep ? x.rank : x.rank - axes.length, axis });
      return true;
    }
    if (op === 'Flatten') {
      const axis = numAttr(node, 'axis', 1);
      if (x.axis !== 1 || (axis !== 1 && axis !== 1 - x.rank)) return false;
      this.values.set(out, { ...x, rank: 2, axis: 1, block: x.rank === 2 ? x.block : 0 });
      return true;
    }
    if (op === 'Reshape') {
      const tokens = this.tokenReshape(node, position, x);
      if (tokens !== undefined) return tokens;
      const name = node.inputs[1] ?? '';
      const shape = this.constant(name);
      // A flatten to [batch, -1] or [batch or -1, features]; the features count is rewritten. Any
      // other shape bakes the channel count in where this module cannot follow it.
      // Splitting the last axis in two: [..., heads, head size] before attention.
      if (shape && shape.length === x.rank + 1 && x.axis === x.rank - 1 && shape[x.axis] > 1 && shape[x.axis] * shape[x.axis + 1] === channels(x)) {
        this.refusal = `split into ${shape[x.axis]} heads of ${shape[x.axis + 1]} by ${label}, which does not lead into an attention sculpt follows (Transpose, MatMul(Q, Kᵀ), scale, mask, Softmax, MatMul with V, Transpose, Reshape)`;
      }
      if (!shape || shape.length !== 2 || x.axis !== 1 || numAttr(node, 'allowzero', 0) !== 0) return false;
      if (shape[1] !== -1) {
        if (shape[1] <= 0 || shape[0] === 0 || (this.consumers.get(name) ?? []).length !== 1 || this.model.stored(name)?.scope !== '') return false;
        if (shape[1] % channels(x) !== 0 || (x.rank === 2 && shape[1] !== channels(x) * x.block)) return false;
        this.reshapes.push({ node: position, input: name, shape, segs: x.segs });
      }
      this.values.set(out, { ...x, rank: 2, axis: 1, block: x.rank === 2 ? x.block : 0 });
      return true;
    }
    return false;
  }

  /**
   * Reshapes that keep the channels on the last axis and only fold or unfold the token axes, as
   * Hugging Face's Conv1D (GPT-2) does around its Gemm: [N, C] → [B, S, C] with a shape whose last
   * entry is C (a constant, rewritten) or −1, and [B, S, C] → [−1, C] with C a constant or read
   * at run time off the same value. Undefined when the Reshape is not of this kind.
   */
  private tokenReshape(node: DecodedNode, position: number, x: ValueChannels): boolean | undefined {
    if (x.block !== 1 || x.axis !== x.rank - 1 || numAttr(node, 'allowzero', 0) !== 0) return undefined;
    const entries = this.shapeEntries(node.inputs[1] ?? '');
    if (!entries || entries.length < 2 || entries.some((e) => e.value === 0)) return undefined;
    const last = entries[entries.length - 1];
    const C = channels(x);
    const unfold = x.rank === 2 && entries.length >= 3;
    const fold = x.rank >= 3 && entries.length === 2 && entries[0].value === -1;
    if (!unfold && !fold) return undefined;
    // Every other entry is a token count: read off some value's non-channel axis, or −1.
    const others = entries.slice(0, -1);
    if (unfold && !others.every((e) => Number.isNaN(e.value) || (e.value > 0 && e.value !== C) || e.value === -1)) return undefined;
    if (last.value === C && last.source) this.addHeadShape(node, position, last.source, 1, x.segs);
    else if (!(last.value === -1 && others.every((e) => e.value !== -1)) && !(fold && last.dimOf?.value === node.inputs[0] && last.dimOf.axis === x.rank - 1)) return undefined;
    const rank = entries.length;
    this.values.set(node.outputs[0], { ...x, rank, axis: rank - 1 });
    return true;
  }

  // --- attention ------------------------------------------------------------------------------

  /**
   * The attention around `softmax` as PyTorch exports it: Q, K and V each Reshaped to [B, S, H, d]
   * and Transposed (Q and V 0 2 1 3; K 0 2 3 1, or 0 2 1 3 then 0 1 3 2); MatMul(Q, Kᵀ); Div or Mul
   * by a scalar and Add of a mask shared by the heads, in any order; Softmax over the last axis;
   * MatMul with V; Transpose 0 2 1 3; the merge Reshape. Every value in between has one reader.
   */
  private matchAttention(softmax: DecodedNode): Attention | undefined {
    // Before opset 13 the default axis is 1: one softmax over every head's scores together.
    const axis = numAttr(softmax, 'axis', this.model.decoded.opsetVersion >= 13 ? -1 : 1);
    if (axis !== -1 && axis !== 3) return undefined;
    const inner: string[] = [];
    let value = softmax.inputs[0];
    let node = this.soleProducer(value, softmax);
    for (let hops = 0; node && node.opType !== 'MatMul'; hops++) {
      const i = hops < 4 ? this.scoreChainInput(node) : undefined;
      if (i === undefined) return undefined;
      inner.push(value);
      value = node.inputs[i];
      node = this.soleProducer(value, node);
    }
    if (!node) return undefined;
    inner.push(value);
    const scores = node;
    const q = this.splitBehind(scores.inputs[0], scores, [[0, 2, 1, 3]], inner);
    const k = this.splitBehind(scores.inputs[1], scores, [[0, 2, 3, 1]], inner) ?? this.splitBehind(scores.inputs[1], scores, [[0, 1, 3, 2], [0, 2, 1, 3]], inner);
    const probs = softmax.outputs[0];
    const context = this.soleConsumer(probs);
    if (!q || !k || context?.node.opType !== 'MatMul' || context.index !== 0) return undefined;
    inner.push(probs);
    const v = this.splitBehind(context.node.inputs[1], context.node, [[0, 2, 1, 3]], inner);
    const merged = this.soleConsumer(context.node.outputs[0]);
    if (!v || new Set([q, k, v]).size !== 3 || merged?.node.opType !== 'Transpose' || !DEFAULT_DOMAIN(merged.node) || intsAttr(merged.node, 'perm').join() !== '0,2,1,3') return undefined;
    // [B, S, H, d]: exports with dynamic axes read B and S off it for the merge Reshape's shape.
    const merge = this.soleConsumer(merged.node.outputs[0], [2, 3], 4);
    if (merge?.node.opType !== 'Reshape' || !DEFAULT_DOMAIN(merge.node) || merge.index !== 0) return undefined;
    inner.push(context.node.outputs[0], merged.node.outputs[0]);
    return { q, k, v, merge: merge.node, inner, seen: new Map() };
  }

  /** Which input of a Div/Mul by a scalar or an Add of a head-shared mask continues the scores. */
  private scoreChainInput(node: DecodedNode): number | undefined {
    if (!DEFAULT_DOMAIN(node)) return undefined;
    const chain = ['MatMul', 'Div', 'Mul', 'Add', 'Where'];
    // GPT-2's causal mask: Where(bias[:, :, :S, :S], scores, −inf), the condition shared by the heads.
    if (node.opType === 'Where' && node.inputs.length === 3) {
      if (!this.maskLike(node.inputs[0])) return undefined;
      for (const i of [1, 2]) {
        const p = this.producerOf.get(node.inputs[i]);
        if (p && chain.includes(p.opType) && this.scalarLike(node.inputs[3 - i])) return i;
      }
      return undefined;
    }
    if (node.inputs.length !== 2) return undefined;
    if (node.opType === 'Div') return this.scalarLike(node.inputs[1]) ? 0 : undefined;
    if (node.opType !== 'Mul' && node.opType !== 'Add') return undefined;
    const side = node.opType === 'Mul' ? (n: string) => this.scalarLike(n) : (n: string) => this.maskLike(n);
    for (const i of [0, 1]) {
      const p = this.producerOf.get(node.inputs[i]);
      if (p && chain.includes(p.opType) && side(node.inputs[1 - i])) return i;
    }
    return undefined;
  }

  /** A one-entry constant, or an elementwise op of such (the exporter's Pow(d, 0.5)). */
  private scalarLike(name: string, depth = 0): boolean {
    const t = this.model.stored(name);
    if (t) return t.dims.reduce((a, b) => a * b, 1) === 1;
    const p = this.producerOf.get(name);
    return !!p && DEFAULT_DOMAIN(p) && depth < 4 && (p.opType in BINARY || ['Pow', 'Sqrt', 'Cast', 'Identity'].includes(p.opType)) && p.inputs.every((i) => this.scalarLike(i, depth + 1));
  }

  /** A mask added to [B, H, S, S] scores that is the same for every head (its head axis is 1 or absent). */
  private maskLike(name: string): boolean {
    if (this.scalarLike(name)) return true;
    // Stored, a graph input, or built from one at run time (BERT's (1 − mask[:, None, None, :]) · −10000).
    const dims = this.staticDims(name);
    return !!dims && dims.length > 0 && dims.length <= 4 && (dims.length < 3 || dims[dims.length - 3] === 1);
  }

  /** The Reshape behind Transposes with `perms` (nearest first) of `value`, which only `reader` reads; their values join `inner`. */
  private splitBehind(value: string, reader: DecodedNode, perms: readonly (readonly number[])[], inner: string[]): DecodedNode | undefined {
    const seen: string[] = [];
    let [v, r] = [value, reader];
    for (const perm of perms) {
      const t = this.soleProducer(v, r);
      if (t?.opType !== 'Transpose' || intsAttr(t, 'perm').join() !== perm.join()) return undefined;
      seen.push(v);
      [v, r] = [t.inputs[0], t];
    }
    const reshape = this.soleProducer(v, r);
    if (reshape?.opType !== 'Reshape') return undefined;
    inner.push(...seen, v);
    return reshape;
  }

  /** The main-graph, default-domain producer of `value` when `reader` is its only reader and it is no graph output. */
  private soleProducer(value: string, reader: DecodedNode): DecodedNode | undefined {
    const p = this.producerOf.get(value);
    const uses = this.consumers.get(value) ?? [];
    if (!p || !DEFAULT_DOMAIN(p) || uses.length !== 1 || uses[0].node !== reader || this.model.decoded.outputs.some((o) => o.name === value)) return undefined;
    return p;
  }

  /**
   * The one reader of `value` (besides Shape nodes that only read axes outside `changed` of a
   * value of rank `rank`), when it is in the main graph and `value` is no graph output.
   */
  private soleConsumer(value: string, changed: readonly number[] = [], rank = 0): { node: DecodedNode; index: number } | undefined {
    const uses = (this.consumers.get(value) ?? []).filter((u) => !(rank > 0 && u.node.opType === 'Shape' && DEFAULT_DOMAIN(u.node) && this.shapeReadOnly(u.node, changed, rank)));
    if (uses.length !== 1 || !this.positionOf.has(uses[0].node) || this.model.decoded.outputs.some((o) => o.name === value)) return undefined;
    return uses[0];
  }

  /**
   * A split Reshape records Q, K or V and their heads; the merge Reshape couples the three (channel
   * c of Q, K and V is one channel: head ⌊c/d⌋ goes whole) and gives its output V's channels, as
   * the output projection reads them. A removed head carries V's constant: softmax rows sum to 1.
   */
  private attentionReshape(node: DecodedNode, position: number, label: string, x: ValueChannels | undefined, a: Attention): boolean {
    const entries = this.shapeEntries(node.inputs[1] ?? '');
    const shape = entries?.map((e) => e.value);
    const zeros = numAttr(node, 'allowzero', 0) !== 0 && !!shape?.includes(0);
    if (node !== a.merge) {
      if (!x) return true;
      const C = channels(x);
      let [H, d] = shape?.length === 4 ? [shape[2], shape[3]] : [0, 0];
      if (H === -1 && d > 0 && C % d === 0) H = C / d;
      // −1, or computed at run time from sizes shrinking leaves alone (GPT-2: hidden size / H).
      else if ((d === -1 || Number.isNaN(d)) && H > 0 && C % H === 0) d = C / H;
      if (x.rank !== 3 || x.axis !== 2 || x.block !== 1 || !(H > 0) || !(d > 0) || H * d !== C || zeros) {
        this.refusal = `split into heads by ${label} with a shape this module cannot follow (${shape ? `[${shape.map((v) => (Number.isNaN(v) ? '?' : v)).join(', ')}]` : 'not a constant'})`;
        return false;
      }
      a.seen.set(node, { x, heads: H, size: d });
      if (shape![2] !== -1) this.addHeadShape(node, position, entries![2].source!, d, x.segs);
      return true;
    }
    const parts = [a.q, a.k, a.v].map((r) => a.seen.get(r));
    const pinAll = (why: string): boolean => {
      for (const p of parts) p?.x.segs.forEach((s) => this.pin(s.group, why));
      return true;
    };
    if (parts.some((p) => !p)) return pinAll(`Q, K or V of the attention merged by ${label} is not a MatMul's output features`);
    const [q, k, v] = parts as { x: ValueChannels; heads: number; size: number }[];
    if (k.heads !== q.heads || v.heads !== q.heads || k.size !== q.size || v.size !== q.size) return pinAll(`Q, K and V of the attention merged by ${label} have different heads`);
    // The merged width: a constant, −1, or read at run time off a value of that width (GPT-2 reads the hidden size), made a constant here.
    const width = entries?.[2];
    const runtime = width !== undefined && Number.isNaN(width.value) && width.slot !== undefined;
    if (x || !shape || shape.length !== 3 || zeros || (shape[2] !== -1 && shape[2] !== q.heads * q.size && !runtime)) return pinAll(`the heads of the attention are merged by ${label} with a shape this module cannot follow`);
    const tied = this.tiedParts([q, k, v].map((p) => p.x.segs));
    if (tied) this.heads.push({ segs: [tied], size: q.size, label, tied: 3 });
    else {
      for (const other of [k, v]) {
        if (other.x.segs.length !== q.x.segs.length || !q.x.segs.every((s, i) => this.unite(s, other.x.segs[i]))) return pinAll(`Q, K and V of the attention merged by ${label} cannot be coupled channel by channel`);
      }
      this.heads.push({ segs: v.x.segs, size: q.size, label });
    }
    if (runtime) {
      const at = this.positionOf.get(width.slot!.node)!;
      this.headShapes.push({ node: at, nodeName: width.slot!.node.name || `Concat_${at}`, input: '', index: width.slot!.index, shape: [q.heads * q.size], axis: 0, unit: 1, segs: v.x.segs });
    } else if (shape[2] !== -1) this.addHeadShape(node, position, entries![2].source!, 1, v.x.segs);
    for (const name of a.inner) this.headValues.set(name, v.x.segs);
    this.values.set(node.outputs[0], { ...v.x, consts: v.x.consts.slice() });
    return true;
  }

  /**
   * Q, K and V cut by a Split from one fused projection: one segment each, of one group, the
   * group's three equal parts in order. The group's whole segment, or undefined.
   */
  private tiedParts(parts: readonly Segment[][]): Segment | undefined {
    if (parts.some((p) => p.length !== 1)) return undefined;
    const [q, k, v] = parts.map((p) => this.resolveSeg(p[0]));
    const L = q.length;
    if (k.group !== q.group || v.group !== q.group || k.length !== L || v.length !== L || this.sizes[q.group] !== 3 * L) return undefined;
    if (q.start !== 0 || k.start !== L || v.start !== 2 * L) return undefined;
    return { group: q.group, start: 0, length: 3 * L };
  }

  /** Records the stored entry that counts heads (or features): in the Reshape's own shape, or in a Concat input that builds it. */
  private addHeadShape(reshape: DecodedNode, position: number, source: NonNullable<ShapeEntry['source']>, unit: number, segs: Segment[]): void {
    const node = source.node ?? reshape;
    const at = source.node ? this.positionOf.get(source.node)! : position;
    const name = source.tensor;
    const own = this.model.stored(name)?.scope === '' && (this.consumers.get(name) ?? []).length === 1 ? name : '';
    this.headShapes.push({ node: at, nodeName: node.name || `${node.opType}_${at}`, input: own, index: source.index, shape: this.constant(name)!, axis: source.at, unit, segs });
  }

  private conv(node: DecodedNode, position: number, label: string, x: ValueChannels | undefined): boolean {
    const [, w, b = ''] = node.inputs;
    const dims = this.ownTensor(w, node);
    if (!dims || dims.length < 3) return !x;
    const group = numAttr(node, 'group', 1);
    const bt = b === '' ? '' : this.param(b, node, 2);
    if (bt === undefined || (bt !== '' && this.dimsOf(bt).length !== 1)) return !x;
    const O = dims[0];
    const biasValues = bt !== '' ? this.floats(bt) : undefined;
    const produced = (c: number): number => (biasValues && !this.zeroed.has(b) ? biasValues[c] : 0);
    const padded = intsAttr(node, 'pads').some((p) => p !== 0) || !['', 'NOTSET', 'VALID'].includes(String(node.attributes.get('auto_pad') ?? ''));
    if (group === 1) {
      if (x) {
        if (x.axis !== 1 || x.block !== 1 || channels(x) !== dims[1]) return false;
        const slices = this.addSlices(w, 1, x.segs, 'in');
        this.addFold(node, position, label, w, 1, 0, 2, bt, 1, slices, x, padded);
      }
      const g = this.newGroup(O, label);
      const segs = [{ group: g, start: 0, length: O }];
      this.addSlices(w, 0, segs, 'out');
      if (bt !== '') this.addSlices(bt, 0, segs, 'param');
      this.values.set(node.outputs[0], { segs, rank: dims.length, axis: 1, block: 1, consts: Float64Array.from({ length: O }, (_, c) => produced(c)) });
      return true;
    }
    // Depthwise: output channel c reads input channel c only, so both belong to the input's group.
    if (x && dims[1] === 1 && O === group && channels(x) === group && x.axis === 1 && x.block === 1) {
      this.addSlices(w, 0, x.segs, 'out');
      if (bt !== '') this.addSlices(bt, 0, x.segs, 'param');
      this.depthwise.push({ node: position, segs: x.segs });
      this.values.set(node.outputs[0], { ...x, consts: Float64Array.from({ length: O }, (_, c) => produced(c)) });
      return true;
    }
    return this.groupedConv(node, position, label, x, w, dims, group, bt, produced);
  }

  /**
   * Grouped Conv (g groups, weight [g·co, ci, ...]): output row block b reads input channels
   * b·ci..(b+1)·ci. Its input and output groups must each lose the same number of channels in every
   * block of ci (co) channels, so the weight stays [g·co', ci', ...]; the writer gathers each row
   * block's own input columns. A constant a removed input channel carries is not folded (pins).
   */
  private groupedConv(node: DecodedNode, position: number, label: string, x: ValueChannels | undefined, w: string, dims: readonly number[], group: number, bt: string, produced: (c: number) => number): boolean {
    const O = dims[0];
    const ci = dims[1];
    if (O % group !== 0) return !x;
    if (x) {
      const seg = x.segs.length === 1 ? this.resolveSeg(x.segs[0]) : undefined;
      if (!seg || seg.start !== 0 || seg.length !== this.sizes[seg.group] || x.axis !== 1 || x.block !== 1 || channels(x) !== ci * group) {
        x.segs.forEach((s) => this.pin(s.group, `read by the grouped ${label} with channels from more than one whole group`));
      } else {
        if (x.consts.some((k) => k !== 0)) this.pin(seg.group, `a removed channel carries a constant into the grouped ${label}, which is not folded`);
        this.even.push({ segs: x.segs, block: ci });
        this.grouped.push({ node: position, weight: w, input: x.segs, ci, co: O / group, groups: group });
      }
    }
    const g = this.newGroup(O, label);
    const segs = [{ group: g, start: 0, length: O }];
    this.addSlices(w, 0, segs, 'out');
    if (bt !== '') this.addSlices(bt, 0, segs, 'param');
    this.even.push({ segs, block: O / group });
    if (x && !this.grouped.some((d) => d.node === position)) this.pin(g, `produced by the grouped ${label}, whose input cannot shrink`);
    this.values.set(node.outputs[0], { segs, rank: dims.length, axis: 1, block: 1, consts: Float64Array.from({ length: O }, (_, c) => produced(c)) });
    return true;
  }

  /** ConvTranspose (group 1): weight [in, out, ...]; a constant input is not one constant at the output's borders. */
  private convTranspose(node: DecodedNode, label: string, x: ValueChannels | undefined): boolean {
    const [, w, b = ''] = node.inputs;
    const dims = this.ownTensor(w, node);
    const bt = b === '' ? '' : this.param(b, node, 2);
    if (!dims || dims.length < 3 || numAttr(node, 'group', 1) !== 1 || bt === undefined || (bt !== '' && this.dimsOf(bt).length !== 1)) return !x;
    if (x) {
      if (x.axis !== 1 || x.block !== 1 || channels(x) !== dims[0]) return false;
      this.addSlices(w, 0, x.segs, 'in');
      let at = 0;
      for (const s of x.segs) {
        if (x.consts.subarray(at, at + s.length).some((k) => k !== 0)) this.pin(s.group, `a removed channel carries a constant into ${label}, which cannot be folded into its bias`);
        at += s.length;
      }
    }
    const O = dims[1];
    const g = this.newGroup(O, label);
    const segs = [{ group: g, start: 0, length: O }];
    this.addSlices(w, 1, segs, 'out');
    const bias = bt !== '' ? this.floats(bt) : undefined;
    if (bt !== '') this.addSlices(bt, 0, segs, 'param');
    this.values.set(node.outputs[0], { segs, rank: dims.length, axis: 1, block: 1, consts: Float64Array.from({ length: O }, (_, c) => (bias && !this.zeroed.has(b) ? bias[c] : 0)) });
    return true;
  }

  private gemm(node: DecodedNode, position: number, label: string, x: ValueChannels | undefined): boolean {
    const [, w, c = ''] = node.inputs;
    const dims = this.ownTensor(w, node);
    if (!dims || dims.length !== 2 || numAttr(node, 'transA', 0) !== 0) return !x;
    const transB = numAttr(node, 'transB', 0) === 1;
    const [inAxis, outAxis] = transB ? [1, 0] : [0, 1];
    const K = dims[inAxis];
    const O = dims[outAxis];
    const alpha = numAttr(node, 'alpha', 1);
    const beta = numAttr(node, 'beta', 1);
    const ct = c === '' ? undefined : this.param(c, node, 2);
    const cDims = ct === undefined ? undefined : this.dimsOf(ct);
    const ownBias = cDims !== undefined && cDims.length === 1 && cDims[0] === O && beta !== 0;
    if (x) {
      const block = blockOf(x, K);
      if (block === undefined || x.axis !== x.rank - 1) return false;
      const slices = this.addSlices(w, inAxis, x.segs, 'in', block);
      // The fold adds to C, which the Gemm multiplies by beta (a missing C is created).
      const foldable = beta !== 0 && (ownBias || c === '');
      this.addFold(node, position, label, w, inAxis, outAxis, foldable ? 2 : -1, ownBias ? ct! : '', alpha / beta, slices, x, false);
    }
    const g = this.newGroup(O, label);
    const segs = [{ group: g, start: 0, length: O }];
    this.addSlices(w, outAxis, segs, 'out');
    let consts = new Float64Array(O);
    if (c !== '') {
      if (!ownBias) this.pin(g, `the bias of ${label} is not its own [${O}] tensor`);
      else {
        this.addSlices(ct!, 0, segs, 'param');
        const cv = this.floats(ct!);
        if (!this.zeroed.has(c)) consts = Float64Array.from(cv, (v) => beta * v);
      }
    }
    this.values.set(node.outputs[0], { segs, rank: 2, axis: 1, block: 1, consts });
    return true;
  }

  private matmul(node: DecodedNode, position: number, label: string, x: ValueChannels | undefined, other: ValueChannels | undefined): boolean {
    const w = node.inputs[1];
    const dims = this.ownTensor(w, node);
    if (other || !dims || dims.length !== 2) return !x && !other;
    const [K, O] = dims;
    if (x) {
      const block = blockOf(x, K);
      if (block === undefined || x.axis !== x.rank - 1) return false;
      const slices = this.addSlices(w, 0, x.segs, 'in', block);
      this.addFold(node, position, label, w, 0, 1, -1, '', 1, slices, x, false);
    }
    const g = this.newGroup(O, label);
    const segs = [{ group: g, start: 0, length: O }];
    this.addSlices(w, 1, segs, 'out');
    // [batch, tokens, K] · [K, O]: the features are the last axis of an output of A's rank.
    const rank = Math.max(2, x?.rank ?? this.rankOf(node.inputs[0]) ?? 2);
    this.values.set(node.outputs[0], { segs, rank, axis: rank - 1, block: 1, consts: new Float64Array(O) });
    return true;
  }

  /**
   * The rank of a value without channels, where the graph says it plainly (inputs, constants,
   * shape-keeping ops); remembered, so a deep stack of layers is walked once.
   */
  private rankOf(name: string, depth = 0): number | undefined {
    const known = this.values.get(name)?.rank ?? this.model.stored(name)?.dims.length ?? this.ranks.get(name);
    if (known !== undefined) return known;
    // A malformed graph may loop back on itself (through shape vectors too): no rank there.
    if (this.ranking.has(name)) return undefined;
    this.ranking.add(name);
    try {
      const rank = this.deriveRank(name, depth);
      if (rank !== undefined) this.ranks.set(name, rank);
      return rank;
    } finally {
      this.ranking.delete(name);
    }
  }

  /** Values whose rank is being derived (cycle guard). */
  private readonly ranking = new Set<string>();

  private deriveRank(name: string, depth: number): number | undefined {
    const input = this.model.decoded.inputs.find((i) => i.name === name);
    if (input) return input.dims.length || undefined;
    const p = this.producerOf.get(name);
    if (!p || !DEFAULT_DOMAIN(p) || depth > 64) return undefined;
    if (p.opType === 'Reshape') return this.shapeEntries(p.inputs[1] ?? '')?.length;
    if (p.opType === 'Gemm' || p.opType === 'Flatten') return 2;
    if (p.opType === 'Range') return 1;
    // An embedding lookup: the table's rank − 1 + the ids' rank.
    if (p.opType === 'Gather') {
      const [data, ids] = [this.rankOf(p.inputs[0], depth + 1), this.rankOf(p.inputs[1] ?? '', depth + 1)];
      return data === undefined || ids === undefined ? undefined : data - 1 + ids;
    }
    if (p.opType === 'Unsqueeze') {
      const axes = p.attributes.has('axes') ? intsAttr(p, 'axes') : this.constant(p.inputs[1] ?? '');
      const r = this.rankOf(p.inputs[0], depth + 1);
      return r === undefined || !axes ? undefined : r + axes.length;
    }
    if (!RANK_KEEPING.has(p.opType) && !(p.opType.startsWith('Reduce') && numAttr(p, 'keepdims', 1) === 1)) return undefined;
    const ranks = p.inputs.filter((i) => i !== '').map((i) => this.rankOf(i, depth + 1));
    return ranks.some((r) => r === undefined) ? undefined : Math.max(...(ranks as number[]));
  }

  private addFold(node: DecodedNode, position: number, label: string, weight: string, inAxis: number, outAxis: number, biasIndex: number, bias: string, scale: number, slices: ChannelSlice[], x: ValueChannels, padded: boolean): void {
    const parts: { slice: ChannelSlice; constants: Float64Array }[] = [];
    let at = 0;
    x.segs.forEach((s, i) => {
      parts.push({ slice: slices[i], constants: x.consts.slice(at, at + s.length) });
      at += s.length;
    });
    this.folds.push({ node: position, nodeName: label, weight, inAxis, outAxis, biasIndex, bias, scale, parts, padded });
  }

  private binary(node: DecodedNode, inputs: (ValueChannels | undefined)[]): boolean {
    const [a, b] = inputs;
    const f = BINARY[node.opType];
    const out = node.outputs[0];
    if (!a && !b) return true;
    if (a && b) {
      if (a.rank !== b.rank || a.axis !== b.axis || a.block !== b.block || a.segs.length !== b.segs.length) return false;
      for (let i = 0; i < a.segs.length; i++) if (!this.unite(a.segs[i], b.segs[i])) return false;
      this.values.set(out, { ...a, consts: a.consts.map((k, i) => f(k, b.consts[i])) });
      return true;
    }
    const x = (a ?? b)!;
    const xFirst = a !== undefined;
    const otherName = node.inputs[xFirst ? 1 : 0];
    const other = this.param(otherName, node, xFirst ? 1 : 0);
    if (!other) {
      if (this.producerOf.has(otherName) || this.model.decoded.inputs.some((i) => i.name === otherName)) {
        this.refusal = `${node.opType} ${node.name || '(unnamed)'} with ${otherName}, whose channel axis is not followed (a residual stream or a normalisation: a transformer's hidden dimension is not shrunk yet)`;
      }
      return false;
    }
    const dims = this.dimsOf(other);
    const n = dims.reduce((p, d) => p * d, 1);
    const values = this.floats(other);
    const C = channels(x);
    const apply = (k: number, v: number): number => (xFirst ? f(k, v) : f(v, k));
    if (n === 1) {
      this.values.set(out, { ...x, consts: x.consts.map((k) => apply(k, values[0])) });
      return true;
    }
    // A per-channel constant: size C on the axis aligned with the channel axis. Other axes may
    // vary (a position embedding [1, tokens, C]): a removed channel then carries one constant only
    // where every entry gives the same result (0 · anything).
    const d = dims.length - (x.rank - x.axis);
    if (x.block !== 1 || d < 0 || dims[d] !== C || dims.length > x.rank) return false;
    this.addSlices(other, d, x.segs, 'param');
    // A MatMul's bias Add is a channel companion: the masked model zeroes it with the channel.
    const zero = this.zeroed.has(otherName);
    const consts = new Float64Array(C);
    const seen = new Uint8Array(C);
    const stride = dims.slice(d + 1).reduce((p, v) => p * v, 1);
    for (let j = 0; j < (zero ? C : n); j++) {
      const c = zero ? j : Math.floor(j / stride) % C;
      const k = apply(x.consts[c], zero ? 0 : values[j]);
      if (!seen[c]) [consts[c], seen[c]] = [k, 1];
      else if (consts[c] !== k) consts[c] = NaN;
    }
    this.values.set(out, { ...x, consts });
    return true;
  }

  /** Split along the channel axis: each output takes its range of the input's segments; its sizes input is rewritten. */
  private split(node: DecodedNode, position: number, x: ValueChannels): boolean {
    let axis = numAttr(node, 'axis', 0);
    if (axis < 0) axis += x.rank;
    // Sizes in an attribute (opset < 13) or implied by num_outputs (opset 18) cannot be rewritten here.
    if (axis !== x.axis || x.block !== 1 || node.attributes.has('split') || node.attributes.has('num_outputs')) return false;
    const C = channels(x);
    const name = node.inputs[1] ?? '';
    const n = node.outputs.length;
    let sizes: number[] | undefined;
    // A sizes constant shared with other Splits (exporters deduplicate equal ones) gets a new one of its own.
    let own = name;
    if (name) {
      if (this.model.stored(name)?.scope !== '') return false;
      sizes = this.constant(name);
      if ((this.consumers.get(name) ?? []).length !== 1) own = '';
    } else if (C % n === 0) sizes = new Array<number>(n).fill(C / n);
    if (!sizes || sizes.length !== n || sizes.reduce((a, b) => a + b, 0) !== C) return false;
    const outputs: Segment[][] = [];
    let at = 0;
    node.outputs.forEach((o, i) => {
      const segs = cutSegments(x.segs, at, sizes[i]);
      outputs.push(segs);
      this.values.set(o, { ...x, segs, consts: x.consts.slice(at, at + sizes[i]) });
      at += sizes[i];
    });
    this.splits.push({ node: position, nodeName: node.name || `${node.opType}_${position}`, input: own, outputs });
    return true;
  }

  /**
   * Slice with constant starts/ends (opset ≥ 10): over other axes the channels pass unchanged (a
   * constant channel stays constant); along the channel axis (step 1) the output holds channels
   * a..b of the input, and after shrinking its start and end count only the channels kept before
   * them (the entries are rewritten, in a tensor of their own when the constant is shared).
   */
  private slice(node: DecodedNode, position: number, label: string, x: ValueChannels): boolean {
    if (node.inputs.length < 3 || node.attributes.has('starts')) return false;
    const [starts, ends] = [this.constant(node.inputs[1]), this.constant(node.inputs[2])];
    const given = node.inputs[3] ? this.constant(node.inputs[3]) : starts?.map((_, i) => i);
    const steps = node.inputs[4] ? this.constant(node.inputs[4]) : undefined;
    if (!starts || !ends || !given || starts.length !== ends.length || given.length !== starts.length || (steps && steps.length !== starts.length)) return false;
    const axes = given.map((a) => (a < 0 ? a + x.rank : a));
    const k = axes.indexOf(x.axis);
    if (k < 0) {
      this.values.set(node.outputs[0], x);
      return true;
    }
    if (x.block !== 1 || axes.indexOf(x.axis, k + 1) >= 0 || (steps && steps[k] !== 1)) return false;
    const C = channels(x);
    const clamp = (v: number): number => Math.min(C, Math.max(0, v < 0 ? v + C : v));
    const [from, to] = [clamp(starts[k]), clamp(ends[k])];
    if (to <= from) return false;
    const segs = cutSegments(x.segs, from, to - from);
    for (const [index, at] of [[1, from], [2, to]] as const) {
      const name = node.inputs[index];
      const stored = this.model.stored(name);
      if (!stored || stored.scope !== '' || stored.dataType !== ONNX_DTYPE.INT64) {
        this.refusal = `sliced along its channel axis by ${label} with bounds that are not stored constants`;
        return false;
      }
      const vector = this.constant(name)!.slice();
      vector[k] = at;
      const own = (this.consumers.get(name) ?? []).length === 1 && name !== node.inputs[3 - index] ? name : '';
      this.headShapes.push({ node: position, nodeName: node.name || `${node.opType}_${position}`, input: own, index, shape: vector, axis: k, unit: 1, segs: cutSegments(x.segs, 0, at) });
    }
    this.cuts.push(segs);
    this.values.set(node.outputs[0], { ...x, segs, consts: x.consts.slice(from, to) });
    return true;
  }

  private concat(node: DecodedNode, inputs: (ValueChannels | undefined)[]): boolean {
    const first = inputs.find((v) => v);
    if (!first || inputs.some((v) => !v)) return false;
    const vs = inputs as ValueChannels[];
    let axis = numAttr(node, 'axis', 1);
    if (axis < 0) axis += first.rank;
    if (vs.some((v) => v.rank !== first.rank || v.axis !== axis || v.block !== first.block)) return false;
    const segs = vs.flatMap((v) => v.segs);
    const consts = new Float64Array(segs.reduce((s, g) => s + g.length, 0));
    let at = 0;
    for (const v of vs) {
      consts.set(v.consts, at);
      at += v.consts.length;
    }
    this.values.set(node.outputs[0], { ...first, segs, consts });
    return true;
  }
}

/** Channels from..from+length of a value made of `segs`, as segments. */
function cutSegments(segs: readonly Segment[], from: number, length: number): Segment[] {
  const out: Segment[] = [];
  let at = 0;
  for (const s of segs) {
    const lo = Math.max(from, at);
    const hi = Math.min(from + length, at + s.length);
    if (lo < hi) out.push({ group: s.group, start: s.start + lo - at, length: hi - lo });
    at += s.length;
  }
  return out;
}

function channels(v: ValueChannels): number {
  return v.segs.reduce((s, g) => s + g.length, 0);
}

/** Features per channel when `v` feeds an input axis of `K` features; undefined when they do not divide. */
function blockOf(v: ValueChannels, K: number): number | undefined {
  const C = channels(v);
  if (v.block === 0) return K % C === 0 ? K / C : undefined;
  return C * v.block === K ? v.block : undefined;
}
