/**
 * Statistics over the seeds of a sweep cell: mean, sample standard deviation and a 95% confidence
 * interval by Student's t with n − 1 degrees of freedom (the seeds are the samples), and the same
 * for paired differences (metric A − metric B on the same seed).
 */

const LANCZOS = [
  676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos, g = 7: about 15 significant digits). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const z = x - 1;
  let a = 0.99999999999980993;
  const t = z + 7.5;
  for (let i = 0; i < LANCZOS.length; i++) a += LANCZOS[i]! / (z + i + 1);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction of the incomplete beta function (modified Lentz). */
function betaFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 1000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d; if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c; if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d; h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d; if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c; if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return h;
}

/** The regularised incomplete beta function I_x(a, b). */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  // The fraction converges fast for x < (a + 1) / (a + b + 2); use the symmetry otherwise.
  return x < (a + 1) / (a + b + 2) ? (front * betaFraction(a, b, x)) / a : 1 - (front * betaFraction(b, a, 1 - x)) / b;
}

/** P(T ≤ t) for Student's t with `df` degrees of freedom. */
export function studentTCdf(t: number, df: number): number {
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/**
 * The p-quantile of Student's t with `df` (> 0, not necessarily whole) degrees of freedom: the CDF
 * inverted by bisection to full double precision (monotone, so it cannot miss).
 */
export function studentTQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1) || !(df > 0)) return NaN;
  if (p === 0.5) return 0;
  if (p < 0.5) return -studentTQuantile(1 - p, df);
  let lo = 0;
  let hi = 1;
  while (studentTCdf(hi, df) < p) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-15 * hi; i++) {
    const mid = 0.5 * (lo + hi);
    if (studentTCdf(mid, df) < p) lo = mid; else hi = mid;
  }
  return 0.5 * (lo + hi);
}

export interface Summary {
  readonly n: number;
  readonly mean: number;
  /** Sample standard deviation (n − 1 in the denominator); 0 for a single value. */
  readonly sd: number;
  /** 95% Student-t interval of the mean; [mean, mean] when n = 1 (no spread to estimate). */
  readonly ci95: readonly [number, number];
}

/** Mean, sample sd and 95% t interval of `values` (n ≥ 1). */
export function summarize(values: readonly number[]): Summary {
  const n = values.length;
  let mean = 0;
  for (const v of values) mean += v;
  mean /= n;
  let ss = 0;
  for (const v of values) ss += (v - mean) * (v - mean);
  const sd = n > 1 ? Math.sqrt(ss / (n - 1)) : 0;
  const half = n > 1 ? (studentTQuantile(0.975, n - 1) * sd) / Math.sqrt(n) : 0;
  return { n, mean, sd, ci95: [mean - half, mean + half] };
}

/** Every finite number in `value`, named by its dotted path (`total.densityAfter`, `tensors.0.count`). */
export function flattenNumbers(value: unknown, prefix = '', out: Map<string, number> = new Map()): Map<string, number> {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && prefix !== '') out.set(prefix, value);
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => flattenNumbers(v, prefix === '' ? String(i) : `${prefix}.${i}`, out));
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) flattenNumbers(v, prefix === '' ? k : `${prefix}.${k}`, out);
  }
  return out;
}

/** One finished job, as aggregation sees it. */
export interface SeedResult {
  readonly seed: number;
  readonly result: unknown;
}

export interface MetricSummary {
  readonly mean: number;
  readonly sd: number;
  readonly ci95: readonly [number, number];
  /** How many seeds the metric was present in (a cell's n counts its finished jobs). */
  readonly n: number;
}

export interface PairedSummary extends MetricSummary {
  readonly a: string;
  readonly b: string;
}

export interface CellStats {
  readonly n: number;
  readonly metrics: Record<string, MetricSummary>;
  /** Mean and interval of metric a − metric b over the seeds that have both, when asked (the first pair). */
  readonly paired?: PairedSummary;
  /** Every pair asked for, in order (the first is `paired`); a pair no seed has both metrics of is left out. */
  readonly pairs?: readonly PairedSummary[];
}

export type Comparison = readonly [string, string];

/**
 * Aggregates one cell's finished jobs; `compare` names the two metrics of a paired difference, or
 * is a list of such pairs.
 */
export function cellStats(results: readonly SeedResult[], compare?: Comparison | readonly Comparison[]): CellStats {
  const flat = results.map((r) => flattenNumbers(r.result));
  const names = [...new Set(flat.flatMap((f) => [...f.keys()]))];
  const metrics: Record<string, MetricSummary> = {};
  for (const name of names) {
    const values = flat.flatMap((f) => (f.has(name) ? [f.get(name)!] : []));
    const s = summarize(values);
    metrics[name] = { mean: s.mean, sd: s.sd, ci95: s.ci95, n: s.n };
  }
  const comparisons: readonly Comparison[] = compare === undefined ? [] : typeof compare[0] === 'string' ? [compare as Comparison] : (compare as readonly Comparison[]);
  const pairs: PairedSummary[] = [];
  for (const [a, b] of comparisons) {
    const diffs = flat.flatMap((f) => (f.has(a) && f.has(b) ? [f.get(a)! - f.get(b)!] : []));
    if (diffs.length > 0) {
      const s = summarize(diffs);
      pairs.push({ a, b, n: s.n, mean: s.mean, sd: s.sd, ci95: s.ci95 });
    }
  }
  return { n: results.length, metrics, ...(pairs.length > 0 && { paired: pairs[0]!, pairs }) };
}
