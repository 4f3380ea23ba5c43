/**
 * Masks reported under local differential privacy by randomised response.
 *
 * Each client holds a mask b ∈ {0,1}^d and reports every bit independently: the true bit with
 * probability 1 − p, its flip with probability p = 1/(1 + e^ε). One bit so reported is ε-LDP
 * (the likelihood ratio of any report under b = 0 and b = 1 is at most (1−p)/p = e^ε).
 * Composition (basic, the bits of a mask being arbitrarily dependent): a client reporting d bits
 * in each of R rounds spends ε_total = ε · d · R. For the server, E[report] = p + (1 − 2p)·b, so
 * with m clients the unbiased estimate of the fraction keeping a weight is (r̄ − p)/(1 − 2p).
 */
import { SculptError } from '../core/errors.js';
import { Mask } from '../core/mask.js';
import { Rng } from '../core/rng.js';

/** Flip probability 1/(1 + e^ε) of randomised response at privacy level ε. */
export function flipProbability(epsilon: number): number {
  if (!(epsilon >= 0)) throw new SculptError(`--epsilon must be ≥ 0, got ${epsilon}`);
  return 1 / (1 + Math.exp(epsilon));
}

/** Total privacy budget per client under basic composition: ε per bit × bits per report × rounds. */
export function composedEpsilon(epsilon: number, bitsPerReport: number, rounds: number): number {
  return epsilon * bitsPerReport * rounds;
}

/** The mask as a client reports it: each bit flipped with probability p, seeded. */
export function randomisedResponse(mask: Mask, p: number, rng: Rng): Mask {
  const out = new Mask(mask.length);
  for (let i = 0; i < mask.length; i++) {
    const flip = rng.next() < p;
    if (mask.get(i) !== flip) out.words[i >>> 5] |= 1 << (i & 31);
  }
  return out;
}

/** Unbiased estimate of the fraction of clients keeping each element: (r̄ − p)/(1 − 2p). */
export function debiasedFrequency(reports: readonly Mask[], p: number): Float64Array {
  if (reports.length === 0) throw new SculptError('private masks: no client reports to aggregate');
  if (!(p < 0.5)) throw new SculptError(`private masks: flip probability ${p} ≥ 0.5 carries no information (ε = 0)`);
  const d = reports[0].length;
  const sum = new Float64Array(d);
  for (const r of reports) for (let i = 0; i < d; i++) if (r.get(i)) sum[i] += 1;
  const m = reports.length;
  for (let i = 0; i < d; i++) sum[i] = (sum[i] / m - p) / (1 - 2 * p);
  return sum;
}

/**
 * The server's mask: the `kept` elements of highest (debiased) frequency, ties to the lower index,
 * so the aggregate has the clients' density whatever the noise.
 */
export function topKMask(freq: Float64Array, kept: number): Mask {
  const idx = Array.from({ length: freq.length }, (_, i) => i);
  idx.sort((a, b) => freq[b] - freq[a] || a - b);
  const m = new Mask(freq.length);
  for (let j = 0; j < kept; j++) m.set(idx[j], true);
  return m;
}

/** Fraction of elements on which two masks agree. */
export function maskAgreement(a: Mask, b: Mask): number {
  if (a.length !== b.length) throw new SculptError(`masks of ${a.length} and ${b.length} elements cannot be compared`);
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a.get(i) === b.get(i)) same++;
  return a.length === 0 ? 1 : same / a.length;
}
