/**
 * Vega-Lite specs for sculpt's standard charts, as pure functions of plain arrays.
 * Each `…Spec` returns a spec object; each `…Svg` renders it.
 */
import type { TopLevelSpec } from 'vega-lite';
import { renderSvg } from './render.js';
import type { AccuracyPoint, IntervalPoint, LayerDensity, SpeedupPoint } from './types.js';

const WIDTH = 480;
const HEIGHT = 280;
const BASE = {
  width: WIDTH,
  height: HEIGHT,
  background: 'white',
  config: { font: 'sans-serif', view: { stroke: '#ddd' }, legend: { orient: 'right' as const } },
};

/** Accuracy versus density, one line per series, log density axis running from dense to sparse. */
export function accuracyVsDensitySpec(points: readonly AccuracyPoint[], metric = 'accuracy'): TopLevelSpec {
  return {
    ...BASE,
    data: { values: points.map((p) => ({ series: p.series, density: p.density, accuracy: p.accuracy })) },
    encoding: {
      x: {
        field: 'density', type: 'quantitative', title: 'density (fraction of weights kept)',
        scale: { type: 'log', reverse: true, nice: false, padding: 10 }, axis: { format: '.2~%' },
      },
      y: { field: 'accuracy', type: 'quantitative', title: metric, scale: { zero: false }, axis: { format: '.1~%' } },
      color: { field: 'series', type: 'nominal', title: null },
      order: { field: 'density', type: 'quantitative', sort: 'descending' },
    },
    layer: [{ mark: { type: 'line', strokeWidth: 2 } }, { mark: { type: 'point', filled: true, size: 40 } }],
  } as TopLevelSpec;
}

/** Per-layer density bars, grouped by layer, one bar per scope. */
export function layerDensitySpec(rows: readonly LayerDensity[]): TopLevelSpec {
  const layers = [...new Set(rows.map((r) => r.layer))];
  return {
    ...BASE,
    height: Math.max(120, 22 * rows.length),
    data: { values: rows.map((r) => ({ layer: r.layer, scope: r.scope, density: r.density })) },
    mark: 'bar',
    encoding: {
      y: { field: 'layer', type: 'nominal', sort: layers, title: null },
      yOffset: { field: 'scope', type: 'nominal' },
      x: { field: 'density', type: 'quantitative', title: 'density (fraction kept)', scale: { domain: [0, 1] }, axis: { format: '~%' } },
      color: { field: 'scope', type: 'nominal', title: 'scope' },
    },
  } as TopLevelSpec;
}

export interface HistogramBin {
  readonly lo: number;
  readonly hi: number;
  readonly count: number;
}

/** Equal-width bins of |v| over [0, max|v|]; counted in one pass, no copy of the values. */
export function magnitudeBins(values: ArrayLike<number>, bins = 60): HistogramBin[] {
  let max = 0;
  for (let i = 0; i < values.length; i++) {
    const a = Math.abs(values[i]);
    if (a > max) max = a;
  }
  const width = max > 0 ? max / bins : 1;
  const counts = new Float64Array(bins);
  for (let i = 0; i < values.length; i++) {
    const b = Math.min(bins - 1, Math.floor(Math.abs(values[i]) / width));
    counts[b]++;
  }
  const out: HistogramBin[] = [];
  for (let b = 0; b < bins; b++) out.push({ lo: b * width, hi: (b + 1) * width, count: counts[b] });
  return out;
}

/** Histogram of |w| with the pruning threshold as a vertical rule. */
export function magnitudeHistogramSpec(values: ArrayLike<number>, threshold?: number, bins = 60): TopLevelSpec {
  const layers: unknown[] = [
    {
      data: { values: magnitudeBins(values, bins) },
      mark: { type: 'bar', color: '#4c78a8' },
      encoding: {
        x: { field: 'lo', type: 'quantitative', bin: { binned: true }, title: '|w|' },
        x2: { field: 'hi' },
        y: { field: 'count', type: 'quantitative', title: 'weights' },
      },
    },
  ];
  if (threshold !== undefined && Number.isFinite(threshold)) {
    layers.push({
      data: { values: [{ threshold }] },
      mark: { type: 'rule', color: '#e45756', strokeWidth: 2, strokeDash: [6, 3] },
      encoding: { x: { field: 'threshold', type: 'quantitative' } },
    });
  }
  return { ...BASE, layer: layers } as TopLevelSpec;
}

const FLOP = 'FLOP count';

/**
 * Speed-up versus sparsity: the given series (measured, predicted, ...) as lines with points,
 * and optionally the FLOP-count bound 1/(1 − s) evaluated at the sparsities present.
 */
export function speedupSpec(points: readonly SpeedupPoint[], flopLine = true): TopLevelSpec {
  const values = points.map((p) => ({ kind: p.kind, sparsity: p.sparsity, speedup: p.speedup }));
  if (flopLine) {
    const xs = [...new Set(points.map((p) => p.sparsity))].filter((s) => s < 1).sort((a, b) => a - b);
    for (const s of xs) values.push({ kind: FLOP, sparsity: s, speedup: 1 / (1 - s) });
  }
  return {
    ...BASE,
    data: { values },
    encoding: {
      x: { field: 'sparsity', type: 'quantitative', title: 'sparsity (fraction removed)', axis: { format: '~%' } },
      y: { field: 'speedup', type: 'quantitative', title: 'speed-up over dense (×)', scale: { type: 'log', nice: false, padding: 8 } },
      color: { field: 'kind', type: 'nominal', title: null },
      order: { field: 'sparsity', type: 'quantitative' },
    },
    layer: [
      { transform: [{ filter: `datum.kind !== '${FLOP}'` }], mark: { type: 'line', strokeWidth: 2 } },
      { transform: [{ filter: `datum.kind !== '${FLOP}'` }], mark: { type: 'point', filled: true, size: 40 } },
      { transform: [{ filter: `datum.kind === '${FLOP}'` }], mark: { type: 'line', strokeWidth: 1.5, strokeDash: [6, 3] } },
    ],
  } as TopLevelSpec;
}

/**
 * One metric per cell: the mean as a point and its confidence interval as an error bar, cells in
 * the order given (a sweep's grid order) along the x axis.
 */
export function intervalSpec(points: readonly IntervalPoint[], metric: string): TopLevelSpec {
  const cells = points.map((p) => p.cell);
  const x = { field: 'cell', type: 'nominal', sort: cells, title: null, axis: { labelAngle: cells.some((c) => c.length > 12) ? -30 : 0 } };
  return {
    ...BASE,
    data: { values: points.map((p) => ({ cell: p.cell, mean: p.mean, lo: p.lo, hi: p.hi, n: p.n })) },
    layer: [
      { mark: { type: 'rule', strokeWidth: 1.5, color: '#4c78a8' }, encoding: { x, y: { field: 'lo', type: 'quantitative', title: metric, scale: { zero: false } }, y2: { field: 'hi' } } },
      { mark: { type: 'tick', thickness: 1.5, color: '#4c78a8', size: 12 }, encoding: { x, y: { field: 'lo', type: 'quantitative' } } },
      { mark: { type: 'tick', thickness: 1.5, color: '#4c78a8', size: 12 }, encoding: { x, y: { field: 'hi', type: 'quantitative' } } },
      { mark: { type: 'point', filled: true, size: 60, color: '#e45756' }, encoding: { x, y: { field: 'mean', type: 'quantitative' } } },
    ],
  } as TopLevelSpec;
}

export const intervalSvg = (points: readonly IntervalPoint[], metric: string): Promise<string> => renderSvg(intervalSpec(points, metric));
export const accuracyVsDensitySvg = (points: readonly AccuracyPoint[], metric?: string): Promise<string> =>
  renderSvg(accuracyVsDensitySpec(points, metric));
export const layerDensitySvg = (rows: readonly LayerDensity[]): Promise<string> => renderSvg(layerDensitySpec(rows));
export const magnitudeHistogramSvg = (values: ArrayLike<number>, threshold?: number, bins?: number): Promise<string> =>
  renderSvg(magnitudeHistogramSpec(values, threshold, bins));
export const speedupSvg = (points: readonly SpeedupPoint[], flopLine?: boolean): Promise<string> =>
  renderSvg(speedupSpec(points, flopLine));
