/**
 * What every training command shares: options, progress events, setting up backend, data and
 * model, pruning through the core, and writing `metrics.json`, `run.json` and `round-K/`.
 */
import { accessSync, constants, existsSync, realpathSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { Mask } from '../core/mask.js';
import { SculptError } from '../core/errors.js';
import { parsePattern, type PatternSpec } from '../core/patterns.js';
import { prune } from '../core/plan.js';
import type { PruneOptions } from '../core/options.js';
import { setupBackend, type BackendInfo, type BackendRequest } from './backend.js';
import { loadDataset, type Dataset } from './data.js';
import type { BatchProgress, TrainConfig } from './loop.js';
import { describeWriteError, writeFileAtomic } from '../formats/fsutil.js';
import { makeFolder, saveModelFolder } from './model-io.js';
import { toWeightSet } from './weights.js';
import { buildModel, isZooModel } from './zoo.js';

/** Options every command takes. */
export interface SessionOptions {
  /** Zoo name (lenet-300-100, conv-2, conv-4, conv-6) or a TF.js layers model folder. */
  readonly model: string;
  readonly dataset: string;
  readonly dataDir?: string;
  readonly trainLimit?: number;
  readonly testLimit?: number;
  readonly backend?: BackendRequest;
  /** Seeds initial weights, shuffling, dropout and random masks. */
  readonly seed: number;
  /** Output folder; nothing is written when undefined. */
  readonly out?: string;
  readonly train: TrainConfig;
}

/** Pruning settings shared by one-shot, IMP and GMP. */
export interface PruneSettings {
  readonly scope: 'global' | 'layer';
  /** Pattern text as parsePattern takes it (default `unstructured`). */
  readonly pattern?: string;
  /** Tensor names or globs never pruned. */
  readonly exclude?: readonly string[];
  /** Registered criterion (default `magnitude`). */
  readonly criterion?: string;
  /** Statistics a data criterion needs, computed on the model as it is when pruned. */
  readonly calibrate?: (model: tfl.LayersModel) => Pick<PruneOptions, 'calibration' | 'gradients'>;
}

/** Which training run of a round an event belongs to. */
export type RunKind = 'train' | 'ticket' | 'reinit' | 'random-mask' | 'fine-tune' | 'one-shot';

export type TrainEvent =
  | { readonly kind: 'note'; readonly message: string }
  | { readonly kind: 'start'; readonly round: number; readonly run: RunKind; readonly density: number; readonly epochs: number }
  | { readonly kind: 'batch'; readonly round: number; readonly run: RunKind; readonly progress: BatchProgress }
  | { readonly kind: 'result'; readonly round: number; readonly run: RunKind; readonly density: number; readonly testAccuracy: number; readonly trainAccuracy?: number; readonly trainSeconds?: number };

export type ProgressFn = (e: TrainEvent) => void;

export interface ControlResult {
  readonly testAccuracy: number;
}

/** One entry of metrics.json, exactly as issue 3 specifies. */
export interface RoundMetrics {
  readonly round: number;
  readonly density: number;
  readonly testAccuracy: number;
  readonly trainAccuracy: number;
  readonly trainSeconds: number;
  readonly controls: Record<string, ControlResult>;
}

export interface Metrics {
  readonly rounds: RoundMetrics[];
}

export interface LayerDensity {
  readonly name: string;
  readonly count: number;
  readonly density: number;
}

/** Everything else about a run (run.json): settings, backend, data, per-layer densities. */
export interface RunDetails {
  readonly command: string;
  readonly settings: Record<string, unknown>;
  readonly backend: string;
  readonly data: { readonly source: string; readonly train: number; readonly test: number };
  readonly notes: string[];
  readonly layers: LayerDensity[][];
}

export interface RunResult {
  readonly metrics: Metrics;
  readonly details: RunDetails;
}

export interface Session {
  readonly backend: BackendInfo;
  readonly data: Dataset;
  readonly notes: string[];
  readonly emit: ProgressFn;
  /** Builds the model (seeded init for zoo models). */
  build(seed: number): Promise<tfl.LayersModel>;
}

export async function openSession(o: SessionOptions, onEvent: ProgressFn = () => {}): Promise<Session> {
  checkOutNotModel(o.model, o.out);
  if (o.out !== undefined) checkWritableOut(o.out);
  const backend = await setupBackend(o.backend ?? 'auto');
  onEvent({ kind: 'note', message: backend.note });
  const data = loadDataset({ dataset: o.dataset, dataDir: o.dataDir, trainLimit: o.trainLimit, testLimit: o.testLimit });
  for (const n of data.notes) onEvent({ kind: 'note', message: n });
  const notes = [backend.note, ...data.notes];
  return {
    backend, data, notes, emit: onEvent,
    build: (seed: number) => buildModel(o.model, { inputShape: data.imageShape, classes: data.classes, seed }),
  };
}

/**
 * Masks after removing `sparsity` (of all prunable weights, or of those left when `ofRemaining`).
 * A layer pruned to density 0 is let through (allowCollapse): a refusal hours into training
 * would lose the run; imp and gmp warn about it from the per-round layer densities instead.
 */
export function pruneModel(model: tfl.LayersModel, s: PruneSettings, sparsity: number, seed: number, existing?: Map<string, Mask>, ofRemaining = false): Map<string, Mask> {
  const pattern: PatternSpec = parsePattern(s.pattern ?? 'unstructured');
  const res = prune(toWeightSet(model), {
    sparsity, scope: s.scope, pattern, criterion: s.criterion ?? 'magnitude', exclude: [...(s.exclude ?? [])], overrides: new Map(), seed, fractionOfRemaining: ofRemaining, allowCollapse: true,
    ...s.calibrate?.(model),
  }, existing);
  return res.masks;
}

/** Random masks with exactly the per-tensor densities of `like` (the random-mask control). */
export function randomMasksLike(model: tfl.LayersModel, like: Map<string, Mask>, seed: number): Map<string, Mask> {
  const overrides = new Map<string, number>();
  // A collapsed tensor (density 0) has no random draw to make: its mask carries over as it is.
  for (const [name, m] of like) if (m.keptCount() > 0) overrides.set(name, m.prunedCount() / m.length);
  const res = prune(toWeightSet(model), {
    sparsity: 0, scope: 'layer', pattern: { kind: 'unstructured' }, criterion: 'random', exclude: [], overrides, seed,
  });
  const out = new Map<string, Mask>();
  for (const [name, l] of like) {
    const m = res.masks.get(name);
    if (m !== undefined && overrides.has(name)) out.set(name, m);
    else if (l.keptCount() === 0) out.set(name, l.clone());
  }
  return out;
}

/** Kept fraction over the prunable weights (1 when nothing is masked). */
export function overallDensity(model: tfl.LayersModel, masks: Map<string, Mask> | undefined): number {
  let total = 0;
  let kept = 0;
  for (const t of toWeightSet(model).tensors) {
    if (!t.prunable && masks?.get(t.name) === undefined) continue;
    const m = masks?.get(t.name);
    total += t.data.length;
    kept += m === undefined ? t.data.length : m.keptCount();
  }
  return total === 0 ? 1 : kept / total;
}

/** Per-tensor density of the model's actual weights (non-zero fraction), prunable tensors only. */
export function layerDensities(model: tfl.LayersModel): LayerDensity[] {
  return toWeightSet(model).tensors.filter((t) => t.prunable).map((t) => {
    let nz = 0;
    for (let i = 0; i < t.data.length; i++) if (t.data[i] !== 0) nz++;
    return { name: t.name, count: t.data.length, density: nz / t.data.length };
  });
}

function writeJson(path: string, value: unknown): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** Writes metrics.json and run.json (after every round, so a stopped run keeps what it did). */
export function writeResults(out: string | undefined, result: RunResult): void {
  if (out === undefined) return;
  makeFolder(out);
  writeJson(join(out, 'metrics.json'), result.metrics);
  writeJson(join(out, 'run.json'), result.details);
}

/**
 * Refuses an `--out` that would overwrite the `--model` folder: a run writes `OUT/round-K/`, so
 * `--model OUT/round-0` (train, then imp from round 0 into the same folder) would lose the input.
 */
/** Creates `--out` and checks it is writable before hours of training, not after. */
export function checkWritableOut(out: string): void {
  makeFolder(out);
  try {
    accessSync(out, constants.W_OK);
  } catch (e) {
    throw new SculptError(`${out}: cannot write in the output folder (${describeWriteError(e)}); choose a writable --out`);
  }
}

export function checkOutNotModel(model: string, out: string | undefined): void {
  if (out === undefined || isZooModel(model)) return;
  const modelDir = model.toLowerCase().endsWith('.json') ? dirname(resolve(model)) : resolve(model);
  if (!existsSync(modelDir) || !existsSync(out)) return;
  const first = relative(realpathSync(out), realpathSync(modelDir)).split(sep)[0];
  if (/^round-\d+$/.test(first)) {
    throw new SculptError(`--out ${out}: the run writes ${join(out, first)}/, which would overwrite the input --model ${model}; choose another --out`);
  }
}

export async function saveRound(out: string | undefined, round: number, model: tfl.LayersModel): Promise<void> {
  if (out === undefined) return;
  await saveModelFolder(model, join(out, `round-${round}`));
}

export function checkFraction(flag: string, v: number): void {
  if (!(v >= 0 && v < 1)) throw new SculptError(`${flag} ${v}: must be in [0, 1)`);
}

/** Settings of a run for run.json: the options without functions. */
export function settingsOf(o: object): Record<string, unknown> {
  return JSON.parse(JSON.stringify(o)) as Record<string, unknown>;
}
