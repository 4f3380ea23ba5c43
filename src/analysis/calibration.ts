/**
 * Calibration statistics of a sequential Dense network (Flatten/Dense/Dropout layers, as
 * LeNet-300-100) from a few batches of data, for the criteria that need data:
 *   - `gradients`: ∂L/∂W of the mean cross-entropy over the calibration examples (`taylor`);
 *   - `inputNorms`: ‖X_j‖₂ over the examples of every input feature of every kernel (`wanda`);
 *   - `hessianDiag`: the Fisher diagonal with labels drawn from the model's own softmax,
 *     F_ij = (1/N)·Σ_n x_ni²·Σ_c p_nc·δ_nj(c)², where δ_n(c) = ∂CE(z_n, c)/∂(pre-activation) — the
 *     Gauss–Newton diagonal, equal to the Hessian's diagonal for a softmax layer and its usual
 *     positive surrogate deeper in (the empirical Fisher, labels from the data, is `fisher: 'empirical'`);
 *   - `inputHessians`: H = XᵀX per kernel (in × in), the layer-wise Hessian SparseGPT needs.
 * Every statistic uses the dense model's activations. Per-example gradients come exactly from one
 * backward pass per class: gradients with respect to a batch's pre-activations are per example.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { SculptError } from '../core/errors.js';
import type { Split } from '../train/data.js';

interface DenseStep {
  readonly kernelName: string;
  readonly kernel: tf.Variable;
  readonly bias?: tf.Variable;
  readonly relu: boolean;
}

/** The Dense layers of a sequential model, refusing anything but Flatten, Dense and Dropout. */
export function denseStack(model: tfl.LayersModel): DenseStep[] {
  const out: DenseStep[] = [];
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    if (cls === 'Flatten' || cls === 'Dropout' || cls === 'InputLayer') continue;
    if (cls !== 'Dense') throw new SculptError(`calibration: layer '${layer.name}' is ${cls}; --calibration supports Flatten/Dense networks (e.g. lenet-300-100)`);
    const act = String((layer.getConfig() as { activation?: string }).activation ?? 'linear');
    if (act !== 'relu' && act !== 'linear') throw new SculptError(`calibration: layer '${layer.name}' has activation ${act}; only relu and linear are supported`);
    const k = layer.weights.find((w) => w.originalName.endsWith('/kernel'));
    const b = layer.weights.find((w) => w.originalName.endsWith('/bias'));
    if (k === undefined) throw new SculptError(`calibration: layer '${layer.name}' has no kernel`);
    out.push({ kernelName: k.originalName, kernel: k.read() as tf.Variable, bias: b?.read() as tf.Variable | undefined, relu: act === 'relu' });
  }
  if (out.length === 0) throw new SculptError('calibration: the model has no Dense layers');
  return out;
}

export interface CalibrationOptions {
  /** Number of examples used (the first N of the split). */
  readonly samples: number;
  readonly batchSize?: number;
  /** 'model' (labels drawn from the softmax: Gauss–Newton) or 'empirical' (data labels). */
  readonly fisher?: 'model' | 'empirical';
  /** Which statistics to compute (all by default). */
  readonly want?: { gradients?: boolean; inputNorms?: boolean; hessianDiag?: boolean; inputHessians?: boolean };
}

export interface CalibrationStats {
  readonly samples: number;
  readonly gradients: Map<string, Float32Array>;
  readonly inputNorms: Map<string, Float32Array>;
  readonly hessianDiag: Map<string, Float32Array>;
  /** XᵀX per kernel, in × in, float64. */
  readonly inputHessians: Map<string, Float64Array>;
}

/** Forward pass returning logits and every kernel's input; `probes` are added to the pre-activations. */
function forward(steps: DenseStep[], x: tf.Tensor2D, probes?: tf.Tensor[]): { logits: tf.Tensor2D; inputs: tf.Tensor2D[] } {
  let a: tf.Tensor2D = x;
  const inputs: tf.Tensor2D[] = [];
  steps.forEach((s, l) => {
    inputs.push(a);
    let z = tf.matMul(a, s.kernel as tf.Tensor2D);
    if (s.bias !== undefined) z = tf.add(z, s.bias);
    if (probes !== undefined) z = tf.add(z, probes[l]);
    a = (s.relu ? tf.relu(z) : z) as tf.Tensor2D;
  });
  return { logits: a, inputs };
}

/** Statistics over the first `o.samples` examples of `split`. */
export function calibrate(model: tfl.LayersModel, split: Split, o: CalibrationOptions): CalibrationStats {
  const steps = denseStack(model);
  const n = Math.min(o.samples, split.count);
  if (!(n >= 1)) throw new SculptError(`--calibration-samples must be at least 1, got ${o.samples}`);
  const per = split.images.length / split.count;
  const classes = steps[steps.length - 1].kernel.shape[1] as number;
  const want = o.want ?? { gradients: true, inputNorms: true, hessianDiag: true, inputHessians: true };
  const B = o.batchSize ?? 128;
  const shapes = steps.map((s) => s.kernel.shape as [number, number]);
  const grads = shapes.map(([i, j]) => new Float64Array(i * j));
  const sq = shapes.map(([i]) => new Float64Array(i));
  const fisher = shapes.map(([i, j]) => new Float64Array(i * j));
  const xtx = shapes.map(([i]) => (want.inputHessians ? new Float64Array(i * i) : new Float64Array(0)));
  const addInto = (acc: Float64Array, t: tf.Tensor): void => {
    const v = t.dataSync();
    for (let i = 0; i < v.length; i++) acc[i] += v[i];
  };
  for (let s = 0; s < n; s += B) {
    const m = Math.min(B, n - s);
    tf.tidy(() => {
      const x = tf.tensor2d(split.images.subarray(s * per, (s + m) * per), [m, per]);
      const labels = split.labels.subarray(s, s + m);
      const onehot = tf.cast(tf.oneHot(tf.tensor1d(Array.from(labels), 'int32'), classes), 'float32');
      const probes = steps.map((st) => tf.zeros([m, st.kernel.shape[1] as number]));
      const { logits, inputs } = forward(steps, x, probes);
      if (want.inputNorms || want.hessianDiag || want.inputHessians) {
        inputs.forEach((a, l) => {
          if (want.inputNorms) addInto(sq[l], tf.sum(tf.square(a), 0));
          if (want.inputHessians) addInto(xtx[l], tf.matMul(a, a, true, false));
        });
      }
      // δ for a label tensor y (rows one-hot): gradients of Σ_n CE(z_n, y_n) w.r.t. the probes.
      const deltas = (y: tf.Tensor2D): tf.Tensor[] => tf.grads((...p: tf.Tensor[]) => {
        const z = forward(steps, x, p).logits;
        return tf.sum(tf.neg(tf.sum(tf.mul(y, tf.logSoftmax(z)), 1)));
      })(probes);
      if (want.gradients) {
        // ∂(Σ_n CE_n)/∂W_l = a_{l−1}ᵀ δ_l; divided by N at the end.
        const d = deltas(onehot as tf.Tensor2D);
        d.forEach((dl, l) => addInto(grads[l], tf.matMul(inputs[l], dl as tf.Tensor2D, true, false)));
      }
      if (want.hessianDiag) {
        const x2 = inputs.map((a) => tf.square(a));
        if (o.fisher === 'empirical') {
          const d = deltas(onehot as tf.Tensor2D);
          d.forEach((dl, l) => addInto(fisher[l], tf.matMul(x2[l], tf.square(dl) as tf.Tensor2D, true, false)));
        } else {
          const p = tf.softmax(logits);
          const acc = steps.map((st) => tf.zeros([m, st.kernel.shape[1] as number]) as tf.Tensor2D);
          for (let c = 0; c < classes; c++) {
            const yc = tf.cast(tf.oneHot(tf.fill([m], c, 'int32') as tf.Tensor1D, classes), 'float32') as tf.Tensor2D;
            const pc = tf.slice(p, [0, c], [m, 1]);
            const d = deltas(yc);
            d.forEach((dl, l) => { acc[l] = tf.add(acc[l], tf.mul(pc, tf.square(dl))) as tf.Tensor2D; });
          }
          acc.forEach((dl, l) => addInto(fisher[l], tf.matMul(x2[l], dl, true, false)));
        }
      }
    });
  }
  const f32 = (a: Float64Array, scale: number): Float32Array => Float32Array.from(a, (v) => v * scale);
  const out: CalibrationStats = { samples: n, gradients: new Map(), inputNorms: new Map(), hessianDiag: new Map(), inputHessians: new Map() };
  steps.forEach((st, l) => {
    if (want.gradients) out.gradients.set(st.kernelName, f32(grads[l], 1 / n));
    if (want.inputNorms) out.inputNorms.set(st.kernelName, Float32Array.from(sq[l], (v) => Math.sqrt(v)));
    if (want.hessianDiag) out.hessianDiag.set(st.kernelName, f32(fisher[l], 1 / n));
    if (want.inputHessians) out.inputHessians.set(st.kernelName, xtx[l]);
  });
  return out;
}
