/** Trained experiments about what pruning does: Lipschitz bounds, fairness across classes, private masks. */
import type * as tfl from '@tensorflow/tfjs-layers';
import { Mask } from '../../core/mask.js';
import { Rng } from '../../core/rng.js';
import { trainModel } from '../../train/loop.js';
import { MaskState } from '../../train/masking.js';
import { modelWeights, toWeightSet } from '../../train/weights.js';
import { certifiedRadii, lipschitzBound } from '../lipschitz.js';
import { composedEpsilon, debiasedFrequency, flipProbability, maskAgreement, randomisedResponse, topKMask } from '../private-masks.js';
import { lineChart, round } from './charts.js';
import {
  applyMasksToModel, densities, evaluate, fineTune, logitsOf, masksOf, MODEL, perClassAccuracy, pruneOptions, restoreWeights, sizes, snapshotWeights, trainConfig, trainDense,
} from './training.js';
import type { Experiment } from './types.js';

function kernels(model: tfl.LayersModel): { name: string; shape: readonly number[]; data: Float32Array }[] {
  return toWeightSet(model).tensors.filter((t) => t.prunable);
}

function median(xs: Float64Array): number {
  const s = Float64Array.from(xs).sort();
  return s.length === 0 ? 0 : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export const lipschitzExperiment: Experiment = {
  name: 'lipschitz',
  description: 'per-layer spectral norms, their product (ℓ2 Lipschitz bound) and certified radii of test inputs against sparsity',
  needsTraining: true,
  async run(ctx) {
    const sz = sizes(ctx);
    const data = ctx.loadData(sz.trainLimit, sz.testLimit);
    const { model } = await trainDense(ctx, data, sz.epochs);
    const trained = snapshotWeights(model);
    const rows = [];
    for (const sparsity of [0, 0.5, 0.8, 0.9, 0.95, 0.98]) {
      restoreWeights(model, trained);
      // Every row, the dense one included, gets the same extra epoch: only the mask differs.
      const masks = masksOf(model, pruneOptions(sparsity, 'global'));
      applyMasksToModel(model, masks);
      const oneShot = lipschitzBound(kernels(model), ctx.seed + 1);
      const oneShotRadii = certifiedRadii(logitsOf(model, data.test), data.test.labels, data.classes, oneShot.lipschitz);
      const oneShotAccuracy = evaluate(model, data.test);
      fineTune(model, data.train, masks, trainConfig(1, ctx.seed + 5));
      const b = lipschitzBound(kernels(model), ctx.seed + 1);
      const logits = logitsOf(model, data.test);
      const radii = certifiedRadii(logits, data.test.labels, data.classes, b.lipschitz);
      let sum = 0;
      let positive = 0;
      for (const r of radii) { sum += r; if (r > 0) positive++; }
      const row = {
        sparsity, testAccuracy: evaluate(model, data.test), lipschitz: b.lipschitz,
        layers: b.layers.map((l) => ({ name: l.name, spectralNorm: l.spectralNorm })),
        meanRadius: sum / radii.length, medianRadius: median(radii), medianRadiusCorrect: median(radii.filter((r) => r > 0)), certifiedFraction: positive / radii.length,
        oneShot: {
          testAccuracy: oneShotAccuracy, lipschitz: oneShot.lipschitz, layers: oneShot.layers.map((l) => ({ name: l.name, spectralNorm: l.spectralNorm })),
          medianRadiusCorrect: median(oneShotRadii.filter((r) => r > 0)),
        },
      };
      rows.push(row);
      ctx.log(`lipschitz: ${sparsity}: L = ${b.lipschitz.toPrecision(4)}, median radius ${row.medianRadiusCorrect.toExponential(3)}, accuracy ${row.testAccuracy.toFixed(4)}`);
    }
    model.dispose();
    const normPoints = rows.flatMap((r) => [
      ...r.layers.map((l) => ({ sparsity: r.sparsity, value: l.spectralNorm, series: l.name })),
      { sparsity: r.sparsity, value: r.lipschitz, series: 'product L, fine-tuned' },
      { sparsity: r.sparsity, value: r.oneShot.lipschitz, series: 'product L, one-shot' },
    ]);
    return {
      result: { experiment: 'lipschitz', model: MODEL, norm: 'l2', radius: 'margin / (sqrt(2) * L)', train: data.train.count, test: data.test.count, epochs: sz.epochs, fineTuneEpochs: 1, rows },
      report: {
        title: 'Lipschitz bound and certified radius against sparsity',
        subtitle: `${MODEL}; global magnitude pruning, one-shot and after 1 epoch of fine-tuning (the dense row gets the same epoch); ℓ2 norms, power iteration`,
        charts: [
          { title: 'Spectral norms and their product', spec: lineChart(normPoints, 'sparsity', 'value', 'series', { yLog: true }) },
          { title: 'Median certified ℓ2 radius of correctly classified test inputs', spec: lineChart(rows.flatMap((r) => [{ sparsity: r.sparsity, radius: r.medianRadiusCorrect, series: 'fine-tuned' }, { sparsity: r.sparsity, radius: r.oneShot.medianRadiusCorrect, series: 'one-shot' }]), 'sparsity', 'radius', 'series') },
        ],
        tables: [{ title: 'Per sparsity', columns: ['sparsity', 'one-shot accuracy', 'one-shot L', 'one-shot median radius', 'fine-tuned accuracy', 'fine-tuned L', ...rows[0].layers.map((l) => l.name), 'median radius (correct)', 'mean radius'], rows: rows.map((r) => [r.sparsity, round(r.oneShot.testAccuracy), round(r.oneShot.lipschitz, 3), Number(r.oneShot.medianRadiusCorrect.toPrecision(4)), round(r.testAccuracy), round(r.lipschitz, 3), ...r.layers.map((l) => round(l.spectralNorm, 3)), Number(r.medianRadiusCorrect.toPrecision(4)), Number(r.meanRadius.toPrecision(4))]) }],
      },
    };
  },
};

const FASHION_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

export const fairnessExperiment: Experiment = {
  name: 'fairness',
  description: 'per-class accuracy and the best–worst gap, dense vs IMP tickets (rewound to init) at several densities',
  needsTraining: true,
  async run(ctx) {
    const sz = sizes(ctx, 2);
    const rounds = ctx.quick ? 3 : 6;
    const rate = 0.5;
    const data = ctx.loadData(sz.trainLimit, sz.testLimit);
    const model = await ctx.buildModel(MODEL, data, ctx.seed);
    const init = snapshotWeights(model);
    let masks: Map<string, Mask> | undefined;
    const rows = [];
    for (let round = 0; round < rounds; round++) {
      if (round > 0) {
        masks = masksOf(model, pruneOptions(rate, 'global', 'magnitude', ctx.seed, { fractionOfRemaining: true }), masks);
        restoreWeights(model, init);
      }
      const state = masks === undefined ? undefined : new MaskState(model, masks);
      const r = trainModel(model, data.train, trainConfig(sz.epochs, ctx.seed + round), state);
      r.masks?.dispose();
      const per = perClassAccuracy(logitsOf(model, data.test), data.test.labels, data.classes);
      const best = Math.max(...per.accuracy);
      const worst = Math.min(...per.accuracy);
      const row = {
        round, density: masks === undefined ? 1 : densities(masks).overall, testAccuracy: evaluate(model, data.test),
        groups: per.accuracy.map((a, c) => ({ group: FASHION_CLASSES[c] ?? String(c), accuracy: a, count: per.count[c] })),
        gap: best - worst, worstGroup: FASHION_CLASSES[per.accuracy.indexOf(worst)],
      };
      rows.push(row);
      ctx.log(`fairness: density ${row.density.toFixed(4)}: accuracy ${row.testAccuracy.toFixed(4)}, gap ${row.gap.toFixed(4)} (worst ${row.worstGroup})`);
    }
    model.dispose();
    const points = rows.flatMap((r) => r.groups.map((g) => ({ density: r.density, accuracy: g.accuracy, group: g.group })));
    return {
      result: { experiment: 'fairness', model: MODEL, groups: 'the 10 Fashion-MNIST classes (group = true label)', rate, rounds, epochsPerRound: sz.epochs, train: data.train.count, test: data.test.count, rows },
      report: {
        title: 'Fairness: per-class accuracy of IMP tickets',
        subtitle: `${MODEL}; IMP removing ${rate * 100}% of survivors per round, rewound to init; group = class`,
        charts: [
          { title: 'Per-class test accuracy against density', spec: lineChart(points, 'density', 'accuracy', 'group', { xLog: true }) },
          { title: 'Best–worst class gap against density', spec: lineChart(rows.map((r) => ({ density: r.density, gap: r.gap })), 'density', 'gap', undefined, { xLog: true }) },
        ],
        tables: [{ title: 'Per round', columns: ['density', 'accuracy', 'gap', 'worst class', ...FASHION_CLASSES], rows: rows.map((r) => [round4(r.density), round4(r.testAccuracy), round4(r.gap), r.worstGroup, ...r.groups.map((g) => round4(g.accuracy))]) }],
      },
    };
  },
};

function round4(x: number): number {
  return round(x, 4);
}

/** All kernels' masks as one bit vector (file order) and back. */
function concatMasks(names: string[], masks: Map<string, Mask>): Mask {
  const total = names.reduce((s, n) => s + (masks.get(n) as Mask).length, 0);
  const out = new Mask(total);
  let o = 0;
  for (const n of names) {
    const m = masks.get(n) as Mask;
    for (let i = 0; i < m.length; i++) if (m.get(i)) out.words[(o + i) >>> 5] |= 1 << ((o + i) & 31);
    o += m.length;
  }
  return out;
}

function splitMask(names: string[], lengths: number[], m: Mask): Map<string, Mask> {
  const out = new Map<string, Mask>();
  let o = 0;
  names.forEach((n, k) => {
    const part = new Mask(lengths[k]);
    for (let i = 0; i < lengths[k]; i++) if (m.get(o + i)) part.words[i >>> 5] |= 1 << (i & 31);
    out.set(n, part);
    o += lengths[k];
  });
  return out;
}

export const privateMasksExperiment: Experiment = {
  name: 'private-masks',
  description: 'federated clients report their pruning masks by randomised response at privacy level ε; the server debiases and aggregates',
  needsTraining: true,
  async run(ctx) {
    const sz = sizes(ctx, 2);
    const clients = ctx.quick ? 4 : 10;
    const sparsity = 0.8;
    const data = ctx.loadData(sz.trainLimit, sz.testLimit);
    const per = data.train.images.length / data.train.count;
    const shard = Math.floor(data.train.count / clients);
    const model = await ctx.buildModel(MODEL, data, ctx.seed);
    const init = snapshotWeights(model);
    const names = kernels(model).map((k) => k.name);
    const clientMasks: Mask[] = [];
    const sum = new Map<string, Float32Array>();
    for (let c = 0; c < clients; c++) {
      restoreWeights(model, init);
      const split = { images: data.train.images.subarray(c * shard * per, (c + 1) * shard * per), labels: data.train.labels.subarray(c * shard, (c + 1) * shard), count: shard };
      trainModel(model, split, trainConfig(sz.epochs, ctx.seed + c));
      clientMasks.push(concatMasks(names, masksOf(model, pruneOptions(sparsity, 'global'))));
      for (const w of modelWeights(model)) {
        const v = w.variable.dataSync() as Float32Array;
        const acc = sum.get(w.name) ?? new Float32Array(v.length);
        for (let i = 0; i < v.length; i++) acc[i] += v[i] / clients;
        sum.set(w.name, acc);
      }
      ctx.log(`private-masks: client ${c + 1}/${clients} trained on ${shard} examples`);
    }
    const lengths = names.map((n) => (sum.get(n) as Float32Array).length);
    const bits = clientMasks[0].length;
    const kept = clientMasks[0].keptCount();
    const exactFreq = debiasedFrequency(clientMasks, 0);
    const reference = topKMask(exactFreq, kept);
    const evalWith = (m: Mask): number => {
      restoreWeights(model, sum);
      applyMasksToModel(model, splitMask(names, lengths, m));
      return evaluate(model, data.test);
    };
    restoreWeights(model, sum);
    const fedAvgDense = evaluate(model, data.test);
    const rng = new Rng(ctx.seed + 99);
    const rows: { epsilon: number | null; flipProbability: number; maskAgreement: number; testAccuracy: number; totalEpsilonPerClient: number | null }[] = [];
    rows.push({ epsilon: null, flipProbability: 0, maskAgreement: 1, testAccuracy: evalWith(reference), totalEpsilonPerClient: null });
    for (const epsilon of [0.25, 0.5, 1, 2, 4, 8]) {
      const p = flipProbability(epsilon);
      const reports = clientMasks.map((m) => randomisedResponse(m, p, rng));
      const agg = topKMask(debiasedFrequency(reports, p), kept);
      rows.push({ epsilon, flipProbability: p, maskAgreement: maskAgreement(agg, reference), testAccuracy: evalWith(agg), totalEpsilonPerClient: composedEpsilon(epsilon, bits, 1) });
      ctx.log(`private-masks: ε = ${epsilon}: agreement ${rows[rows.length - 1].maskAgreement.toFixed(4)}, accuracy ${rows[rows.length - 1].testAccuracy.toFixed(4)}`);
    }
    model.dispose();
    const composition = `basic composition: each client reports all ${bits} mask bits once, each bit ε-LDP, so its total budget is ε·${bits} (one round); the table's totalEpsilonPerClient`;
    return {
      result: {
        experiment: 'private-masks', model: MODEL, clients, examplesPerClient: shard, epochs: sz.epochs, sparsity, bitsPerClient: bits,
        aggregation: 'FedAvg of client weights; server mask = the (1 − sparsity)·d elements of highest debiased keep-frequency', fedAvgDenseAccuracy: fedAvgDense,
        composition, rows,
      },
      report: {
        title: 'Private masks: randomised response on pruning masks',
        subtitle: `${clients} clients × ${shard} examples, local ${sparsity * 100}% global magnitude pruning; flip probability 1/(1 + e^ε)`,
        summary: [composition, `non-private aggregate mask: accuracy ${rows[0].testAccuracy.toFixed(4)} (FedAvg dense ${fedAvgDense.toFixed(4)})`],
        charts: [
          { title: 'Agreement with the non-private aggregate mask', spec: lineChart(rows.filter((r) => r.epsilon !== null), 'epsilon', 'maskAgreement', undefined, { xLog: true, xTitle: 'ε per bit' }) },
          { title: 'Test accuracy of FedAvg weights under the private mask', spec: lineChart(rows.filter((r) => r.epsilon !== null), 'epsilon', 'testAccuracy', undefined, { xLog: true, xTitle: 'ε per bit' }) },
        ],
        tables: [{ title: 'Per ε', columns: ['ε per bit', 'flip probability', 'mask agreement', 'test accuracy', 'total ε per client (basic composition)'], rows: rows.map((r) => [r.epsilon ?? '∞ (no noise)', round(r.flipProbability), round(r.maskAgreement), round(r.testAccuracy), r.totalEpsilonPerClient]) }],
      },
    };
  },
};
