/** Trained experiments about how to prune: global vs layer, regularisation, LR schedule, random labels. */
import type * as tfl from '@tensorflow/tfjs-layers';
import { Mask } from '../../core/mask.js';
import { Rng } from '../../core/rng.js';
import type { Dataset, Split } from '../../train/data.js';
import { softThreshold, trainModel, type TrainHooks } from '../../train/loop.js';
import { MaskState } from '../../train/masking.js';
import { polynomialSchedule, type LrScheduleSpec } from '../../train/schedules.js';
import { classifyWeight, modelWeights } from '../../train/weights.js';
import { barChart, lineChart, round } from './charts.js';
import {
  applyMasksToModel, densities, evaluate, fineTune, masksOf, MODEL, pruneOptions, restoreWeights, sizes, snapshotWeights, trainConfig, trainDense,
} from './training.js';
import type { Experiment } from './types.js';

export const globalVsLayerExperiment: Experiment = {
  name: 'global-vs-layer',
  description: 'per-layer densities chosen by global magnitude pruning vs uniform per-layer pruning, accuracy at 80/90/95%',
  needsTraining: true,
  async run(ctx) {
    const sz = sizes(ctx);
    const data = ctx.loadData(sz.trainLimit, sz.testLimit);
    const { model, testAccuracy: denseAcc } = await trainDense(ctx, data, sz.epochs);
    const trained = snapshotWeights(model);
    const rows: { scope: string; sparsity: number; testAccuracy: number; fineTunedAccuracy: number; layers: { layer: string; density: number }[] }[] = [];
    for (const sparsity of [0.8, 0.9, 0.95]) {
      for (const scope of ['global', 'layer'] as const) {
        restoreWeights(model, trained);
        const masks = masksOf(model, pruneOptions(sparsity, scope));
        applyMasksToModel(model, masks);
        const testAccuracy = evaluate(model, data.test);
        fineTune(model, data.train, masks, trainConfig(1, ctx.seed + 7));
        const fineTunedAccuracy = evaluate(model, data.test);
        rows.push({ scope, sparsity, testAccuracy, fineTunedAccuracy, layers: densities(masks).layers });
        ctx.log(`global-vs-layer: ${scope} ${sparsity}: ${testAccuracy.toFixed(4)} → fine-tuned ${fineTunedAccuracy.toFixed(4)}`);
      }
    }
    model.dispose();
    const points = rows.flatMap((r) => [
      { series: `${r.scope}, one-shot`, density: 1 - r.sparsity, accuracy: r.testAccuracy },
      { series: `${r.scope}, fine-tuned 1 epoch`, density: 1 - r.sparsity, accuracy: r.fineTunedAccuracy },
    ]);
    return {
      result: { experiment: 'global-vs-layer', model: MODEL, train: data.train.count, test: data.test.count, epochs: sz.epochs, denseTestAccuracy: denseAcc, rows },
      report: {
        title: 'Global vs per-layer magnitude pruning',
        subtitle: `${MODEL} on Fashion-MNIST, ${data.train.count} train examples, ${sz.epochs} epoch(s)`,
        settings: { denseTestAccuracy: round(denseAcc), seed: ctx.seed },
        accuracy: { title: 'Test accuracy against density', points },
        layerDensity: { title: 'Per-layer density chosen at 90%', rows: rows.filter((r) => r.sparsity === 0.9).flatMap((r) => r.layers.map((l) => ({ layer: l.layer, scope: r.scope, density: l.density }))) },
        tables: [{ title: 'Accuracy', columns: ['sparsity', 'scope', 'one-shot', 'fine-tuned', ...rows[0].layers.map((l) => `${l.layer} density`)], rows: rows.map((r) => [r.sparsity, r.scope, round(r.testAccuracy), round(r.fineTunedAccuracy), ...r.layers.map((l) => round(l.density))]) }],
      },
    };
  },
};

/** Soft-thresholding (the proximal step of L1, as in ISTA) of every prunable kernel: w ← sign(w)·max(|w| − τ, 0). */
export function softThresholdHooks(model: tfl.LayersModel, tau: number): { hooks: TrainHooks; finish: () => void } {
  const vars = modelWeights(model).filter((w) => w.trainable && classifyWeight(w.layerClass, w.name, w.variable.shape.length).prunable).map((w) => w.variable);
  const prox = (): void => softThreshold(vars, tau);
  return { hooks: { onStep: (step) => { if (step > 0) prox(); } }, finish: prox };
}

export const regularizationExperiment: Experiment = {
  name: 'regularization',
  description: 'plain, L2, L1, dropout and soft-thresholded (ISTA) training, then one-shot magnitude pruning to 80/90/95%',
  needsTraining: true,
  async run(ctx) {
    const sz = sizes(ctx, 3);
    const data = ctx.loadData(sz.trainLimit, sz.testLimit);
    const variants: { name: string; extra: Record<string, number>; softThreshold?: number }[] = [
      { name: 'plain', extra: {} },
      { name: 'l2', extra: { l2: 1e-4 } },
      { name: 'l1', extra: { l1: 1e-5 } },
      { name: 'dropout', extra: { dropout: 0.5 } },
      { name: 'soft-threshold', extra: {}, softThreshold: 1e-5 },
    ];
    const rows: { regularizer: string; sparsity: number; testAccuracy: number }[] = [];
    const zeros: Record<string, number> = {};
    for (const v of variants) {
      const model = await ctx.buildModel(MODEL, data, ctx.seed);
      const st = v.softThreshold !== undefined ? softThresholdHooks(model, v.softThreshold) : undefined;
      trainModel(model, data.train, trainConfig(sz.epochs, ctx.seed, v.extra), undefined, st?.hooks ?? {});
      st?.finish();
      const masks0 = masksOf(model, pruneOptions(0, 'global'));
      zeros[v.name] = 1 - densities(new Map([...masks0].map(([n]) => [n, maskOfNonZero(model, n)]))).overall;
      rows.push({ regularizer: v.name, sparsity: 0, testAccuracy: evaluate(model, data.test) });
      const trained = snapshotWeights(model);
      for (const sparsity of [0.8, 0.9, 0.95]) {
        restoreWeights(model, trained);
        applyMasksToModel(model, masksOf(model, pruneOptions(sparsity, 'global')));
        rows.push({ regularizer: v.name, sparsity, testAccuracy: evaluate(model, data.test) });
      }
      ctx.log(`regularization: ${v.name}: ${rows.filter((r) => r.regularizer === v.name).map((r) => r.testAccuracy.toFixed(4)).join(' ')}`);
      model.dispose();
    }
    return {
      result: { experiment: 'regularization', model: MODEL, train: data.train.count, test: data.test.count, epochs: sz.epochs, variants, exactZerosAfterTraining: zeros, rows },
      report: {
        title: 'Does regularisation make nets prune better?',
        subtitle: `${MODEL} on Fashion-MNIST; one-shot global magnitude pruning, no fine-tuning`,
        settings: Object.fromEntries(variants.map((v) => [v.name, JSON.stringify(v.softThreshold !== undefined ? { softThresholdPerStep: v.softThreshold } : v.extra)])),
        charts: [{ title: 'Test accuracy against sparsity', spec: lineChart(rows, 'sparsity', 'testAccuracy', 'regularizer', { yTitle: 'test accuracy' }) }],
        tables: [{ title: 'Test accuracy', columns: ['regularizer', 'dense', '80%', '90%', '95%', 'exact zeros after training'], rows: variants.map((v) => [v.name, ...rows.filter((r) => r.regularizer === v.name).map((r) => round(r.testAccuracy)), round(zeros[v.name])]) }],
      },
    };
  },
};

function maskOfNonZero(model: tfl.LayersModel, name: string): Mask {
  const w = modelWeights(model).find((x) => x.name === name);
  const data = (w?.variable.dataSync() ?? new Float32Array(0)) as Float32Array;
  return Mask.fromNonZero(data);
}

/** GMP (polynomial schedule, Zhu & Gupta) to `finalSparsity` with the masks kept through `lr`. */
async function runGmp(ctx: Parameters<Experiment['run']>[0], data: Dataset, epochs: number, finalSparsity: number, lrSchedule: LrScheduleSpec): Promise<number> {
  const model = await ctx.buildModel(MODEL, data, ctx.seed);
  const total = Math.ceil(data.train.count / 60) * epochs;
  const schedule = polynomialSchedule({ initialSparsity: 0, finalSparsity, beginStep: 0, endStep: Math.floor(0.75 * total), frequency: Math.max(1, Math.floor(total / 40)) });
  let masks: Map<string, Mask> | undefined;
  const r = trainModel(model, data.train, trainConfig(epochs, ctx.seed, { lrSchedule }), undefined, {
    onStep: (step, c) => {
      const d = schedule(step);
      if (!d.prune) return;
      masks = masksOf(model, pruneOptions(d.sparsity, 'global'), masks);
      c.setMasks(new MaskState(model, masks));
    },
  });
  r.masks?.dispose();
  const acc = evaluate(model, data.test);
  model.dispose();
  return acc;
}

export const lrScheduleExperiment: Experiment = {
  name: 'lr-schedule',
  description: 'gradual magnitude pruning with smooth exponential LR decay vs step decay (and constant)',
  needsTraining: true,
  async run(ctx) {
    const sz = sizes(ctx, 3);
    const data = ctx.loadData(sz.trainLimit, sz.testLimit);
    const total = Math.ceil(data.train.count / 60) * sz.epochs;
    // Both decays end at 0.1·lr: exponential smoothly, step in two drops of √0.1 at 1/3 and 2/3.
    const schedules: { name: string; spec: LrScheduleSpec }[] = [
      { name: 'constant', spec: { kind: 'constant' } },
      { name: 'step', spec: { kind: 'step', stepSize: Math.max(1, Math.ceil(total / 3)), gamma: Math.sqrt(0.1) } },
      { name: 'exponential', spec: { kind: 'exponential', decaySteps: total, rate: 0.1 } },
    ];
    const rows: { schedule: string; finalSparsity: number; testAccuracy: number }[] = [];
    for (const finalSparsity of [0.9, 0.97]) {
      for (const s of schedules) {
        const testAccuracy = await runGmp(ctx, data, sz.epochs, finalSparsity, s.spec);
        rows.push({ schedule: s.name, finalSparsity, testAccuracy });
        ctx.log(`lr-schedule: ${s.name} to ${finalSparsity}: ${testAccuracy.toFixed(4)}`);
      }
    }
    return {
      result: { experiment: 'lr-schedule', model: MODEL, train: data.train.count, test: data.test.count, epochs: sz.epochs, steps: total, schedules, rows },
      report: {
        title: 'GMP with exponential vs step learning-rate decay',
        subtitle: `${MODEL} on Fashion-MNIST; polynomial GMP over the first 75% of ${total} steps, Adam lr 1.2e-3`,
        settings: Object.fromEntries(schedules.map((s) => [s.name, JSON.stringify(s.spec)])),
        charts: [{ title: 'Test accuracy by schedule', spec: barChart(rows.map((r) => ({ ...r, sparsity: String(r.finalSparsity) })), 'sparsity', 'testAccuracy', 'schedule', { yTitle: 'test accuracy' }) }],
        tables: [{ title: 'Test accuracy', columns: ['final sparsity', 'schedule', 'test accuracy'], rows: rows.map((r) => [r.finalSparsity, r.schedule, round(r.testAccuracy)]) }],
      },
    };
  },
};

/** `split` with labels replaced by seeded uniform random classes. */
export function randomlyRelabelled(split: Split, classes: number, seed: number): Split {
  const rng = new Rng(seed);
  return { images: split.images, count: split.count, labels: Uint8Array.from({ length: split.count }, () => rng.int(classes)) };
}

export const randomLabelsExperiment: Experiment = {
  name: 'random-labels',
  description: 'dense and pruned nets trained on randomly relabelled data: memorisation without generalisation',
  needsTraining: true,
  async run(ctx) {
    const trainCount = ctx.quick ? 500 : 3000;
    const epochs = ctx.quick ? 40 : 100;
    const sparsity = 0.9;
    const data = ctx.loadData(trainCount, ctx.quick ? 2000 : 10000);
    const random = randomlyRelabelled(data.train, data.classes, ctx.seed + 17);
    const relabelled = { ...data, train: random };
    const { model } = await trainDense(ctx, relabelled, epochs, {}, 'dense (random labels)');
    const dense = { trainAccuracy: evaluate(model, random), testAccuracy: evaluate(model, data.test) };
    const masks = masksOf(model, pruneOptions(sparsity, 'global'));
    applyMasksToModel(model, masks);
    const afterPrune = evaluate(model, random);
    fineTune(model, random, masks, trainConfig(epochs, ctx.seed + 3));
    const pruned = { sparsity, trainAccuracyAfterPruning: afterPrune, trainAccuracy: evaluate(model, random), testAccuracy: evaluate(model, data.test) };
    model.dispose();
    ctx.log(`random-labels: dense train ${dense.trainAccuracy.toFixed(4)} test ${dense.testAccuracy.toFixed(4)}; pruned train ${pruned.trainAccuracy.toFixed(4)} test ${pruned.testAccuracy.toFixed(4)}`);
    const bars = [
      { net: 'dense', split: 'train (random labels)', accuracy: dense.trainAccuracy },
      { net: 'dense', split: 'test (true labels)', accuracy: dense.testAccuracy },
      { net: `pruned ${sparsity * 100}%`, split: 'train (random labels)', accuracy: pruned.trainAccuracy },
      { net: `pruned ${sparsity * 100}%`, split: 'test (true labels)', accuracy: pruned.testAccuracy },
    ];
    return {
      result: { experiment: 'random-labels', model: MODEL, classes: data.classes, trainSamples: trainCount, testSamples: data.test.count, epochs, chance: 1 / data.classes, dense, pruned },
      report: {
        title: 'Random labels: memorisation without generalisation',
        subtitle: `${MODEL}, ${trainCount} Fashion-MNIST images with uniformly random labels, ${epochs} epochs; pruned = 90% global magnitude then retrained`,
        summary: [`chance = 1/${data.classes} = ${(1 / data.classes).toFixed(3)}`],
        charts: [{ title: 'Accuracy on the random training labels and on the true test labels', spec: barChart(bars, 'split', 'accuracy', 'net') }],
        tables: [{ title: 'Accuracy', columns: ['net', 'train (random labels)', 'test (true labels)'], rows: [['dense', round(dense.trainAccuracy), round(dense.testAccuracy)], ['pruned 90%', round(pruned.trainAccuracy), round(pruned.testAccuracy)]] }],
      },
    };
  },
};
