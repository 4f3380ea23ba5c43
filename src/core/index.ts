/** The pruning core's public API: masks, criteria, selection, patterns and the plan. */
export { Mask, fillNonZero, popcount } from './mask.js';
export { roundHalfEven, countToPrune, countFractionOfRemaining, targetPrunedCount, type CountRequest } from './counting.js';
export {
  registerCriterion,
  getCriterion,
  criterionNames,
  magnitudeCriterion,
  randomCriterion,
  taylorCriterion,
  tensorSeed,
  fillUniform,
  type Criterion,
  type ScoreContext,
} from './criteria.js';
export {
  selectThreshold,
  applyThreshold,
  selectSmallestKeys,
  scoresToKeys,
  keyToScore,
  histogramHigh,
  histogramLow,
  countEqual,
  markKept,
  type MarkResult,
  markAbove,
  PRUNE_ALL_KEY,
  type Threshold,
  type ScoreSequence,
  type KeySequence,
  type KeyThreshold,
} from './select.js';
export {
  parsePattern,
  checkPattern,
  formatPattern,
  channelLayout,
  nmMaskInto,
  channelSums,
  selectChannels,
  clearChannels,
  liveChannels,
  type PatternSpec,
  type ChannelLayout,
  type ChannelSums,
} from './patterns.js';
export { isGlob, globToRegExp, nameMatches, matchNames } from './names.js';
export { pruneOptions, validatePruneOptions, resolveTargets, type PruneOptions, type PruneOptionsInput, type TargetEntry } from './options.js';
export {
  prune,
  planStreaming,
  applyMasks,
  type TensorSource,
  type StreamingPlan,
  type PruneResult,
  type PruneSummary,
  type TensorStats,
  type StatsTotal,
} from './plan.js';
export { SculptError } from './errors.js';
export { choleskyLower, inverseFromCholesky } from './linalg.js';
export { Rng } from './rng.js';
export { WeightSet, numel, type WeightTensor, type Role, type WeightOp } from './types.js';
export type { Graph, GraphNode, GraphTensor, GraphValueInfo, GraphValue, GraphValueKind, GraphDType, AttributeValue } from './graph.js';
export * from './criteria-data.js';
