/**
 * `benchFile`: onnxruntime (dense, `threads` intra-op threads) against sculpt's sparse engine (as many threads)
 * (auto: CSR or dense per layer, one thread) on the same model and a seeded random input; medians
 * of interleaved runs after warm-up, as in `npm run bench:sparse`. Per weight layer: both kernels
 * timed in isolation beside the roofline's prediction. `benchSweep` prunes the model in memory to
 * several sparsities and measures each, for the speed-up-versus-sparsity plot.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SculptError } from '../core/errors.js';
import type { Graph, GraphNode } from '../core/graph.js';
import { applyMasks, prune } from '../core/plan.js';
import { parsePattern } from '../core/patterns.js';
import { Rng } from '../core/rng.js';
import { OnnxModel } from '../formats/onnx.js';
import type { WeightInput } from '../sparse/container.js';
import { packSculpt, unpackSculpt } from './sculpt-file.js';
import { SparseExecutor, type NodeSizes } from '../sparse/executor.js';
import { predictLayer, predictNode, type MachineProfile, type NodeClass } from '../sparse/roofline.js';
import type { Tensor } from '../sparse/tensor.js';
import { choosePlan, HybridRunner, type PlanName } from './hybrid.js';
import { createOrtSession, settle } from './sparse-ort.js';
import { loadSparseModel } from './sparse-model.js';
import { kernelsFor, modelInputs, rowsPerProduct } from './sparse-run.js';
import { withFileContext } from './model-file.js';

export interface BenchOptions {
  readonly machine: MachineProfile;
  /** Rows of the input batch (the model's first axis); default: its fixed size, else 1. */
  readonly batch?: number;
  /** Threads for both engines: onnxruntime's intra-op threads, sculpt's worker threads for its weight products; default 1. */
  readonly threads?: number;
  /** Timed runs per engine (medians); default 20. */
  readonly runs?: number;
  /** Untimed runs per engine first; default 20 (V8 keeps optimizing sculpt's JavaScript over a model's first ~20 runs). */
  readonly warmup?: number;
  /** Seed of the random input; default 0. */
  readonly seed?: number;
  /** Time each weight layer's kernels in isolation (default true). */
  readonly layers?: boolean;
  /** Runs per engine timed node by node for `profile` (default 5; 0: no profile). */
  readonly profileRuns?: number;
  /** Input dims by name (dynamic axes: a sequence length); others as `batch` says. */
  readonly shapes?: Readonly<Record<string, readonly number[]>>;
  /** Measure the plans (all sculpt, all onnxruntime, hybrid) and name the fastest (default true). */
  readonly plan?: boolean;
}

/** The plans measured against each other (hybrid.ts), medians of alternated rounds. */
export interface BenchPlan {
  readonly chosen: PlanName;
  readonly ms: Partial<Record<PlanName, number>>;
  /** How the hybrid plan cuts the graph, and its outputs against onnxruntime's; or why there is none. */
  readonly hybrid?: ReturnType<HybridRunner['summary']> & { readonly maxRelError: number };
  readonly hybridUnavailable?: string;
}

export interface BenchLayer {
  readonly name: string;
  readonly weight: string;
  /** The kernel's matrix [outputs, inputs per output]. */
  readonly shape: readonly [number, number];
  /** Columns each product multiplies (a Conv's output positions) and products per inference; the times are for all of them. */
  readonly columns: number;
  readonly calls: number;
  readonly density: number;
  readonly kernel: string;
  readonly measuredDenseMs: number;
  readonly measuredSparseMs: number;
  readonly measuredSpeedup: number;
  readonly predictedDenseMs: number;
  readonly predictedSparseMs: number;
  readonly predictedSpeedup: number;
  readonly flopSpeedup: number;
  readonly crossoverDensity: number;
  readonly bound: 'compute' | 'memory';
}

export interface BenchResult {
  readonly model: string;
  /** Rows each weight product multiplies (`rowsPerProduct`): the batch, or every token of a token model. */
  readonly batch: number;
  readonly threads: number;
  readonly runs: number;
  readonly inputs: readonly { readonly name: string; readonly dims: readonly number[] }[];
  /** onnxruntime, median ms per inference. */
  readonly denseMs: number;
  /** sculpt's sparse engine, median ms per inference. */
  readonly sparseMs: number;
  /** denseMs / sparseMs. */
  readonly speedup: number;
  /**
   * The roofline's speed-up of the weight layers: sculpt's dense kernels over the kernels the
   * engine chose (the weight layers only; `profile.model` predicts the whole model).
   */
  readonly predictedSpeedup: number;
  /** max |sculpt − onnxruntime| / max |onnxruntime| over the float outputs. */
  readonly maxRelError: number;
  readonly kernels: readonly string[];
  readonly layers: readonly BenchLayer[];
  /**
   * Where each engine's time goes, per operator type (ms per inference, means over `profileRuns`
   * extra runs; sculpt times every node of the graph as exported, onnxruntime reports its kernels
   * after its graph optimisations — fused ops appear under their fused names). Largest first.
   */
  readonly profile?: { readonly runs: number; readonly sculpt: readonly OpTime[]; readonly onnxruntime: readonly OpTime[]; readonly model: ModelPrediction };
  readonly plan?: BenchPlan;
}

/**
 * The whole model as the roofline sees it, beside what the profiled runs measured: the weight
 * layers (the kernels chosen, at `batch` rows per product), and everything else by class
 * (roofline.ts `predictNode`: attention's activation products, the vector ops, the ops that move
 * data, the shape ops).
 */
export interface ModelPrediction {
  /** Weight-layer nodes that ran. */
  readonly weightNodes: number;
  readonly weightPredictedMs: number;
  readonly weightMeasuredMs: number;
  readonly otherPredictedMs: number;
  readonly otherMeasuredMs: number;
  /** weightPredictedMs + otherPredictedMs: the whole model at the roofline. */
  readonly predictedMs: number;
  /** The ops outside the weight layers by class (every class, largest measured first). */
  readonly classes: readonly { readonly class: NodeClass; readonly nodes: number; readonly predictedMs: number; readonly measuredMs: number }[];
}

export interface OpTime {
  readonly op: string;
  /** Nodes (kernels) of this type that ran. */
  readonly nodes: number;
  readonly ms: number;
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Seeded standard-normal float inputs (integer inputs zero) for the model's inputs at `batch`. */
export function benchInputs(graph: Graph, batch: number | undefined, seed: number, shapes: Readonly<Record<string, readonly number[]>> = {}): Record<string, Tensor> {
  const rng = new Rng(seed);
  const out: Record<string, Tensor> = {};
  const known = new Set(modelInputs(graph).map((i) => i.name));
  for (const name of Object.keys(shapes)) if (!known.has(name)) throw new SculptError(`--shape ${name}=…: the model has no input ${name}; its inputs: ${[...known].join(', ')}`);
  for (const info of modelInputs(graph)) {
    const given = shapes[info.name];
    if (given && (given.length !== info.dims.length || given.some((d, i) => info.dims[i] >= 0 && info.dims[i] !== d))) {
      throw new SculptError(`--shape ${info.name}=${given.join('x')}: the model declares ${info.name} as [${info.dims.map((d) => (d < 0 ? '?' : d)).join(', ')}]`);
    }
    const dims = given ? [...given] : info.dims.map((d, i) => {
      if (i === 0 && batch !== undefined) {
        if (d >= 0 && d !== batch) throw new SculptError(`--batch ${batch}: model input ${info.name} has a fixed first dimension ${d}; omit --batch or give ${d}`);
        return batch;
      }
      return d >= 0 ? d : 1;
    });
    const n = dims.reduce((a, b) => a * b, 1);
    if (info.dtype === 'float32' || info.dtype === 'float16' || info.dtype === 'float64') {
      const data = new Float32Array(n);
      for (let i = 0; i < n; i++) data[i] = rng.normal();
      out[info.name] = { dtype: 'float32', dims, data };
    } else if (info.dtype === 'bool') out[info.name] = { dtype: 'bool', dims, data: new Uint8Array(n) };
    else out[info.name] = { dtype: 'int64', dims, data: new Float64Array(n) };
  }
  return out;
}

function relError(ours: Record<string, Tensor>, ref: Record<string, Tensor>): number {
  let worst = 0;
  for (const [name, r] of Object.entries(ref)) {
    const o = ours[name];
    if (!o || o.data.length !== r.data.length) throw new SculptError(`bench: output ${name} differs in shape between sculpt and onnxruntime`, 1);
    if (r.dtype !== 'float32') continue;
    let d = 0, m = 0;
    for (let i = 0; i < r.data.length; i++) {
      d = Math.max(d, Math.abs(o.data[i] - r.data[i]));
      m = Math.max(m, Math.abs(r.data[i]));
    }
    worst = Math.max(worst, m > 0 ? d / m : d);
  }
  return worst;
}

/** Benchmarks one graph; `ortSource` is the same model for onnxruntime (path or bytes). */
export async function benchGraph(graph: Graph, ortSource: string | Uint8Array, what: string, options: BenchOptions, onnx?: OnnxModel): Promise<BenchResult> {
  const runs = options.runs ?? 20, warmup = options.warmup ?? 20, threads = options.threads ?? 1;
  const inputs = benchInputs(graph, options.batch, options.seed ?? 0, options.shapes);
  const batch = rowsPerProduct(inputs);
  const executor = withFileContext(what, () => new SparseExecutor(graph, { engine: 'auto', machine: options.machine, batchHint: batch, kernels: kernelsFor(threads) }));
  const session = await createOrtSession(ortSource, what, threads);
  await executor.ready();
  try {
    const runSparse = () => withFileContext(what, () => executor.run(inputs));
    // Interleaved, so that noise from other processes hits both engines alike; on several threads
    // with a pause between the engines, so that neither's spinning threads slow the other (settle).
    for (let i = 0; i < warmup; i++) {
      await session.run(inputs);
      await settle(threads);
      runSparse();
      await settle(threads);
    }
    const tDense: number[] = [], tSparse: number[] = [];
    let ref: Record<string, Tensor> = {}, ours: Record<string, Tensor> = {};
    for (let i = 0; i < runs; i++) {
      let t0 = performance.now();
      ref = await session.run(inputs);
      tDense.push(performance.now() - t0);
      await settle(threads);
      t0 = performance.now();
      ours = runSparse();
      tSparse.push(performance.now() - t0);
      await settle(threads);
    }
    const denseMs = median(tDense), sparseMs = median(tSparse);
    let predDense = 0, predChosen = 0;
    for (const l of executor.layers) {
      const p = predictLayer({ rows: l.rows, cols: l.cols, batch: l.columns }, l.nonzeros, options.machine);
      predDense += p.dense.seconds * l.calls;
      // 'rows' (dense over the kept rows) is charged as dense: an upper bound.
      predChosen += (l.kind === 'csr' ? p.sparse.seconds : p.dense.seconds) * l.calls;
    }
    const layers: BenchLayer[] = options.layers === false ? [] : executor.profile(undefined, options.machine, Math.max(5, runs)).map((r) => ({
      name: r.node, weight: r.weight, shape: [r.rows, r.cols], columns: r.batch, calls: r.calls, density: r.density, kernel: r.kind,
      measuredDenseMs: r.measuredDenseMs, measuredSparseMs: r.measuredSparseMs, measuredSpeedup: r.measuredSpeedup,
      predictedDenseMs: r.predictedDenseMs, predictedSparseMs: r.predictedSparseMs, predictedSpeedup: r.predictedSpeedup,
      flopSpeedup: r.flopSpeedup, crossoverDensity: r.crossoverDensity, bound: r.sparseBound,
    }));
    const profileRuns = options.profileRuns ?? 5;
    let profile: BenchResult['profile'];
    if (profileRuns > 0) {
      const sculpt = sculptProfile(executor, inputs, profileRuns, what);
      const weightNodes = new Set(executor.layers.map((l) => l.node));
      let weightMs = 0, otherMs = 0, weightCount = 0;
      const classes = new Map<NodeClass, { nodes: number; predictedMs: number; measuredMs: number }>(
        (['activation product', 'vector op', 'memory op', 'shape op'] as const).map((c) => [c, { nodes: 0, predictedMs: 0, measuredMs: 0 }]));
      for (const e of sculpt.perNode) {
        if (weightNodes.has(e.node.name)) { weightMs += e.ms; weightCount += executor.chainedNodes(e.node).length; continue; }
        otherMs += e.ms;
        const size = sculpt.sizes.get(e.node);
        if (!size) continue;
        const op = executor.runsAs(e.node).replace(/ \(fused\)$/, '');
        const p = predictNode(op, size.inputs, size.outputs, size.bytes, options.machine);
        const c = classes.get(p.class)!;
        c.nodes++;
        c.predictedMs += (p.seconds * 1e3 * size.calls) / profileRuns;
        c.measuredMs += e.ms / profileRuns;
      }
      const [weightMeasuredMs, otherMeasuredMs] = [weightMs / profileRuns, otherMs / profileRuns];
      let otherPredictedMs = 0;
      for (const c of classes.values()) otherPredictedMs += c.predictedMs;
      const model: ModelPrediction = {
        weightNodes: weightCount, weightPredictedMs: predChosen * 1e3, weightMeasuredMs, otherPredictedMs, otherMeasuredMs, predictedMs: predChosen * 1e3 + otherPredictedMs,
        classes: [...classes].map(([c, v]) => ({ class: c, ...v })).sort((a, b) => b.measuredMs - a.measuredMs),
      };
      profile = { runs: profileRuns, sculpt: sculpt.ops, onnxruntime: await ortProfile(ortSource, what, threads, inputs, profileRuns), model };
    }
    const plan = options.plan !== false && onnx ? await measurePlans(onnx, executor, inputs, threads, ref, { sculpt: runSparse, onnxruntime: () => session.run(inputs) }, Math.min(runs, 10)) : undefined;
    return {
      model: what, batch, threads, runs, inputs: Object.entries(inputs).map(([name, t]) => ({ name, dims: t.dims })),
      denseMs, sparseMs, speedup: denseMs / sparseMs, predictedSpeedup: predChosen > 0 ? predDense / predChosen : 1,
      maxRelError: relError(ours, ref), kernels: executor.layers.map((l) => l.kind), layers, ...(profile && { profile }), ...(plan && { plan }),
    };
  } finally {
    await session.release();
  }
}


/** ms per inference per operator type, largest first. */
function byOp(entries: Iterable<{ op: string; node: unknown; ms: number }>, runs: number): OpTime[] {
  const ops = new Map<string, { nodes: Set<unknown>; ms: number }>();
  for (const e of entries) {
    const o = ops.get(e.op) ?? { nodes: new Set<unknown>(), ms: 0 };
    ops.set(e.op, o);
    o.nodes.add(e.node);
    o.ms += e.ms;
  }
  return [...ops].map(([op, o]) => ({ op, nodes: o.nodes.size, ms: o.ms / runs })).sort((a, b) => b.ms - a.ms || (a.op < b.op ? -1 : 1));
}

function sculptProfile(executor: SparseExecutor, inputs: Record<string, Tensor>, runs: number, what: string): { ops: OpTime[]; perNode: { node: GraphNode; ms: number }[]; sizes: Map<GraphNode, NodeSizes> } {
  const timings = new Map<GraphNode, number>();
  const sizes = new Map<GraphNode, NodeSizes>();
  for (let i = 0; i < runs; i++) withFileContext(what, () => executor.run(inputs, { timings, sizes }));
  const perNode = [...timings].map(([node, ms]) => ({ node, ms }));
  return { ops: byOp(perNode.map((e) => ({ op: executor.runsAs(e.node), ...e })), runs), perNode, sizes };
}

/** onnxruntime's own trace of `runs` inferences (a profiling session of its own; the trace file is read and removed). */
async function ortProfile(source: string | Uint8Array, what: string, threads: number, inputs: Record<string, Tensor>, runs: number): Promise<OpTime[]> {
  const dir = mkdtempSync(join(tmpdir(), 'sculpt-ort-profile-'));
  try {
    const session = await createOrtSession(source, what, threads, { profilePrefix: join(dir, 'ort') });
    try {
      for (let i = 0; i < runs + 1; i++) await session.run(inputs);
      session.endProfiling();
    } finally {
      await session.release();
    }
    const file = readdirSync(dir).find((f) => f.endsWith('.json'));
    if (!file) return [];
    const events = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { cat?: string; name?: string; dur?: number; args?: { op_name?: string } }[];
    const kernels = events.filter((e) => e.cat === 'Node' && e.name?.endsWith('_kernel_time') && typeof e.dur === 'number');
    // The first run (allocations, first touches) is left out: as many kernel events as one run has.
    const perRun = Math.round(kernels.length / (runs + 1));
    return byOp(kernels.slice(perRun).map((e) => ({ op: e.args?.op_name ?? '?', node: e.name!, ms: e.dur! / 1000 })), runs);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function benchFile(path: string, options: BenchOptions): Promise<BenchResult> {
  const model = withFileContext(path, () => loadSparseModel(path));
  return benchGraph(model.graph, model.ortSource, path, options, model.onnx);
}

/** The three plans timed against each other; the hybrid one's outputs checked against `ref`. */
async function measurePlans(onnx: OnnxModel, executor: SparseExecutor, inputs: Record<string, Tensor>, threads: number, ref: Record<string, Tensor>, whole: { sculpt: () => unknown; onnxruntime: () => Promise<unknown> }, rounds: number): Promise<BenchPlan> {
  const hybrid = await withFileContext(onnx.path, () => HybridRunner.create(onnx, executor, inputs, threads));
  if (typeof hybrid === 'string') {
    const r = await choosePlan(whole, rounds, threads);
    return { chosen: r.chosen, ms: r.ms, hybridUnavailable: hybrid };
  }
  try {
    const maxRelError = relError(await hybrid.run(inputs), ref);
    const r = await choosePlan({ ...whole, hybrid: () => hybrid.run(inputs) }, rounds, threads);
    return { chosen: r.chosen, ms: r.ms, hybrid: { ...hybrid.summary(), maxRelError } };
  } finally {
    await hybrid.release();
  }
}

export interface SweepPoint {
  readonly sparsity: number;
  readonly denseMs: number;
  readonly sparseMs: number;
  /** Measured: onnxruntime dense over sculpt's engine. */
  readonly speedup: number;
  /** Roofline: sculpt's dense kernels over the chosen kernels, weight layers only. */
  readonly predictedSpeedup: number;
  readonly maxRelError: number;
  readonly kernels: readonly string[];
}

/**
 * The model's prunable weights pruned in memory to each sparsity (each layer on its own,
 * unstructured magnitude) and benchmarked; the file is not touched.
 */
export async function benchSweep(path: string, sparsities: readonly number[], options: BenchOptions, onPoint?: (done: number, total: number) => void): Promise<SweepPoint[]> {
  const model = withFileContext(path, () => loadSparseModel(path));
  const onnx = model.onnx;
  const out: SweepPoint[] = [];
  for (const sparsity of sparsities) {
    const ws = onnx.weights();
    const { masks } = withFileContext(path, () => prune(ws, {
      // A speed sweep: a small tensor emptied at a high sparsity is a point to measure, not an error.
      sparsity, scope: 'layer', pattern: parsePattern('unstructured'), criterion: 'magnitude', exclude: [], overrides: new Map(), seed: 0, allowCollapse: true,
    }));
    applyMasks(ws, masks);
    const weights = new Map<string, WeightInput>();
    for (const name of masks.keys()) {
      const t = ws.get(name);
      if (t && onnx.floatDType(name) === 'F32') weights.set(name, { dims: t.shape, data: t.data });
    }
    if (weights.size === 0) throw new SculptError(`${path}: no prunable float32 weights to sweep for --plot`);
    // The pruned model as plain ONNX bytes, for both engines (pack then unpack restores float32).
    const bytes = unpackSculpt(packSculpt(onnx.bytes, weights).bytes);
    const graph = new OnnxModel(path, bytes).graph();
    const r = await benchGraph(graph, bytes, path, { ...options, layers: false, profileRuns: 0, plan: false });
    out.push({ sparsity, denseMs: r.denseMs, sparseMs: r.sparseMs, speedup: r.speedup, predictedSpeedup: r.predictedSpeedup, maxRelError: r.maxRelError, kernels: r.kernels });
    onPoint?.(out.length, sparsities.length);
  }
  return out;
}
