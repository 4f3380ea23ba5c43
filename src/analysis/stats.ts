/** Small numerical helpers shared by the analyses: the normal distribution and sample statistics. */

/**
 * erfc(x) by the Chebyshev fit of Numerical Recipes (`erfcc`): fractional error below 1.2e-7
 * everywhere, enough for probabilities compared at the level of Monte Carlo standard errors.
 */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? r : 2 - r;
}

/** Standard normal cumulative distribution Φ(x). */
export function normalCdf(x: number): number {
  return 0.5 * erfc(-x / Math.SQRT2);
}

/** Mean and standard error of the mean of a 0/1 (Bernoulli) sample: sqrt(p(1−p)/n). */
export function bernoulliEstimate(successes: number, trials: number): { mean: number; stdErr: number } {
  const p = successes / trials;
  return { mean: p, stdErr: Math.sqrt((p * (1 - p)) / trials) };
}
