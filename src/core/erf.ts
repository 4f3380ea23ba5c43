/**
 * The error function (the sparse engine's Erf/Gelu kernels, the channel graph's GELU constants),
 * in double precision (errors far below float32's): the Maclaurin series for |x| < 3, where
 * its cancellation costs at most ~1e-13, and the continued fraction of erfc beyond.
 */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 3) {
    const x2 = x * x;
    let term = x, sum = x;
    for (let n = 1; n < 100; n++) {
      term *= -x2 / n;
      const t = term / (2 * n + 1);
      sum += t;
      if (Math.abs(t) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  if (ax > 6) return x > 0 ? 1 : -1;
  let k = ax;
  for (let n = 60; n >= 1; n--) k = ax + n / 2 / k;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / k;
  return x > 0 ? 1 - erfc : erfc - 1;
}

/**
 * The error function to float32 accuracy (relative error below 2e-7), for the engine's Erf and
 * Gelu kernels: a dozen terms of the Maclaurin series for |x| < 0.5, and 1 − erfc beyond, erfc
 * by the Chebyshev fit of Numerical Recipes' `erfcc` (fractional error below 1.2e-7). Several
 * times faster than `erf` near |x| = 3, where the series needs ~40 terms.
 */
export function erf32(x: number): number {
  const ax = Math.abs(x);
  if (ax < 0.5) {
    const x2 = x * x;
    let term = x, sum = x;
    for (let n = 1; n <= 12; n++) {
      term *= -x2 / n;
      sum += term / (2 * n + 1);
    }
    return 1.1283791670955126 * sum;
  }
  const t = 1 / (1 + 0.5 * ax);
  const erfc = t * Math.exp(-ax * ax - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x > 0 ? 1 - erfc : erfc - 1;
}
