import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/core/rng.js';
import { Mask } from '../../src/core/mask.js';
import { WeightSet } from '../../src/core/types.js';
import { normalCdf } from '../../src/analysis/stats.js';
import { cholesky, jacobiEigenvalues, spdInverse } from '../../src/analysis/linalg.js';
import { lotteryClosedForm, lotteryMonteCarlo } from '../../src/analysis/lottery-probability.js';
import { certifiedRadii, lipschitzBound, spectralNorm, spectralNormExact } from '../../src/analysis/lipschitz.js';
import { exactSelection, greedySelection, magnitudeSelection, posteriorTrace, type SensorModel } from '../../src/analysis/sensor-selection.js';
import { composedEpsilon, debiasedFrequency, flipProbability, maskAgreement, randomisedResponse, topKMask } from '../../src/analysis/private-masks.js';
import { impDensity } from '../../src/analysis/imp-density.js';

function randomMatrix(rows: number, cols: number, seed: number): Float64Array {
  const r = new Rng(seed);
  return Float64Array.from({ length: rows * cols }, () => r.normal());
}

test('normalCdf matches known values', () => {
  assert.ok(Math.abs(normalCdf(0) - 0.5) < 1e-7);
  assert.ok(Math.abs(normalCdf(1.959963985) - 0.975) < 2e-7);
  assert.ok(Math.abs(normalCdf(-2.5) - 0.00620966532) < 2e-9);
});

test('Jacobi eigenvalues of a diagonalisable matrix are exact', () => {
  // A = Q diag(5, 2, -1) Qᵀ with a rotation Q.
  const c = Math.cos(0.3), s = Math.sin(0.3);
  const q = [c, -s, 0, s, c, 0, 0, 0, 1];
  const d = [5, 2, -1];
  const a = new Float64Array(9);
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 3; k++) a[i * 3 + j] += q[i * 3 + k] * d[k] * q[j * 3 + k];
  const ev = jacobiEigenvalues(a, 3);
  assert.deepEqual(Array.from(ev, (v) => Math.round(v * 1e10) / 1e10), [5, 2, -1]);
});

test('Cholesky and SPD inverse reconstruct the identity', () => {
  const b = randomMatrix(6, 6, 3);
  const a = new Float64Array(36);
  for (let i = 0; i < 6; i++) for (let j = 0; j < 6; j++) { for (let k = 0; k < 6; k++) a[i * 6 + j] += b[k * 6 + i] * b[k * 6 + j]; if (i === j) a[i * 6 + j] += 0.5; }
  const l = cholesky(a, 6);
  const inv = spdInverse(a, 6);
  for (let i = 0; i < 6; i++) for (let j = 0; j < 6; j++) {
    let llt = 0, ai = 0;
    for (let k = 0; k < 6; k++) { llt += l[i * 6 + k] * l[j * 6 + k]; ai += a[i * 6 + k] * inv[k * 6 + j]; }
    assert.ok(Math.abs(llt - a[i * 6 + j]) < 1e-9);
    assert.ok(Math.abs(ai - (i === j ? 1 : 0)) < 1e-9);
  }
});

test('power iteration agrees with the exact spectral norm (Jacobi on WᵀW) for several shapes', () => {
  for (const [rows, cols, seed] of [[7, 5, 1], [5, 9, 2], [30, 20, 3], [1, 4, 4]] as const) {
    const w = randomMatrix(rows, cols, seed);
    const exact = spectralNormExact(w, rows, cols);
    const power = spectralNorm(w, rows, cols, { seed: 9 });
    assert.ok(Math.abs(power - exact) / exact < 1e-6, `${rows}x${cols}: ${power} vs ${exact}`);
  }
  // A rank-one matrix u vᵀ has σ_max = ‖u‖‖v‖.
  const u = [1, 2, 2], v = [3, 4];
  const w = new Float64Array(6);
  for (let i = 0; i < 3; i++) for (let j = 0; j < 2; j++) w[i * 2 + j] = u[i] * v[j];
  assert.ok(Math.abs(spectralNorm(w, 3, 2) - 15) < 1e-9);
  assert.ok(Math.abs(spectralNormExact(w, 3, 2) - 15) < 1e-9);
});

test('Lipschitz bound is the product of layer norms; radius = margin/(√2 L); a network never moves more', () => {
  const w1 = randomMatrix(4, 6, 5), w2 = randomMatrix(6, 3, 6);
  const b = lipschitzBound([{ name: 'a', shape: [4, 6], data: w1 }, { name: 'b', shape: [6, 3], data: w2 }]);
  const prod = spectralNormExact(w1, 4, 6) * spectralNormExact(w2, 6, 3);
  assert.ok(Math.abs(b.lipschitz - prod) / prod < 1e-6);
  const r = certifiedRadii([3, 1, 0, 0, 2, 5], [0, 0], 3, 2);
  assert.ok(Math.abs(r[0] - 2 / (Math.SQRT2 * 2)) < 1e-12);
  assert.equal(r[1], 0);
  // Empirical check: f(x) = relu(x W1) W2 with x, x' random: ‖f(x) − f(x')‖ ≤ L ‖x − x'‖.
  const rng = new Rng(7);
  const f = (x: number[]): number[] => {
    const h = Array.from({ length: 6 }, (_, j) => Math.max(0, x.reduce((s, xi, i) => s + xi * w1[i * 6 + j], 0)));
    return Array.from({ length: 3 }, (_, j) => h.reduce((s, hi, i) => s + hi * w2[i * 3 + j], 0));
  };
  for (let t = 0; t < 200; t++) {
    const x = Array.from({ length: 4 }, () => rng.normal());
    const y = Array.from({ length: 4 }, () => rng.normal());
    const fx = f(x), fy = f(y);
    const dOut = Math.hypot(...fx.map((v, i) => v - fy[i]));
    const dIn = Math.hypot(...x.map((v, i) => v - y[i]));
    assert.ok(dOut <= b.lipschitz * dIn * (1 + 1e-9));
  }
});

test('lottery probability: closed form within 4 standard errors of Monte Carlo', () => {
  const m = { n: 60, supportSize: 6, teacherMagnitude: 1, initVariance: 0.04, threshold: 0.5 };
  const cf = lotteryClosedForm(m);
  assert.ok(cf.closedForm > 0.2 && cf.closedForm < 0.8, String(cf.closedForm));
  const mc = lotteryMonteCarlo(m, 20000, 1);
  assert.ok(Math.abs(mc.monteCarlo - cf.closedForm) < 4 * mc.monteCarloStdErr, `${mc.monteCarlo} vs ${cf.closedForm} ± ${mc.monteCarloStdErr}`);
  // Threshold 0 keeps everything: success only if the support is everything.
  assert.equal(lotteryClosedForm({ ...m, threshold: 0 }).closedForm, 0);
  assert.equal(lotteryClosedForm({ ...m, supportSize: 60, threshold: 0 }).closedForm, 1);
});

function sensorModel(): SensorModel {
  // 10 sensors in d = 3: sensors 0-3 are large near-copies of one direction, the rest small and spread.
  const rng = new Rng(11);
  const n = 10, d = 3;
  const h = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) h[i * d + j] = i < 4 ? (j === 0 ? 3 : 0) + 0.05 * rng.normal() : rng.normal();
  }
  return { h, n, d, priorVariance: 1, noiseVariance: 0.5 };
}

test('sensor selection: exact ≤ greedy ≤ … and magnitude picks the redundant sensors', () => {
  const m = sensorModel();
  const mag = magnitudeSelection(m, 3);
  const ex = exactSelection(m, 3);
  const gr = greedySelection(m, 3);
  assert.deepEqual(mag.sensors.filter((s) => s < 4).length, 3);
  assert.ok(ex.objective <= gr.objective + 1e-12);
  assert.ok(ex.objective <= mag.objective + 1e-12);
  assert.ok(mag.objective / ex.objective > 1.2, `ratio ${mag.objective / ex.objective}`);
  // Brute-force check of one subset's objective against the greedy's rank-one arithmetic: k = 1.
  const g1 = greedySelection(m, 1);
  let best = Infinity;
  for (let s = 0; s < m.n; s++) best = Math.min(best, posteriorTrace(m, [s]));
  assert.ok(Math.abs(g1.objective - best) < 1e-12);
  assert.ok(Math.abs(posteriorTrace(m, []) - 3) < 1e-12);
});

test('randomised response: flip rate, unbiased debiasing, composition', () => {
  assert.ok(Math.abs(flipProbability(Math.log(3)) - 0.25) < 1e-15);
  assert.equal(composedEpsilon(0.5, 100, 3), 150);
  const d = 2000;
  const truth = new Mask(d);
  for (let i = 0; i < d; i += 3) truth.set(i, true);
  const rng = new Rng(4);
  const p = flipProbability(1);
  const reports = Array.from({ length: 400 }, () => randomisedResponse(truth, p, rng));
  let flips = 0;
  for (let i = 0; i < d; i++) if (reports[0].get(i) !== truth.get(i)) flips++;
  const se = Math.sqrt((p * (1 - p)) / d);
  assert.ok(Math.abs(flips / d - p) < 4 * se);
  const f = debiasedFrequency(reports, p);
  let mean1 = 0, mean0 = 0;
  for (let i = 0; i < d; i++) if (truth.get(i)) mean1 += f[i]; else mean0 += f[i];
  mean1 /= truth.keptCount(); mean0 /= d - truth.keptCount();
  assert.ok(Math.abs(mean1 - 1) < 0.01 && Math.abs(mean0) < 0.01, `${mean1} ${mean0}`);
  const agg = topKMask(f, truth.keptCount());
  assert.equal(agg.keptCount(), truth.keptCount());
  assert.ok(maskAgreement(agg, truth) > 0.99);
});

test('IMP density from real masks follows (1 − rate)^round up to rounding', () => {
  const rng = new Rng(2);
  const mk = (name: string, shape: number[]) => ({
    name, shape, data: Float32Array.from({ length: shape[0] * shape[1] }, () => rng.normal()), role: 'weight' as const, prunable: true, reason: '', outputAxis: 1,
  });
  const ws = new WeightSet([mk('a', [50, 30]), mk('b', [30, 10])]);
  const rows = impDensity(ws, 0.2, 8);
  assert.equal(rows.length, 9);
  let alive = 1800;
  for (const r of rows.slice(1)) {
    const p = Math.round(0.2 * alive);
    alive -= p;
    assert.equal(r.density, alive / 1800);
    assert.ok(Math.abs(r.density - r.expected) < 1e-3);
  }
});
