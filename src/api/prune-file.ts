/**
 * File-level pruning, one pipeline for every format and criterion: open the model through the
 * format registry, refuse what cannot be pruned, plan (streaming: safetensors checkpoints larger
 * than memory are fine), and write the pruned copy in the same format. The data criteria
 * (calibration-prune.ts) add their scores and SparseGPT's reconstruction to the same pipeline.
 */
import { SculptError } from '../core/errors.js';
import type { Mask } from '../core/mask.js';
import { resolveTargets, validatePruneOptions, type PruneOptions } from '../core/options.js';
import { planStreaming, type PruneSummary, type StreamingPlan, type TensorStats } from '../core/plan.js';
import { assertFinite } from '../formats/index.js';
import { openModel, type CompanionEdit, type ModelFile, type ModelFormat } from '../formats/registry.js';
import { withFileContext } from './model-file.js';

export interface PruneFileResult extends PruneSummary {
  readonly input: string;
  readonly output: string;
  readonly format: ModelFormat;
  /** Quantized weights written back with rounding: the largest error per tensor (absent when none). */
  readonly quantizationError?: Readonly<Record<string, number>>;
  /** Channel pruning: biases and norm parameters zeroed with the channels their weights lost. */
  readonly companions?: readonly CompanionEdit[];
}

export interface PruneFileHooks {
  /** Called as tensors are written: (tensors done, tensors in all). */
  onProgress?: (done: number, total: number) => void;
  /**
   * safetensors only: keep the data section in memory between the selection passes when it is at
   * most this many bytes. Default 0: every pass re-reads the file, which the page cache makes
   * cheaper than filling a fresh buffer (measured: 1.9 s vs 2.5 s CPU, 96 MB vs 647 MB peak RSS
   * on the 566 MB bench:select checkpoint).
   */
  cacheBytes?: number;
}

/** What a criterion that needs data hands to the pipeline. */
export interface PipelineExtras {
  /** Masks already chosen (in memory, with calibration scores): written as they are. */
  readonly masks?: ReadonlyMap<string, Mask>;
  readonly summary?: PruneSummary;
  /** New values for kept weights (SparseGPT's reconstruction). */
  readonly updates?: ReadonlyMap<string, Float32Array>;
}

/** Prunes `input` into `output` (same format); never touches the input. */
export function pruneFile(input: string, output: string, opts: PruneOptions, hooks: PruneFileHooks = {}): PruneFileResult {
  validatePruneOptions(opts);
  const model = openModel(input, { cacheBytes: hooks.cacheBytes ?? 0 });
  try {
    model.checkOutput(output);
    return withFileContext(input, () => prunePipeline(model, output, opts, hooks));
  } finally {
    model.close();
  }
}

/** Checks, plans and writes: the part every prune shares once the model is open and the output checked. */
export function prunePipeline(model: ModelFile, output: string, given: PruneOptions, hooks: PruneFileHooks, extras: PipelineExtras = {}): PruneFileResult {
  // The graph knows the output layers better than "the last prunable tensor".
  const opts = given.outputWeights === undefined && model.outputWeights?.length ? { ...given, outputWeights: [...model.outputWeights] } : given;
  let summary: () => PruneSummary;
  let maskFor: (name: string, values: Float32Array) => Mask | undefined;
  if (extras.masks) {
    assertFinite(model, model.path);
    refuseUnscaledGlobal(model, opts);
    const masks = extras.masks;
    maskFor = (name) => masks.get(name);
    summary = () => extras.summary!;
  } else {
    const plan = planCheckingFinite(model, opts);
    maskFor = (name, values) => plan.maskFor(name, values);
    summary = () => plan.stats();
  }
  const removeChannels = opts.pattern.kind === 'channel';
  const report = model.write(output, { maskFor, updates: extras.updates, onProgress: hooks.onProgress, removeChannels });
  const s = summary();
  const quantizationError = report.quantizationError.size ? Object.fromEntries(report.quantizationError) : undefined;
  return { input: model.path, output, format: model.format, stats: s.stats, total: s.total, targetTotal: s.targetTotal, ...(quantizationError && { quantizationError }), ...(report.companions?.length && { companions: report.companions }) };
}

/**
 * Plans with the NaN/Inf check of every prunable tensor folded into the plan's own passes: a
 * global unstructured selection reads each of its tensors and refuses a non-finite value (its
 * histogram has bins for them; other criteria check their scores), so only the tensors outside it
 * get a pass of their own (on a checkpoint pruned globally: none, one read of the file saved).
 * Any failure on the way first runs the full check, so a NaN or infinity is reported as before —
 * the first in file order, by `assertFinite` — whichever check met it, and before other refusals.
 */
function planCheckingFinite(model: ModelFile, opts: PruneOptions): StreamingPlan {
  try {
    refuseUnscaledGlobal(model, opts);
    const plan = planStreaming(model, opts);
    const seen = opts.pattern.kind === 'unstructured'
      ? new Set(resolveTargets(model.tensors, opts).filter((e) => e.scope === 'global').map((e) => e.tensor.name))
      : new Set<string>();
    if (seen.size < model.tensors.length) assertFinite({ tensors: model.tensors.filter((t) => !seen.has(t.name)), read: (name) => model.read(name) }, model.path);
    return plan;
  } catch (e) {
    assertFinite(model, model.path);
    throw e;
  }
}

/**
 * MatMulInteger/ConvInteger weights carry no scale of their own, so their values cannot be ranked
 * against other tensors': global selection over them would be arbitrary.
 */
function refuseUnscaledGlobal(model: ModelFile, opts: PruneOptions): void {
  const onnx = model.onnx;
  if (!onnx || opts.scope !== 'global') return;
  const global = resolveTargets(model.tensors, opts).filter((e) => e.scope === 'global').map((e) => e.tensor.name);
  const unscaled = global.filter((n) => onnx.quantized.get(n)?.unscaled);
  if (unscaled.length > 0 && global.length > 1) {
    throw new SculptError(
      `tensor ${unscaled[0]} is a ${onnx.quantized.get(unscaled[0])!.via} weight, whose scale is applied after the op, so its values cannot be ranked against other tensors; use --scope layer, or exclude it with --exclude ${unscaled[0]}`,
    );
  }
}

export type { TensorStats };
