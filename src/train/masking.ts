/**
 * Masks made live in training: per pruned weight a 0/1 Float32Array keyed by the variable. On
 * installation the weights and the optimizer state are zeroed where the mask is 0; after every
 * optimizer step the fused optimizer (optimizer.ts) multiplies the new weights and their state
 * (Adam's m and v, the momentum accumulator) by the mask in the same pass, so pruned weights stay
 * exactly zero whatever the gradient, L1/L2 penalty or learning rate.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { SculptError } from '../core/errors.js';
import type { Mask } from '../core/mask.js';
import type { FusedOptimizer } from './optimizer.js';
import { modelWeights } from './weights.js';

interface Binding {
  readonly name: string;
  readonly variable: tf.Variable;
  readonly mask: Mask;
  readonly values: Float32Array;
}

/** One float per element: 1 kept, 0 pruned. */
export function maskValues(mask: Mask): Float32Array {
  const values = new Float32Array(mask.length);
  const w = mask.words;
  for (let i = 0; i < values.length; i++) values[i] = (w[i >>> 5] >>> (i & 31)) & 1;
  return values;
}

export class MaskState {
  private readonly bindings: Binding[] = [];
  /** Variable (registered) name → 0/1 values, as the fused optimizer takes them. */
  readonly byVariable = new Map<string, Float32Array>();

  constructor(model: tfl.LayersModel, masks: ReadonlyMap<string, Mask>) {
    const names = new Set(masks.keys());
    for (const w of modelWeights(model)) {
      const mask = masks.get(w.name);
      if (mask === undefined) continue;
      names.delete(w.name);
      if (mask.length !== w.variable.size) throw new SculptError(`mask for ${w.name} has ${mask.length} elements, the weight has ${w.variable.size}`);
      const b: Binding = { name: w.name, variable: w.variable, mask, values: maskValues(mask) };
      this.bindings.push(b);
      this.byVariable.set(w.variable.name, b.values);
    }
    if (names.size > 0) throw new SculptError(`masks name weights the model does not have: ${[...names].slice(0, 3).join(', ')}`);
  }

  /** The masks by weight name. */
  get masks(): Map<string, Mask> {
    return new Map(this.bindings.map((b) => [b.name, b.mask]));
  }

  /** Zeros the pruned weights, and their optimizer state when an optimizer is given. */
  applyToWeights(optimizer?: FusedOptimizer): void {
    for (const b of this.bindings) {
      const w = (b.variable.dataSync() as Float32Array).slice();
      for (let i = 0; i < w.length; i++) if (b.values[i] === 0) w[i] = 0;
      tf.tidy(() => b.variable.assign(tf.tensor(w, b.variable.shape, 'float32')));
      optimizer?.maskState(b.variable.name, b.values);
    }
  }

  /** Kept for symmetry with tensor-holding states; the masks are plain arrays. */
  dispose(): void {
    this.bindings.length = 0;
    this.byVariable.clear();
  }
}
