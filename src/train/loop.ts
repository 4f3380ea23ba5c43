/**
 * The training loop: a custom loop rather than `model.fit` (no per-batch callbacks, history or
 * validation machinery), batches assembled in JS from the in-memory dataset, gradients through
 * `tf.variableGrads`, a fused optimizer step that also applies the masks, everything inside
 * `tf.tidy`.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { SculptError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import type { Split } from './data.js';
import type { MaskState } from './masking.js';
import { FusedOptimizer } from './optimizer.js';
import { lrSchedule, type LrScheduleSpec } from './schedules.js';
import { classifyWeight, modelWeights } from './weights.js';

export interface TrainConfig {
  readonly epochs: number;
  readonly batchSize: number;
  readonly lr: number;
  readonly optimizer: 'adam' | 'sgd';
  /** SGD momentum (0: plain SGD). */
  readonly momentum: number;
  readonly lrSchedule: LrScheduleSpec;
  /** Coefficient of Σ|w| over prunable kernels added to the loss. */
  readonly l1: number;
  /** Coefficient of Σw² over prunable kernels added to the loss. */
  readonly l2: number;
  /** Dropout rate after each hidden Dense layer of a sequential model (0: none). */
  readonly dropout: number;
  /**
   * Soft-thresholding (proximal L1, ISTA): after every step each prunable kernel weight moves
   * lr·λ towards zero and stops there, w ← sign(w)·max(|w| − lr·λ, 0), so weights reach exact
   * zeros during training, unlike the L1 penalty's subgradient. 0 or absent: off.
   */
  readonly softThreshold?: number;
  /** Seeds shuffling and dropout. */
  readonly seed: number;
}

export const DEFAULT_TRAIN_CONFIG: TrainConfig = {
  epochs: 1, batchSize: 60, lr: 1.2e-3, optimizer: 'adam', momentum: 0.9, lrSchedule: { kind: 'constant' }, l1: 0, l2: 0, dropout: 0, seed: 0,
};

export interface BatchProgress {
  readonly epoch: number;
  readonly epochs: number;
  readonly batch: number;
  readonly batches: number;
  /** Mean loss and accuracy over the epoch's batches so far. */
  readonly loss: number;
  readonly accuracy: number;
  readonly done: boolean;
}

/** Given to `onStep` before each optimizer step. */
export interface StepContext {
  readonly model: tfl.LayersModel;
  readonly optimizer: FusedOptimizer;
  readonly masks: MaskState | undefined;
  /** Replaces the live masks (disposing the old ones) and zeros weights and optimizer state. */
  setMasks(masks: MaskState): void;
}

export interface TrainHooks {
  /** Called before step `step` (0-based, counted over the whole call). */
  onStep?: (step: number, ctx: StepContext) => void;
  /** Called every `progressEvery` batches and at the end of each epoch. */
  onProgress?: (p: BatchProgress) => void;
  progressEvery?: number;
}

export interface TrainResult {
  readonly steps: number;
  readonly trainSeconds: number;
  /** Mean loss over the last epoch. */
  readonly loss: number;
  /** Running accuracy over the last epoch (as Keras reports it). */
  readonly trainAccuracy: number;
  /** The masks live at the end (GMP may have replaced the ones passed in). */
  readonly masks: MaskState | undefined;
}

export function validateTrainConfig(c: TrainConfig): void {
  if (!Number.isInteger(c.epochs) || c.epochs < 0) throw new SculptError(`--epochs ${c.epochs}: must be a non-negative integer`);
  if (c.softThreshold !== undefined && !(c.softThreshold >= 0)) throw new SculptError(`--soft-threshold ${c.softThreshold}: must be a number ≥ 0`);
  if (!Number.isInteger(c.batchSize) || c.batchSize < 1) throw new SculptError(`--batch-size ${c.batchSize}: must be a positive integer`);
  if (!(c.lr > 0)) throw new SculptError(`--lr ${c.lr}: must be positive`);
  if (c.optimizer !== 'adam' && c.optimizer !== 'sgd') throw new SculptError(`--optimizer ${String(c.optimizer)}: use adam or sgd`);
  if (!(c.momentum >= 0 && c.momentum < 1)) throw new SculptError(`--momentum ${c.momentum}: must be in [0, 1)`);
  if (!(c.l1 >= 0)) throw new SculptError(`--l1 ${c.l1}: must be ≥ 0`);
  if (!(c.l2 >= 0)) throw new SculptError(`--l2 ${c.l2}: must be ≥ 0`);
  if (!(c.dropout >= 0 && c.dropout < 1)) throw new SculptError(`--dropout ${c.dropout}: must be in [0, 1)`);
}

export function makeOptimizer(c: TrainConfig): FusedOptimizer {
  return new FusedOptimizer({ kind: c.optimizer, lr: c.lr, momentum: c.momentum });
}

/** Input shape the model expects per example (without the batch dimension). */
export function exampleShape(model: tfl.LayersModel): number[] {
  const shape = model.inputs[0].shape.slice(1);
  if (shape.some((d) => d === null)) throw new SculptError(`model input shape [${model.inputs[0].shape.join(', ')}] has unknown dimensions; sculpt needs a fixed input shape`);
  return shape as number[];
}

/** Dense layers after which `dropout` applies: every Dense but the last, in sequential models. */
function dropoutAfter(model: tfl.LayersModel): Set<number> {
  const out = new Set<number>();
  if (model.getClassName() !== 'Sequential') return out;
  const dense = model.layers.map((l, i) => (l.getClassName() === 'Dense' ? i : -1)).filter((i) => i >= 0);
  for (const i of dense.slice(0, -1)) out.add(i);
  return out;
}

/** Forward pass; for sequential models layer by layer so dropout can use sculpt's seeded Rng. */
export function forward(model: tfl.LayersModel, x: tf.Tensor, training: boolean, dropout = 0, rng?: Rng, after?: Set<number>): tf.Tensor {
  if (!training || dropout === 0 || rng === undefined || after === undefined || after.size === 0) {
    return model.apply(x, { training }) as tf.Tensor;
  }
  let y = x;
  const keep = 1 - dropout;
  model.layers.forEach((layer, i) => {
    y = layer.apply(y, { training }) as tf.Tensor;
    if (after.has(i)) {
      const mask = new Float32Array(y.size);
      for (let j = 0; j < mask.length; j++) mask[j] = rng.next() < keep ? 1 / keep : 0;
      y = tf.mul(y, tf.tensor(mask, y.shape, 'float32'));
    }
  });
  return y;
}

function countCorrect(logits: Float32Array, labels: Uint8Array, offset: number, n: number, classes: number): number {
  let correct = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bestV = logits[i * classes];
    for (let c = 1; c < classes; c++) {
      const v = logits[i * classes + c];
      if (v > bestV) { bestV = v; best = c; }
    }
    if (best === labels[offset + i]) correct++;
  }
  return correct;
}

/** Test accuracy: the fraction of examples whose arg-max logit is the label. */
export function evaluate(model: tfl.LayersModel, split: Split, batchSize = 1000): number {
  const shape = exampleShape(model);
  const per = shape.reduce((a, b) => a * b, 1);
  let correct = 0;
  for (let s = 0; s < split.count; s += batchSize) {
    const n = Math.min(batchSize, split.count - s);
    const logits = tf.tidy(() => {
      const x = tf.tensor(split.images.subarray(s * per, (s + n) * per), [n, ...shape], 'float32');
      return (model.apply(x, { training: false }) as tf.Tensor).dataSync() as Float32Array;
    });
    correct += countCorrect(logits, split.labels, s, n, logits.length / n);
  }
  return split.count === 0 ? 0 : correct / split.count;
}

/**
 * Trains `model` in place on `data` for `config.epochs` epochs with a fresh optimizer. With
 * `masks`, pruned weights are zeroed before the first step and stay exactly zero.
 */
/** Proximal step of τ‖w‖₁: w ← sign(w)·max(|w| − τ, 0) on each variable (zeros stay zero). */
export function softThreshold(vars: readonly tf.Variable[], tau: number): void {
  tf.tidy(() => {
    for (const v of vars) v.assign(tf.mul(tf.sign(v), tf.relu(tf.sub(tf.abs(v), tau))));
  });
}

export function trainModel(model: tfl.LayersModel, data: Split, config: TrainConfig, masks?: MaskState, hooks: TrainHooks = {}): TrainResult {
  validateTrainConfig(config);
  const shape = exampleShape(model);
  const per = shape.reduce((a, b) => a * b, 1);
  if (per * data.count !== data.images.length) throw new SculptError(`model expects ${per} values per example, the dataset has ${data.images.length / data.count}`);
  // The class count is the model's: Fashion-MNIST's 10, or a user dataset's (images:DIR, csv:FILE).
  const outShape = model.outputs[0].shape;
  const classes = outShape[1] ?? 0;
  let maxLabel = 0;
  for (let i = 0; i < data.count; i++) if (data.labels[i] > maxLabel) maxLabel = data.labels[i];
  if (outShape.length !== 2 || classes <= maxLabel) {
    throw new SculptError(`model output shape [${outShape.join(', ')}] does not fit ${maxLabel + 1}-class labels; the model must end in at least ${maxLabel + 1} logits`);
  }
  const B = config.batchSize;
  const optimizer = makeOptimizer(config);
  const lrAt = lrSchedule(config.lr, config.lrSchedule);
  const rng = new Rng(config.seed);
  const after = dropoutAfter(model);
  const weights = modelWeights(model);
  const trainable = weights.filter((w) => w.trainable).map((w) => w.variable);
  const penalised = weights.filter((w) => classifyWeight(w.layerClass, w.name, w.variable.shape.length).prunable && w.trainable).map((w) => w.variable);
  let live = masks;
  live?.applyToWeights(optimizer);
  const ctx: StepContext = {
    model, optimizer,
    get masks() { return live; },
    setMasks(m: MaskState) {
      if (live !== undefined && live !== m) live.dispose();
      live = m;
      m.applyToWeights(optimizer);
    },
  };
  const order = new Int32Array(data.count);
  for (let i = 0; i < order.length; i++) order[i] = i;
  const xb = new Float32Array(B * per);
  const yb = new Float32Array(B * classes);
  const batches = Math.ceil(data.count / B);
  const every = hooks.progressEvery ?? 50;
  let step = 0;
  let lastLoss = NaN;
  let lastAcc = NaN;
  const t0 = performance.now();
  try {
    for (let epoch = 0; epoch < config.epochs; epoch++) {
      for (let i = order.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        const t = order[i]; order[i] = order[j]; order[j] = t;
      }
      let lossSum = 0;
      let correct = 0;
      let seen = 0;
      for (let b = 0; b < batches; b++) {
        hooks.onStep?.(step, ctx);
        optimizer.learningRate = lrAt(step);
        const start = b * B;
        const n = Math.min(B, data.count - start);
        yb.fill(0, 0, n * classes);
        for (let j = 0; j < n; j++) {
          const k = order[start + j];
          xb.set(data.images.subarray(k * per, (k + 1) * per), j * per);
          yb[j * classes + data.labels[k]] = 1;
        }
        const stepOut = tf.tidy(() => {
          const x = tf.tensor(n === B ? xb : xb.subarray(0, n * per), [n, ...shape], 'float32');
          const y = tf.tensor2d(n === B ? yb : yb.subarray(0, n * classes), [n, classes], 'float32');
          let logits: tf.Tensor | undefined;
          const { value, grads } = tf.variableGrads(() => {
            logits = tf.keep(forward(model, x, true, config.dropout, rng, after));
            let loss = tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
            if (config.l1 > 0) loss = tf.add(loss, tf.mul(config.l1, tf.addN(penalised.map((v) => tf.sum(tf.abs(v)))))) as tf.Scalar;
            if (config.l2 > 0) loss = tf.add(loss, tf.mul(config.l2, tf.addN(penalised.map((v) => tf.sum(tf.square(v)))))) as tf.Scalar;
            return loss;
          }, trainable);
          optimizer.apply(trainable, grads, live?.byVariable);
          if (config.softThreshold !== undefined && config.softThreshold > 0) softThreshold(penalised, optimizer.learningRate * config.softThreshold);
          const l = (logits as tf.Tensor).dataSync() as Float32Array;
          (logits as tf.Tensor).dispose();
          return { loss: value.dataSync()[0], logits: l };
        });
        lossSum += stepOut.loss * n;
        for (let j = 0; j < n; j++) {
          const lg = stepOut.logits;
          let best = 0;
          for (let c = 1; c < classes; c++) if (lg[j * classes + c] > lg[j * classes + best]) best = c;
          if (best === data.labels[order[start + j]]) correct++;
        }
        seen += n;
        step++;
        if (!Number.isFinite(stepOut.loss)) {
          throw new SculptError(`training diverged at epoch ${epoch + 1}, step ${step} (loss ${stepOut.loss}); lower --lr`, 1);
        }
        const done = b === batches - 1;
        if (hooks.onProgress !== undefined && (done || (b + 1) % every === 0)) {
          hooks.onProgress({ epoch: epoch + 1, epochs: config.epochs, batch: b + 1, batches, loss: lossSum / seen, accuracy: correct / seen, done });
        }
      }
      lastLoss = lossSum / Math.max(seen, 1);
      lastAcc = correct / Math.max(seen, 1);
    }
  } finally {
    // The state it holds in the wasm backend's heap.
    optimizer.release();
  }
  const trainSeconds = (performance.now() - t0) / 1000;
  return { steps: step, trainSeconds, loss: lastLoss, trainAccuracy: lastAcc, masks: live };
}
