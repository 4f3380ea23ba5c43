/**
 * Masks made live in training: per pruned weight a 0/1 tensor. Pruned weights stay exactly zero
 * because (a) on installation the weights and the optimizer's state (Adam's m and v, momentum
 * accumulators) are multiplied by the mask, and (b) every step either multiplies the gradients by
 * the mask (`gradient` mode: zero gradient + zero state ⇒ zero update, one multiply per weight)
 * or multiplies the weights and the optimizer state after the step (`weights` mode: three).
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { Mask } from '../core/mask.js';
import { modelWeights } from './weights.js';

export type MaskEnforcement = 'gradient' | 'weights';

interface Binding {
  readonly name: string;
  readonly variable: tf.Variable;
  readonly mask: Mask;
  readonly tensor: tf.Tensor;
}

/** The optimizer's per-variable state variables (tfjs keeps them by position, named `<var>/m`). */
function optimizerState(optimizer: tf.Optimizer, variableName: string): tf.Variable[] {
  const o = optimizer as unknown as Record<string, Array<{ originalName: string; variable: tf.Variable } | undefined> | undefined>;
  const out: tf.Variable[] = [];
  for (const key of ['accumulatedFirstMoment', 'accumulatedSecondMoment', 'accumulations', 'accumulatedGrads', 'accumulatedUpdates', 'accumulatedMeanSquares', 'accumulatedMoments', 'accumulatedMeanGrads', 'accumulatedWeightedInfNorm']) {
    for (const s of o[key] ?? []) {
      if (s !== undefined && s.originalName.startsWith(`${variableName}/`)) out.push(s.variable);
    }
  }
  return out;
}

function maskToTensor(mask: Mask, shape: number[]): tf.Tensor {
  const values = new Float32Array(mask.length);
  const w = mask.words;
  for (let i = 0; i < values.length; i++) values[i] = (w[i >>> 5] >>> (i & 31)) & 1;
  return tf.tensor(values, shape, 'float32');
}

export class MaskState {
  private readonly bindings: Binding[] = [];
  /** Gradient key (the variable's registered name) → binding. */
  private readonly byVariable = new Map<string, Binding>();
  readonly enforcement: MaskEnforcement;

  constructor(model: tfl.LayersModel, masks: ReadonlyMap<string, Mask>, enforcement: MaskEnforcement = 'gradient') {
    this.enforcement = enforcement;
    for (const w of modelWeights(model)) {
      const mask = masks.get(w.name);
      if (mask === undefined) continue;
      if (mask.length !== w.variable.size) throw new Error(`mask for ${w.name} has ${mask.length} elements, weight has ${w.variable.size}`);
      const b: Binding = { name: w.name, variable: w.variable, mask, tensor: tf.keep(maskToTensor(mask, w.variable.shape)) };
      this.bindings.push(b);
      this.byVariable.set(w.variable.name, b);
    }
  }

  get masks(): Map<string, Mask> {
    return new Map(this.bindings.map((b) => [b.name, b.mask]));
  }

  /** Zeros the pruned weights, and their optimizer state when an optimizer is given. */
  applyToWeights(optimizer?: tf.Optimizer): void {
    tf.tidy(() => {
      for (const b of this.bindings) {
        b.variable.assign(tf.mul(b.variable, b.tensor));
        if (optimizer !== undefined) for (const s of optimizerState(optimizer, b.variable.name)) s.assign(tf.mul(s, b.tensor));
      }
    });
  }

  /** Gradients with pruned entries zeroed (call inside a tidy; returns a new map). */
  maskGradients(grads: tf.NamedTensorMap): tf.NamedTensorMap {
    const out: tf.NamedTensorMap = {};
    for (const key of Object.keys(grads)) {
      const b = this.byVariable.get(key);
      out[key] = b === undefined ? grads[key] : tf.mul(grads[key], b.tensor);
    }
    return out;
  }

  /** Runs after each optimizer step. */
  afterStep(optimizer: tf.Optimizer): void {
    if (this.enforcement === 'weights') this.applyToWeights(optimizer);
  }

  dispose(): void {
    for (const b of this.bindings) b.tensor.dispose();
    this.bindings.length = 0;
    this.byVariable.clear();
  }
}
