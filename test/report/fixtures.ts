import type { ReportData } from '../../src/report/index.js';

/** IMP-style densities 1, 0.8, 0.64, … and three series with different slopes. */
export const densities = [1, 0.8, 0.64, 0.512, 0.4096, 0.32768, 0.262144];
export const accuracyPoints = ['ticket', 'reinit', 'random-mask'].flatMap((series, j) =>
  densities.map((density, i) => ({ series, density, accuracy: 0.9 - 0.004 * i * j })),
);

/** 1001 evenly spaced values in [-1, 1]: max |w| is exactly 1. */
export const weights = Float32Array.from({ length: 1001 }, (_, i) => -1 + i / 500);

export const fullReport: ReportData = {
  title: 'LeNet-300-100 <pruned> & "tested"',
  subtitle: 'sculpt imp --rounds 6',
  summary: ['90% sparsity', 'accuracy 88.1%'],
  accuracy: { points: accuracyPoints },
  layerDensity: {
    rows: [
      { layer: 'fc1', scope: 'global', density: 0.05 },
      { layer: 'fc1', scope: 'layer', density: 0.1 },
      { layer: 'fc2', scope: 'global', density: 0.21 },
      { layer: 'fc2', scope: 'layer', density: 0.1 },
      { layer: 'fc3', scope: 'global', density: 0.6 },
      { layer: 'fc3', scope: 'layer', density: 0.1 },
    ],
  },
  magnitudes: { values: weights, threshold: 0.25, bins: 20 },
  speedup: {
    points: [
      { kind: 'measured', sparsity: 0.5, speedup: 0.9 },
      { kind: 'measured', sparsity: 0.9, speedup: 3.1 },
      { kind: 'measured', sparsity: 0.95, speedup: 5.2 },
      { kind: 'predicted', sparsity: 0.5, speedup: 1.1 },
      { kind: 'predicted', sparsity: 0.9, speedup: 3.5 },
      { kind: 'predicted', sparsity: 0.95, speedup: 6 },
    ],
  },
  layers: {
    rows: [
      { layer: 'fc1.weight', shape: [300, 784], total: 235200, kept: 11760, threshold: 0.0123 },
      { layer: 'fc2.weight', shape: [100, 300], total: 30000, kept: 6300 },
    ],
  },
  charts: [{ title: 'Extra', spec: { data: { values: [{ a: 1, b: 2 }] }, mark: 'bar', encoding: { x: { field: 'a', type: 'quantitative' }, y: { field: 'b', type: 'quantitative' } } } }],
  tables: [{ title: 'Seeds', columns: ['seed', 'accuracy'], rows: [[1, 0.88], [2, 0.87]] }],
  settings: { sparsity: 0.9, scope: 'global', pattern: 'unstructured', seed: 42, note: undefined },
};

/** The `id`s of the chart sections `fullReport` produces. */
export const chartIds = ['accuracy', 'layer-density', 'magnitudes', 'speedup', 'chart-0'];
