/**
 * The bridge between a TF.js layers model and the core's vocabulary: its weights as a WeightSet
 * (Dense and convolution kernels prunable, with the output axis of TF.js layouts), snapshots of
 * every weight for rewinding, and writing values back.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { WeightSet, type WeightTensor } from '../core/types.js';
import { classifyTfjsWeight } from '../formats/tfjs-folder.js';

/** One weight of the model: its stable name (the name saved in model.json) and its variable. */
export interface ModelWeight {
  readonly name: string;
  readonly variable: tf.Variable;
  readonly layerClass: string;
  readonly trainable: boolean;
}

/** Every weight in layer order, named as tfjs saves them (`fc1/kernel`). */
export function modelWeights(model: tfl.LayersModel): ModelWeight[] {
  const out: ModelWeight[] = [];
  for (const layer of model.layers) {
    for (const v of layer.weights) {
      out.push({ name: v.originalName, variable: v.read() as tf.Variable, layerClass: layer.getClassName(), trainable: v.trainable });
    }
  }
  return out;
}

/** Role, prunability and output axis of a weight (shared with the TF.js folder reader, which needs no TF.js). */
export const classifyWeight = classifyTfjsWeight;

/** The model's weights as a WeightSet (values copied out of the backend). */
export function toWeightSet(model: tfl.LayersModel): WeightSet {
  const tensors: WeightTensor[] = modelWeights(model).map((w) => {
    const c = classifyWeight(w.layerClass, w.name, w.variable.shape.length);
    return {
      name: w.name,
      shape: w.variable.shape.slice(),
      data: w.variable.dataSync() as Float32Array,
      role: c.role,
      op: c.op,
      prunable: c.prunable && w.trainable,
      reason: c.reason,
      outputAxis: c.outputAxis,
    };
  });
  return new WeightSet(tensors);
}

/** A copy of every weight's values, by name. */
export type WeightSnapshot = Map<string, Float32Array>;

export function snapshotWeights(model: tfl.LayersModel): WeightSnapshot {
  const out: WeightSnapshot = new Map();
  for (const w of modelWeights(model)) out.set(w.name, (w.variable.dataSync() as Float32Array).slice());
  return out;
}

/** Writes snapshot values back into the model's variables (names must match). */
export function restoreWeights(model: tfl.LayersModel, snapshot: WeightSnapshot): void {
  for (const w of modelWeights(model)) {
    const values = snapshot.get(w.name);
    if (values === undefined) continue;
    tf.tidy(() => w.variable.assign(tf.tensor(values, w.variable.shape, 'float32')));
  }
}
