/**
 * Pruning a language model (an ONNX model that takes `input_ids`) on calibration text.
 *
 * Targets: every MatMul/Gemm weight of the attention and MLP blocks; the output head (the weight
 * whose layer reaches the logits, tied to the embedding in GPT) is left alone unless `--include`d,
 * as the papers do. Criteria:
 * - `sparsegpt`, `wanda` with `--scope layer`: sequential (sparsegpt-sequential.ts): stage by
 *   stage, each stage calibrated on the outputs of the stages already pruned. SparseGPT prunes and
 *   reconstructs each layer (sparsegpt-lazy.ts); Wanda ranks |W|·‖X_j‖ within the layer.
 * - `sparsegpt`, `wanda` with `--scope global`: one ranking over all layers needs every layer's
 *   statistics at once, so they come from the dense model in one pass; SparseGPT then
 *   reconstructs each layer for its mask.
 * - `magnitude`, `random`: no data, unless the allocation is OWL.
 * `--allocation owl` sets each block's sparsity from its outlier ratio (allocation-owl.ts), with
 * the dense model's activation norms, then prunes each layer at its block's sparsity.
 */
import { blockOfName, OWL_DEFAULTS, outlierRatio, owlSparsities, type OwlOptions } from '../core/allocation-owl.js';
import { inverseHessianDiagonal } from '../core/criteria-sparsegpt.js';
import '../core/criteria-data.js';
import { SculptError } from '../core/errors.js';
import type { Graph, GraphTensor } from '../core/graph.js';
import type { MatMul } from '../core/linalg.js';
import { Mask } from '../core/mask.js';
import { resolveTargets, type PruneOptions } from '../core/options.js';
import { prune, type PruneSummary, type StatsTotal, type TensorStats } from '../core/plan.js';
import { sparseGptLazy } from '../core/sparsegpt-lazy.js';
import { numel, WeightSet } from '../core/types.js';
import type { OnnxModel } from '../formats/onnx.js';
import { openModel, type ModelFile } from '../formats/registry.js';
import type { Tensor } from '../sparse/tensor.js';
import type { DataOptions, ExampleSet } from '../formats/datasets/types.js';
import { calibratedWeights, loadCalibrationSet, type CalibratedWeight } from './calibration-onnx.js';
import { reconstructWithMask } from './calibration-sparsegpt.js';
import { withFileContextAsync } from './model-file.js';
import { prunePipeline, type PruneFileHooks, type PruneFileResult } from './prune-file.js';
import { rowsByOutput, runSequential, sequentialStages, statsFor, type StageActivation, type StageHandler, type StageResult } from './sparsegpt-sequential.js';
import { OrtMatMul, runSequentialOrt, type OrtFeeds } from './sequential-ort.js';
import { loadOrt } from './sparse-ort.js';

/** How a language model is calibrated. */
export interface LmCalibration {
  /** `text:FILE` (any dataset of the registry that yields token windows). */
  readonly calibration: string;
  /** Windows of calibration text (SparseGPT: 128). */
  readonly samples: number;
  /** How the text is read: `seqLen` (SparseGPT: 2048 on OPT; default 128), `tokenizer` (default: tokenizer.json beside the model). */
  readonly dataOptions?: DataOptions;
  /** `uniform` (every layer the target sparsity) or `owl`. */
  readonly allocation?: 'uniform' | 'owl';
  readonly owl?: OwlOptions;
  /** SparseGPT's columns per block (128) and dampening (0.01). */
  readonly blockSize?: number;
  readonly dampening?: number;
  /** Windows per run (memory against speed). Default 8. */
  readonly batch?: number;
  /** What runs the stages: onnxruntime (default) or sculpt's executor. */
  readonly engine?: 'onnxruntime' | 'sparse';
  /** Progress after each stage. */
  readonly onStage?: (done: number, total: number) => void;
}

export interface LmPruneResult extends PruneFileResult {
  readonly calibration: { readonly samples: number; readonly seqLen: number; readonly tokens: number; readonly notes: string[] };
  readonly reconstructed: boolean;
  /** Sequential (stage by stage) or from the dense model in one pass. */
  readonly sequential: boolean;
  readonly stages: number;
  /** Weights left alone because they are the output head. */
  readonly head: readonly string[];
  /** OWL: sparsity per block. */
  readonly allocation?: Readonly<Record<string, number>>;
}

/** Graph inputs of the windows for onnxruntime, batch by batch. */
export async function onnxruntimeFeeds(model: OnnxModel, w: ExampleSet, batch: number): Promise<OrtFeeds> {
  const ort = await loadOrt();
  return executorFeeds(model, w, batch).map((f) => Object.fromEntries(Object.entries(f).map(([name, t]) => {
    const info = model.decoded.inputs.find((i) => i.name === name)!;
    const data = t.data as Float64Array;
    return [name, info.dtype === 'int32' ? new ort.Tensor('int32', Int32Array.from(data), [...t.dims]) : new ort.Tensor('int64', BigInt64Array.from(data, (v) => BigInt(v)), [...t.dims])];
  })));
}

/** The main graph's nodes and inputs, with initializers by name only (no values). */
function namesOnlyGraph(model: OnnxModel): Graph {
  const empty: GraphTensor = { name: '', dtype: 'float32', dims: [0], data: new Float32Array(0) };
  const d = model.decoded;
  return { nodes: d.nodes, initializers: new Map(d.graph.initializers.map((t) => [t.name, empty])), inputs: d.inputs, outputs: d.outputs, opsetVersion: d.opsetVersion };
}

/** Whether a calibrated prune's result is a language model's. */
export function isLmPruneResult(r: object): r is LmPruneResult {
  return 'sequential' in r && 'stages' in r;
}

/** Graph inputs of `n` windows for sculpt's executor (int64 held as float64). */
export function executorFeeds(model: OnnxModel, w: ExampleSet, batch: number): Record<string, Tensor>[] {
  const out: Record<string, Tensor>[] = [];
  const L = w.sampleShape[0];
  const ids = w.inputs;
  if (!w.text || !(ids instanceof Int32Array)) throw new SculptError(`--calibration ${w.source}: a language model calibrates on text windows (text:FILE), not ${w.kind} data`);
  for (let s = 0; s < w.count; s += batch) {
    const n = Math.min(batch, w.count - s);
    const feeds: Record<string, Tensor> = {};
    for (const i of model.decoded.inputs) {
      const data = new Float64Array(n * L);
      if (i.name === 'input_ids') for (let k = 0; k < data.length; k++) data[k] = ids[s * L + k];
      else if (i.name === 'attention_mask') data.fill(1);
      else if (i.name === 'position_ids') for (let k = 0; k < data.length; k++) data[k] = k % L;
      else throw new SculptError(`${model.path}: input '${i.name}' is not one a language model is fed (input_ids, attention_mask, position_ids)`);
      feeds[i.name] = { dtype: 'int64', dims: [n, L], data };
    }
    out.push(feeds);
  }
  return out;
}

/** Opens `input` (an ONNX language model) and prunes it into `output` on calibration text. */
export async function pruneLanguageModelFile(input: string, output: string, opts: PruneOptions, cal: LmCalibration, hooks: PruneFileHooks = {}): Promise<LmPruneResult> {
  const file = openModel(input);
  try {
    file.checkOutput(output);
    if (!file.onnx) throw new SculptError(`${input}: language-model pruning on text needs an ONNX model`);
    return await withFileContextAsync(input, () => pruneLanguageModel(file, output, opts, cal, hooks));
  } finally {
    file.close();
  }
}

/** Prunes the language model `file` into `output` on calibration text. */
export async function pruneLanguageModel(file: ModelFile, output: string, given: PruneOptions, cal: LmCalibration, hooks: PruneFileHooks = {}): Promise<LmPruneResult> {
  const model = file.onnx!;
  const c = given.criterion;
  const owl = cal.allocation === 'owl';
  const included = new Set(given.include ?? []);
  const head = (file.outputWeights ?? []).filter((n) => !included.has(n) && !given.exclude.includes(n));
  const opts: PruneOptions = { ...given, exclude: [...given.exclude, ...head] };
  const data = c === 'wanda' || c === 'sparsegpt';
  if (!data && !owl) return { ...prunePipeline(file, output, opts, hooks), calibration: { samples: 0, seqLen: 0, tokens: 0, notes: [] }, reconstructed: false, sequential: false, stages: 0, head };
  if (owl && opts.scope === 'global') throw new SculptError('--allocation owl sets a sparsity per block, so it needs --scope layer');
  if (owl && opts.pattern.kind !== 'unstructured') throw new SculptError(`--allocation owl is for unstructured sparsity; ${opts.pattern.kind === 'nm' ? 'N:M fixes every layer at 1 − N/M' : 'use --pattern unstructured'}`);
  const windows = loadCalibrationSet({ calibration: cal.calibration, samples: cal.samples, dataOptions: cal.dataOptions }, model);
  const weights = calibratedWeights(model, opts, c);
  // onnxruntime reads the weights from the file: the plan needs only names (no decoded copy of every initializer).
  const graph = cal.engine === 'sparse' ? model.graph() : namesOnlyGraph(model);
  const stages = sequentialStages(graph, weights);
  const batch = cal.batch ?? 8;
  const ortFeeds = cal.engine === 'sparse' ? undefined : await onnxruntimeFeeds(model, windows, batch);
  const feeds = cal.engine === 'sparse' ? executorFeeds(model, windows, batch) : [];
  const run = (handle: StageHandler, gram: boolean, onStage?: (d: number, t: number) => void) => (ortFeeds
    ? runSequentialOrt(model, graph, stages, ortFeeds, handle, { gram, onStage })
    : runSequential(graph, stages, feeds, handle, { gram, onStage }));
  const entries = new Map(resolveTargets(model.tensors, opts).map((e) => [e.tensor.name, e]));
  const sparsity = new Map<string, number>([...entries].map(([n, e]) => [n, e.sparsity]));
  let allocation: Record<string, number> | undefined;
  const calInfo = { samples: windows.count, seqLen: windows.sampleShape[0], tokens: windows.text?.tokens ?? 0, notes: [...windows.notes] };
  const sequential = data && opts.scope === 'layer';
  // Dense statistics: for OWL, and for global scope (one ranking over every layer).
  let dense: Map<string, StageActivation> | undefined;
  if (owl || !sequential) {
    dense = new Map();
    const d = dense;
    await run((_s, acts) => { for (const [k, v] of acts) d.set(k, v); return Promise.resolve(new Map()); }, !sequential && c === 'sparsegpt');
  }
  if (owl) {
    allocation = owlAllocation(model, weights, dense!, opts.sparsity, cal.owl ?? {});
    for (const w of weights) {
      const e = entries.get(w.tensor.name)!;
      if (!e.overridden) sparsity.set(w.tensor.name, allocation[blockOfName(w.tensor.name)]);
    }
  }
  const perTensor = new Map([...sparsity].filter(([n]) => entries.get(n) !== undefined));
  if (!data) {
    // magnitude/random at OWL's per-block sparsities.
    const o: PruneOptions = { ...opts, scope: 'layer', overrides: new Map([...opts.overrides, ...perTensor]) };
    return { ...prunePipeline(file, output, o, hooks), calibration: calInfo, reconstructed: false, sequential: false, stages: stages.length, head, allocation };
  }
  const masks = new Map<string, Mask>();
  const updates = new Map<string, Float32Array>();
  // Zeros of each pruned tensor before pruning (its values may be replaced in the model's bytes).
  const zerosBefore = new Map<string, number>();
  if (sequential) {
    // SparseGPT's dense products on onnxruntime's GEMM when calibration runs there, else in JavaScript.
    const gemm = ortFeeds && c === 'sparsegpt' ? await OrtMatMul.create() : undefined;
    try {
      const results = await run(async (stage, acts) => {
        const out = new Map<string, StageResult>();
        for (const w of stage.weights) {
          const name = w.tensor.name;
          const dense = model.read(name);
          zerosBefore.set(name, zeroCount(dense));
          const r = await pruneOne(w, dense, statsFor(w, acts), sparsity.get(name)!, opts, cal, gemm?.matmul);
          // On onnxruntime the pruned values go back into the model's in-memory bytes, which later
          // stages and the write read: no second copy of every pruned weight until the end.
          out.set(name, ortFeeds && model.replaceValues(name, r.values) ? { mask: r.mask } : r);
        }
        return out;
      }, c === 'sparsegpt', cal.onStage);
      for (const [name, r] of results) {
        masks.set(name, r.mask);
        if (r.values) updates.set(name, r.values);
      }
    } finally {
      await gemm?.release();
    }
  } else {
    const inputNorms = new Map<string, Float32Array>();
    const inverseHessianDiag = new Map<string, Float32Array>();
    const stats = new Map(weights.map((w) => [w.tensor.name, statsFor(w, dense!)]));
    for (const w of weights) {
      const a = stats.get(w.tensor.name)!;
      if (c === 'wanda') inputNorms.set(w.tensor.name, Float32Array.from(a.sumSquares, Math.sqrt));
      else inverseHessianDiag.set(w.tensor.name, inverseHessianDiagonal(a.gram!, a.features, cal.dampening ?? 0.01));
    }
    const ws = new WeightSet(weights.map((w) => ({ ...w.tensor, data: model.read(w.tensor.name) })));
    const r = prune(ws, { ...opts, exclude: [], include: [], overrides: new Map(), calibration: { inputNorms, inverseHessianDiag } });
    for (const w of weights) {
      const mask = r.masks.get(w.tensor.name);
      if (!mask) continue;
      masks.set(w.tensor.name, mask);
      if (c === 'sparsegpt') {
        const rb = rowsByOutput(w.tensor, ws.get(w.tensor.name)!.data);
        const mt = w.tensor.outputAxis === 0 ? mask : transposedMask(mask, w.tensor.shape[0], w.tensor.shape[1]);
        updates.set(w.tensor.name, rb.back(reconstructWithMask(rb.data, rb.rows, rb.cols, stats.get(w.tensor.name)!.gram!, mt, `'${w.tensor.name}'`, cal.dampening ?? 0.01)));
      }
    }
  }
  const summary = summarize(model, masks, zerosBefore);
  // Tensors whose final values are in the model's bytes already (pruned entries exact zeros) are
  // written as they are; the masks of the others go to the write.
  const toApply = new Map([...masks].filter(([name]) => !(zerosBefore.has(name) && !updates.has(name) && sequential && ortFeeds)));
  const pruned = prunePipeline(file, output, opts, hooks, { masks: toApply, summary, updates });
  return { ...pruned, calibration: calInfo, reconstructed: c === 'sparsegpt', sequential, stages: stages.length, head, allocation };
}

/** One layer of a stage (its dense `values`): SparseGPT's prune-and-reconstruct or Wanda's ranking, at sparsity `s`. */
async function pruneOne(w: CalibratedWeight, values: Float32Array, a: StageActivation, s: number, opts: PruneOptions, cal: LmCalibration, matmul?: MatMul): Promise<{ values: Float32Array; mask: Mask }> {
  const t = w.tensor;
  if (a.features !== (t.outputAxis === 0 ? t.shape[1] : t.shape[0])) {
    throw new SculptError(`tensor '${t.name}': its input axis does not match activation width ${a.features}; add --exclude '${t.name}'`);
  }
  if (opts.criterion === 'sparsegpt') {
    const rb = rowsByOutput(t, values);
    const nm = opts.pattern.kind === 'nm' ? { n: opts.pattern.n, m: opts.pattern.m } : undefined;
    const r = await sparseGptLazy(rb.data, rb.rows, rb.cols, a.gram!, { sparsity: s, nm, blockSize: cal.blockSize ?? 128, dampening: cal.dampening ?? 0.01, what: `'${t.name}'`, matmul });
    const mask = t.outputAxis === 0 ? r.mask : transposedMask(r.mask, rb.rows, rb.cols);
    return { values: rb.back(r.weights), mask };
  }
  const ws = new WeightSet([{ ...t, data: values }]);
  const inputNorms = new Map([[t.name, Float32Array.from(a.sumSquares, Math.sqrt)]]);
  const r = prune(ws, { ...opts, sparsity: s, scope: 'layer', exclude: [], include: [], overrides: new Map(), calibration: { inputNorms } });
  const mask = r.masks.get(t.name)!;
  const out = Float32Array.from(values);
  mask.applyTo(out);
  return { values: out, mask };
}

/** A rows×cols mask as the cols×rows mask of the transposed matrix. */
function transposedMask(m: Mask, rows: number, cols: number): Mask {
  const out = Mask.empty(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) if (m.get(r * cols + c)) out.set(c * rows + r, true);
  return out;
}

/** OWL's sparsity per block from the dense model's Wanda scores. */
function owlAllocation(model: OnnxModel, weights: readonly CalibratedWeight[], acts: ReadonlyMap<string, StageActivation>, target: number, o: OwlOptions): Record<string, number> {
  const blocks = new Map<string, CalibratedWeight[]>();
  for (const w of weights) {
    const b = blockOfName(w.tensor.name);
    blocks.set(b, [...(blocks.get(b) ?? []), w]);
  }
  const names = [...blocks.keys()];
  const ratios: number[] = [];
  const sizes: number[] = [];
  for (const b of names) {
    const ws = blocks.get(b)!;
    const n = ws.reduce((a, w) => a + numel(w.tensor.shape), 0);
    const scores = new Float32Array(n);
    let at = 0;
    for (const w of ws) {
      const norms = Float32Array.from(statsFor(w, acts).sumSquares, Math.sqrt);
      const v = model.read(w.tensor.name);
      const [a, bb] = w.tensor.shape;
      for (let i = 0; i < v.length; i++) scores[at + i] = Math.abs(v[i]) * norms[w.tensor.outputAxis === 0 ? i % bb : Math.floor(i / bb)];
      at += a * bb;
    }
    ratios.push(outlierRatio(scores, o.m ?? OWL_DEFAULTS.m));
    sizes.push(n);
  }
  const s = owlSparsities(ratios, sizes, target, o.lambda ?? OWL_DEFAULTS.lambda);
  return Object.fromEntries(names.map((b, i) => [b, s[i]]));
}

function zeroCount(v: Float32Array): number {
  let z = 0;
  for (let i = 0; i < v.length; i++) if (v[i] === 0) z++;
  return z;
}

/** Stats of every tensor for the masks chosen here; zeros before from `zerosBefore` where the model's values were replaced, else read from the file. */
function summarize(model: OnnxModel, masks: ReadonlyMap<string, Mask>, zerosBefore: ReadonlyMap<string, number>): PruneSummary {
  const stats: TensorStats[] = [];
  for (const t of model.tensors) {
    const v = model.read(t.name);
    const zb = zerosBefore.get(t.name) ?? zeroCount(v);
    const m = masks.get(t.name);
    let za = zb;
    if (m) {
      za = 0;
      for (let i = 0; i < v.length; i++) if (!m.get(i) || v[i] === 0) za++;
    }
    const count = v.length;
    stats.push({ name: t.name, shape: t.shape, count, pruned: m !== undefined, zerosBefore: zb, zerosAfter: za, densityBefore: count ? 1 - zb / count : 1, densityAfter: count ? 1 - za / count : 1 });
  }
  const total = (list: TensorStats[]): StatsTotal => {
    const count = list.reduce((a, s) => a + s.count, 0);
    const zb = list.reduce((a, s) => a + s.zerosBefore, 0);
    const za = list.reduce((a, s) => a + s.zerosAfter, 0);
    return { count, zerosBefore: zb, zerosAfter: za, densityBefore: count ? 1 - zb / count : 1, densityAfter: count ? 1 - za / count : 1 };
  };
  return { stats, total: total(stats), targetTotal: total(stats.filter((s) => s.pruned)) };
}

