/**
 * Wanda (Sun et al. 2023): |W_ij|·‖X_j‖₂, a weight's magnitude times the ℓ2 norm over the
 * calibration examples of the input feature it multiplies (`ScoreContext.calibration.inputNorms`,
 * one value per input feature). Wanda's paper compares weights within each output row; here the
 * plan's scope (global or layer) decides what is compared.
 */
import type { Criterion } from './criteria.js';
import { SculptError } from './errors.js';
import { missingCalibration } from './criteria-obd.js';
import type { WeightTensor } from './types.js';

/**
 * Axis of `t` that indexes input features: the one before a last output axis (TF.js Dense
 * [in, out], Conv [kh, kw, in, out]), 1 when outputs are axis 0 (ONNX Gemm [N, K], Conv [M, C, ..]),
 * 0 for MatMul's B [K, N].
 */
export function inputAxis(t: WeightTensor): number {
  const r = t.shape.length;
  if (t.outputAxis === r - 1) return r - 2;
  if (t.outputAxis === 0) return 1;
  if (r === 2 && t.outputAxis === 1) return 0;
  throw new SculptError(`tensor '${t.name}': cannot tell its input axis (shape [${t.shape.join(', ')}], output axis ${t.outputAxis})`);
}

/** Index of the input feature of each element: (i / stride) % size along the input axis. */
export function inputStride(t: WeightTensor): { stride: number; size: number } {
  const ax = inputAxis(t);
  let stride = 1;
  for (let a = t.shape.length - 1; a > ax; a--) stride *= t.shape[a];
  return { stride, size: t.shape[ax] };
}

/**
 * For each element of `t` (count values), its entry in a per-input calibration vector of `length`
 * values: one per input feature (length = the input axis), or one per element (length = count:
 * Conv weights seen through im2col, whose (channel, kernel offset) features differ by group).
 */
export function calibrationIndex(t: WeightTensor, count: number, length: number, what: string): (i: number) => number {
  if (length === count) return (i) => i;
  const { stride, size } = inputStride(t);
  if (length !== size) throw new SculptError(`${what} of tensor '${t.name}' has ${length} values, its input axis ${size}`);
  return (i) => Math.floor(i / stride) % size;
}

export const wandaCriterion: Criterion = {
  name: 'wanda',
  needsData: true,
  scoreInto(tensor, values, out, ctx) {
    const norms = ctx.calibration?.inputNorms?.get(tensor.name);
    if (norms === undefined) throw missingCalibration('wanda', 'input-feature norms', tensor.name);
    const at = calibrationIndex(tensor, values.length, norms.length, 'input norms');
    for (let i = 0; i < values.length; i++) out[i] = Math.abs(values[i]) * norms[at(i)];
  },
};
