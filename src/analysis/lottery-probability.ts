/**
 * The probability that magnitude pruning at initialisation finds a sparse teacher's support.
 *
 * Model. A teacher w* ∈ ℝⁿ has support S of size k, with |w*ᵢ| = a for i ∈ S and w*ᵢ = 0 outside.
 * The student starts at w = w* + ε with ε ~ N(0, σ²Iₙ) (initialisation noise of variance σ²).
 * Magnitude pruning with threshold τ keeps K = {i : |wᵢ| > τ}. Success means K = S exactly.
 * Coordinates are independent, so
 *   P(K = S) = p_in^k · p_out^(n−k),
 *   p_in  = P(|a + σZ| > τ) = Φ((a − τ)/σ) + Φ((−a − τ)/σ),
 *   p_out = P(|σZ| ≤ τ)     = 2Φ(τ/σ) − 1,
 * with Z standard normal. The Monte Carlo estimate draws `trials` students and counts exact
 * recoveries; its standard error is sqrt(p̂(1 − p̂)/trials).
 */
import { SculptError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import { bernoulliEstimate, normalCdf } from './stats.js';

export interface LotteryModel {
  /** Number of weights n. */
  readonly n: number;
  /** Support size k of the teacher (0 ≤ k ≤ n). */
  readonly supportSize: number;
  /** Magnitude a of the teacher's non-zero weights. */
  readonly teacherMagnitude: number;
  /** Variance σ² of the initialisation noise added to the teacher. */
  readonly initVariance: number;
  /** Magnitude threshold τ: weights with |w| > τ are kept. */
  readonly threshold: number;
}

export interface LotteryProbability {
  readonly pKeepSupport: number;
  readonly pDropOffSupport: number;
  readonly closedForm: number;
}

function check(m: LotteryModel): void {
  if (!Number.isInteger(m.n) || m.n < 1) throw new SculptError(`lottery model: n must be a positive integer, got ${m.n}`);
  if (!Number.isInteger(m.supportSize) || m.supportSize < 0 || m.supportSize > m.n) {
    throw new SculptError(`lottery model: support size must be an integer in [0, ${m.n}], got ${m.supportSize}`);
  }
  if (!(m.initVariance > 0)) throw new SculptError(`lottery model: init variance must be positive, got ${m.initVariance}`);
  if (!(m.threshold >= 0)) throw new SculptError(`lottery model: threshold must be ≥ 0, got ${m.threshold}`);
}

/** The closed form P(K = S) = p_in^k · p_out^(n−k) and its two factors. */
export function lotteryClosedForm(m: LotteryModel): LotteryProbability {
  check(m);
  const s = Math.sqrt(m.initVariance);
  const a = m.teacherMagnitude;
  const pIn = normalCdf((a - m.threshold) / s) + normalCdf((-a - m.threshold) / s);
  const pOut = 2 * normalCdf(m.threshold / s) - 1;
  const closedForm = Math.pow(pIn, m.supportSize) * Math.pow(pOut, m.n - m.supportSize);
  return { pKeepSupport: pIn, pDropOffSupport: pOut, closedForm };
}

/** Monte Carlo estimate of P(K = S) from `trials` seeded draws, with its standard error. */
export function lotteryMonteCarlo(m: LotteryModel, trials: number, seed: number): { monteCarlo: number; monteCarloStdErr: number; trials: number } {
  check(m);
  if (!Number.isInteger(trials) || trials < 1) throw new SculptError(`--trials must be a positive integer, got ${trials}`);
  const rng = new Rng(seed);
  const s = Math.sqrt(m.initVariance);
  let hits = 0;
  for (let t = 0; t < trials; t++) {
    let ok = true;
    // Draw every coordinate even after a failure, so the stream per trial is fixed.
    for (let i = 0; i < m.n; i++) {
      const w = (i < m.supportSize ? m.teacherMagnitude : 0) + s * rng.normal();
      const kept = Math.abs(w) > m.threshold;
      if (kept !== i < m.supportSize) ok = false;
    }
    if (ok) hits++;
  }
  const e = bernoulliEstimate(hits, trials);
  return { monteCarlo: e.mean, monteCarloStdErr: e.stdErr, trials };
}
