/** Registers the criteria that need calibration data: obd, wanda, sparsegpt. */
import { registerCriterion } from './criteria.js';
import { obdCriterion } from './criteria-obd.js';
import { sparseGptCriterion } from './criteria-sparsegpt.js';
import { wandaCriterion } from './criteria-wanda.js';

registerCriterion(obdCriterion);
registerCriterion(wandaCriterion);
registerCriterion(sparseGptCriterion);

export { obdCriterion, missingCalibration } from './criteria-obd.js';
export { wandaCriterion, inputAxis, inputStride } from './criteria-wanda.js';
export { sparseGptCriterion, sparseGptLayer, dampedHessian, inverseHessianDiagonal, type SparseGptOptions } from './criteria-sparsegpt.js';
