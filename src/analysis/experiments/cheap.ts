/** The experiments that need no training: lottery probability, IMP density, sensor selection. */
import { Rng } from '../../core/rng.js';
import { WeightSet, type WeightTensor } from '../../core/types.js';
import { impDensity } from '../imp-density.js';
import { lotteryClosedForm, lotteryMonteCarlo, type LotteryModel } from '../lottery-probability.js';
import { exactSelection, greedySelection, magnitudeSelection, type SensorModel } from '../sensor-selection.js';
import { barChart, lineChart, round } from './charts.js';
import type { Experiment } from './types.js';

export const lotteryProbabilityExperiment: Experiment = {
  name: 'lottery-probability',
  description: 'P(magnitude pruning at init keeps exactly a sparse teacher\'s support): closed form vs Monte Carlo',
  needsTraining: false,
  async run(ctx) {
    const base: LotteryModel = { n: 100, supportSize: 10, teacherMagnitude: 1, initVariance: 0.04, threshold: 0.5 };
    const trials = ctx.quick ? 20_000 : 200_000;
    const cf = lotteryClosedForm(base);
    const mc = lotteryMonteCarlo(base, trials, ctx.seed);
    // The sweep over the initialisation scale σ shows where the lottery is won.
    const sweep = [];
    for (const sigma of [0.1, 0.15, 0.2, 0.25, 0.3, 0.35]) {
      const m = { ...base, initVariance: sigma * sigma };
      const c = lotteryClosedForm(m).closedForm;
      const s = lotteryMonteCarlo(m, Math.round(trials / 4), ctx.seed + 1);
      sweep.push({ initStd: sigma, closedForm: c, monteCarlo: s.monteCarlo, monteCarloStdErr: s.monteCarloStdErr });
    }
    const result = {
      experiment: 'lottery-probability',
      n: base.n, supportSize: base.supportSize, teacherMagnitude: base.teacherMagnitude, initVariance: base.initVariance, threshold: base.threshold,
      pKeepSupport: cf.pKeepSupport, pDropOffSupport: cf.pDropOffSupport,
      closedForm: cf.closedForm, monteCarlo: mc.monteCarlo, monteCarloStdErr: mc.monteCarloStdErr, trials,
      standardErrorsApart: Math.abs(mc.monteCarlo - cf.closedForm) / mc.monteCarloStdErr,
      sweep,
    };
    const points = sweep.flatMap((r) => [
      { initStd: r.initStd, probability: r.closedForm, method: 'closed form' },
      { initStd: r.initStd, probability: r.monteCarlo, method: 'Monte Carlo' },
    ]);
    return {
      result,
      report: {
        title: 'Lottery probability: magnitude pruning at initialisation',
        subtitle: 'w = w* + ε, ε ~ N(0, σ²I); keep |w| > τ; success = kept set equals supp(w*)',
        settings: { n: base.n, supportSize: base.supportSize, teacherMagnitude: base.teacherMagnitude, initVariance: base.initVariance, threshold: base.threshold, trials, seed: ctx.seed },
        summary: [
          `closed form p_in^k · p_out^(n−k) = ${cf.closedForm.toFixed(5)}; Monte Carlo ${mc.monteCarlo.toFixed(5)} ± ${mc.monteCarloStdErr.toFixed(5)} (${trials} trials): ${result.standardErrorsApart.toFixed(2)} standard errors apart.`,
        ],
        charts: [{ title: 'P(exact support) against the initialisation scale σ', spec: lineChart(points, 'initStd', 'probability', 'method', { xTitle: 'σ (init std)' }) }],
        tables: [{ title: 'Sweep', columns: ['σ', 'closed form', 'Monte Carlo', 'std err'], rows: sweep.map((r) => [r.initStd, round(r.closedForm, 5), round(r.monteCarlo, 5), round(r.monteCarloStdErr, 5)]) }],
      },
    };
  },
};

/** A WeightSet with LeNet-300-100's kernel shapes and seeded N(0, 1) values (IMP's masks depend only on the ranking). */
export function lenetShapedWeights(seed: number): WeightSet {
  const rng = new Rng(seed);
  const shapes: [string, number[]][] = [['fc1/kernel', [784, 300]], ['fc2/kernel', [300, 100]], ['fc3/kernel', [100, 10]]];
  const tensors: WeightTensor[] = shapes.map(([name, shape]) => ({
    name, shape, role: 'weight', op: 'Dense', prunable: true, reason: 'Dense kernel [in, out]', outputAxis: 1,
    data: Float32Array.from({ length: shape[0] * shape[1] }, () => rng.normal()),
  }));
  return new WeightSet(tensors);
}

export const impDensityExperiment: Experiment = {
  name: 'imp-density',
  description: 'IMP density law (1 − rate)^round, measured from the masks the core produces',
  needsTraining: false,
  async run(ctx) {
    const ws = lenetShapedWeights(ctx.seed);
    const rounds = ctx.quick ? 10 : 25;
    const rows = [0.1, 0.2, 0.5].flatMap((rate) => impDensity(ws, rate, rounds, 'global', ctx.seed));
    const relErr = (r: (typeof rows)[number]): number => Math.abs(r.density - r.expected) / r.expected;
    const maxRelErr = Math.max(...rows.map(relErr));
    // Once only a handful of weights survive, rounding each round's count dominates (round(0.5·1) = 0).
    const maxRelErrAlive100 = Math.max(...rows.filter((r) => r.expected * ws.parameterCount >= 100).map(relErr));
    return {
      result: { experiment: 'imp-density', parameters: ws.parameterCount, rounds, maxRelativeError: maxRelErr, maxRelativeErrorWhile100Alive: maxRelErrAlive100, rows },
      report: {
        title: 'IMP density law',
        subtitle: 'density after R rounds of pruning a fraction `rate` of the survivors, counted from real masks',
        settings: { weights: 'LeNet-300-100 kernel shapes, seeded N(0,1)', parameters: ws.parameterCount, rounds, seed: ctx.seed },
        summary: [`largest relative deviation from (1 − rate)^R while ≥ 100 weights survive: ${maxRelErrAlive100.toExponential(2)}; overall ${maxRelErr.toExponential(2)} (rounding of each round's count once few survive)`],
        charts: [{
          title: 'Measured density (points) and (1 − rate)^R',
          spec: lineChart(rows.map((r) => ({ round: r.round, density: r.density, rate: String(r.rate) })), 'round', 'density', 'rate', { yLog: true }),
        }],
        tables: [{ title: 'Rounds', columns: ['rate', 'round', 'density', '(1 − rate)^R'], rows: rows.map((r) => [r.rate, r.round, round(r.density, 6), round(r.expected, 6)]) }],
      },
    };
  },
};

/**
 * Sensors are rows hᵢ drawn so that a few large ones are near-copies of one direction: the
 * situation where magnitude selection wastes its budget on redundant sensors.
 */
export function redundantSensors(n: number, d: number, redundant: number, seed: number): SensorModel {
  const rng = new Rng(seed);
  const h = new Float64Array(n * d);
  const dir = Array.from({ length: d }, () => rng.normal());
  const dn = Math.hypot(...dir);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      h[i * d + j] = i < redundant ? (3 * dir[j]) / dn + 0.1 * rng.normal() : rng.normal() * (0.6 + 0.8 * rng.next());
    }
  }
  return { h, n, d, priorVariance: 1, noiseVariance: 0.25 };
}

export const sensorSelectionExperiment: Experiment = {
  name: 'sensor-selection',
  description: 'k of n sensors by weight-norm magnitude vs A-optimal (exact on small n, greedy on larger)',
  needsTraining: false,
  async run(ctx) {
    const rows: { setting: string; n: number; d: number; k: number; method: string; objective: number; magnitudeObjective: number; ratio: number }[] = [];
    // 'redundant': a few large sensors are near-copies of one direction; 'independent': i.i.d.
    // rows of varied scale, the situation where magnitude should do well.
    for (const [setting, redundant] of [['redundant', 5], ['independent', 0]] as const) {
      const small = redundantSensors(ctx.quick ? 14 : 20, 4, redundant, ctx.seed);
      for (const k of [2, 3, 4, 5, 6]) {
        const mag = magnitudeSelection(small, k);
        const opt = exactSelection(small, k);
        const gr = greedySelection(small, k);
        rows.push({ setting, n: small.n, d: small.d, k, method: 'exact', objective: opt.objective, magnitudeObjective: mag.objective, ratio: mag.objective / opt.objective });
        rows.push({ setting, n: small.n, d: small.d, k, method: 'greedy', objective: gr.objective, magnitudeObjective: mag.objective, ratio: mag.objective / gr.objective });
      }
      const large = redundantSensors(ctx.quick ? 100 : 300, 12, redundant * 4, ctx.seed + 1);
      for (const k of [5, 10, 20, 40]) {
        const mag = magnitudeSelection(large, k);
        const gr = greedySelection(large, k);
        rows.push({ setting, n: large.n, d: large.d, k, method: 'greedy', objective: gr.objective, magnitudeObjective: mag.objective, ratio: mag.objective / gr.objective });
      }
    }
    const chart = rows.flatMap((r) => [
      { setting: `${r.setting} n=${r.n} k=${r.k}`, objective: r.objective, method: r.method },
      { setting: `${r.setting} n=${r.n} k=${r.k}`, objective: r.magnitudeObjective, method: 'magnitude' },
    ]).filter((r, i, a) => a.findIndex((o) => o.setting === r.setting && o.method === r.method) === i);
    return {
      result: { experiment: 'sensor-selection', model: 'y = Hx + e, x ~ N(0, I), e ~ N(0, 0.25); objective tr P(S)', rows },
      report: {
        title: 'Sensor selection: magnitude vs A-optimal',
        subtitle: 'objective = trace of the posterior covariance (σ₀⁻²I + H_SᵀH_S/σ²)⁻¹, lower is better',
        settings: { smallN: ctx.quick ? 14 : 20, largeN: ctx.quick ? 100 : 300, seed: ctx.seed },
        summary: ['redundant', 'independent'].map((st) => `${st}: magnitude/optimal objective ratio up to ${Math.max(...rows.filter((r) => r.setting === st).map((r) => r.ratio)).toFixed(3)}`),
        charts: [{ title: 'Posterior trace by method', spec: barChart(chart, 'setting', 'objective', 'method', { yTitle: 'tr P(S)' }) }],
        tables: [{ title: 'Objectives', columns: ['setting', 'n', 'd', 'k', 'optimiser', 'optimal tr P', 'magnitude tr P', 'ratio'], rows: rows.map((r) => [r.setting, r.n, r.d, r.k, r.method, round(r.objective), round(r.magnitudeObjective), round(r.ratio)]) }],
      },
    };
  },
};
