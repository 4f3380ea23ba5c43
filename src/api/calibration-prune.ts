/**
 * `pruneFile` for the criteria that need data. ONNX: calibration activations from onnxruntime
 * (see calibration-onnx.ts) feed `wanda` (input-feature norms) and `sparsegpt` (mask by the OBS
 * saliency w²/[H⁻¹]_jj, then SparseGPT's reconstruction of the kept weights). `taylor` and `obd`
 * need gradients, which inference does not give; safetensors has no graph to run: both are errors.
 */
import { getCriterion } from '../core/criteria.js';
import { inverseHessianDiagonal } from '../core/criteria-sparsegpt.js';
import '../core/criteria-data.js';
import { SculptError } from '../core/errors.js';
import { validatePruneOptions, type PruneOptions } from '../core/options.js';
import { prune } from '../core/plan.js';
import type { WeightTensor } from '../core/types.js';
import { assertFinite } from '../formats/index.js';
import { detectFormat, openModel, type ModelFormat } from '../formats/registry.js';
import { calibratedWeights, collectActivationsFromSet, weightActivations, loadCalibrationSet, type CalibrationSource, type LayerActivations } from './calibration-onnx.js';
import { isLanguageModel } from './calibration-lm.js';
import type { OnnxModel } from '../formats/onnx.js';
import { reconstructWithMask } from './calibration-sparsegpt.js';
import { pruneLanguageModel, type LmCalibration, type LmPruneResult } from './prune-lm.js';
import { withFileContextAsync } from './model-file.js';
import { prunePipeline, type PruneFileHooks, type PruneFileResult } from './prune-file.js';

/** Criteria this flow computes calibration for. */
export const ONNX_DATA_CRITERIA = ['wanda', 'sparsegpt'] as const;

export interface CalibratedPruneResult extends PruneFileResult {
  /** Calibration examples used (text: windows) and where they came from. */
  readonly calibration: { readonly samples: number; readonly notes: string[] };
  /** Whether kept weights were changed (sparsegpt's reconstruction). */
  readonly reconstructed: boolean;
}

/** Whether `criterion` is a registered criterion that needs data (registers the data criteria). */
export function needsData(criterion: string): boolean {
  return getCriterion(criterion).needsData === true;
}

/** Fails with one line when `opts.criterion` cannot be calibrated for the model at `input` (no weights read). */
export function checkDataCriterion(input: string, opts: PruneOptions): void {
  checkCriterionFor(detectFormat(input).id, input, opts);
}

function checkCriterionFor(format: ModelFormat, input: string, opts: PruneOptions): void {
  const c = opts.criterion;
  if (format === 'safetensors') {
    throw new SculptError(`${input}: --criterion ${c} needs activations, and a safetensors file has no graph to run; export the model to ONNX or use --criterion magnitude`);
  }
  if (format !== 'onnx') {
    throw new SculptError(`${input}: --criterion ${c} on a ${format} model: use sculpt imp/gmp --criterion ${c} (TF.js Dense nets), or prune an ONNX export here`);
  }
  if (!(ONNX_DATA_CRITERIA as readonly string[]).includes(c)) {
    throw new SculptError(`${input}: --criterion ${c} needs gradients, which onnxruntime inference does not give: use sculpt imp/gmp --criterion on a TF.js model, or wanda/sparsegpt here`);
  }
  // N:M ranks each group of M inputs by the criterion's scores: Wanda's and SparseGPT's 2:4 recipes.
  if (opts.pattern.kind === 'channel') {
    throw new SculptError(`--criterion ${c} on ONNX supports --pattern unstructured or N:M; use --criterion magnitude for channel pruning`);
  }
}

/**
 * Prunes `input` into `output` with a data criterion, calibrating on `source`. A language model
 * (input_ids → logits) calibrates on `text:FILE` windows instead (prune-lm.ts; `lm` sets the
 * window length, tokenizer and allocation).
 */
export async function pruneFileWithCalibration(
  input: string,
  output: string,
  opts: PruneOptions,
  source: CalibrationSource,
  hooks: PruneFileHooks = {},
  lm: Omit<LmCalibration, 'calibration' | 'samples' | 'dataOptions'> = {},
): Promise<CalibratedPruneResult | LmPruneResult> {
  validatePruneOptions(opts);
  const file = openModel(input);
  file.checkOutput(output);
  const c = opts.criterion;
  checkCriterionFor(file.format, input, opts);
  const model = file.onnx!;
  if (isLanguageModel(model)) {
    return withFileContextAsync(input, () => pruneLanguageModel(file, output, opts, { ...lm, calibration: source.calibration, samples: source.samples, dataOptions: source.dataOptions }, hooks));
  }
  return withFileContextAsync(input, async () => {
    const weights = calibratedWeights(model, opts, c, { conv: true });
    const set = loadCalibrationSet(source, model);
    const convs = weights.filter((w) => w.conv);
    const acts = await collectActivationsFromSet(model, weights.filter((w) => !w.conv).flatMap((w) => w.activations), set, c === 'sparsegpt', convs);
    const inputNorms = new Map<string, Float32Array>();
    const inverseHessianDiag = new Map<string, Float32Array>();
    const perWeight = new Map(weights.map((w) => [w.tensor.name, weightActivations(w, acts)]));
    for (const w of weights) {
      const a = perWeight.get(w.tensor.name)!;
      if (c === 'wanda') inputNorms.set(w.tensor.name, perElement(w.tensor, a, Float32Array.from(a.sumSquares, Math.sqrt)));
      else inverseHessianDiag.set(w.tensor.name, perElement(w.tensor, a, groupBlocks(a, (g, k) => inverseHessianDiagonal(g, k))));
    }
    const ws = model.weights();
    assertFinite(ws, input);
    const result = prune(ws, { ...opts, calibration: { inputNorms, inverseHessianDiag } });
    const updates = new Map<string, Float32Array>();
    if (c === 'sparsegpt') {
      for (const w of weights) {
        const mask = result.masks.get(w.tensor.name);
        if (mask === undefined) continue;
        const a = perWeight.get(w.tensor.name)!;
        updates.set(w.tensor.name, a.groups === undefined
          ? reconstructed(w.tensor, ws.get(w.tensor.name)!.data, a.gram!, mask)
          : reconstructedConv(w.tensor, ws.get(w.tensor.name)!.data, a, mask));
      }
    }
    const pruned = prunePipeline(file, output, opts, hooks, { masks: result.masks, summary: result, updates });
    return { ...pruned, calibration: { samples: set.count, notes: [...set.notes] }, reconstructed: c === 'sparsegpt' };
  });
}

/**
 * Wanda's statistics of every prunable weight of `model` on `source`: ‖x‖₂ over the calibration
 * examples of each input feature it multiplies (of each element, for Conv weights seen through
 * im2col). Used by structured shrinking's `--criterion wanda`.
 */
export async function calibrationInputNorms(model: OnnxModel, opts: PruneOptions, source: CalibrationSource): Promise<{ norms: Map<string, Float32Array>; samples: number; notes: readonly string[] }> {
  const weights = calibratedWeights(model, opts, 'wanda', { conv: true });
  const set = loadCalibrationSet(source, model);
  const acts = await collectActivationsFromSet(model, weights.filter((w) => !w.conv).flatMap((w) => w.activations), set, false, weights.filter((w) => w.conv));
  const norms = new Map<string, Float32Array>();
  for (const w of weights) {
    const a = weightActivations(w, acts);
    norms.set(w.tensor.name, perElement(w.tensor, a, Float32Array.from(a.sumSquares, Math.sqrt)));
  }
  return { norms, samples: set.count, notes: set.notes };
}

/** `f(gram, K)` (K values) of every group's K×K block of `a`, concatenated. */
function groupBlocks(a: LayerActivations, f: (gram: Float64Array, k: number) => Float32Array): Float32Array {
  const k = a.features;
  const groups = a.groups ?? 1;
  const out = new Float32Array(groups * k);
  for (let g = 0; g < groups; g++) out.set(f(a.gram!.subarray(g * k * k, (g + 1) * k * k), k), g * k);
  return out;
}

/** A Conv weight's per-group feature values [groups·K] spread over its elements [M, K]; other weights keep one value per input feature. */
function perElement(t: WeightTensor, a: LayerActivations, perFeature: Float32Array): Float32Array {
  if (a.groups === undefined) return perFeature;
  const k = a.features;
  const m = t.shape[0];
  const perGroup = m / a.groups;
  const out = new Float32Array(m * k);
  for (let o = 0; o < m; o++) out.set(perFeature.subarray(Math.floor(o / perGroup) * k, (Math.floor(o / perGroup) + 1) * k), o * k);
  return out;
}

/** SparseGPT reconstruction of a Conv weight [M, K]: each group's M/groups rows on its own XᵀX. */
function reconstructedConv(t: WeightTensor, values: Float32Array, a: LayerActivations, mask: { get(i: number): boolean }): Float32Array {
  const k = a.features;
  const groups = a.groups!;
  const rows = t.shape[0] / groups;
  const out = new Float32Array(values.length);
  for (let g = 0; g < groups; g++) {
    const at = g * rows * k;
    const sub = { get: (i: number) => mask.get(at + i) };
    out.set(reconstructWithMask(values.subarray(at, at + rows * k), rows, k, a.gram!.subarray(g * k * k, (g + 1) * k * k), sub, `'${t.name}' (group ${g})`), at);
  }
  return out;
}

/** SparseGPT reconstruction in rows = outputs layout: Gemm transB=1 [N,K] as is, MatMul/Gemm [K,N] transposed. */
function reconstructed(t: WeightTensor, values: Float32Array, gram: Float64Array, mask: { get(i: number): boolean }): Float32Array {
  const [a, b] = t.shape;
  if (t.outputAxis === 0) return reconstructWithMask(values, a, b, gram, mask, `'${t.name}'`);
  // [K, N]: transpose to [N, K], reconstruct, transpose back.
  const k = a;
  const n = b;
  const wt = new Float32Array(n * k);
  for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) wt[j * k + i] = values[i * n + j];
  const mt = { get: (idx: number) => mask.get((idx % k) * n + Math.floor(idx / k)) };
  const rt = reconstructWithMask(wt, n, k, gram, mt, `'${t.name}'`);
  const out = new Float32Array(k * n);
  for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) out[i * n + j] = rt[j * k + i];
  return out;
}
