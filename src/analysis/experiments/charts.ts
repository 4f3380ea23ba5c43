/** Small Vega-Lite spec builders shared by the experiments' report pages. */

type Row = Record<string, unknown>;

/** Lines of `y` against `x`, one per `color` value, with points. */
export function lineChart(values: readonly Row[], x: string, y: string, color?: string, opts: { xLog?: boolean; yLog?: boolean; xTitle?: string; yTitle?: string } = {}): Record<string, unknown> {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    width: 480, height: 280,
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: x, type: 'quantitative', title: opts.xTitle ?? x, ...(opts.xLog ? { scale: { type: 'log' } } : {}) },
      y: { field: y, type: 'quantitative', title: opts.yTitle ?? y, ...(opts.yLog ? { scale: { type: 'log' } } : { scale: { zero: false } }) },
      ...(color !== undefined ? { color: { field: color, type: 'nominal' } } : {}),
    },
  };
}

/** Grouped bars of `y` per `x` category, coloured by `color`. */
export function barChart(values: readonly Row[], x: string, y: string, color?: string, opts: { yTitle?: string } = {}): Record<string, unknown> {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    width: 480, height: 280,
    data: { values },
    mark: 'bar',
    encoding: {
      x: { field: x, type: 'nominal' },
      y: { field: y, type: 'quantitative', title: opts.yTitle ?? y },
      ...(color !== undefined ? { color: { field: color, type: 'nominal' }, xOffset: { field: color } } : {}),
    },
  };
}

/** Rounds for JSON and tables. */
export function round(x: number, digits = 4): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
