/** What a model file holds: every floating tensor with its role, prunability and current sparsity. */
import type { Role } from '../core/types.js';
import { numel } from '../core/types.js';
import { openModel, type ModelFormat } from '../formats/registry.js';

export interface TensorInfo {
  readonly name: string;
  readonly shape: readonly number[];
  readonly role: Role;
  readonly op?: string;
  readonly prunable: boolean;
  readonly reason: string;
  readonly count: number;
  readonly zeros: number;
  readonly sparsity: number;
}

export interface ModelInfo {
  readonly file: string;
  readonly format: ModelFormat;
  readonly tensors: TensorInfo[];
  /** Parameters in all floating tensors, and in the prunable ones. */
  readonly parameters: number;
  readonly prunableParameters: number;
  /** Zeros over all floating tensors and over the prunable ones. */
  readonly zeros: number;
  readonly prunableZeros: number;
}

export function inspectFile(file: string): ModelInfo {
  const model = openModel(file);
  const tensors: TensorInfo[] = [];
  try {
    for (const t of model.tensors) {
      const data = model.read(t.name);
      let zeros = 0;
      for (let i = 0; i < data.length; i++) if (data[i] === 0) zeros++;
      const count = numel(t.shape);
      tensors.push({
        name: t.name, shape: t.shape, role: t.role, op: t.op, prunable: t.prunable, reason: t.reason,
        count, zeros, sparsity: count === 0 ? 0 : zeros / count,
      });
    }
  } finally {
    model.close();
  }
  const sum = (f: (t: TensorInfo) => number, only?: boolean): number =>
    tensors.reduce((a, t) => a + (only && !t.prunable ? 0 : f(t)), 0);
  return {
    file, format: model.format, tensors,
    parameters: sum((t) => t.count), prunableParameters: sum((t) => t.count, true),
    zeros: sum((t) => t.zeros), prunableZeros: sum((t) => t.zeros, true),
  };
}
