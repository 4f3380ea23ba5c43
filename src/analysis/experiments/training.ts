/**
 * What the trained experiments share: sizes for --quick and full runs, training a LeNet-300-100,
 * one-shot masks from the core's plan, predictions, and per-class accuracy. Training itself is
 * src/train's loop; nothing here imports Node.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { Mask } from '../../core/mask.js';
import { parsePattern } from '../../core/patterns.js';
import { prune } from '../../core/plan.js';
import type { PruneOptions } from '../../core/options.js';
import type { Dataset, Split } from '../../train/data.js';
import { DEFAULT_TRAIN_CONFIG, evaluate, trainModel, type TrainConfig, type TrainHooks } from '../../train/loop.js';
import { MaskState } from '../../train/masking.js';
import { restoreWeights, snapshotWeights, toWeightSet, type WeightSnapshot } from '../../train/weights.js';
import type { ExperimentContext } from './types.js';

export const MODEL = 'lenet-300-100';

export interface Sizes {
  readonly trainLimit: number;
  readonly testLimit: number;
  readonly epochs: number;
}

/** --quick: 4 000 training and 2 000 test examples, 1 epoch; full: all 60 000 / 10 000, `epochs`. */
export function sizes(ctx: ExperimentContext, fullEpochs = 4): Sizes {
  return ctx.quick ? { trainLimit: 4000, testLimit: 2000, epochs: 1 } : { trainLimit: 60000, testLimit: 10000, epochs: fullEpochs };
}

export function trainConfig(epochs: number, seed: number, extra: Partial<TrainConfig> = {}): TrainConfig {
  return { ...DEFAULT_TRAIN_CONFIG, epochs, seed, ...extra };
}

/** Trains a fresh seeded LeNet-300-100 on `data.train`; returns it with its train/test accuracy. */
export async function trainDense(ctx: ExperimentContext, data: Dataset, epochs: number, extra: Partial<TrainConfig> = {}, label = 'dense', hooks: TrainHooks = {}): Promise<{ model: tfl.LayersModel; trainAccuracy: number; testAccuracy: number; seconds: number }> {
  const model = await ctx.buildModel(MODEL, data, ctx.seed);
  const r = trainModel(model, data.train, trainConfig(epochs, ctx.seed, extra), undefined, hooks);
  const testAccuracy = evaluate(model, data.test);
  ctx.log(`${label}: trained ${epochs} epoch(s) in ${r.trainSeconds.toFixed(1)} s, test accuracy ${testAccuracy.toFixed(4)}`);
  return { model, trainAccuracy: r.trainAccuracy, testAccuracy, seconds: r.trainSeconds };
}

/**
 * Options of a one-shot magnitude-style pruning step over the prunable kernels. Experiments
 * measure what pruning does, an emptied layer included, so a layer collapse is allowed.
 */
export function pruneOptions(sparsity: number, scope: 'global' | 'layer', criterion = 'magnitude', seed = 0, extra: Partial<PruneOptions> = {}): PruneOptions {
  return { sparsity, scope, pattern: parsePattern('unstructured'), criterion, exclude: [], overrides: new Map(), seed, allowCollapse: true, ...extra };
}

/** Masks of `model`'s current weights. */
export function masksOf(model: tfl.LayersModel, opts: PruneOptions, existing?: Map<string, Mask>): Map<string, Mask> {
  return prune(toWeightSet(model), opts, existing).masks;
}

/** Zeros the pruned weights of `model` in place. */
export function applyMasksToModel(model: tfl.LayersModel, masks: Map<string, Mask>): void {
  const s = new MaskState(model, masks);
  s.applyToWeights();
  s.dispose();
}

/** Trains with the masks held fixed (pruned weights stay zero). */
export function fineTune(model: tfl.LayersModel, data: Split, masks: Map<string, Mask>, config: TrainConfig): number {
  const s = new MaskState(model, masks);
  const r = trainModel(model, data, config, s);
  r.masks?.dispose();
  return r.trainAccuracy;
}

/** Logits of every example of `split`, [count, classes] row-major. */
export function logitsOf(model: tfl.LayersModel, split: Split, batchSize = 1000): Float32Array {
  const per = split.images.length / Math.max(split.count, 1);
  const shape = (model.inputs[0].shape.slice(1) as number[]);
  const parts: Float32Array[] = [];
  for (let s = 0; s < split.count; s += batchSize) {
    const n = Math.min(batchSize, split.count - s);
    parts.push(tf.tidy(() => (model.apply(tf.tensor(split.images.subarray(s * per, (s + n) * per), [n, ...shape]), { training: false }) as tf.Tensor).dataSync() as Float32Array));
  }
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/** Accuracy per class (the group is the true label) from logits. */
export function perClassAccuracy(logits: Float32Array, labels: Uint8Array, classes: number): { accuracy: number[]; count: number[] } {
  const correct = new Array<number>(classes).fill(0);
  const count = new Array<number>(classes).fill(0);
  for (let i = 0; i < labels.length; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits[i * classes + c] > logits[i * classes + best]) best = c;
    count[labels[i]]++;
    if (best === labels[i]) correct[labels[i]]++;
  }
  return { accuracy: correct.map((c, i) => (count[i] === 0 ? 0 : c / count[i])), count };
}

/** Kept fraction of each prunable kernel and overall. */
export function densities(masks: Map<string, Mask>): { layers: { layer: string; density: number }[]; overall: number } {
  let kept = 0;
  let total = 0;
  const layers = [...masks].map(([name, m]) => {
    kept += m.keptCount();
    total += m.length;
    return { layer: name, density: m.keptCount() / m.length };
  });
  return { layers, overall: total === 0 ? 1 : kept / total };
}

export { evaluate, restoreWeights, snapshotWeights, type WeightSnapshot };
