/**
 * The model zoo: the lottery-ticket paper's networks (LeNet-300-100 and Conv-2/4/6, adapted to
 * 28×28×1 inputs), built with tfjs-layers and initialised from sculpt's seeded Rng (Glorot
 * uniform kernels, zero biases) so the same seed gives the same weights on every machine; or any
 * TF.js layers model folder given by path, keeping its weights.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { SculptError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import { loadModelFolder } from './model-io.js';

export const ZOO_MODELS = ['lenet-300-100', 'conv-2', 'conv-4', 'conv-6'] as const;
export type ZooModelName = (typeof ZOO_MODELS)[number];

export interface ModelSpecOptions {
  /** [height, width, channels] of the input images. */
  readonly inputShape: readonly [number, number, number];
  readonly classes: number;
  readonly seed: number;
}

const CONV_WIDTHS: Record<string, number[]> = {
  'conv-2': [64, 64],
  'conv-4': [64, 64, 128, 128],
  'conv-6': [64, 64, 128, 128, 256, 256],
};

export function isZooModel(name: string): name is ZooModelName {
  return (ZOO_MODELS as readonly string[]).includes(name);
}

function buildZoo(name: ZooModelName, o: ModelSpecOptions): tfl.Sequential {
  const [h, w, c] = o.inputShape;
  const layers: tfl.layers.Layer[] = [];
  const init = { kernelInitializer: 'zeros', biasInitializer: 'zeros' } as const;
  if (name === 'lenet-300-100') {
    layers.push(tfl.layers.flatten({ name: 'flatten', inputShape: [h, w, c] }));
    layers.push(tfl.layers.dense({ name: 'fc1', units: 300, activation: 'relu', ...init }));
    layers.push(tfl.layers.dense({ name: 'fc2', units: 100, activation: 'relu', ...init }));
  } else {
    const widths = CONV_WIDTHS[name];
    widths.forEach((filters, i) => {
      layers.push(tfl.layers.conv2d({
        name: `conv${i + 1}`, filters, kernelSize: 3, padding: 'same', activation: 'relu', ...init,
        ...(i === 0 ? { inputShape: [h, w, c] } : {}),
      }));
      if (i % 2 === 1) layers.push(tfl.layers.maxPooling2d({ name: `pool${(i + 1) / 2}`, poolSize: 2, strides: 2 }));
    });
    layers.push(tfl.layers.flatten({ name: 'flatten' }));
    layers.push(tfl.layers.dense({ name: 'fc1', units: 256, activation: 'relu', ...init }));
    layers.push(tfl.layers.dense({ name: 'fc2', units: 256, activation: 'relu', ...init }));
  }
  layers.push(tfl.layers.dense({ name: 'fc3', units: o.classes, ...init }));
  return tfl.sequential({ name, layers });
}

/** Fan-in and fan-out of a kernel as Keras's Glorot initialiser computes them. */
export function fans(shape: readonly number[]): [number, number] {
  if (shape.length === 2) return [shape[0], shape[1]];
  const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1);
  return [receptive * shape[shape.length - 2], receptive * shape[shape.length - 1]];
}

/** Glorot-uniform values for a kernel of `shape`, drawn from `rng`. */
export function glorotUniform(shape: readonly number[], rng: Rng): Float32Array {
  const [fanIn, fanOut] = fans(shape);
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (2 * rng.next() - 1) * limit;
  return out;
}

/**
 * Re-initialises every kernel (Glorot uniform) and bias (zero) of `model` from `seed`, in layer
 * order. Other weights (e.g. batch-norm statistics) are left as they are.
 */
export function initialiseWeights(model: tfl.LayersModel, seed: number): void {
  const rng = new Rng(seed);
  for (const layer of model.layers) {
    for (const v of layer.weights) {
      const short = v.originalName.split('/').pop() ?? '';
      const variable = v.read() as tf.Variable;
      const shape = variable.shape;
      if (short === 'kernel' || short === 'depthwise_kernel' || short === 'pointwise_kernel' || short === 'embeddings') {
        const values = glorotUniform(shape, rng);
        tf.tidy(() => variable.assign(tf.tensor(values, shape, 'float32')));
      } else if (short === 'bias') {
        tf.tidy(() => variable.assign(tf.zerosLike(variable)));
      }
    }
  }
}

/** Builds `spec`: a zoo name (seeded init) or a TF.js layers model folder (its own weights). */
export async function buildModel(spec: string, o: ModelSpecOptions): Promise<tfl.LayersModel> {
  if (isZooModel(spec)) {
    const model = buildZoo(spec, o);
    initialiseWeights(model, o.seed);
    return model;
  }
  if (existsSync(join(spec, 'model.json')) || (spec.endsWith('.json') && existsSync(spec))) {
    return loadModelFolder(spec);
  }
  throw new SculptError(`--model ${spec}: not a zoo model (${ZOO_MODELS.join(', ')}) nor a folder with model.json`);
}
