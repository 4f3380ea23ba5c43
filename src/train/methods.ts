/**
 * The training commands as library functions: plain training, one-shot prune + fine-tune, IMP
 * with rewinding and the lottery-ticket controls, and GMP. Each takes a typed options record and
 * a progress callback and returns plain results (also written to `out` when given).
 */
import { join } from 'node:path';
import type * as tfl from '@tensorflow/tfjs-layers';
import { SculptError } from '../core/errors.js';
import type { Mask } from '../core/mask.js';
import { evaluate, trainModel, type TrainHooks, type TrainResult } from './loop.js';
import { MaskState } from './masking.js';
import { constantSchedule, polynomialSchedule, type PruningSchedule } from './schedules.js';
import {
  checkFraction, layerDensities, openSession, overallDensity, pruneModel, randomMasksLike, saveRound, settingsOf, writeResults,
  type LayerDensity, type ProgressFn, type PruneSettings, type RoundMetrics, type RunKind, type RunResult, type Session, type SessionOptions,
} from './session.js';
import { parsePattern } from '../core/patterns.js';
import { restoreWeights, snapshotWeights, type WeightSnapshot } from './weights.js';
import { initialiseWeights, isZooModel } from './zoo.js';

interface RoundOutcome {
  readonly train: TrainResult;
  readonly testAccuracy: number;
  readonly density: number;
}

/** Trains `model` (with `masks`), evaluates it, and reports start/batch/result events. */
function trainRound(s: Session, o: SessionOptions, model: tfl.LayersModel, masks: Map<string, Mask> | undefined, round: number, run: RunKind, extra: TrainHooks = {}, epochs = o.train.epochs): RoundOutcome {
  const density = overallDensity(model, masks);
  s.emit({ kind: 'start', round, run, density, epochs });
  const state = masks === undefined ? undefined : new MaskState(model, masks);
  const train = trainModel(model, s.data.train, { ...o.train, epochs, seed: o.seed + 101 * round }, state, {
    ...extra,
    onProgress: (progress) => s.emit({ kind: 'batch', round, run, progress }),
  });
  const finalDensity = train.masks === state ? density : overallDensity(model, train.masks?.masks);
  train.masks?.dispose();
  const testAccuracy = evaluate(model, s.data.test);
  s.emit({ kind: 'result', round, run, density: finalDensity, testAccuracy, trainAccuracy: train.trainAccuracy, trainSeconds: train.trainSeconds });
  return { train, testAccuracy, density: finalDensity };
}

function entry(round: number, r: RoundOutcome, controls: Record<string, { testAccuracy: number }> = {}): RoundMetrics {
  return { round, density: r.density, testAccuracy: r.testAccuracy, trainAccuracy: r.train.trainAccuracy, trainSeconds: r.train.trainSeconds, controls };
}

function result(s: Session, command: string, opts: object, rounds: RoundMetrics[], layers: LayerDensity[][]): RunResult {
  return {
    metrics: { rounds },
    details: {
      command, settings: settingsOf(opts), backend: s.backend.name,
      data: { source: s.data.source, train: s.data.train.count, test: s.data.test.count }, notes: s.notes, layers,
    },
  };
}

/** `sculpt train`: trains the model; round-0 is the trained model. */
export async function runTrain(o: SessionOptions, onEvent?: ProgressFn): Promise<RunResult> {
  const s = await openSession(o, onEvent);
  const model = await s.build(o.seed);
  const r = trainRound(s, o, model, undefined, 0, 'train');
  await saveRound(o.out, 0, model);
  const res = result(s, 'train', o, [entry(0, r)], [layerDensities(model)]);
  writeResults(o.out, res);
  model.dispose();
  return res;
}

export interface OneShotOptions extends SessionOptions, PruneSettings {
  /** Sparsities to prune the trained model to, each from the same trained weights. */
  readonly sparsities: readonly number[];
  /** Epochs of masked fine-tuning after pruning (0: evaluate right after pruning). */
  readonly fineTuneEpochs: number;
}

/**
 * One-shot: train (o.train.epochs; 0 with a trained model folder), then for each sparsity prune
 * the trained weights and fine-tune. Round 0 is dense; round k is sparsities[k−1].
 */
export async function runOneShot(o: OneShotOptions, onEvent?: ProgressFn): Promise<RunResult> {
  for (const sp of o.sparsities) checkFraction('--sparsity', sp);
  const s = await openSession(o, onEvent);
  const model = await s.build(o.seed);
  const dense = o.train.epochs > 0
    ? trainRound(s, o, model, undefined, 0, 'train')
    : { train: { steps: 0, trainSeconds: 0, loss: NaN, trainAccuracy: evaluate(model, s.data.train), masks: undefined }, testAccuracy: evaluate(model, s.data.test), density: 1 };
  await saveRound(o.out, 0, model);
  const rounds = [entry(0, dense)];
  const layers = [layerDensities(model)];
  const trained = snapshotWeights(model);
  for (let i = 0; i < o.sparsities.length; i++) {
    const round = i + 1;
    restoreWeights(model, trained);
    const masks = pruneModel(model, o, o.sparsities[i], o.seed);
    const state = new MaskState(model, masks);
    state.applyToWeights();
    state.dispose();
    const pruned = evaluate(model, s.data.test);
    let r: RoundOutcome;
    if (o.fineTuneEpochs > 0) {
      r = trainRound(s, o, model, masks, round, 'fine-tune', {}, o.fineTuneEpochs);
    } else {
      const density = overallDensity(model, masks);
      r = { train: { steps: 0, trainSeconds: 0, loss: NaN, trainAccuracy: evaluate(model, s.data.train), masks: undefined }, testAccuracy: pruned, density };
      s.emit({ kind: 'result', round, run: 'one-shot', density, testAccuracy: pruned });
    }
    rounds.push(entry(round, r, o.fineTuneEpochs > 0 ? { 'before-fine-tune': { testAccuracy: pruned } } : {}));
    layers.push(layerDensities(model));
    await saveRound(o.out, round, model);
    writeResults(o.out, result(s, 'one-shot', o, rounds, layers));
  }
  const res = result(s, 'one-shot', o, rounds, layers);
  writeResults(o.out, res);
  model.dispose();
  return res;
}

/** Writes the masked model folder `from` without the channels `masks` emptied as `folder` (src/api/shrink-file.ts `shrinkMaskedFolder`). */
export type ShrinkFinal = (from: string, folder: string, masks: ReadonlyMap<string, Mask>) => ShrunkModel;

export interface ShrinkSetting {
  /** With --pattern channel: the final masked model is also written without its masked channels, dense and smaller, as OUT/shrunk/. */
  readonly shrink?: ShrinkFinal;
}

/** The final model written shrunk (metrics.json `shrunk`). */
export interface ShrunkModel {
  /** The folder written and the masked round folder it was made from. */
  readonly folder: string;
  readonly from: string;
  readonly parameters: { readonly before: number; readonly after: number };
  readonly channels: { readonly before: number; readonly removed: number };
  readonly groups: number;
  readonly pinned: number;
}

function checkShrink(o: PruneSettings & ShrinkSetting & SessionOptions): void {
  if (!o.shrink) return;
  if (parsePattern(o.pattern ?? 'unstructured').kind !== 'channel') {
    throw new SculptError(`--shrink removes whole channels: use it with --pattern channel (or channel:l1), not --pattern ${o.pattern ?? 'unstructured'}`);
  }
  if (o.out === undefined) throw new SculptError('--shrink writes OUT/shrunk/: give --out');
}

/** The result with the final round `round` also written shrunk as OUT/shrunk/ (added to metrics.json), when asked. */
function withShrunk(o: ShrinkSetting & SessionOptions, res: RunResult, round: number, masks: ReadonlyMap<string, Mask> | undefined): RunResult {
  if (!o.shrink || o.out === undefined) return res;
  const shrunk = o.shrink(join(o.out, `round-${round}`), join(o.out, 'shrunk'), masks ?? new Map());
  const r = { ...res, metrics: { ...res.metrics, shrunk } };
  writeResults(o.out, r);
  return r;
}

export type Control = 'reinit' | 'random-mask';
export const CONTROLS: readonly Control[] = ['reinit', 'random-mask'];

export interface ImpOptions extends SessionOptions, PruneSettings, ShrinkSetting {
  /** Number of trainings; round 0 is dense. */
  readonly rounds: number;
  /** Fraction of the weights still alive removed before each round k ≥ 1. */
  readonly rate: number;
  /** 0: the initial weights; K: the weights after K iterations of round 0; 'none': keep training. */
  readonly rewindTo: number | 'none';
  readonly controls: readonly Control[];
}

/** Seed of the reinit control's fresh weights in round k: different from the main seed. */
export function reinitSeed(seed: number, round: number): number {
  return (seed + 1_000_003 * (round + 1)) >>> 0;
}

/**
 * Iterative magnitude pruning. Before round k ≥ 1, `rate` of the surviving prunable weights are
 * removed (by magnitude of the trained weights, `scope` global or per layer), then the weights
 * are rewound; round k has density (1 − rate)^k. Controls train the same mask from fresh weights
 * (`reinit`) and a random mask of the same per-layer density from the rewind weights.
 */
export async function runImp(o: ImpOptions, onEvent?: ProgressFn): Promise<RunResult> {
  if (!Number.isInteger(o.rounds) || o.rounds < 1) throw new SculptError(`--rounds ${o.rounds}: must be a positive integer`);
  if (!(o.rate > 0 && o.rate < 1)) throw new SculptError(`--rate ${o.rate}: must be in (0, 1), e.g. 0.2`);
  if (o.rewindTo !== 'none' && (!Number.isInteger(o.rewindTo) || o.rewindTo < 0)) {
    throw new SculptError(`--rewind-to ${String(o.rewindTo)}: use 0, a number of iterations, or none`);
  }
  for (const c of o.controls) if (!CONTROLS.includes(c)) throw new SculptError(`--control ${c}: use reinit, random-mask or both (comma-separated)`);
  checkShrink(o);
  const s = await openSession(o, onEvent);
  const model = await s.build(o.seed);
  let rewind: WeightSnapshot | undefined = o.rewindTo === 0 ? snapshotWeights(model) : undefined;
  const lateRewind = typeof o.rewindTo === 'number' && o.rewindTo > 0 ? o.rewindTo : undefined;
  let masks: Map<string, Mask> | undefined;
  const rounds: RoundMetrics[] = [];
  const layers: LayerDensity[][] = [];
  for (let round = 0; round < o.rounds; round++) {
    if (round > 0) {
      masks = pruneModel(model, o, o.rate, o.seed, masks, true);
      if (rewind !== undefined) restoreWeights(model, rewind);
    }
    const hooks: TrainHooks = round === 0 && lateRewind !== undefined
      ? { onStep: (step) => { if (step === lateRewind) rewind = snapshotWeights(model); } }
      : {};
    const main = trainRound(s, o, model, masks, round, 'ticket', hooks);
    if (round === 0 && lateRewind !== undefined && rewind === undefined) {
      throw new SculptError(`--rewind-to ${lateRewind}: round 0 has only ${main.train.steps} iterations; rewind to fewer or train longer`);
    }
    const controls: Record<string, { testAccuracy: number }> = {};
    if (masks !== undefined) {
      for (const c of o.controls) controls[c] = { testAccuracy: await runControl(s, o, c, round, masks, rewind) };
    }
    rounds.push(entry(round, main, controls));
    layers.push(layerDensities(model));
    await saveRound(o.out, round, model);
    writeResults(o.out, result(s, 'imp', o, rounds, layers));
  }
  const res = result(s, 'imp', o, rounds, layers);
  model.dispose();
  return withShrunk(o, res, o.rounds - 1, masks);
}

async function runControl(s: Session, o: ImpOptions, c: Control, round: number, masks: Map<string, Mask>, rewind: WeightSnapshot | undefined): Promise<number> {
  const model = await s.build(c === 'reinit' ? reinitSeed(o.seed, round) : o.seed);
  // A model folder loads its own weights whatever the seed: draw the fresh ones explicitly.
  if (c === 'reinit' && !isZooModel(o.model)) initialiseWeights(model, reinitSeed(o.seed, round));
  let m = masks;
  if (c === 'random-mask') {
    if (rewind !== undefined) restoreWeights(model, rewind);
    m = randomMasksLike(model, masks, reinitSeed(o.seed + 1, round));
  }
  const r = trainRound(s, o, model, m, round, c);
  model.dispose();
  return r.testAccuracy;
}

export interface GmpOptions extends SessionOptions, PruneSettings, ShrinkSetting {
  readonly finalSparsity: number;
  readonly initialSparsity: number;
  /** Step at which pruning starts (default 0). */
  readonly beginStep?: number;
  /** Step at which the final sparsity is reached (default: 75% of the training steps). */
  readonly endStep?: number;
  /** Steps between mask updates (default 100). */
  readonly frequency?: number;
  /** 'polynomial' (Zhu & Gupta) or 'constant' (final sparsity from beginStep on). */
  readonly schedule?: 'polynomial' | 'constant';
}

/** Steps of a training run: ceil(examples / batch) per epoch. */
export function stepsPerEpoch(examples: number, batchSize: number): number {
  return Math.ceil(examples / batchSize);
}

/**
 * Gradual magnitude pruning during training: at each scheduled step the masks are recomputed
 * from the current weights with the schedule's sparsity; pruned weights never come back.
 */
export async function runGmp(o: GmpOptions, onEvent?: ProgressFn): Promise<RunResult> {
  checkShrink(o);
  const s = await openSession(o, onEvent);
  const total = stepsPerEpoch(s.data.train.count, o.train.batchSize) * o.train.epochs;
  const beginStep = o.beginStep ?? 0;
  const endStep = o.endStep ?? Math.max(beginStep, Math.floor(0.75 * total));
  const frequency = o.frequency ?? 100;
  const schedule: PruningSchedule = (o.schedule ?? 'polynomial') === 'constant'
    ? constantSchedule({ sparsity: o.finalSparsity, beginStep, endStep, frequency })
    : polynomialSchedule({ initialSparsity: o.initialSparsity, finalSparsity: o.finalSparsity, beginStep, endStep, frequency });
  if (endStep >= total) s.emit({ kind: 'note', message: `gmp: --end-step ${endStep} is at or past the last step (${total - 1}); the final sparsity may not be reached` });
  const model = await s.build(o.seed);
  let masks: Map<string, Mask> | undefined;
  const hooks: TrainHooks = {
    onStep: (step, ctx) => {
      const d = schedule(step);
      if (!d.prune) return;
      masks = pruneModel(model, o, d.sparsity, o.seed, masks);
      ctx.setMasks(new MaskState(model, masks));
    },
  };
  const r = trainRound(s, o, model, undefined, 0, 'train', hooks);
  await saveRound(o.out, 0, model);
  const res = result(s, 'gmp', { ...o, beginStep, endStep, frequency }, [entry(0, r)], [layerDensities(model)]);
  writeResults(o.out, res);
  model.dispose();
  return withShrunk(o, res, 0, masks);
}
