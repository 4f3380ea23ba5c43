/**
 * Choosing k of n sensors (neurons) under a linear-Gaussian model: magnitude against A-optimal.
 *
 * Model. An unknown state x ∈ ℝᵈ has prior N(0, σ₀²·I). Sensor i (row hᵢ of H, n×d) reads
 * yᵢ = hᵢᵀx + e with e ~ N(0, σ²). With the subset S read, the posterior covariance is
 *   P(S) = (σ₀⁻²·I + H_Sᵀ H_S / σ²)⁻¹,
 * and the A-optimal design minimises tr P(S) (the summed posterior variance). Magnitude selection
 * takes the k rows of largest ‖hᵢ‖₂, blind to redundancy between sensors. The optimum is found by
 * enumerating every subset (small n) or greedily, adding the sensor whose rank-one update
 * P ← P − P h hᵀ P / (σ² + hᵀ P h) lowers the trace most.
 */
import { SculptError } from '../core/errors.js';
import { spdInverse, trace } from './linalg.js';

export interface SensorModel {
  /** n×d row-major: row i is sensor i. */
  readonly h: Float64Array;
  readonly n: number;
  readonly d: number;
  /** Prior variance σ₀² of each state coordinate. */
  readonly priorVariance: number;
  /** Noise variance σ² of each reading. */
  readonly noiseVariance: number;
}

export interface Selection {
  readonly method: string;
  /** Chosen sensor indices, ascending. */
  readonly sensors: number[];
  /** tr P(S). */
  readonly objective: number;
}

/** tr P(S) for the sensors in `subset`. */
export function posteriorTrace(m: SensorModel, subset: readonly number[]): number {
  const { d } = m;
  const a = new Float64Array(d * d);
  for (let i = 0; i < d; i++) a[i * d + i] = 1 / m.priorVariance;
  for (const s of subset) {
    const o = s * m.d;
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) a[i * d + j] += (m.h[o + i] * m.h[o + j]) / m.noiseVariance;
  }
  return trace(spdInverse(a, d), d);
}

function checkK(m: SensorModel, k: number): void {
  if (!Number.isInteger(k) || k < 1 || k > m.n) throw new SculptError(`sensor selection: k must be an integer in [1, ${m.n}], got ${k}`);
}

/** The k sensors with the largest row norms ‖hᵢ‖₂ (ties: lower index first). */
export function magnitudeSelection(m: SensorModel, k: number): Selection {
  checkK(m, k);
  const norms = Array.from({ length: m.n }, (_, i) => {
    let s = 0;
    for (let j = 0; j < m.d; j++) s += m.h[i * m.d + j] ** 2;
    return { i, s };
  });
  norms.sort((x, y) => y.s - x.s || x.i - y.i);
  const sensors = norms.slice(0, k).map((e) => e.i).sort((x, y) => x - y);
  return { method: 'magnitude', sensors, objective: posteriorTrace(m, sensors) };
}

/** Number of k-subsets of n (as a float; exact below 2^53). */
export function binomial(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return Math.round(r);
}

/** The A-optimal subset by enumerating all C(n, k) subsets; refuses more than `limit` of them. */
export function exactSelection(m: SensorModel, k: number, limit = 2_000_000): Selection {
  checkK(m, k);
  const count = binomial(m.n, k);
  if (count > limit) throw new SculptError(`sensor selection: C(${m.n}, ${k}) = ${count} subsets is too many to enumerate; use the greedy selection`);
  const idx = Array.from({ length: k }, (_, i) => i);
  let best = Infinity;
  let bestSet = idx.slice();
  while (true) {
    const v = posteriorTrace(m, idx);
    if (v < best) { best = v; bestSet = idx.slice(); }
    let i = k - 1;
    while (i >= 0 && idx[i] === m.n - k + i) i--;
    if (i < 0) break;
    idx[i]++;
    for (let j = i + 1; j < k; j++) idx[j] = idx[j - 1] + 1;
  }
  return { method: 'exact', sensors: bestSet, objective: best };
}

/** Greedy A-optimal selection by rank-one posterior updates (ties: lower index). */
export function greedySelection(m: SensorModel, k: number): Selection {
  checkK(m, k);
  const { d } = m;
  const p = new Float64Array(d * d);
  for (let i = 0; i < d; i++) p[i * d + i] = m.priorVariance;
  const chosen: number[] = [];
  const used = new Uint8Array(m.n);
  const ph = new Float64Array(d);
  for (let step = 0; step < k; step++) {
    let bestGain = -Infinity;
    let best = -1;
    for (let s = 0; s < m.n; s++) {
      if (used[s]) continue;
      const o = s * d;
      let quad = 0;
      let norm2 = 0;
      for (let i = 0; i < d; i++) {
        let v = 0;
        for (let j = 0; j < d; j++) v += p[i * d + j] * m.h[o + j];
        quad += m.h[o + i] * v;
        norm2 += v * v;
      }
      const gain = norm2 / (m.noiseVariance + quad);
      if (gain > bestGain) { bestGain = gain; best = s; }
    }
    used[best] = 1;
    chosen.push(best);
    const o = best * d;
    let quad = 0;
    for (let i = 0; i < d; i++) {
      let v = 0;
      for (let j = 0; j < d; j++) v += p[i * d + j] * m.h[o + j];
      ph[i] = v;
      quad += m.h[o + i] * v;
    }
    const denom = m.noiseVariance + quad;
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) p[i * d + j] -= (ph[i] * ph[j]) / denom;
  }
  const sensors = chosen.sort((x, y) => x - y);
  return { method: 'greedy', sensors, objective: posteriorTrace(m, sensors) };
}
