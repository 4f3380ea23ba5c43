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
