/**
 * Importance criteria: how much each weight matters. A criterion writes one non-negative score per
 * element; larger means more important. Criteria live in a registry keyed by name, so the CLI,
 * recipes and the training loop all name them the same way.
 */
import { SculptError } from './errors.js';
import type { WeightTensor } from './types.js';

/** What a criterion may use besides the weights. Later criteria add optional fields. */
export interface ScoreContext {
  /** Seed for criteria that draw random numbers. */
  seed: number;
  /** Gradients by tensor name, for criteria that need data (e.g. `taylor`). */
  gradients?: Map<string, Float32Array>;
  /** Calibration statistics by tensor name: Hessian diagonal (`obd`), input-feature ℓ2 norms (`wanda`), diag((XᵀX + λI)⁻¹) per input (`sparsegpt`) — per input feature, or per element for Conv weights seen through im2col (see `calibrationIndex`); see criteria-data.ts. */
  calibration?: { readonly hessianDiag?: ReadonlyMap<string, Float32Array>; readonly inputNorms?: ReadonlyMap<string, Float32Array>; readonly inverseHessianDiag?: ReadonlyMap<string, Float32Array> };
}

/** A named importance measure: one non-negative score per element, larger = more important. */
export interface Criterion {
  /** Registry key, as typed on the command line (`--criterion magnitude`). */
  readonly name: string;
  /** Whether scoring needs something computed from data (gradients, activations). */
  readonly needsData: boolean;
  /**
   * True when the score is exactly |value|: selection may then read the values' bit patterns
   * directly instead of a score buffer (the fast path of global magnitude pruning).
   */
  readonly scoresAreMagnitudes?: boolean;
  /** Writes the scores of `values` (the tensor's current values) into `out` (same length). */
  scoreInto(tensor: WeightTensor, values: Float32Array, out: Float32Array, ctx: ScoreContext): void;
}

const registry = new Map<string, Criterion>();

/** Adds a criterion to the registry (replacing one of the same name). */
export function registerCriterion(c: Criterion): void {
  registry.set(c.name, c);
}

/** The criterion registered under `name`; unknown names are a SculptError listing the known ones. */
export function getCriterion(name: string): Criterion {
  const c = registry.get(name);
  if (c === undefined) {
    throw new SculptError(`unknown --criterion '${name}'; known criteria: ${criterionNames().join(', ')}`);
  }
  return c;
}

/** Names of all registered criteria, in registration order. */
export function criterionNames(): string[] {
  return [...registry.keys()];
}

/** |w|: the classic magnitude criterion (L1 per element, as torch's l1_unstructured). */
export const magnitudeCriterion: Criterion = {
  name: 'magnitude',
  needsData: false,
  scoresAreMagnitudes: true,
  scoreInto(_tensor, values, out) {
    for (let i = 0; i < values.length; i++) out[i] = Math.abs(values[i]);
  },
};

/**
 * Uniform random scores in [0, 1), a baseline. The stream is seeded by the run's seed and a hash of
 * the tensor's name, so a tensor's scores do not depend on which other tensors are pruned or in
 * which order. Scores are multiples of 2^-24, exact in float32.
 */
export const randomCriterion: Criterion = {
  name: 'random',
  needsData: false,
  scoreInto(tensor, values, out, ctx) {
    fillUniform(tensorSeed(ctx.seed, tensor.name), out.subarray(0, values.length));
  },
};

/**
 * Fills `out` with (Rng(seed).nextUint32() >>> 8) · 2^-24, the same stream as `Rng`, with the
 * xoshiro128** state held in int32 locals (Rng's uint32 fields become heap numbers: ~10x slower).
 */
export function fillUniform(seed: number, out: Float32Array): void {
  // SplitMix32 seeding, exactly as Rng's constructor.
  let x = seed >>> 0;
  const st = new Int32Array(4);
  for (let j = 0; j < 4; j++) {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    st[j] = z ^ (z >>> 16);
  }
  if ((st[0] | st[1] | st[2] | st[3]) === 0) st[0] = 1;
  let s0 = st[0];
  let s1 = st[1];
  let s2 = st[2];
  let s3 = st[3];
  for (let i = 0; i < out.length; i++) {
    const r = Math.imul(s1, 5);
    const result = Math.imul((r << 7) | (r >>> 25), 9);
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = (s3 << 11) | (s3 >>> 21);
    out[i] = (result >>> 8) * 5.9604644775390625e-8;
  }
}

/** |w·g|: first-order Taylor estimate of the loss change from removing a weight; needs gradients. */
export const taylorCriterion: Criterion = {
  name: 'taylor',
  needsData: true,
  scoreInto(tensor, values, out, ctx) {
    const g = ctx.gradients?.get(tensor.name);
    if (g === undefined) {
      throw new SculptError(`--criterion taylor needs gradients for tensor '${tensor.name}'; compute them on a data batch first`);
    }
    if (g.length !== values.length) {
      throw new SculptError(`gradient of tensor '${tensor.name}' has ${g.length} values, the tensor ${values.length}`);
    }
    for (let i = 0; i < values.length; i++) out[i] = Math.abs(values[i] * g[i]);
  },
};

/** Seed for one tensor's random stream: the run seed mixed with the FNV-1a hash of its name. */
export function tensorSeed(seed: number, name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (Math.imul((seed >>> 0) ^ 0x5bd1e995, 0x9e3779b1) ^ h) >>> 0;
}

registerCriterion(magnitudeCriterion);
registerCriterion(randomCriterion);
registerCriterion(taylorCriterion);
