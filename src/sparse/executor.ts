/**
 * Runs a format-neutral Graph on sculpt's kernels. Weight-carrying MatMul, Gemm and Conv nodes get
 * their weights uploaded once, each as CSR or dense, whichever the roofline predicts faster (or as
 * forced by `engine`); everything else runs through the operators in ops.ts.
 */
import { SculptError } from '../core/errors.js';
import { isGraph, type AttributeValue, type Graph, type GraphNode } from '../core/graph.js';
import { shapeText } from '../core/limits.js';
import { countNonzeros, denseToCsr, groupedToCsr } from './formats.js';
import { SPLIT_WORK, Kernels, ownKernels, applyLinear, applyLinears, splitRows, applyLinearTransposed, batchStride, columnTile, DENSE_TILE_BYTES, DENSE_TILE_COLUMNS, nonzeroRows, uploadCsr, uploadDense, uploadRows, type KernelKind, type LinearKernel } from './kernels.js';
import { addChannelBias, col2im, convGeometry, im2col, liftTo2d, positionsPerPass, transposeGeometry, type ConvGeometry } from './ops-conv.js';
import { FUSED_OPS, OPS, at, attrFloat, attrInt, attrInts, broadcastDims, need, nodeLabel, transposeTensor, type OpContext } from './ops.js';
import type { Attrs } from './ops-common.js';
import { shortName } from './ops-common.js';
import { KERNEL_MARGIN, chooseKernel, crossoverDensity, measureMachine, predictLayer, timeMedian, type MachineProfile } from './roofline.js';
import { localKernels, withOpKernels } from './ops-vector.js';
import type { KernelCall } from './threads.js';
import { BufferPool, checkedSize, floatTensor, fromGraphTensor, size, strides, uninitF32, withBufferPool, withTensorBudget, zeroF32, type Tensor } from './tensor.js';

export interface ExecutorOptions {
  /**
   * Weight kernels: 'auto' (default) picks CSR, dense or kept-rows-dense per layer by predicted
   * time; 'measure' times the candidates on each layer at load and keeps the fastest (slower to
   * load, immune to model error); 'sparse' and 'dense' force one kernel.
   */
  readonly engine?: 'auto' | 'measure' | 'sparse' | 'dense';
  /** Batch size (rows of a MatMul input) the per-layer choice is made for; default 1. */
  readonly batchHint?: number;
  /** Machine numbers for 'auto'; measured once per process when omitted. */
  readonly machine?: MachineProfile;
  /**
   * Bytes one computed tensor may take (default and most MAX_TENSOR_BYTES, 512 MiB); window work
   * (pooling taps) scales with it. A caller that knows its activations are small sets less, so a
   * model whose shapes run away is refused at once instead of computing for minutes.
   */
  readonly maxTensorBytes?: number;
  /**
   * The kernel instance to run on (default: a fresh one, over a shared memory where there is one:
   * kernels.ts's ownKernels). `threadedKernels(T)` (threads.ts, Node only) gives one whose worker
   * threads split each product's rows.
   */
  readonly kernels?: Kernels;
}

export interface WeightLayer {
  readonly node: string;
  readonly op: 'MatMul' | 'Gemm' | 'Conv' | 'ConvTranspose';
  readonly weight: string;
  /** The kernel's matrix: [rows, cols] = [outputs, inputs per output] (ConvTranspose: [M·Πk, C/g]). */
  readonly rows: number;
  readonly cols: number;
  readonly nonzeros: number;
  readonly kind: KernelKind;
  /** Bytes of the stored weights, and what dense float32 storage would take. */
  readonly bytes: number;
  readonly denseBytes: number;
  /**
   * Columns each product multiplied in the last run (rows of activations: batch × tokens, or a
   * Conv's output positions per pass) and products per run (a Conv's images × passes); before any
   * run, the batch hint and 1.
   */
  columns: number;
  calls: number;
}

/** One weight layer's kernels timed in isolation beside the roofline's predictions. */
export interface LayerProfile {
  readonly node: string;
  readonly weight: string;
  readonly rows: number;
  readonly cols: number;
  /** Columns per product; the times and counts below are for `calls` products. */
  readonly batch: number;
  readonly calls: number;
  readonly density: number;
  readonly kind: KernelKind;
  readonly denseFlops: number;
  readonly denseBytes: number;
  readonly sparseFlops: number;
  readonly sparseBytes: number;
  readonly predictedDenseMs: number;
  readonly predictedSparseMs: number;
  /** Which roofline limit the prediction hit (of the largest group, for grouped Conv). */
  readonly denseBound: 'compute' | 'memory';
  readonly sparseBound: 'compute' | 'memory';
  readonly measuredDenseMs: number;
  readonly measuredSparseMs: number;
  /** Dense time over sparse time, predicted and measured; the FLOP ratio for contrast. */
  readonly predictedSpeedup: number;
  readonly measuredSpeedup: number;
  readonly flopSpeedup: number;
  /** Density below which sparse is predicted to win for this shape and batch. */
  readonly crossoverDensity: number;
}

const WEIGHT_OPS = new Set(['MatMul', 'Gemm', 'Conv']);
/** Ops whose constant weight may run on the kernels; without one they run through OPS. */
const KERNEL_OPS = new Set([...WEIGHT_OPS, 'ConvTranspose']);

type Engine = NonNullable<ExecutorOptions['engine']>;

/** ONNX operator types the executor runs. */
export function supportedOps(): string[] {
  return [...WEIGHT_OPS, ...Object.keys(OPS)].sort();
}

let cachedMachine: MachineProfile | undefined;
function defaultMachine(): MachineProfile {
  cachedMachine ??= measureMachine({ streamBytes: 32 * 2 ** 20, repeats: 5 });
  return cachedMachine;
}

interface Prepared {
  /** One kernel per group (Conv) or a single one. */
  readonly kernels: LinearKernel[];
  /** Gemm: bias folded into the kernel. */
  readonly biasFolded: boolean;
  /** A following Relu applied by the kernel as it stores results. */
  relu: boolean;
  /** Conv: the following op was Clip(0, 6), ReLU6 — clamped above too. */
  relu6?: boolean;
  /** A following exact GELU (a fused pattern) applied to the results in kernel memory (MatMul, Gemm). */
  gelu?: boolean;
  /**
   * Conv under engine 'auto' or 'measure': the kernels are chosen and uploaded at the first run,
   * for the output positions the convolution really has (known only once its input is).
   */
  settle?: (columns: number) => LinearKernel[];
  /** Conv run directly (convDirect): the padded input's size and each group's shifts, for one input size. */
  direct?: DirectConv;
  /** Conv: every group's CSR kernel merged into one block-diagonal kernel (run as one group). */
  merged?: boolean;
}

interface DirectConv {
  readonly key: string;
  readonly hq: number;
  readonly wq: number;
  readonly offsets: readonly number[];
}

export class SparseExecutor {
  readonly graph: Graph;
  readonly layers: WeightLayer[] = [];
  private readonly maxTensorBytes: number | undefined;
  private readonly k: Kernels;
  private readonly constants = new Map<string, Tensor>();
  private readonly prepared = new Map<GraphNode, Prepared>();
  /** Nodes folded into a preceding weight node: their output is that node's output. */
  private readonly folded = new Map<GraphNode, string>();
  private readonly consumers = new Map<string, GraphNode[]>();
  /** Output names of the graph and of its subgraphs. */
  private readonly graphOutputs = new Set<string>();
  /** Nodes whose outputs are computed at load (Constant, Identity of a constant). */
  private readonly precomputed = new Set<GraphNode>();
  private readonly batchHint: number;
  /** Per weight layer (by node name), how to rebuild each group's [rows, cols] matrix. */
  private readonly matrices = new Map<string, (() => Float32Array)[]>();

  constructor(graph: Graph, options: ExecutorOptions = {}) {
    this.graph = graph;
    this.maxTensorBytes = options.maxTensorBytes;
    this.k = options.kernels ?? ownKernels();
    // In a shared kernel memory, the values of later runs live where the kernels read them (tensor.ts's PoolArena).
    const k = this.k;
    this.pool = new BufferPool(k.shared ? { carve: (n) => k.resident(n), holds: (b) => k.holds(b) } : undefined);
    checkSupported(graph);
    // Initializers and Constant nodes (paddle2onnx and tf2onnx keep every weight in one), of the
    // graph and its subgraphs (ONNX names are unique across them), are converted once, so their
    // weights get kernels; an Identity of a constant is that constant (PyTorch shares weights so).
    const all = allNodes(graph);
    for (const g of all.graphs) for (const [name, t] of g.initializers) this.constants.set(name, fromGraphTensor(t));
    for (const n of all.nodes) {
      if (n.opType === 'Constant' && n.inputs.length === 0 && (n.domain === '' || n.domain === 'ai.onnx')) {
        this.constants.set(n.outputs[0], OPS.Constant([], n.attributes, n)[0]);
        this.precomputed.add(n);
      } else if (n.opType === 'Identity' && this.constants.has(n.inputs[0])) {
        this.constants.set(n.outputs[0], this.constants.get(n.inputs[0])!);
        this.precomputed.add(n);
      }
    }
    // Readers inside subgraphs count (they see a value before any fold), as do subgraph outputs.
    for (const n of all.nodes) {
      for (const i of n.inputs) {
        if (!this.consumers.has(i)) this.consumers.set(i, []);
        this.consumers.get(i)!.push(n);
      }
    }
    for (const g of all.graphs) for (const o of g.outputs) this.graphOutputs.add(o.name);
    const engine = options.engine ?? 'auto';
    const machine = engine === 'auto' ? options.machine ?? defaultMachine() : undefined;
    const batch = options.batchHint ?? 1;
    this.batchHint = batch;
    for (const n of all.nodes) {
      if (KERNEL_OPS.has(n.opType)) {
        const p = n.opType === 'ConvTranspose' ? this.prepareTranspose(n, engine, machine, batch) : this.prepare(n, engine, machine, batch);
        if (p) this.prepared.set(n, p);
      }
    }
    for (const n of all.nodes) if (!this.fuseLayerNorm(n) && !this.fuseGelu(n)) this.fuseScaledSoftmax(n);
    // In graph order: a chain's last product may take a chain of its own as its input.
    for (const n of all.nodes) this.chainLinear(n);
    this.releases = this.lastReads();
    this.shapeOnly = this.shapeOnlyNodes();
    this.inputNames = new Set(graph.inputs.map((i) => i.name));
  }

  /**
   * Main-graph nodes whose outputs depend on the graph inputs' dims only: Shape and Size of any
   * value, and deterministic ops without subgraphs on those and constants — the shape arithmetic
   * exporters write around every Reshape (BERT-base: ~340 Shape, Gather, Unsqueeze and Concat
   * nodes, ~2 ms a run). Their small outputs are kept from the last run with the same input dims
   * (`shapeCache`) and not computed again. Graph outputs are not among them (a caller may change them).
   */
  private readonly shapeOnly: Set<GraphNode>;
  private shapeCache: { key: string; values: Map<string, Tensor> } | undefined;

  private readonly inputNames: Set<string>;

  private shapeOnlyNodes(): Set<GraphNode> {
    const derived = new Set<string>();
    const out = new Set<GraphNode>();
    const fixed = (v: string) => v === '' || this.constants.has(v) || derived.has(v);
    for (const n of this.graph.nodes) {
      if (this.precomputed.has(n) || this.fusedAway.has(n) || this.folded.has(n) || this.prepared.has(n) || this.fusedOps.has(n)) continue;
      if (/^Random|^Multinomial$|^Bernoulli$/.test(n.opType) || [...n.attributes.values()].some(isGraph)) continue;
      if (n.outputs.some((o) => this.graphOutputs.has(o))) continue;
      const dimsOnly = n.opType === 'Shape' || n.opType === 'Size';
      if (!dimsOnly && !n.inputs.every(fixed)) continue;
      out.add(n);
      for (const o of n.outputs) if (o !== '') derived.add(o);
    }
    return out;
  }

  /** The values kept for this run's input dims (a new, empty set when they changed), or none for inputs that are sequences. */
  private shapeValues(values: Scope): Map<string, Tensor> | undefined {
    if (this.shapeOnly.size === 0) return undefined;
    const parts: string[] = [];
    for (const i of this.graph.inputs) {
      const t = values.get(i.name);
      if (!t || t.items || t.optional) return undefined;
      parts.push(`${t.dtype}[${t.dims.join(',')}]`);
    }
    const key = parts.join(' ');
    if (this.shapeCache?.key !== key) this.shapeCache = { key, values: new Map() };
    return this.shapeCache.values;
  }

  /** Whether a shape-only node's output may be kept between runs: small, and in no buffer the executor reuses. */
  private keepable(t: Tensor): boolean {
    return !t.items && t.data.length <= SHAPE_VALUE_MAX && pooledBuffers(t, this.pool).length === 0 && !(t.data instanceof Float32Array && this.pool.inArena(t.data));
  }

  /** Per main-graph node, the computed values it is the last to read: dropped after it runs. */
  private releases: Map<GraphNode, string[]>;

  /**
   * Where each value computed in the main graph is read for the last time (as it runs: fused
   * patterns read their inputs, folded nodes their source). Values read inside a subgraph, graph
   * outputs, graph inputs and constants are kept to the end. Dropping the rest keeps a transformer's memory at
   * a few layers' activations instead of all of them, and the garbage collector's work with it.
   */
  private lastReads(): Map<GraphNode, string[]> {
    const main = new Set(this.graph.nodes);
    const last = new Map<string, GraphNode>();
    const pinned = new Set<string>([...this.graphOutputs, ...this.constants.keys()]);
    for (const [v, readers] of this.consumers) if (readers.some((r) => !main.has(r))) pinned.add(v);
    for (const n of this.graph.nodes) {
      if (this.precomputed.has(n) || this.fusedAway.has(n)) continue;
      const source = this.folded.get(n);
      const reads = source !== undefined ? [source] : this.fusedOps.get(n)?.inputs ?? this.chains.get(n)?.inputs ?? n.inputs;
      for (const v of reads) if (v !== '') last.set(v, n);
    }
    for (const i of this.graph.inputs) pinned.add(i.name);
    const out = new Map<GraphNode, string[]>();
    for (const [v, n] of last) {
      if (pinned.has(v)) continue;
      if (!out.has(n)) out.set(n, []);
      out.get(n)!.push(v);
    }
    return out;
  }

  /** Nodes run as one by `fusedOps` (their last node): the others are skipped. */
  private readonly fusedAway = new Set<GraphNode>();
  /** Each fused-away node's pattern: the last node, which runs it. */
  private readonly anchors = new Map<GraphNode, GraphNode>();
  /** The last node of a fused pattern: its output from the pattern's inputs, in one pass. */
  private readonly fusedOps = new Map<GraphNode, { inputs: readonly string[]; op: string; attrs: Attrs; nodes: number }>();

  /** A float scalar constant's value. */
  private scalar(name: string): number | undefined {
    const t = this.constants.get(name);
    return t && t.dtype === 'float32' && t.data.length === 1 ? t.data[0] : undefined;
  }

  private isDefault(n: GraphNode | undefined, op: string): n is GraphNode {
    return !!n && n.opType === op && (n.domain === '' || n.domain === 'ai.onnx') && !this.fusedAway.has(n) && !this.fusedOps.has(n) && !this.prepared.has(n) && !this.folded.has(n);
  }

  /** ReduceMean over the last axis only, keeping dims (axes as attribute or, from opset 18, input). */
  private meansLastAxis(n: GraphNode, rank: number | undefined): boolean {
    if (attrInt(n.attributes, 'keepdims', 1) !== 1) return false;
    const axes = n.attributes.has('axes') ? attrInts(n.attributes, 'axes') : n.inputs[1] ? Array.from(this.constants.get(n.inputs[1])?.data ?? []) : undefined;
    return !!axes && axes.length === 1 && (axes[0] === -1 || (rank !== undefined && axes[0] === rank - 1));
  }

  /**
   * LayerNorm as exporters before opset 17 write it — m = ReduceMean(x), d = x − m,
   * v = ReduceMean(d²), y = d / √(v + ε), then × γ and + β when there — runs as one
   * LayerNormalization over the last axis. Every intermediate has only the pattern's readers.
   */
  private fuseLayerNorm(mean: GraphNode): boolean {
    if (!this.isDefault(mean, 'ReduceMean') || !this.meansLastAxis(mean, undefined)) return false;
    const x = mean.inputs[0];
    const subs = (this.consumers.get(mean.outputs[0]) ?? []);
    const sub = subs.length === 1 ? subs[0] : undefined;
    if (!this.isDefault(sub, 'Sub') || sub.inputs[0] !== x || sub.inputs[1] !== mean.outputs[0] || this.graphOutputs.has(mean.outputs[0])) return false;
    const dUses = this.consumers.get(sub.outputs[0]) ?? [];
    const pow = dUses.find((u) => u.opType === 'Pow');
    const div = dUses.find((u) => u.opType === 'Div');
    if (dUses.length !== 2 || !this.isDefault(pow, 'Pow') || !this.isDefault(div, 'Div') || pow.inputs[0] !== sub.outputs[0] || this.scalar(pow.inputs[1]) !== 2 || div.inputs[0] !== sub.outputs[0] || this.graphOutputs.has(sub.outputs[0])) return false;
    const mean2 = this.soleConsumer(pow.outputs[0]);
    if (!this.isDefault(mean2, 'ReduceMean') || !this.meansLastAxis(mean2, undefined)) return false;
    const add = this.soleConsumer(mean2.outputs[0]);
    const eps = add && add.inputs[0] === mean2.outputs[0] ? this.scalar(add.inputs[1]) : undefined;
    if (!this.isDefault(add, 'Add') || eps === undefined) return false;
    const sqrt = this.soleConsumer(add.outputs[0]);
    if (!this.isDefault(sqrt, 'Sqrt') || this.soleConsumer(sqrt.outputs[0]) !== div || div.inputs[1] !== sqrt.outputs[0]) return false;
    const nodes = [mean, sub, pow, mean2, add, sqrt, div];
    let last = div;
    const params: string[] = [x];
    // × γ and + β of the last axis (1-D constants), when the normalised value's only reader is that.
    const mul = this.soleConsumer(div.outputs[0]);
    const gamma = mul && this.isDefault(mul, 'Mul') ? (mul.inputs[0] === div.outputs[0] ? mul.inputs[1] : mul.inputs[0]) : undefined;
    if (mul && gamma !== undefined && this.constants.get(gamma)?.dims.length === 1) {
      nodes.push(mul);
      last = mul;
      params.push(gamma);
      const plus = this.soleConsumer(mul.outputs[0]);
      const beta = plus && this.isDefault(plus, 'Add') ? (plus.inputs[0] === mul.outputs[0] ? plus.inputs[1] : plus.inputs[0]) : undefined;
      if (plus && beta !== undefined && this.constants.get(beta)?.dims.length === 1) {
        nodes.push(plus);
        last = plus;
        params.push(beta);
      }
    }
    for (const n of nodes) if (n !== last) { this.fusedAway.add(n); this.anchors.set(n, last); }
    this.fusedOps.set(last, { inputs: params, op: 'LayerNormalization', attrs: new Map<string, AttributeValue>([['axis', -1], ['epsilon', eps]]), nodes: nodes.length });
    return true;
  }

  /**
   * Exact GELU as exporters before opset 20 write it — x · 0.5 · (1 + erf(x / √2)), the two
   * products in either order — runs as one Gelu.
   */
  private fuseGelu(div: GraphNode): boolean {
    if (!this.isDefault(div, 'Div')) return false;
    const x = div.inputs[0];
    const r = this.scalar(div.inputs[1]);
    if (r === undefined || Math.abs(r - Math.SQRT2) > 1e-6) return false;
    const erfNode = this.soleConsumer(div.outputs[0]);
    if (!this.isDefault(erfNode, 'Erf')) return false;
    const one = this.soleConsumer(erfNode.outputs[0]);
    if (!this.isDefault(one, 'Add') || this.scalar(one.inputs[0] === erfNode.outputs[0] ? one.inputs[1] : one.inputs[0]) !== 1) return false;
    const m1 = this.soleConsumer(one.outputs[0]);
    if (!this.isDefault(m1, 'Mul')) return false;
    const other = m1.inputs[0] === one.outputs[0] ? m1.inputs[1] : m1.inputs[0];
    let nodes: GraphNode[];
    let last: GraphNode;
    if (other === x) {
      // (x · (1 + erf)) · 0.5
      const m2 = this.soleConsumer(m1.outputs[0]);
      if (!this.isDefault(m2, 'Mul') || this.scalar(m2.inputs[0] === m1.outputs[0] ? m2.inputs[1] : m2.inputs[0]) !== 0.5) return false;
      nodes = [div, erfNode, one, m1, m2];
      last = m2;
    } else {
      // (x · 0.5) · (1 + erf)
      const half = this.producer(other);
      if (!this.isDefault(half, 'Mul') || this.soleConsumer(half.outputs[0]) !== m1) return false;
      const hx = half.inputs[0] === x ? half.inputs[1] : half.inputs[1] === x ? half.inputs[0] : undefined;
      if (hx === undefined || this.scalar(hx) !== 0.5) return false;
      nodes = [div, erfNode, one, half, m1];
      last = m1;
    }
    if (nodes.some((n) => n !== last && n.outputs.some((o) => this.graphOutputs.has(o)))) return false;
    for (const n of nodes) if (n !== last) { this.fusedAway.add(n); this.anchors.set(n, last); }
    const linear = this.linearProducing(x);
    if (linear && (this.consumers.get(x) ?? []).every((c) => nodes.includes(c)) && !this.graphOutputs.has(x)) {
      // MatMul (+ bias) + GELU: the kernel's results go through GELU before they leave its memory.
      linear.p.gelu = true;
      this.folded.set(last, x);
      this.linearGelus.push({ last, into: linear.node, nodes: nodes.length });
      return true;
    }
    this.fusedOps.set(last, { inputs: [x], op: 'Gelu', attrs: new Map(), nodes: nodes.length });
    return true;
  }

  /**
   * Attention's scores as exporters write them — Softmax over the last axis of x / c + mask, c a
   * scalar constant (√d) — run as one ScaledMaskedSoftmax (ops.ts FUSED_OPS), which makes one
   * pass over the scores where BERT's three ops made three.
   */
  private fuseScaledSoftmax(div: GraphNode): boolean {
    if (!this.isDefault(div, 'Div') || this.scalar(div.inputs[1]) === undefined) return false;
    const add = this.soleConsumer(div.outputs[0]);
    if (!this.isDefault(add, 'Add')) return false;
    const mask = add.inputs[0] === div.outputs[0] ? add.inputs[1] : add.inputs[0];
    if (mask === div.outputs[0]) return false;
    const sm = this.soleConsumer(add.outputs[0]);
    // The last axis, as opset 13's Softmax takes it by default (before, the axis meant a 2-D coercion).
    if (!this.isDefault(sm, 'Softmax') || (this.graph.opsetVersion ?? 13) < 13 || attrInt(sm.attributes, 'axis', -1) !== -1) return false;
    if ([div, add].some((n) => this.graphOutputs.has(n.outputs[0]))) return false;
    for (const n of [div, add]) { this.fusedAway.add(n); this.anchors.set(n, sm); }
    this.fusedOps.set(sm, { inputs: [div.inputs[0], div.inputs[1], mask], op: 'ScaledMaskedSoftmax', attrs: sm.attributes, nodes: 3 });
    return true;
  }

  /** GELU patterns applied by the MatMul or Gemm kernel before them: last node, that node, pattern size. */
  private readonly linearGelus: { last: GraphNode; into: GraphNode; nodes: number }[] = [];

  /**
   * Weight products whose input is the output of the product before them (through its bias, ReLU
   * or GELU, folded into its kernel) and nothing else reads it: run as one by the last
   * (kernels.ts applyLinears), the values between them left in the kernels' transposed layout —
   * a transformer's MLP (MatMul + GELU into MatMul) skips a transpose out and one back in.
   */
  private readonly chains = new Map<GraphNode, { links: { node: GraphNode; p: Prepared }[]; inputs: readonly string[] }>();

  private chainLinear(n: GraphNode): void {
    const p = this.prepared.get(n);
    if (!p || !this.chainable(n, p) || this.soleConsumer(n.inputs[0]) !== n) return;
    // Back from n's input through the nodes folded into the product before it (each folded node's
    // source has no other reader: foldableBias, foldRelu and fuseGelu make sure of that).
    const between: GraphNode[] = [];
    let m = this.producer(n.inputs[0]);
    while (m && this.folded.has(m)) {
      between.push(m);
      m = this.producer(this.folded.get(m)!);
    }
    const q = m && this.prepared.get(m);
    if (!m || !q || m.opType !== n.opType || !this.chainable(m, q)) return;
    const before = this.chains.get(m);
    const links = [...(before?.links ?? [{ node: m, p: q }]), { node: n, p }];
    for (const f of [m, ...between]) { this.fusedAway.add(f); this.anchors.set(f, n); }
    this.chains.delete(m);
    this.chains.set(n, { links, inputs: [before?.inputs[0] ?? m.inputs[0], ...n.inputs.slice(1)] });
  }

  /** A MatMul, or a Gemm without transA, on one kernel with its bias in it. */
  private chainable(n: GraphNode, p: Prepared): boolean {
    return (n.opType === 'MatMul' || (n.opType === 'Gemm' && attrInt(n.attributes, 'transA', 0) === 0)) && p.kernels.length === 1 && p.biasFolded && !p.settle;
  }

  /** The prepared MatMul or Gemm (without Relu) whose output, or folded bias Add's output, is `value`. */
  private linearProducing(value: string): { node: GraphNode; p: Prepared } | undefined {
    let n = this.producer(value);
    if (n && this.folded.has(n)) n = this.producer(this.folded.get(n)!);
    const p = n && (n.opType === 'MatMul' || n.opType === 'Gemm') ? this.prepared.get(n) : undefined;
    return n && p && !p.relu && p.biasFolded && p.kernels.length === 1 ? { node: n, p } : undefined;
  }

  /** The main-graph node producing `value`. */
  private producer(value: string): GraphNode | undefined {
    this.producers ??= new Map(this.graph.nodes.flatMap((n) => n.outputs.map((o) => [o, n] as const)));
    return this.producers.get(value);
  }

  private producers: Map<string, GraphNode> | undefined;

  /**
   * Times each weight layer's dense and CSR kernels in isolation at `batch` columns (median of
   * `repeats`) beside the roofline's predictions. Uploads both forms temporarily, one layer at a
   * time. Without `batch`: each layer at the columns its products multiplied in the last run, its
   * times for all of that run's products (a Conv's images and passes).
   */
  profile(batchOverride: number | undefined, machine: MachineProfile, repeats = 9): LayerProfile[] {
    const out: LayerProfile[] = [];
    for (const info of this.layers) {
      const batch = batchOverride ?? info.columns;
      const calls = batchOverride === undefined ? info.calls : 1;
      const groups = this.matrices.get(info.node) ?? [];
      let measuredDense = 0, measuredSparse = 0, nnz = 0;
      let pd = 0, ps = 0, df = 0, db = 0, sf = 0, sb = 0;
      let denseBound: 'compute' | 'memory' = 'memory', sparseBound: 'compute' | 'memory' = 'memory';
      const rows = info.rows / Math.max(groups.length, 1);
      // Every group's kernels uploaded at once and timed together (a depthwise Conv has hundreds
      // of tiny groups: a warm-up and a median for each would take minutes).
      const mark = this.k.mark();
      try {
        const ld = batch === 1 ? 1 : batchStride(batch);
        const x = this.k.alloc(info.cols * ld * 4);
        this.k.f32(x, info.cols * ld).fill(0.5);
        const y = this.k.alloc(rows * ld * 4);
        const dense: LinearKernel[] = [], sparse: LinearKernel[] = [];
        for (const rebuild of groups) {
          const w = rebuild();
          const csr = denseToCsr(w, rows, info.cols);
          dense.push(uploadDense(this.k, w, rows, info.cols));
          sparse.push(uploadCsr(this.k, csr));
          const p = predictLayer({ rows, cols: info.cols, batch }, csr.values.length, machine);
          nnz += csr.values.length;
          denseBound = p.dense.bound;
          sparseBound = p.sparse.bound;
          pd += p.dense.seconds * 1e3 * calls; ps += p.sparse.seconds * 1e3 * calls;
          df += p.dense.flops * calls; db += p.dense.bytes * calls; sf += p.sparse.flops * calls; sb += p.sparse.bytes * calls;
        }
        const run = (ls: LinearKernel[]) => () => {
          for (const l of ls) {
            if (batch === 1) l.runVector(x, y, false);
            else l.runBatch(x, ld, y, false);
          }
        };
        // The first calls on fresh memory run up to 2× slower (measured): warm up for 150 ms first.
        for (const f of [run(dense), run(sparse)]) for (const end = performance.now() + 150; performance.now() < end;) f();
        measuredDense = timeMedian(run(dense), repeats) * 1e3 * calls;
        measuredSparse = timeMedian(run(sparse), repeats) * 1e3 * calls;
      } finally {
        this.k.release(mark);
      }
      out.push({
        node: info.node, weight: info.weight, rows: info.rows, cols: info.cols, batch, calls, density: nnz / (info.rows * info.cols), kind: info.kind,
        denseFlops: df, denseBytes: db, sparseFlops: sf, sparseBytes: sb,
        predictedDenseMs: pd, predictedSparseMs: ps, denseBound, sparseBound, measuredDenseMs: measuredDense, measuredSparseMs: measuredSparse,
        predictedSpeedup: pd / ps, measuredSpeedup: measuredDense / measuredSparse, flopSpeedup: nnz > 0 ? (info.rows * info.cols) / nnz : Infinity,
        crossoverDensity: crossoverDensity({ rows, cols: info.cols, batch }, machine),
      });
    }
    return out;
  }

  /**
   * The main graph's nodes in groups that must run together on this executor: a weight node with
   * the bias Add, Relu and GELU it applies, a fused LayerNorm or GELU with its pattern's nodes. Each
   * node maps to its group's first node in graph order.
   */
  units(): Map<GraphNode, GraphNode> {
    const index = new Map(this.graph.nodes.map((n, i) => [n, i]));
    const parent = new Map<GraphNode, GraphNode>(this.graph.nodes.map((n) => [n, n]));
    const find = (n: GraphNode): GraphNode => {
      let r = n;
      while (parent.get(r) !== r) r = parent.get(r)!;
      parent.set(n, r);
      return r;
    };
    const join = (a: GraphNode | undefined, b: GraphNode | undefined) => {
      if (!a || !b || !parent.has(a) || !parent.has(b)) return;
      const [ra, rb] = [find(a), find(b)];
      if (ra === rb) return;
      if (index.get(ra)! < index.get(rb)!) parent.set(rb, ra);
      else parent.set(ra, rb);
    };
    for (const [n, last] of this.anchors) join(n, last);
    for (const [n, source] of this.folded) join(n, this.producer(source));
    return new Map(this.graph.nodes.map((n) => [n, find(n)]));
  }

  /** The values the executor holds from load: initializers and Constant nodes' outputs. */
  constantValues(): ReadonlyMap<string, Tensor> {
    return this.constants;
  }

  /**
   * Runs some of the main graph's nodes (in graph order, whole `units`) on `feeds` — the values
   * they read from elsewhere — and returns the values named in `want`: a part of a hybrid plan.
   */
  runPart(nodes: readonly GraphNode[], feeds: ReadonlyMap<string, Tensor>, want: readonly string[]): Map<string, Tensor> {
    return withTensorBudget(this.maxTensorBytes, () => {
      const values = new Scope(undefined);
      for (const [name, t] of this.constants) values.set(name, t);
      for (const [name, t] of feeds) values.set(name, t);
      this.runNodes(nodes, values);
      return new Map(want.map((name) => {
        const t = values.get(name);
        if (!t) throw new SculptError(`sparse executor: ${shortName(name)} was not produced by its part of the plan`);
        return [name, t];
      }));
    });
  }

  /** Threads the weight products run on. */
  get threads(): number {
    return this.k.pool?.threads ?? 1;
  }

  /**
   * Resolves once the worker threads run (with `threads` > 1; at once otherwise). Worker threads
   * start only while the event loop turns: before, `run` works on one thread.
   */
  ready(): Promise<void> {
    return this.k.pool?.ready ?? Promise.resolve();
  }

  /** The weight products `node` runs: its chain's (chainLinear), or itself. */
  chainedNodes(node: GraphNode): readonly GraphNode[] {
    return this.chains.get(node)?.links.map((l) => l.node) ?? [node];
  }

  /** What `node` runs as: its op type, the op of the fused pattern it ends, or its chain of products. */
  runsAs(node: GraphNode): string {
    const f = this.fusedOps.get(node);
    if (f) return `${f.op} (fused)`;
    const op = (n: GraphNode) => (this.prepared.get(n)?.gelu ? `${n.opType} + Gelu` : n.opType);
    const chain = this.chains.get(node);
    if (chain) return `${chain.links.map((l) => op(l.node)).join(' → ')} (chained)`;
    return this.prepared.get(node)?.gelu ? `${op(node)} (fused)` : node.opType;
  }

  /**
   * The decomposed LayerNorms and GELUs run as one op: its last node's name, how many nodes it
   * replaces, and for a GELU the MatMul or Gemm whose kernel applies it, if one does; and the
   * chains of weight products run as one (op 'Chain'; nodes: its products).
   */
  fusions(): { op: string; node: string; nodes: number; into?: string }[] {
    return [
      ...[...this.fusedOps].map(([last, f]) => ({ op: f.op, node: last.name, nodes: f.nodes })),
      ...this.linearGelus.map((g) => ({ op: 'Gelu', node: g.last.name, nodes: g.nodes, into: g.into.name })),
      ...[...this.chains].map(([n, c]) => ({ op: 'Chain', node: n.name, nodes: c.links.length })),
    ];
  }

  /** Names of the Add and Relu nodes folded into the kernels of the weight nodes before them. */
  foldedNodes(): string[] {
    return [...this.folded.keys()].map((n) => n.name);
  }

  /** The single node reading `value` (subgraphs included), if exactly one does and `value` is no graph's output. */
  private soleConsumer(value: string): GraphNode | undefined {
    const c = this.consumers.get(value);
    if (!c || c.length !== 1 || this.graphOutputs.has(value)) return undefined;
    return c[0];
  }

  /** A MatMul's following `Add(bias [N])`, if it can be folded into the kernel. */
  private foldableBias(n: GraphNode, cols: number): { add: GraphNode; bias: Float32Array } | undefined {
    const add = this.soleConsumer(n.outputs[0]);
    if (!add || add.opType !== 'Add') return undefined;
    const other = add.inputs[0] === n.outputs[0] ? add.inputs[1] : add.inputs[0];
    const c = this.constants.get(other);
    if (!c || c.dtype !== 'float32' || c.dims.length !== 1 || c.dims[0] !== cols) return undefined;
    return { add, bias: c.data as Float32Array };
  }

  /** Marks a Relu reading `value` (sole consumer) as done by the kernel. */
  /** Clip to [0, 6], by attributes (before opset 11) or constant inputs. */
  private isRelu6(n: GraphNode): boolean {
    const bound = (i: number, attr: string) => (n.inputs[i] ? this.scalar(n.inputs[i]) : n.inputs.length > i && n.inputs[i] === '' ? undefined : n.attributes.has(attr) ? attrFloat(n.attributes, attr, NaN) : undefined);
    return (n.domain === '' || n.domain === 'ai.onnx') && bound(1, 'min') === 0 && bound(2, 'max') === 6;
  }

  private foldRelu(value: string, p: Prepared, conv = false): void {
    const relu = this.soleConsumer(value);
    if (relu && relu.opType === 'Relu' && p.biasFolded) {
      p.relu = true;
      this.folded.set(relu, value);
    } else if (relu && relu.opType === 'Clip' && p.biasFolded && conv && this.isRelu6(relu)) {
      // ReLU6 (MobileNets): the direct convolution clamps as it stores; other paths clamp after.
      p.relu = true;
      p.relu6 = true;
      this.folded.set(relu, value);
    }
  }

  private pick(rows: number, cols: number, w: Float32Array, engine: Engine, machine: MachineProfile | undefined, batch: number): KernelKind {
    if (engine === 'sparse') return 'csr';
    if (engine === 'dense') return 'dense';
    if (engine === 'measure') return this.fastest(rows, cols, w, batch);
    return chooseKernel({ rows, cols, batch }, countNonzeros(w), machine!, KERNEL_MARGIN, nonzeroRows(w, rows, cols).length);
  }

  /**
   * A grouped Conv's kernel, its groups' rows taken together as one [m, cols] matrix: CSR (merged
   * into one block-diagonal product) unless the roofline predicts dense strictly faster — the dense
   * alternative runs one product per group where the roofline sees one, so a tie goes to CSR.
   */
  private pickGrouped(m: number, cols: number, w: Float32Array, engine: Engine, machine: MachineProfile | undefined, batch: number, planar: boolean): KernelKind {
    if (engine !== 'auto') return this.pick(m, cols, w, engine, machine, batch);
    const p = predictLayer({ rows: m, cols, batch }, countNonzeros(w), machine!);
    return p.sparse.seconds <= p.dense.seconds + (planar ? im2colSeconds(cols, batch, machine!) : 0) ? 'csr' : 'dense';
  }

  /**
   * A 1-D or 2-D Conv's kernel: as `pick`, with the dense kernel charged for writing its im2col
   * input (Πk copies of each input value), which the direct CSR convolution never builds.
   */
  private pickConv(rows: number, cols: number, w: Float32Array, engine: Engine, machine: MachineProfile | undefined, batch: number, planar: boolean): KernelKind {
    if (engine !== 'auto' || !planar) return this.pick(rows, cols, w, engine, machine, batch);
    const p = predictLayer({ rows, cols, batch }, countNonzeros(w), machine!);
    return p.sparse.seconds * KERNEL_MARGIN < p.dense.seconds + im2colSeconds(cols, batch, machine!) ? 'csr' : this.pick(rows, cols, w, engine, machine, batch);
  }

  /** Times each candidate kernel on this weight at `batch` (after a warm-up) and names the fastest. */
  private fastest(rows: number, cols: number, w: Float32Array, batch: number): KernelKind {
    const mark = this.k.mark();
    try {
      const kept = nonzeroRows(w, rows, cols).length;
      const candidates: LinearKernel[] = [uploadDense(this.k, w, rows, cols), uploadCsr(this.k, denseToCsr(w, rows, cols))];
      if (kept < rows) candidates.push(uploadRows(this.k, w, rows, cols));
      const ld = batch === 1 ? 1 : batchStride(batch);
      const x = this.k.alloc(cols * ld * 4);
      const y = this.k.alloc(rows * ld * 4);
      let best: KernelKind = 'dense', bestTime = Infinity;
      for (const c of candidates) {
        const run = () => (batch === 1 ? c.runVector(x, y, false) : c.runBatch(x, ld, y, false));
        for (const end = performance.now() + 20; performance.now() < end;) run();
        const t = timeMedian(run, 5, 0);
        if (t < bestTime) { best = c.kind; bestTime = t; }
      }
      return best;
    } finally {
      this.k.release(mark);
    }
  }

  private upload(n: GraphNode, weightName: string, w: Float32Array, rows: number, cols: number, bias: Float32Array | undefined, kind: KernelKind, rebuild: () => Float32Array): LinearKernel {
    if (!this.matrices.has(n.name)) this.matrices.set(n.name, []);
    this.matrices.get(n.name)!.push(rebuild);
    const layer = kind === 'csr' ? uploadCsr(this.k, denseToCsr(w, rows, cols), bias) : kind === 'rows' ? uploadRows(this.k, w, rows, cols, bias) : uploadDense(this.k, w, rows, cols, bias);
    const prev = this.layers.find((l) => l.node === n.name && l.weight === weightName);
    if (prev) {
      Object.assign(prev, { rows: prev.rows + rows, nonzeros: prev.nonzeros + layer.nonzeros, bytes: prev.bytes + layer.weightBytes, denseBytes: prev.denseBytes + w.byteLength });
    } else {
      this.layers.push({ node: n.name, op: n.opType as WeightLayer['op'], weight: weightName, rows, cols, nonzeros: layer.nonzeros, kind, bytes: layer.weightBytes, denseBytes: w.byteLength, columns: this.batchHint, calls: 1 });
    }
    return layer;
  }

  private prepare(n: GraphNode, engine: Engine, machine: MachineProfile | undefined, batch: number): Prepared | undefined {
    const wt = this.constants.get(n.inputs[1]);
    if (!wt || wt.dtype !== 'float32') return undefined;
    const w = wt.data as Float32Array;
    if (n.opType === 'MatMul') {
      if (wt.dims.length !== 2) return undefined;
      const [kk, nn] = wt.dims;
      const t = transpose2d(w, kk, nn);
      const fold = this.foldableBias(n, nn);
      if (fold) this.folded.set(fold.add, n.outputs[0]);
      const kernel = this.upload(n, n.inputs[1], t, nn, kk, fold?.bias, this.pick(nn, kk, t, engine, machine, batch), () => transpose2d(w, kk, nn));
      const p: Prepared = { kernels: [kernel], biasFolded: true, relu: false };
      this.foldRelu(fold ? fold.add.outputs[0] : n.outputs[0], p);
      return p;
    }
    if (n.opType === 'Gemm') {
      if (wt.dims.length !== 2) return undefined;
      const transB = attrInt(n.attributes, 'transB', 0) === 1;
      const alpha = attrFloat(n.attributes, 'alpha', 1);
      const beta = attrFloat(n.attributes, 'beta', 1);
      const [rows, cols] = transB ? wt.dims : [wt.dims[1], wt.dims[0]];
      const matrix = () => {
        const m = transB ? w : transpose2d(w, wt.dims[0], wt.dims[1]);
        return alpha === 1 ? m : m.map((v) => v * alpha);
      };
      const m = matrix();
      const c = n.inputs[2] ? this.constants.get(n.inputs[2]) : undefined;
      let bias: Float32Array | undefined;
      if (c && c.dtype === 'float32' && (c.data.length === rows && c.dims[c.dims.length - 1] === rows) && (c.dims.length === 1 || c.dims[0] === 1)) {
        bias = (c.data as Float32Array).map((v) => v * beta);
      }
      const kernel = this.upload(n, n.inputs[1], m, rows, cols, bias, this.pick(rows, cols, m, engine, machine, batch), matrix);
      const p: Prepared = { kernels: [kernel], biasFolded: bias !== undefined || !n.inputs[2], relu: false };
      this.foldRelu(n.outputs[0], p);
      return p;
    }
    // Conv: W [M, C/g, k…] → per group a [M/g, C/g·Πk] matrix; bias folded per group.
    if (wt.dims.length < 3) return undefined;
    const group = attrInt(n.attributes, 'group', 1);
    const m = wt.dims[0];
    const rows = m / group, cols = size(wt.dims.slice(1));
    const bt = n.inputs[2] ? this.constants.get(n.inputs[2]) : undefined;
    if (n.inputs[2] && !bt) return undefined;
    const settle = (columns: number): LinearKernel[] => {
      const slices = Array.from({ length: group }, (_, g) => w.subarray(g * rows * cols, (g + 1) * rows * cols));
      // Grouped: one choice for the layer, its groups' rows together a [m, cols] matrix (a
      // depthwise group's one row of nine taps is too small for the roofline to judge alone).
      const planar = wt.dims.length <= 4;
      const whole = group > 1 ? this.pickGrouped(m, cols, w, engine, machine, columns, planar) : undefined;
      const kinds = slices.map((wg) => whole ?? this.pickConv(rows, cols, wg, engine, machine, columns, planar));
      if (group > 1 && planar && whole === 'csr') {
        // Every group CSR: one block-diagonal matrix over all of them, so that the direct
        // convolution runs a depthwise layer's hundreds of groups as one product.
        const layer = uploadCsr(this.k, groupedToCsr(w, group, rows, cols), bt?.data as Float32Array | undefined);
        this.matrices.set(n.name, slices.map((wg) => () => wg));
        this.layers.push({ node: n.name, op: 'Conv', weight: n.inputs[1], rows: m, cols, nonzeros: layer.nonzeros, kind: 'csr', bytes: layer.weightBytes, denseBytes: w.byteLength, columns: this.batchHint, calls: 1 });
        p.merged = true;
        return [layer];
      }
      return slices.map((wg, g) => {
        const bg = bt ? (bt.data as Float32Array).subarray(g * rows, (g + 1) * rows) : undefined;
        return this.upload(n, n.inputs[1], wg, rows, cols, bg, kinds[g], () => wg);
      });
    };
    const chosenLater = engine === 'auto' || engine === 'measure';
    const p: Prepared = { kernels: [], biasFolded: true, relu: false, ...(chosenLater && { settle }) };
    if (!chosenLater) p.kernels.push(...settle(batch));
    this.foldRelu(n.outputs[0], p, true);
    return p;
  }

  /**
   * ConvTranspose: W [C, M/g, k…] → per group a [M/g·Πk, C/g] matrix, so the kernel turns the
   * input planes straight into columns that col2im scatters; bias added after.
   */
  private prepareTranspose(n: GraphNode, engine: Engine, machine: MachineProfile | undefined, batch: number): Prepared | undefined {
    const wt = this.constants.get(n.inputs[1]);
    if (!wt || wt.dtype !== 'float32' || wt.dims.length < 3) return undefined;
    const w = wt.data as Float32Array;
    const group = attrInt(n.attributes, 'group', 1);
    const [c, mg] = wt.dims;
    const taps = size(wt.dims.slice(2)), cg = c / group, rows = mg * taps;
    if (!Number.isInteger(cg)) return undefined;
    const kernels: LinearKernel[] = [];
    for (let g = 0; g < group; g++) {
      const matrix = () => {
        const a = new Float32Array(rows * cg);
        for (let ci = 0; ci < cg; ci++) {
          const src = (g * cg + ci) * mg * taps;
          for (let r = 0; r < rows; r++) a[r * cg + ci] = w[src + r];
        }
        return a;
      };
      const a = matrix();
      kernels.push(this.upload(n, n.inputs[1], a, rows, cg, undefined, this.pick(rows, cg, a, engine, machine, Math.max(batch, 16)), matrix));
    }
    return { kernels, biasFolded: false, relu: false };
  }

  private convTransposeWith(n: GraphNode, ins: readonly (Tensor | undefined)[], p: Prepared): Tensor {
    const x = need(ins[0], n, 0), wt = need(ins[1], n, 1);
    if (x.dtype !== 'float32' || x.dims.length !== wt.dims.length) throw new SculptError(`${at(n)} needs a float input of the weight's rank ${wt.dims.length}, got ${x.dtype} of rank ${x.dims.length}`);
    const group = p.kernels.length;
    const [batch, c] = x.dims;
    const cg = c / group, mg = wt.dims[1], m = mg * group;
    if (cg !== p.kernels[0].cols) throw new SculptError(`${at(n)} weight expects ${p.kernels[0].cols * group} input channels, the input has ${c}`);
    const g = transposeGeometry(n.attributes, x.dims.slice(2), wt.dims.slice(2), n);
    const xd = x.data as Float32Array;
    const out = new Float32Array(checkedSize([batch, m, ...g.outSp], 4, `${at(n)} output`));
    // A huge input runs in passes over its positions, so the columns (taps times the input) stay bounded.
    const pass = positionsPerPass(Math.max(p.kernels[0].rows, cg), g.planeIn);
    const part = pass === g.planeIn ? undefined : new Float32Array(cg * pass);
    for (let b = 0; b < batch; b++) {
      for (let gi = 0; gi < group; gi++) {
        const x0 = (b * c + gi * cg) * g.planeIn;
        if (!part) {
          const cols = applyLinearTransposed(this.k, p.kernels[gi], xd.subarray(x0, x0 + cg * g.planeIn), g.planeIn, false);
          col2im(cols, mg, g, out, (b * m + gi * mg) * g.planeOut);
          continue;
        }
        for (let q0 = 0; q0 < g.planeIn; q0 += pass) {
          const q1 = Math.min(g.planeIn, q0 + pass), len = q1 - q0;
          const planes = part.subarray(0, cg * len);
          for (let ci = 0; ci < cg; ci++) planes.set(xd.subarray(x0 + ci * g.planeIn + q0, x0 + ci * g.planeIn + q1), ci * len);
          const cols = applyLinearTransposed(this.k, p.kernels[gi], planes, len, false);
          col2im(cols, mg, g, out, (b * m + gi * mg) * g.planeOut, q0, q1);
        }
      }
    }
    if (ins[2]) addChannelBias(out, ins[2].data as Float32Array, batch, m, g.planeOut);
    return floatTensor([batch, m, ...g.outSp], out);
  }

  /**
   * Runs the graph; inputs by name (a bare Float32Array takes the shape from `dims`). With
   * `timings`, each node's milliseconds are added to its entry (nodes of subgraphs included;
   * constant-folded nodes do not run and get none). With `sizes` too, each timed node's operand and
   * result dims, the bytes they hold and how often it ran (for the roofline of the whole model).
   */
  run(inputs: Readonly<Record<string, Tensor>>, options: { timings?: Map<GraphNode, number>; sizes?: Map<GraphNode, NodeSizes> } = {}): Record<string, Tensor> {
    this.timings = options.timings;
    this.sizes = options.timings ? options.sizes : undefined;
    // Worker threads asleep since the last run wake while the first ops run, not at the first product.
    this.k.pool?.wake();
    try {
      return withTensorBudget(this.maxTensorBytes, () => withBufferPool(this.pool, () => withOpKernels(this.k, () => this.runWithin(inputs))));
    } finally {
      this.timings = undefined;
      this.sizes = undefined;
      // Every value of the run is dropped or copied out by now: the arena's regions are all free.
      this.pool.settle();
    }
  }

  /** Float32 buffers of dead values, for the next outputs (tensor.ts's BufferPool). */
  private readonly pool: BufferPool;

  /** Where `run` adds node times, while it runs with them. */
  private timings: Map<GraphNode, number> | undefined;
  /** Where `run` records the timed nodes' sizes, while it runs with them. */
  private sizes: Map<GraphNode, NodeSizes> | undefined;

  private runWithin(inputs: Readonly<Record<string, Tensor>>): Record<string, Tensor> {
    // A name the graph does not take would be ignored: refused, as onnxruntime refuses it. An
    // initializer listed as an input (IR < 4 lists every one) is fixed when the model is loaded
    // (its kernels are built from it), where onnxruntime would take the value fed in its place.
    for (const name of Object.keys(inputs)) {
      if (this.inputNames.has(name)) continue;
      const real = this.graph.inputs.filter((i) => !this.constants.has(i.name)).map((i) => shortName(i.name)).join(', ');
      if (this.constants.has(name)) throw new SculptError(`sparse executor: ${shortName(name)} is an initializer of the model, fixed when it is loaded: sculpt takes no value for it (the model's inputs: ${shortName(real, 400)})`);
      throw new SculptError(`sparse executor: the model has no input ${shortName(name)} (its inputs: ${shortName(real, 400)})`);
    }
    const values = new Scope(undefined);
    for (const [name, t] of this.constants) values.set(name, t);
    for (const info of this.graph.inputs) {
      if (this.constants.has(info.name) && !(info.name in inputs)) continue;
      const t = inputs[info.name];
      if (!t) throw new SculptError(`sparse executor: input ${shortName(info.name)} is missing (the model takes ${shortName(this.graph.inputs.filter((i) => !this.constants.has(i.name)).map((i) => shortName(i.name)).join(', '), 400)})`);
      const kind = t.items ? (t.optional ? 'optional' : 'sequence') : 'tensor';
      if ((info.kind ?? 'tensor') !== kind) throw new SculptError(`sparse executor: input ${shortName(info.name)} is a ${kind}, the model takes a ${info.kind ?? 'tensor'}`);
      // A sequence's or optional's tensors are checked by the operators that read them.
      if (kind !== 'tensor') { values.set(info.name, t); continue; }
      if (t.data.length !== size(t.dims)) throw new SculptError(`sparse executor: input ${shortName(info.name)} has ${t.data.length} values for dims ${shapeText(t.dims)}`);
      if (info.dims.length > 0 && (info.dims.length !== t.dims.length || info.dims.some((d, i) => d >= 0 && d !== t.dims[i]))) {
        throw new SculptError(`sparse executor: input ${shortName(info.name)} has dims ${shapeText(t.dims)}, the model expects [${info.dims.slice(0, 8).map((d) => (d < 0 ? '?' : d)).join(', ')}${info.dims.length > 8 ? ', …' : ''}]`);
      }
      values.set(info.name, t);
    }
    this.runNodes(this.graph.nodes, values);
    const result: Record<string, Tensor> = {};
    for (const o of this.graph.outputs) {
      const t = values.get(o.name);
      if (!t) throw new SculptError(`sparse executor: output ${shortName(o.name)} was not produced`);
      result[o.name] = this.outOfArena(t);
    }
    return result;
  }

  /** `t`, its data copied out where it lives in the arena (whose regions the next run reuses). */
  private outOfArena(t: Tensor): Tensor {
    const items = t.items?.map((v) => this.outOfArena(v));
    const data = t.data instanceof Float32Array && this.pool.inArena(t.data) ? t.data.slice() : t.data;
    return data === t.data && (!items || items.every((v, i) => v === t.items![i])) ? t : { ...t, data, ...(items ? { items } : {}) };
  }

  private runNodes(nodes: readonly GraphNode[], values: Scope): void {
    const main = nodes === this.graph.nodes;
    const ctx: OpContext = {
      opset: this.graph.opsetVersion,
      runGraph: (g, feeds) => this.runSubgraph(g, feeds, values),
    };
    // Main-graph values holding each pooled buffer: when the last is dropped, the buffer goes back to the pool.
    const holders = main ? new Map<object, number>() : undefined;
    const hold = (t: Tensor | undefined, by: number) => {
      if (!holders || !t) return;
      for (const b of pooledBuffers(t, this.pool)) {
        const c = (holders.get(b) ?? 0) + by;
        if (c > 0) holders.set(b, c);
        else {
          holders.delete(b);
          this.pool.give(b);
        }
      }
    };
    // The values whose last reader is n: dropped, their buffers back to the pool when nothing else holds them.
    const release = (n: GraphNode) => {
      const done = main ? this.releases.get(n) : undefined;
      if (done) {
        for (const v of done) {
          hold(values.get(v), -1);
          values.delete(v);
        }
      }
    };
    const kept = main ? this.shapeValues(values) : undefined;
    for (const n of nodes) {
      if (this.precomputed.has(n) || this.fusedAway.has(n)) continue;
      const keeps = kept !== undefined && this.shapeOnly.has(n);
      if (keeps && n.outputs.every((o) => o === '' || kept.has(o))) {
        for (const o of n.outputs) if (o !== '') values.set(o, kept.get(o)!);
        release(n);
        continue;
      }
      const source = this.folded.get(n);
      if (source !== undefined) {
        const t = values.get(source)!;
        values.set(n.outputs[0], t);
        hold(t, 1);
        release(n);
        continue;
      }
      const fused = this.fusedOps.get(n);
      // A fused pattern's last node reads the pattern's inputs, not its own.
      const names = fused ? fused.inputs : this.chains.get(n)?.inputs ?? n.inputs;
      const ins = names.map((name) => (name === '' ? undefined : values.get(name)));
      ins.forEach((t, i) => {
        if (t === undefined && names[i] !== '') throw new SculptError(`${at(n)} reads ${shortName(names[i])}, which nothing produced`);
      });
      const transposed = n.opType === 'ConvTranspose' ? this.prepared.get(n) : undefined;
      const t0 = this.timings ? performance.now() : 0;
      const outs = fused ? [(FUSED_OPS[fused.op] ?? OPS[fused.op])(ins, fused.attrs, n, ctx)[0]]
        : WEIGHT_OPS.has(n.opType) ? [this.runWeightOp(n, ins)]
        : transposed ? [this.convTransposeWith(n, ins, transposed)]
        : OPS[n.opType](ins, n.attributes, n, ctx);
      if (this.timings) {
        this.timings.set(n, (this.timings.get(n) ?? 0) + performance.now() - t0);
        if (this.sizes) recordSizes(this.sizes, n, ins, outs);
      }
      n.outputs.forEach((name, i) => {
        if (name !== '' && outs[i]) {
          values.set(name, outs[i]);
          hold(outs[i], 1);
          if (keeps && this.keepable(outs[i])) kept.set(name, outs[i]);
        }
      });
      release(n);
    }
  }

  /** A subgraph (If branch, Loop or Scan body): its own initializers and `feeds` over the enclosing scope. */
  private runSubgraph(g: Graph, feeds: ReadonlyMap<string, Tensor>, outer: Scope): Tensor[] {
    // The subgraph's initializers are in the root scope already (converted at load).
    const scope = new Scope(outer);
    for (const [name, t] of feeds) scope.set(name, t);
    this.runNodes(g.nodes, scope);
    return g.outputs.map((o) => {
      const t = scope.get(o.name);
      if (!t) throw new SculptError(`sparse executor: subgraph ${shortName(g.name || '(unnamed)')} output ${shortName(o.name)} was not produced`);
      return t;
    });
  }

  /**
   * One [m, k]·[k, n] block of a MatMul of two activations (attention's Q·Kᵀ and P·V) on the
   * dense WebAssembly kernel: A as the kernel's row-major matrix, B as its [k, ld] input, no copy
   * or transpose beyond padding n to whole SIMD vectors. Small blocks stay in JavaScript.
   */
  private readonly gemmBlock: BlockMultiply = (x, ao, y, bo, out, oo, m, k, n) => {
    if (m * k * n < 4096) return false;
    // Split between the worker threads when large, or in place on operands in the executor's
    // memory; else on unshared memory (faster copies).
    const split = this.k.pool !== undefined && m * k * n >= 8 * SPLIT_WORK;
    const resident = [x, y, out].some((a) => this.k.addressOf(a) !== undefined);
    const kernels = split || resident ? this.k : localKernels();
    const mark = kernels.mark();
    try {
      const ld = batchStride(n);
      const staged = stageBlock(kernels, x, ao, y, bo, out, oo, m, k, n);
      const { w, xt, yt } = staged;
      const pool = kernels.pool;
      const tile = columnTile(k, ld, DENSE_TILE_BYTES, DENSE_TILE_COLUMNS);
      if (split && pool) pool.split('gemm', splitRows(m, pool.threads).map(([r0, r1]) => [r1 - r0, k, w + r0 * k * 4, xt, ld, yt + r0 * ld * 4, 0, 0, tile]));
      else kernels.exports.gemm(m, k, w, xt, ld, yt, 0, 0, tile);
      unstageBlock(kernels, staged, out, oo, m, n);
      return true;
    } finally {
      kernels.release(mark);
    }
  };

  /**
   * Every block of a batched MatMul of two activations at once, the blocks (attention's heads)
   * shared between the worker threads, each thread its own blocks whole: declines without
   * threads, or when there is too little work to split.
   */
  private readonly gemmBatch: BatchMultiply = (x, y, out, blocks, m, k, n) => {
    const pool = this.k.pool;
    if (!pool || m * k * n < 4096 || blocks.length * m * k * n < 8 * SPLIT_WORK) return false;
    const kernels = this.k;
    const ld = batchStride(n);
    const tile = columnTile(k, ld, DENSE_TILE_BYTES, DENSE_TILE_COLUMNS);
    // In rounds of at most maxCalls blocks a thread.
    const round = pool.threads * pool.maxCalls;
    for (let b0 = 0; b0 < blocks.length; b0 += round) {
      const these = blocks.slice(b0, b0 + round);
      const mark = kernels.mark();
      try {
        const staged = these.map(([ao, bo, oo]) => stageBlock(kernels, x, ao, y, bo, out, oo, m, k, n));
        const calls = staged.map(({ w, xt, yt }): KernelCall => ['gemm', [m, k, w, xt, ld, yt, 0, 0, tile]]);
        pool.splitCalls(splitRows(these.length, pool.threads, undefined, 1).map(([i0, i1]) => calls.slice(i0, i1)));
        staged.forEach((st, i) => unstageBlock(kernels, st, out, these[i][2], m, n));
      } finally {
        kernels.release(mark);
      }
    }
    return true;
  };

  private runWeightOp(n: GraphNode, ins: readonly (Tensor | undefined)[]): Tensor {
    const p = this.prepared.get(n);
    if (n.opType === 'Conv') return this.conv(n, ins, p);
    const a = need(ins[0], n, 0);
    const chain = this.chains.get(n);
    if (chain) return this.runChain(n, chain.links, a);
    if (n.opType === 'MatMul') {
      if (!p) return matmulGeneric(a, need(ins[1], n, 1), n, this.gemmBlock, this.gemmBatch);
      const layer = p.kernels[0];
      if (a.dims[a.dims.length - 1] !== layer.cols) throw new SculptError(`${at(n)} input has last dim ${a.dims[a.dims.length - 1]}, the weight has ${layer.cols} rows`);
      const m = size(a.dims) / layer.cols;
      this.count(n, m, 1);
      return floatTensor([...a.dims.slice(0, -1), layer.rows], applyLinear(this.k, layer, a.data as Float32Array, m, p.relu, p.gelu));
    }
    // Gemm
    const transA = attrInt(n.attributes, 'transA', 0) === 1;
    const aa = transA ? transposeTensor(a, [1, 0]) : a;
    let y: Tensor;
    if (p) {
      this.count(n, aa.dims[0], 1);
      y = floatTensor([aa.dims[0], p.kernels[0].rows], applyLinear(this.k, p.kernels[0], aa.data as Float32Array, aa.dims[0], p.relu, p.gelu));
    } else {
      const b = need(ins[1], n, 1);
      const bb = attrInt(n.attributes, 'transB', 0) === 1 ? transposeTensor(b, [1, 0]) : b;
      y = matmulGeneric(aa, bb, n, this.gemmBlock, this.gemmBatch);
      const alpha = attrFloat(n.attributes, 'alpha', 1);
      if (alpha !== 1) for (let i = 0; i < y.data.length; i++) y.data[i] *= alpha;
    }
    if ((!p || !p.biasFolded) && ins[2]) {
      const c = ins[2];
      const beta = attrFloat(n.attributes, 'beta', 1);
      const dims = broadcastDims(y.dims, c.dims, n);
      if (dims.length !== 2 || dims[0] !== y.dims[0] || dims[1] !== y.dims[1]) throw new SculptError(`${at(n)} bias of dims [${c.dims.join(', ')}] does not broadcast to the output`);
      const cr = c.dims.length === 2 ? c.dims[0] : 1, cc = c.dims[c.dims.length - 1] ?? 1;
      const cols = y.dims[1];
      for (let i = 0; i < y.data.length; i++) {
        const r = Math.floor(i / cols), q = i % cols;
        y.data[i] += beta * c.data[(cr === 1 ? 0 : r) * cc + (cc === 1 ? 0 : q)];
      }
    }
    return y;
  }

  /** A chain of products (chainLinear) on the first one's input: one call of applyLinears. */
  private runChain(n: GraphNode, links: readonly { node: GraphNode; p: Prepared }[], a: Tensor): Tensor {
    const first = links[0].p.kernels[0], last = links[links.length - 1].p.kernels[0];
    const cols = a.dims[a.dims.length - 1];
    if (cols !== first.cols || (n.opType === 'Gemm' && a.dims.length !== 2)) {
      throw new SculptError(`${at(links[0].node)} input has dims [${a.dims.join(', ')}], the weight takes ${first.cols} features`);
    }
    const m = size(a.dims) / first.cols;
    for (const l of links) this.count(l.node, m, 1);
    const y = applyLinears(this.k, links.map(({ p }) => ({ layer: p.kernels[0], relu: p.relu, gelu: p.gelu })), a.data as Float32Array, m);
    return floatTensor([...a.dims.slice(0, -1), last.rows], y);
  }

  /** Records the columns a weight layer's products multiplied, and how many there were. */
  private count(n: GraphNode, columns: number, calls: number): void {
    for (const l of this.layers) if (l.node === n.name) { l.columns = columns; l.calls = calls; }
  }

  private conv(n: GraphNode, ins: readonly (Tensor | undefined)[], p: Prepared | undefined): Tensor {
    const x = need(ins[0], n, 0);
    const wt = need(ins[1], n, 1);
    if (x.dims.length < 3 || wt.dims.length !== x.dims.length) throw new SculptError(`${at(n)} needs input and weight of the same rank ≥ 3 ([N, C, spatial…]), got ${x.dims.length} and ${wt.dims.length}`);
    const [batch, c] = x.dims;
    const [m, cg] = wt.dims;
    const group = attrInt(n.attributes, 'group', 1);
    if (cg * group !== c) throw new SculptError(`${at(n)} weight expects ${cg * group} input channels, the input has ${c}`);
    const geometry = convGeometry(n.attributes, x.dims.slice(2), wt.dims.slice(2), n);
    const rows = m / group, cols = size(wt.dims.slice(1));
    if (p) {
      const positions = size(geometry.outSp);
      const pass = positionsPerPass(Math.max(cg * size(geometry.kernel), rows), positions);
      if (p.settle) {
        p.kernels.push(...p.settle(pass));
        p.settle = undefined;
        // The layer list stays in graph order whichever layer settled last.
        const order = new Map(this.graph.nodes.map((g, i) => [g.name, i]));
        this.layers.sort((a, b) => (order.get(a.node) ?? Infinity) - (order.get(b.node) ?? Infinity));
      }
      const direct = this.shifts(p, geometry);
      if (direct) {
        this.count(n, positions, batch);
        // Groups merged into one block-diagonal kernel are one group of all the channels.
        return p.merged ? this.convDirect(n, x, p, batch, m, c, 1, geometry, direct) : this.convDirect(n, x, p, batch, m, cg, group, geometry, direct);
      }
      if (p.merged) throw new SculptError(`${at(n)}: internal error: grouped kernels merged for a convolution that does not run directly`);
      this.count(n, pass, batch * Math.ceil(positions / pass));
      const y = this.convWith(n, x, p.kernels, p.relu, batch, m, cg, group, geometry);
      if (p.relu6) for (let i = 0; i < y.data.length; i++) if (y.data[i] > 6) y.data[i] = 6;
      return y;
    }
    // A weight computed at run time: upload for this call only.
    const mark = this.k.mark();
    try {
      const kernels: LinearKernel[] = [];
      for (let g = 0; g < group; g++) {
        const bias = ins[2] ? (ins[2].data as Float32Array).subarray(g * rows, (g + 1) * rows) : undefined;
        kernels.push(uploadDense(this.k, (wt.data as Float32Array).subarray(g * rows * cols, (g + 1) * rows * cols), rows, cols, bias));
      }
      return this.convWith(n, x, kernels, false, batch, m, cg, group, geometry);
    } finally {
      this.k.release(mark);
    }
  }

  /**
   * A 2-D Conv whose kernels are all CSR runs straight from the zero-padded input, split into its
   * stride phases (asm convCsr), without im2col's Πk-fold copy of it: the phase planes' size and
   * each group's shift per nonzero, computed once per input size and kept (allocated outside any
   * scratch mark).
   */
  private shifts(p: Prepared, geometry: ConvGeometry): DirectConv | undefined {
    const g2 = liftTo2d(geometry);
    if (g2.inSp.length !== 2 || !p.kernels.every((k) => k.runShifted && k.colIndex)) return undefined;
    const [h, w] = g2.inSp, [kh, kw] = g2.kernel, [sh, sw] = g2.strides, [dh, dw] = g2.dilations, [pt, pl] = g2.begin, [oh, ow] = g2.outSp;
    // Every tap a window reads, and every input value, inside a phase plane.
    const hq = Math.max(Math.ceil((pt + h) / sh), oh + Math.floor(((kh - 1) * dh) / sh));
    const wq = Math.max(Math.ceil((pl + w) / sw), ow + Math.floor(((kw - 1) * dw) / sw));
    const key = [h, w, kh, kw, sh, sw, dh, dw, pt, pl].join(',');
    if (p.direct?.key === key) return p.direct;
    const offsets = p.kernels.map((k) => {
      const dst = this.k.alloc(k.nonzeros * 4);
      this.k.exports.convOffsets(k.nonzeros, k.colIndex!.ptr, k.colIndex!.wide ? 1 : 0, kh, kw, dh, dw, sh, sw, hq, wq, dst);
      return dst;
    });
    p.direct = { key, hq, wq, offsets };
    return p.direct;
  }

  private convDirect(node: GraphNode, x: Tensor, p: Prepared, batch: number, m: number, cg: number, group: number, geometry: ConvGeometry, d: DirectConv): Tensor {
    const g2 = liftTo2d(geometry);
    const [h, w] = g2.inSp, [sh, sw] = g2.strides, [pt, pl] = g2.begin, [oh, ow] = g2.outSp;
    const c = cg * group, planeIn = h * w, positions = oh * ow, rows = m / group;
    const { hq, wq } = d;
    const groupFloats = cg * sh * sw * hq * wq;
    const n = (oh - 1) * wq + ow, ld = batchStride(n), slack = wq + 8;
    const xd = x.data as Float32Array;
    // Every element is written below. Input and output in the kernels' memory (the arena) are read and written there.
    const out = uninitF32(checkedSize([batch, m, ...geometry.outSp], 4, `${at(node)} output`));
    const xa = this.k.addressOf(xd), oa = this.k.addressOf(out);
    const mark = this.k.mark();
    try {
      const xin = xa === undefined ? this.k.alloc(c * planeIn * 4) : 0;
      const xq = this.k.reserve((group * groupFloats + slack) * 4);
      const y = this.k.reserve(rows * ld * 4);
      for (let b = 0; b < batch; b++) {
        if (xa === undefined) this.k.f32(xin, c * planeIn).set(xd.subarray(b * c * planeIn, (b + 1) * c * planeIn));
        this.k.exports.padPlanes(xa === undefined ? xin : xa + b * c * planeIn * 4, c, h, w, pt, pl, sh, sw, hq, wq, xq, slack);
        for (let g = 0; g < group; g++) {
          p.kernels[g].runShifted!(d.offsets[g], xq + g * groupFloats * 4, n, y, ld, p.relu, p.relu6);
          // Flat column oy·wq + ox holds output (oy, ox); the columns past ow are dropped.
          let o = (b * m + g * rows) * positions;
          if (oa !== undefined) {
            this.k.exports.copyRows(rows, y, ld, oh, ow, wq, oa + o * 4, positions);
            continue;
          }
          const yv = this.k.f32(y, rows * ld);
          for (let r = 0; r < rows; r++) {
            for (let oy = 0; oy < oh; oy++, o += ow) out.set(yv.subarray(r * ld + oy * wq, r * ld + oy * wq + ow), o);
          }
        }
      }
    } finally {
      this.k.release(mark);
    }
    return floatTensor([batch, m, ...geometry.outSp], out);
  }

  private convWith(node: GraphNode, x: Tensor, kernels: LinearKernel[], relu: boolean, batch: number, m: number, cg: number, group: number, geometry: ConvGeometry): Tensor {
    const g2 = liftTo2d(geometry);
    const xd = x.data as Float32Array;
    const positions = size(g2.outSp), planeIn = size(g2.inSp);
    const c = cg * group;
    // Every element is written below.
    const out = uninitF32(checkedSize([batch, m, ...geometry.outSp], 4, `${at(node)} output`));
    const rows = m / group;
    const taps = cg * size(g2.kernel);
    // A huge image runs in passes over its output positions, so the scratch stays bounded.
    const pass = positionsPerPass(Math.max(taps, rows), positions);
    const copyOut = (y: Float32Array, ld: number, o: number, q0: number, n: number) => {
      if (ld === positions) out.set(y.subarray(0, rows * ld), o);
      else for (let r = 0; r < rows; r++) out.set(y.subarray(r * ld, r * ld + n), o + r * positions + q0);
    };
    if (g2.inSp.length === 2) {
      // 2-D: im2col in the kernels' memory, straight into the layout they read (read there, and
      // written there, for an input and output in the kernels' memory: the arena).
      const xa = this.k.addressOf(xd), oa = this.k.addressOf(out);
      const mark = this.k.mark();
      try {
        const ld = batchStride(pass);
        const xin = xa === undefined ? this.k.alloc(c * planeIn * 4) : 0;
        const xt = this.k.reserve(taps * ld * 4);
        const yt = this.k.reserve(rows * ld * 4);
        const [h, w] = g2.inSp, [kh, kw] = g2.kernel, [sh, sw] = g2.strides, [dh, dw] = g2.dilations, [pt, pl] = g2.begin, ow = g2.outSp[1];
        for (let b = 0; b < batch; b++) {
          if (xa === undefined) this.k.f32(xin, c * planeIn).set(xd.subarray(b * c * planeIn, (b + 1) * c * planeIn));
          const src = xa === undefined ? xin : xa + b * c * planeIn * 4;
          for (let g = 0; g < group; g++) {
            for (let q0 = 0; q0 < positions; q0 += pass) {
              const q1 = Math.min(positions, q0 + pass), n = q1 - q0, ldn = batchStride(n);
              this.k.exports.im2col2d(src + g * cg * planeIn * 4, cg, h, w, kh, kw, sh, sw, dh, dw, pt, pl, ow, q0, q1, xt, ldn);
              kernels[g].runBatch(xt, ldn, yt, relu);
              const o = (b * m + g * rows) * positions;
              if (oa !== undefined) this.k.exports.copyRows(rows, yt, ldn, 1, n, 0, oa + (o + q0) * 4, positions);
              else copyOut(this.k.f32(yt, rows * ldn), ldn, o, q0, n);
            }
          }
        }
      } finally {
        this.k.release(mark);
      }
      return floatTensor([batch, m, ...geometry.outSp], out);
    }
    const col = new Float32Array(taps * pass);
    for (let b = 0; b < batch; b++) {
      for (let g = 0; g < group; g++) {
        for (let q0 = 0; q0 < positions; q0 += pass) {
          const q1 = Math.min(positions, q0 + pass);
          const cols = q1 - q0 === pass ? col : col.subarray(0, taps * (q1 - q0));
          im2col(xd, (b * c + g * cg) * planeIn, cg, g2, cols, q0, q1);
          copyOut(applyLinearTransposed(this.k, kernels[g], cols, q1 - q0, relu), q1 - q0, (b * m + g * rows) * positions, q0, q1 - q0);
        }
      }
    }
    return floatTensor([batch, m, ...geometry.outSp], out);
  }
}

/** Writing an im2col input of `cols` rows × `batch` columns at the machine's bandwidth. */
function im2colSeconds(cols: number, batch: number, machine: MachineProfile): number {
  return (cols * batch * 4) / machine.bandwidth;
}

function transpose2d(w: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = w[r * cols + c];
  return t;
}

/** A timed node's operands and results (`run`'s `sizes`): dims, the bytes they hold, and its runs. */
export interface NodeSizes {
  readonly inputs: readonly (readonly number[])[];
  readonly outputs: readonly (readonly number[])[];
  /** Bytes each operand and result holds. */
  readonly bytes: { readonly inputs: readonly number[]; readonly outputs: readonly number[] };
  calls: number;
}

function recordSizes(sizes: Map<GraphNode, NodeSizes>, n: GraphNode, ins: readonly (Tensor | undefined)[], outs: readonly (Tensor | undefined)[]): void {
  const seen = sizes.get(n);
  if (seen) { seen.calls++; return; }
  const dims = (ts: readonly (Tensor | undefined)[]) => ts.map((t) => (t && Array.isArray(t.dims) ? [...t.dims] : []));
  const bytes = (ts: readonly (Tensor | undefined)[]) => ts.map((t) => (t && ArrayBuffer.isView(t.data) ? t.data.byteLength : 0));
  sizes.set(n, { inputs: dims(ins), outputs: dims(outs), bytes: { inputs: bytes(ins), outputs: bytes(outs) }, calls: 1 });
}

/**
 * Places block A [m, k] (at x[ao]) in kernel memory as the dense kernel's row-major matrix and
 * B [k, n] (at y[bo]) as its [k, ld] input, n padded to whole vectors with zeros, and Y [m, ld]:
 * copies, except for arrays that live in that memory (the executor's arena) with n = ld, which
 * the kernel reads and writes in place (`placed`: Y is out's block already).
 */
function stageBlock(kernels: Kernels, x: Float32Array, ao: number, y: Float32Array, bo: number, out: Float32Array, oo: number, m: number, k: number, n: number): { w: number; xt: number; yt: number; placed: boolean } {
  const ld = batchStride(n);
  const xa = kernels.addressOf(x), ya = ld === n ? kernels.addressOf(y) : undefined, oa = ld === n ? kernels.addressOf(out) : undefined;
  const w = xa !== undefined ? xa + ao * 4 : kernels.upload(x.subarray(ao, ao + m * k));
  let xt: number;
  if (ya !== undefined) xt = ya + bo * 4;
  else {
    xt = ld === n ? kernels.reserve(k * ld * 4) : kernels.alloc(k * ld * 4);
    const xv = kernels.f32(xt, k * ld);
    if (ld === n) xv.set(y.subarray(bo, bo + k * n));
    else for (let r = 0; r < k; r++) xv.set(y.subarray(bo + r * n, bo + (r + 1) * n), r * ld);
  }
  return { w, xt, yt: oa !== undefined ? oa + oo * 4 : kernels.reserve(m * ld * 4), placed: oa !== undefined };
}

/** Copies a staged block's result Y [m, ld] out to out[oo…] as [m, n] (nothing to do when it was placed there). */
function unstageBlock(kernels: Kernels, staged: { yt: number; placed: boolean }, out: Float32Array, oo: number, m: number, n: number): void {
  if (staged.placed) return;
  const ld = batchStride(n);
  const yv = kernels.f32(staged.yt, m * ld);
  if (ld === n) out.set(yv, oo);
  else for (let r = 0; r < m; r++) out.set(yv.subarray(r * ld, r * ld + n), oo + r * n);
}

/** Multiplies one block into `out` at `oo` (true), or declines (false) and the loop below does it. */
export type BlockMultiply = (x: Float32Array, ao: number, y: Float32Array, bo: number, out: Float32Array, oo: number, m: number, k: number, n: number) => boolean;

/**
 * All the [m, k]·[k, n] blocks of a MatMul at once (each [a offset, b offset, out offset]), so
 * that they can be shared between threads; returns false to decline (then each goes to `block`).
 */
export type BatchMultiply = (x: Float32Array, y: Float32Array, out: Float32Array, blocks: readonly (readonly [number, number, number])[], m: number, k: number, n: number) => boolean;

/**
 * NumPy matmul for float tensors of rank ≥ 1 with broadcast batch dimensions; `batch` may take all
 * the blocks at once, else `block` each one, else the loop here.
 */
export function matmulGeneric(a: Tensor, b: Tensor, node: GraphNode, block?: BlockMultiply, batch?: BatchMultiply): Tensor {
  const ad = a.dims.length === 1 ? [1, a.dims[0]] : [...a.dims];
  const bd = b.dims.length === 1 ? [b.dims[0], 1] : [...b.dims];
  const m = ad[ad.length - 2], k = ad[ad.length - 1], k2 = bd[bd.length - 2], n = bd[bd.length - 1];
  if (k !== k2) throw new SculptError(`${at(node)} cannot multiply [${a.dims.join(', ')}] by [${b.dims.join(', ')}]`);
  const batchDims = broadcastDims(ad.slice(0, -2), bd.slice(0, -2), node);
  const batches = size(batchDims);
  const out = zeroF32(batches * m * n);
  const x = a.data as Float32Array, y = b.data as Float32Array;
  const aBatch = ad.slice(0, -2), bBatch = bd.slice(0, -2);
  const bs = strides(batchDims);
  const offset = (dims: number[], idx: number) => {
    let off = 0, stride = 1;
    for (let d = dims.length - 1; d >= 0; d--) {
      const full = batchDims[batchDims.length - dims.length + d];
      const pos = Math.floor(idx / bs[batchDims.length - dims.length + d]) % full;
      off += (dims[d] === 1 ? 0 : pos) * stride;
      stride *= dims[d];
    }
    return off;
  };
  const blocks = Array.from({ length: batches }, (_, p) => [offset(aBatch, p) * m * k, offset(bBatch, p) * k * n, p * m * n] as const);
  const floats = a.data instanceof Float32Array && b.data instanceof Float32Array;
  const batched = batch !== undefined && floats && batches > 1 && batch(x, y, out, blocks, m, k, n);
  for (const [ao, bo, oo] of batched ? [] : blocks) {
    if (block && floats && block(x, ao, y, bo, out, oo, m, k, n)) continue;
    for (let i = 0; i < m; i++) {
      for (let kk = 0; kk < k; kk++) {
        const v = x[ao + i * k + kk];
        const brow = bo + kk * n;
        const orow = oo + i * n;
        for (let j = 0; j < n; j++) out[orow + j] += v * y[brow + j];
      }
    }
  }
  let dims = [...batchDims, m, n];
  if (a.dims.length === 1) dims = [...batchDims, n];
  if (b.dims.length === 1) dims = a.dims.length === 1 ? [...batchDims] : [...batchDims, m];
  return floatTensor(dims, out);
}

/** The buffers from `pool` a value holds (`BufferPool.owner`): its data's, or its items' (a sequence, an optional). */
function pooledBuffers(t: Tensor, pool: BufferPool): object[] {
  const out: object[] = [];
  const visit = (v: Tensor) => {
    const owner = v.data instanceof Float32Array ? pool.owner(v.data) : undefined;
    if (owner) out.push(owner);
    if (v.items) for (const item of v.items) if (item) visit(item);
  };
  visit(t);
  return out;
}

/** Every node of a graph and of its subgraphs, each graph's nodes in order, and the graphs themselves. */
function allNodes(graph: Graph): { nodes: GraphNode[]; graphs: Graph[] } {
  const nodes: GraphNode[] = [], graphs: Graph[] = [];
  const visit = (g: Graph) => {
    graphs.push(g);
    for (const n of g.nodes) {
      nodes.push(n);
      for (const v of n.attributes.values()) if (isGraph(v)) visit(v);
    }
  };
  visit(graph);
  return { nodes, graphs };
}

/** Elements of the largest shape-only value kept between runs (shapes, indices, position ids). */
const SHAPE_VALUE_MAX = 4096;

/** Values by name, falling back to the enclosing graph's (subgraphs read outer-scope values). */

class Scope {
  private readonly own = new Map<string, Tensor>();
  constructor(private readonly parent: Scope | undefined) {}
  get(name: string): Tensor | undefined {
    return this.own.get(name) ?? this.parent?.get(name);
  }
  set(name: string, t: Tensor): void {
    this.own.set(name, t);
  }
  delete(name: string): void {
    this.own.delete(name);
  }
}

const BENCH_HINT = '`sculpt bench` times only models whose every operator runs on sculpt\'s engine (`sculpt bench --machine` still profiles this machine)';

/** Every node (subgraphs included) must be an operator the executor runs; otherwise one line naming the first such node per operator. */
function checkSupported(graph: Graph): void {
  const first = new Map<string, GraphNode>();
  const visit = (g: Graph) => {
    for (const n of g.nodes) {
      const known = WEIGHT_OPS.has(n.opType) || Object.hasOwn(OPS, n.opType);
      const domainOk = n.domain === '' || n.domain === 'ai.onnx' || (n.domain === 'com.microsoft' && n.opType === 'Gelu');
      const op = shortName(n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType, 40);
      if ((!known || !domainOk) && !first.has(op)) first.set(op, n);
      for (const v of n.attributes.values()) if (isGraph(v)) visit(v);
    }
  };
  visit(graph);
  if (first.size === 0) return;
  const nodes = [...first].slice(0, 4).map(([op, n]) => `node ${nodeLabel(n)} (${op})`).join(', ') + (first.size > 4 ? ` and ${first.size - 4} more` : '');
  throw new SculptError(`sparse executor: ${nodes}: operator${first.size > 1 ? 's' : ''} not supported by sculpt's engine; run the model with \`sculpt run --engine onnxruntime\`; ${BENCH_HINT}`);
}
