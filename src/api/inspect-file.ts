/** What a model file holds: every floating tensor with its role, prunability and current sparsity. */
import type { Role, WeightTensor } from '../core/types.js';
import { numel } from '../core/types.js';
import { readOnnx } from '../formats/onnx.js';
import { openSafetensors } from '../formats/safetensors.js';
import { openTfjsFolder } from '../formats/tfjs-folder.js';
import { checkModelInput, formatOf, type ModelFormat } from './model-file.js';

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
  checkModelInput(file);
  const format = formatOf(file);
  const tensors: TensorInfo[] = [];
  const add = (t: WeightTensor, data: Float32Array): void => {
    let zeros = 0;
    for (let i = 0; i < data.length; i++) if (data[i] === 0) zeros++;
    const count = numel(t.shape);
    tensors.push({
      name: t.name, shape: t.shape, role: t.role, op: t.op, prunable: t.prunable, reason: t.reason,
      count, zeros, sparsity: count === 0 ? 0 : zeros / count,
    });
  };
  if (format === 'onnx') {
    for (const t of readOnnx(file).weights().tensors) add(t, t.data);
  } else if (format === 'tfjs') {
    const src = openTfjsFolder(file);
    for (const t of src.tensors) add(t, src.read(t.name));
  } else {
    const src = openSafetensors(file);
    try {
      for (const t of src.tensors) add(t, src.read(t.name));
    } finally {
      src.close();
    }
  }
  const sum = (f: (t: TensorInfo) => number, only?: boolean): number =>
    tensors.reduce((a, t) => a + (only && !t.prunable ? 0 : f(t)), 0);
  return {
    file, format, tensors,
    parameters: sum((t) => t.count), prunableParameters: sum((t) => t.count, true),
    zeros: sum((t) => t.zeros), prunableZeros: sum((t) => t.zeros, true),
  };
}
