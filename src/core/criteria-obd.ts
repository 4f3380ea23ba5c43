/**
 * Optimal Brain Damage (LeCun et al. 1990): removing weight i alone changes the loss by about
 * ½·H_ii·w_i² at a minimum (gradient ≈ 0, off-diagonal curvature ignored). H_ii comes from
 * calibration data (`ScoreContext.calibration.hessianDiag`); sculpt estimates it by the Fisher /
 * Gauss–Newton diagonal (src/analysis/calibration.ts), exact for the Hessian of a softmax layer.
 */
import type { Criterion } from './criteria.js';
import { SculptError } from './errors.js';

export function missingCalibration(criterion: string, what: string, tensor: string): SculptError {
  return new SculptError(`--criterion ${criterion} needs ${what} for tensor '${tensor}' from calibration data; pass --calibration DATASET (e.g. fashion-mnist) with --calibration-samples N`);
}

/** ½·H_ii·w²: Optimal Brain Damage with the Hessian diagonal from calibration data. */
export const obdCriterion: Criterion = {
  name: 'obd',
  needsData: true,
  scoreInto(tensor, values, out, ctx) {
    const h = ctx.calibration?.hessianDiag?.get(tensor.name);
    if (h === undefined) throw missingCalibration('obd', 'a Hessian diagonal', tensor.name);
    if (h.length !== values.length) throw new SculptError(`Hessian diagonal of tensor '${tensor.name}' has ${h.length} values, the tensor ${values.length}`);
    for (let i = 0; i < values.length; i++) out[i] = 0.5 * Math.abs(h[i]) * values[i] * values[i];
  },
};
