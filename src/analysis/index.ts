/** Analyses of what pruning does: lottery probability, Lipschitz bounds, sensor selection, private masks, IMP density. */
export { erfc, normalCdf, bernoulliEstimate } from './stats.js';
export { gram, jacobiEigenvalues, cholesky, spdInverse, trace } from './linalg.js';
export { lotteryClosedForm, lotteryMonteCarlo, type LotteryModel, type LotteryProbability } from './lottery-probability.js';
export { spectralNorm, spectralNormExact, lipschitzBound, certifiedRadii, type LayerNorm, type LipschitzBound } from './lipschitz.js';
export {
  posteriorTrace, magnitudeSelection, exactSelection, greedySelection, binomial, type SensorModel, type Selection,
} from './sensor-selection.js';
export { flipProbability, composedEpsilon, randomisedResponse, debiasedFrequency, topKMask, maskAgreement } from './private-masks.js';
export { impDensity, type DensityRow } from './imp-density.js';
export { studentTQuantile, studentTCdf, summarize, cellStats, flattenNumbers, type Summary, type CellStats, type MetricSummary, type PairedSummary } from './sweep-stats.js';
