/**
 * Sequential calibration of a language model, as SparseGPT's and Wanda's reference loops do: the
 * weights are pruned stage by stage, and each stage's inputs are computed by the stages already
 * pruned, so every layer is fitted to the activations it will really see.
 *
 * Stages come from the graph: the depth of a value is the largest number of target MatMul/Gemm
 * weights on any path from the model's inputs to it, and the weights whose input activation has
 * depth d form stage d. In a GPT block that gives four stages — fused qkv (or q, k, v together),
 * the attention output projection, the MLP up projection, the MLP down projection — the
 * "true sequential" order of the GPTQ/SparseGPT code, for any export (names are not used).
 *
 * Each stage runs, on sculpt's executor, only the nodes between the values the earlier stages
 * left and its own input activations; those boundary values (residual stream, masks) are kept
 * per batch of windows and dropped when no later stage needs them. One stage's statistics
 * (Σx² per feature, and XᵀX for SparseGPT) are in memory at a time.
 */
import { SculptError } from '../core/errors.js';
import type { Graph, GraphNode, GraphTensor } from '../core/graph.js';
import type { Mask } from '../core/mask.js';
import type { WeightTensor } from '../core/types.js';
import { SparseExecutor } from '../sparse/executor.js';
import type { Tensor } from '../sparse/tensor.js';
import type { CalibratedWeight } from './calibration-onnx.js';

const PASS_THROUGH = new Set(['Identity', 'Cast']);

/** One stage: weights whose inputs are computed by the same already-pruned stages. */
export interface SequentialStage {
  readonly depth: number;
  readonly weights: readonly CalibratedWeight[];
}

/** Statistics of one activation over the calibration windows. */
export interface StageActivation {
  readonly features: number;
  rows: number;
  readonly sumSquares: Float64Array;
  /** Upper triangle of XᵀX (K×K) while accumulating; mirrored before it is handed out. */
  readonly gram?: Float64Array;
}

/** What the caller does with one stage's statistics: new values and masks for its weights. */
export type StageHandler = (stage: SequentialStage, acts: ReadonlyMap<string, StageActivation>) => Promise<ReadonlyMap<string, StageResult>>;

/**
 * A weight's mask and new values; `values` absent: the handler stored them in the model itself
 * (OnnxModel.replaceValues), where later stages read them (onnxruntime path only).
 */
export interface StageResult {
  readonly values?: Float32Array;
  readonly mask: Mask;
}

export interface SequentialOptions {
  /** Accumulate XᵀX (SparseGPT) besides Σx² (Wanda). */
  readonly gram: boolean;
  /** Windows per executor run. Default 8. */
  readonly batch?: number;
  /** Called after each stage: (stages done, stages in all). */
  readonly onStage?: (done: number, total: number) => void;
}

/** The stages of `weights` in `graph`, shallowest first. */
export function sequentialStages(graph: Graph, weights: readonly CalibratedWeight[]): SequentialStage[] {
  const alias = new Map<string, string>();
  for (const w of weights) alias.set(w.tensor.name, w.tensor.name);
  for (const n of graph.nodes) if (PASS_THROUGH.has(n.opType) && alias.has(n.inputs[0])) alias.set(n.outputs[0], alias.get(n.inputs[0])!);
  const depth = new Map<string, number>();
  for (const n of graph.nodes) {
    let d = 0;
    for (const i of n.inputs) d = Math.max(d, depth.get(i) ?? 0);
    const weighted = (n.opType === 'MatMul' || n.opType === 'Gemm') && alias.has(n.inputs[1] ?? '');
    for (const o of n.outputs) depth.set(o, weighted ? d + 1 : d);
  }
  const byDepth = new Map<number, CalibratedWeight[]>();
  for (const w of weights) {
    const d = Math.max(...w.activations.map((a) => depth.get(a) ?? 0));
    const list = byDepth.get(d) ?? [];
    list.push(w);
    byDepth.set(d, list);
  }
  return [...byDepth.entries()].sort((a, b) => a[0] - b[0]).map(([d, ws]) => ({ depth: d, weights: ws }));
}

/** Nodes of each stage's segment: what computes its activations that no earlier segment did (Constant nodes wherever they are read). */
function segments(graph: Graph, stages: readonly SequentialStage[]): GraphNode[][] {
  const producer = new Map<string, GraphNode>();
  for (const n of graph.nodes) for (const o of n.outputs) producer.set(o, n);
  const done = new Set<GraphNode>();
  const order = new Map(graph.nodes.map((n, i) => [n, i]));
  return stages.map((s) => {
    const seg = new Set<GraphNode>();
    const stack = s.weights.flatMap((w) => [...w.activations]);
    while (stack.length) {
      const n = producer.get(stack.pop()!);
      if (n === undefined || done.has(n) || seg.has(n)) continue;
      seg.add(n);
      for (const i of n.inputs) if (i) stack.push(i);
    }
    for (const n of seg) if (n.opType !== 'Constant') done.add(n);
    return [...seg].sort((a, b) => order.get(a)! - order.get(b)!);
  });
}

/** One stage's segment: its nodes, the values it reads from earlier segments, the values it hands on. */
export interface Segment {
  readonly nodes: readonly GraphNode[];
  /** Indices of `nodes` in the graph. */
  readonly indices: ReadonlySet<number>;
  /** Values read from graph inputs or earlier segments. */
  readonly inputs: readonly string[];
  /** The stage's activations and the values later segments read. */
  readonly outputs: readonly string[];
  /** The stage's activation values. */
  readonly activations: readonly string[];
  /** Values some later segment reads: all others are dropped after this one ran. */
  readonly live: ReadonlySet<string>;
  /** Initializers the nodes read. */
  readonly initializers: ReadonlySet<string>;
}

/** The segments of `stages` in `graph`, with what flows between them. */
export function planSegments(graph: Graph, stages: readonly SequentialStage[]): Segment[] {
  const segs = segments(graph, stages);
  const index = new Map(graph.nodes.map((n, i) => [n, i]));
  const produced = new Map<string, number>();
  segs.forEach((seg, s) => { for (const n of seg) for (const o of n.outputs) if (!produced.has(o)) produced.set(o, s); });
  const graphInputs = new Set(graph.inputs.map((i) => i.name));
  const lastUse = new Map<string, number>();
  segs.forEach((seg, s) => {
    const inside = new Set(seg.flatMap((n) => n.outputs));
    for (const n of seg) for (const i of n.inputs) if (i && !inside.has(i)) lastUse.set(i, Math.max(lastUse.get(i) ?? -1, s));
    for (const w of stages[s].weights) for (const a of w.activations) if (!inside.has(a)) lastUse.set(a, Math.max(lastUse.get(a) ?? -1, s));
  });
  return segs.map((seg, s) => {
    const inside = new Set(seg.flatMap((n) => n.outputs));
    const activations = [...new Set(stages[s].weights.flatMap((w) => [...w.activations]))];
    const inputs = new Set<string>();
    const initializers = new Set<string>();
    for (const n of seg) {
      for (const i of n.inputs) {
        if (!i || inside.has(i)) continue;
        if (graph.initializers.has(i)) initializers.add(i);
        else if (graphInputs.has(i) || produced.has(i)) inputs.add(i);
      }
    }
    for (const a of activations) if (!inside.has(a)) inputs.add(a);
    const outputs = new Set(activations.filter((a) => inside.has(a)));
    for (const o of inside) if ((lastUse.get(o) ?? -1) > s) outputs.add(o);
    const live = new Set([...lastUse].filter(([, last]) => last > s).map(([v]) => v));
    return { nodes: seg, indices: new Set(seg.map((n) => index.get(n)!)), inputs: [...inputs], outputs: [...outputs], activations, live, initializers };
  });
}

/** Mirrors the accumulated upper triangles of XᵀX. */
export function finishStats(acts: Map<string, StageActivation>): void {
  for (const a of acts.values()) {
    const g = a.gram;
    const k = a.features;
    if (g) for (let i = 0; i < k; i++) for (let j = i + 1; j < k; j++) g[j * k + i] = g[i * k + j];
  }
}

/**
 * Runs the stages in order on `feeds` (one record of graph inputs per batch of windows) on sculpt's
 * executor, calling `handle` with each stage's statistics and using the values it returns for
 * every later stage. Returns the new values of every weight, by name.
 */
export async function runSequential(
  graph: Graph,
  stages: readonly SequentialStage[],
  feeds: readonly Record<string, Tensor>[],
  handle: StageHandler,
  opts: SequentialOptions,
): Promise<Map<string, StageResult>> {
  const segs = planSegments(graph, stages);
  const initializers = new Map<string, GraphTensor>(graph.initializers);
  const results = new Map<string, StageResult>();
  const kept = feeds.map((f) => new Map<string, Tensor>(Object.entries(f)));
  for (let s = 0; s < stages.length; s++) {
    const seg = segs[s];
    const sub: Graph = {
      name: `stage ${s}`,
      nodes: seg.nodes,
      initializers: new Map([...seg.initializers].map((name) => [name, initializers.get(name)!])),
      inputs: seg.inputs.map((name) => ({ name, dtype: 'float32', dims: [] })),
      outputs: seg.outputs.map((name) => ({ name, dtype: 'float32', dims: [] })),
      opsetVersion: graph.opsetVersion,
    };
    const ex = seg.nodes.length > 0 ? new SparseExecutor(sub, { engine: 'dense' }) : undefined;
    const acts = new Map<string, StageActivation>();
    for (const values of kept) {
      const inputs: Record<string, Tensor> = {};
      for (const i of seg.inputs) {
        const t = values.get(i);
        if (t === undefined) throw new SculptError(`sequential calibration: value '${i}' of stage ${s} was not kept`);
        inputs[i] = t;
      }
      const out = ex ? ex.run(inputs) : {};
      for (const [name, t] of Object.entries(out)) values.set(name, t);
      for (const a of seg.activations) {
        const t = values.get(a);
        if (t === undefined || t.dtype !== 'float32') throw new SculptError(`sequential calibration: activation '${a}' is not a float tensor`);
        accumulate(acts, a, t.data as Float32Array, t.dims[t.dims.length - 1], opts.gram);
      }
      for (const name of [...values.keys()]) if (!seg.live.has(name)) values.delete(name);
    }
    finishStats(acts);
    const updates = await handle(stages[s], acts);
    for (const [name, r] of updates) {
      if (!r.values) throw new SculptError(`sequential calibration: stage ${s} gave no values for '${name}'`);
      results.set(name, r);
      const old = initializers.get(name);
      if (old) initializers.set(name, { ...old, dtype: 'float32', data: r.values });
    }
    opts.onStage?.(s + 1, stages.length);
  }
  return results;
}

/** The statistics of activation `name`, made on first use; a width that changes between batches is refused. */
export function activationStats(stats: Map<string, StageActivation>, name: string, k: number, gram: boolean): StageActivation {
  let s = stats.get(name);
  if (!s) {
    s = { features: k, rows: 0, sumSquares: new Float64Array(k), gram: gram ? new Float64Array(k * k) : undefined };
    stats.set(name, s);
  }
  if (s.features !== k) throw new SculptError(`activation '${name}' changed width between batches (${s.features} then ${k})`);
  return s;
}

/** Adds rows of `data` ([rows, k]) to the statistics of activation `name` (XᵀX upper triangle, 4 rows at a time). */
export function accumulate(stats: Map<string, StageActivation>, name: string, data: Float32Array, k: number, gram: boolean): void {
  const s = activationStats(stats, name, k, gram);
  const rows = data.length / k;
  const sq = s.sumSquares;
  for (let i = 0; i < data.length; i++) sq[i % k] += data[i] * data[i];
  const g = s.gram;
  if (g) {
    let r = 0;
    for (; r + 4 <= rows; r += 4) {
      const o0 = r * k, o1 = o0 + k, o2 = o1 + k, o3 = o2 + k;
      for (let i = 0; i < k; i++) {
        const a0 = data[o0 + i], a1 = data[o1 + i], a2 = data[o2 + i], a3 = data[o3 + i];
        const gi = i * k;
        for (let j = i; j < k; j++) g[gi + j] += a0 * data[o0 + j] + a1 * data[o1 + j] + a2 * data[o2 + j] + a3 * data[o3 + j];
      }
    }
    for (; r < rows; r++) {
      const o = r * k;
      for (let i = 0; i < k; i++) {
        const a = data[o + i];
        if (a === 0) continue;
        const gi = i * k;
        for (let j = i; j < k; j++) g[gi + j] += a * data[o + j];
      }
    }
  }
  s.rows += rows;
}

/** The statistics of everything `w` multiplies (a shared weight sums those of all its inputs). */
export function statsFor(w: CalibratedWeight, acts: ReadonlyMap<string, StageActivation>): StageActivation {
  if (w.activations.length === 1) return acts.get(w.activations[0])!;
  const first = acts.get(w.activations[0])!;
  const k = first.features;
  const out: StageActivation = { features: k, rows: 0, sumSquares: new Float64Array(k), gram: first.gram ? new Float64Array(k * k) : undefined };
  for (const name of w.activations) {
    const a = acts.get(name)!;
    out.rows += a.rows;
    for (let i = 0; i < k; i++) out.sumSquares[i] += a.sumSquares[i];
    if (out.gram && a.gram) for (let i = 0; i < out.gram.length; i++) out.gram[i] += a.gram[i];
  }
  return out;
}

/** The weight as rows = outputs (row-major), and back: MatMul/Gemm B [K, N] is transposed, Gemm transB [N, K] kept. */
export function rowsByOutput(t: WeightTensor, values: Float32Array): { rows: number; cols: number; data: Float32Array; back: (x: Float32Array) => Float32Array } {
  const [a, b] = t.shape;
  if (t.outputAxis === 0) return { rows: a, cols: b, data: values, back: (x) => x };
  return { rows: b, cols: a, data: transpose(values, a, b), back: (x) => transpose(x, b, a) };
}

function transpose(x: Float32Array, r: number, c: number): Float32Array {
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = x[i * c + j];
  return out;
}
