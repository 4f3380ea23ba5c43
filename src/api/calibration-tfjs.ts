/**
 * Data criteria for TF.js training runs (`sculpt imp/gmp --criterion`): a `calibrate` callback
 * for `PruneSettings` that, each time the model is pruned, computes on the first N training
 * images what the criterion reads (src/analysis/calibration.ts, Dense networks): gradients for
 * `taylor`, the Fisher diagonal for `obd`, input norms for `wanda`, diag((XᵀX)⁻¹) for `sparsegpt`
 * (its saliency only: weights are not reconstructed during training).
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import { calibrate, denseStack } from '../analysis/calibration.js';
import { getCriterion } from '../core/criteria.js';
import '../core/criteria-data.js';
import { inverseHessianDiagonal } from '../core/criteria-sparsegpt.js';
import { SculptError } from '../core/errors.js';
import type { PruneOptions } from '../core/options.js';
import { loadDataset, type Split } from '../train/data.js';

/** Criteria with a TF.js calibration. */
export const TFJS_DATA_CRITERIA = ['taylor', 'obd', 'wanda', 'sparsegpt'] as const;

export interface TfjsCalibrationSource {
  readonly dataset: string;
  readonly dataDir?: string;
  readonly samples: number;
}

type Calibrate = (model: tfl.LayersModel) => Pick<PruneOptions, 'calibration' | 'gradients'>;

/**
 * The criterion's name and, for data criteria, the `calibrate` callback; `magnitude`/`random`
 * give none. Unknown names and bad sample counts fail naming the flag.
 */
export function tfjsCriterion(criterion: string, source: TfjsCalibrationSource): { criterion: string; calibrate?: Calibrate } {
  const c = getCriterion(criterion);
  if (!c.needsData) return { criterion };
  if (!(TFJS_DATA_CRITERIA as readonly string[]).includes(criterion)) {
    throw new SculptError(`--criterion ${criterion}: no TF.js calibration for it; use one of ${TFJS_DATA_CRITERIA.join(', ')}`);
  }
  if (!Number.isInteger(source.samples) || source.samples < 1) {
    throw new SculptError(`--calibration-samples must be a positive integer, got ${source.samples}`);
  }
  let split: Split | undefined;
  const data = (): Split => (split ??= loadDataset({ dataset: source.dataset, dataDir: source.dataDir, trainLimit: source.samples, testLimit: 1 }).train);
  return {
    criterion,
    calibrate: (model) => {
      denseStack(model);
      const want = {
        gradients: criterion === 'taylor', hessianDiag: criterion === 'obd',
        inputNorms: criterion === 'wanda', inputHessians: criterion === 'sparsegpt',
      };
      const s = calibrate(model, data(), { samples: source.samples, want });
      const inverseHessianDiag = new Map<string, Float32Array>();
      for (const [name, h] of s.inputHessians) inverseHessianDiag.set(name, inverseHessianDiagonal(h, Math.round(Math.sqrt(h.length))));
      return { gradients: s.gradients, calibration: { inputNorms: s.inputNorms, hessianDiag: s.hessianDiag, inverseHessianDiag } };
    },
  };
}
