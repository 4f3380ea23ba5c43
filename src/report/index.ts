/** Charts and the standalone HTML report: plain data in, strings out (runs in a browser too). */
export type {
  AccuracyPoint, AccuracySection, ChartSection, IntervalPoint, LayerDensity, LayerDensitySection, LayerStats, LayerStatsSection,
  MagnitudeSection, ReportData, SpeedupPoint, SpeedupSection, TableSection,
} from './types.js';
export {
  accuracyVsDensitySpec, accuracyVsDensitySvg, intervalSpec, intervalSvg, layerDensitySpec, layerDensitySvg, magnitudeBins, magnitudeHistogramSpec,
  magnitudeHistogramSvg, speedupSpec, speedupSvg, type HistogramBin,
} from './charts.js';
export { renderSvg } from './render.js';
export { escapeHtml, renderReport, renderTable } from './html.js';
