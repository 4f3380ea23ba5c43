/**
 * `criteria`: a trained LeNet-300-100, pruned one-shot (no fine-tuning) at 50–98 % by each
 * criterion, globally. Calibration statistics come from the first `calibrationSamples` training
 * examples of the dense model. `sparsegpt` takes its per-layer sparsities from global magnitude
 * pruning, then prunes and reconstructs each layer at that sparsity (see below why).
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import '../../core/criteria-data.js';
import { Mask } from '../../core/mask.js';
import { inverseHessianDiagonal, sparseGptLayer } from '../../core/criteria-sparsegpt.js';
import { modelWeights } from '../../train/weights.js';
import { calibrate, type CalibrationStats } from '../calibration.js';
import { lineChart, round } from './charts.js';
import { applyMasksToModel, evaluate, masksOf, MODEL, pruneOptions, restoreWeights, sizes, snapshotWeights, trainDense } from './training.js';
import type { Experiment } from './types.js';

export const CRITERIA = ['magnitude', 'random', 'taylor', 'obd', 'wanda', 'sparsegpt'] as const;
export const SPARSITIES = [0.5, 0.8, 0.9, 0.95, 0.98] as const;

/** SparseGPT over every kernel of `model` in place, with per-layer sparsities from `masks` (global choice). */
export function applySparseGpt(model: tfl.LayersModel, stats: CalibrationStats, layerSparsity: Map<string, number>, nm?: { n: number; m: number }, identityHessian = false): Map<string, Mask> {
  const out = new Map<string, Mask>();
  for (const w of modelWeights(model)) {
    const s = layerSparsity.get(w.name);
    const h = stats.inputHessians.get(w.name);
    if (s === undefined || h === undefined) continue;
    const [nIn, nOut] = w.variable.shape as [number, number];
    const kernel = w.variable.dataSync() as Float32Array;
    const t = new Float32Array(nIn * nOut);
    for (let i = 0; i < nIn; i++) for (let o = 0; o < nOut; o++) t[o * nIn + i] = kernel[i * nOut + o];
    // With H = I there is no cross-column update and the saliency is w²: plain magnitude, same grouping.
    const hh = identityHessian ? Float64Array.from({ length: nIn * nIn }, (_, i) => (i % (nIn + 1) === 0 ? 1 : 0)) : h;
    const r = sparseGptLayer(t, nOut, nIn, hh, { sparsity: s, nm, dampening: identityHessian ? 0 : undefined });
    const back = new Float32Array(nIn * nOut);
    const mask = new Mask(nIn * nOut);
    for (let i = 0; i < nIn; i++) {
      for (let o = 0; o < nOut; o++) {
        back[i * nOut + o] = r.weights[o * nIn + i];
        if (r.mask.get(o * nIn + i)) mask.words[(i * nOut + o) >>> 5] |= 1 << ((i * nOut + o) & 31);
      }
    }
    tf.tidy(() => w.variable.assign(tf.tensor(back, w.variable.shape, 'float32')));
    out.set(w.name, mask);
  }
  return out;
}

export const criteriaExperiment: Experiment = {
  name: 'criteria',
  description: 'one-shot global pruning of a trained LeNet-300-100 by magnitude, random, taylor, obd, wanda, sparsegpt',
  needsTraining: true,
  async run(ctx) {
    const sz = sizes(ctx);
    const calibrationSamples = ctx.quick ? 256 : 1024;
    const data = ctx.loadData(sz.trainLimit, sz.testLimit);
    const dense = await trainDense(ctx, data, sz.epochs);
    const model = dense.model;
    const stats = calibrate(model, data.train, { samples: calibrationSamples });
    const inverseHessianDiag = new Map<string, Float32Array>();
    for (const [name, h] of stats.inputHessians) inverseHessianDiag.set(name, inverseHessianDiagonal(h, Math.round(Math.sqrt(h.length))));
    const calibration = { hessianDiag: stats.hessianDiag, inputNorms: stats.inputNorms, inverseHessianDiag };
    const trained = snapshotWeights(model);
    const rows: { criterion: string; sparsity: number; testAccuracy: number }[] = [];
    for (const sparsity of SPARSITIES) {
      for (const criterion of CRITERIA) {
        restoreWeights(model, trained);
        if (criterion === 'sparsegpt') {
          // SparseGPT's saliency is not comparable across layers (it scales with each layer's
          // inputs; ranked globally it empties whole layers), so it takes global magnitude's
          // per-layer sparsities and chooses and reconstructs within each layer.
          const allocation = masksOf(model, pruneOptions(sparsity, 'global'));
          const layerSparsity = new Map([...allocation].map(([n, m]) => [n, m.prunedCount() / m.length]));
          applySparseGpt(model, stats, layerSparsity);
        } else {
          applyMasksToModel(model, masksOf(model, pruneOptions(sparsity, 'global', criterion, ctx.seed, { gradients: stats.gradients, calibration })));
        }
        const testAccuracy = evaluate(model, data.test);
        rows.push({ criterion, sparsity, testAccuracy });
        ctx.log(`criteria: ${criterion} at ${sparsity}: ${testAccuracy.toFixed(4)}`);
      }
    }
    // 2:4 (keep 2 of every 4 consecutive inputs of each neuron): magnitude vs SparseGPT, all three kernels.
    const all = new Map([...stats.inputHessians.keys()].map((n) => [n, 0.5]));
    const patternRows: { criterion: string; pattern: string; sparsity: number; testAccuracy: number }[] = [];
    for (const [criterion, identity] of [['magnitude', true], ['sparsegpt', false]] as const) {
      restoreWeights(model, trained);
      applySparseGpt(model, stats, all, { n: 2, m: 4 }, identity);
      patternRows.push({ criterion, pattern: '2:4', sparsity: 0.5, testAccuracy: evaluate(model, data.test) });
      ctx.log(`criteria: ${criterion} 2:4: ${patternRows[patternRows.length - 1].testAccuracy.toFixed(4)}`);
    }
    model.dispose();
    const at = (c: string, s: number): number => rows.find((r) => r.criterion === c && r.sparsity === s)?.testAccuracy ?? NaN;
    const best = (s: number): string => CRITERIA.reduce((b, c) => (at(c, s) > at(b, s) ? c : b), CRITERIA[0] as string);
    return {
      result: {
        experiment: 'criteria', model: MODEL, train: data.train.count, test: data.test.count, epochs: sz.epochs, calibrationSamples,
        hessian: 'Fisher diagonal, labels drawn from the model softmax (Gauss-Newton)', denseTestAccuracy: dense.testAccuracy, rows, patternRows,
        bestBySparsity: Object.fromEntries(SPARSITIES.map((s) => [String(s), best(s)])),
      },
      report: {
        title: 'Pruning criteria, one-shot without fine-tuning',
        subtitle: `${MODEL} on Fashion-MNIST (${data.train.count} train / ${data.test.count} test, ${sz.epochs} epoch(s)); global scope`,
        settings: { denseTestAccuracy: round(dense.testAccuracy), calibrationSamples, seed: ctx.seed },
        summary: SPARSITIES.map((s) => `${Math.round(s * 100)}%: best ${best(s)} (${at(best(s), s).toFixed(4)}), magnitude ${at('magnitude', s).toFixed(4)}, random ${at('random', s).toFixed(4)}`),
        charts: [{ title: 'Test accuracy against sparsity by criterion', spec: lineChart(rows, 'sparsity', 'testAccuracy', 'criterion', { yTitle: 'test accuracy' }) }],
        tables: [
          { title: 'Test accuracy', columns: ['sparsity', ...CRITERIA], rows: SPARSITIES.map((s) => [s, ...CRITERIA.map((c) => round(at(c, s)))]) },
          { title: '2:4 along each neuron\'s inputs (50%)', columns: ['criterion', 'test accuracy'], rows: patternRows.map((r) => [r.criterion, round(r.testAccuracy)]) },
        ],
      },
    };
  },
};
