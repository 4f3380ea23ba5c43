/**
 * Schedules as pure functions of the training step, free of any framework: sparsity schedules
 * for gradual magnitude pruning (Zhu & Gupta 2017, as in TF Model Optimization) and learning-rate
 * schedules.
 */
import { SculptError } from '../core/errors.js';

export interface PruningDecision {
  /** Whether masks are recomputed at this step. */
  readonly prune: boolean;
  /** Target sparsity (fraction of prunable weights removed) in effect from this step on. */
  readonly sparsity: number;
}

export type PruningSchedule = (step: number) => PruningDecision;

export interface PolynomialScheduleOptions {
  readonly initialSparsity: number;
  readonly finalSparsity: number;
  readonly beginStep: number;
  /** Last step at which sparsity changes (reaches finalSparsity). */
  readonly endStep: number;
  /** Masks are updated every `frequency` steps between beginStep and endStep. */
  readonly frequency: number;
  /** Exponent of the decay; 3 in Zhu & Gupta. */
  readonly power?: number;
}

function checkSparsity(name: string, s: number): void {
  if (!(s >= 0 && s < 1)) throw new SculptError(`${name} ${s}: sparsity must be in [0, 1)`);
}

/**
 * s_t = s_f + (s_i − s_f)(1 − (t − t0)/(t_end − t0))^3 for t0 ≤ t ≤ t_end, clamped outside; masks
 * are updated at t0, t0 + Δt, … up to t_end (and at t_end even when it is not on the grid).
 */
export function polynomialSchedule(o: PolynomialScheduleOptions): PruningSchedule {
  checkSparsity('--initial-sparsity', o.initialSparsity);
  checkSparsity('--final-sparsity', o.finalSparsity);
  if (!Number.isInteger(o.beginStep) || o.beginStep < 0) throw new SculptError(`--begin-step ${o.beginStep}: must be a non-negative integer`);
  if (!Number.isInteger(o.endStep) || o.endStep < o.beginStep) throw new SculptError(`--end-step ${o.endStep}: must be an integer ≥ --begin-step (${o.beginStep})`);
  if (!Number.isInteger(o.frequency) || o.frequency < 1) throw new SculptError(`--frequency ${o.frequency}: must be a positive integer`);
  const power = o.power ?? 3;
  const span = o.endStep - o.beginStep;
  return (step: number): PruningDecision => {
    const t = Math.min(Math.max(step, o.beginStep), o.endStep);
    const progress = span === 0 ? 1 : (t - o.beginStep) / span;
    // The endpoints exactly, not up to rounding of the polynomial.
    const sparsity = progress === 0 ? o.initialSparsity : progress === 1 ? o.finalSparsity
      : o.finalSparsity + (o.initialSparsity - o.finalSparsity) * Math.pow(1 - progress, power);
    const inWindow = step >= o.beginStep && step <= o.endStep;
    const prune = inWindow && ((step - o.beginStep) % o.frequency === 0 || step === o.endStep);
    return { prune, sparsity: step < o.beginStep ? 0 : sparsity };
  };
}

export interface ConstantScheduleOptions {
  readonly sparsity: number;
  readonly beginStep: number;
  /** Last step at which masks are updated; Infinity for the whole run. */
  readonly endStep: number;
  readonly frequency: number;
}

/** The same target sparsity, re-applied every `frequency` steps from beginStep to endStep. */
export function constantSchedule(o: ConstantScheduleOptions): PruningSchedule {
  checkSparsity('--final-sparsity', o.sparsity);
  if (!Number.isInteger(o.frequency) || o.frequency < 1) throw new SculptError(`--frequency ${o.frequency}: must be a positive integer`);
  return (step: number): PruningDecision => {
    const inWindow = step >= o.beginStep && step <= o.endStep;
    return { prune: inWindow && (step - o.beginStep) % o.frequency === 0, sparsity: step < o.beginStep ? 0 : o.sparsity };
  };
}

export type LrSchedule = (step: number) => number;

export type LrScheduleSpec =
  | { readonly kind: 'constant' }
  /** lr · gamma^floor(step / stepSize) */
  | { readonly kind: 'step'; readonly stepSize: number; readonly gamma: number }
  /** lr · rate^(step / decaySteps) */
  | { readonly kind: 'exponential'; readonly decaySteps: number; readonly rate: number };

export function lrSchedule(base: number, spec: LrScheduleSpec): LrSchedule {
  if (!(base > 0)) throw new SculptError(`--lr ${base}: must be positive`);
  switch (spec.kind) {
    case 'constant':
      return () => base;
    case 'step':
      if (!(spec.stepSize >= 1)) throw new SculptError(`--lr-schedule step: step size ${spec.stepSize} must be ≥ 1`);
      return (step) => base * Math.pow(spec.gamma, Math.floor(step / spec.stepSize));
    case 'exponential':
      if (!(spec.decaySteps > 0)) throw new SculptError(`--lr-schedule exp: decay steps ${spec.decaySteps} must be positive`);
      return (step) => base * Math.pow(spec.rate, step / spec.decaySteps);
  }
}

/**
 * Parses `constant`, `step:SIZE:GAMMA` or `exp:STEPS:RATE` (sizes in optimizer steps), as the
 * --lr-schedule flag takes them.
 */
export function parseLrSchedule(text: string): LrScheduleSpec {
  const parts = text.split(':');
  const num = (s: string | undefined): number => (s === undefined || s === '' ? NaN : Number(s));
  if (parts[0] === 'constant' && parts.length === 1) return { kind: 'constant' };
  if (parts[0] === 'step' && parts.length === 3) {
    const stepSize = num(parts[1]);
    const gamma = num(parts[2]);
    if (Number.isInteger(stepSize) && stepSize >= 1 && gamma > 0) return { kind: 'step', stepSize, gamma };
  }
  if ((parts[0] === 'exp' || parts[0] === 'exponential') && parts.length === 3) {
    const decaySteps = num(parts[1]);
    const rate = num(parts[2]);
    if (decaySteps > 0 && rate > 0) return { kind: 'exponential', decaySteps, rate };
  }
  throw new SculptError(`--lr-schedule ${text}: use constant, step:SIZE:GAMMA (e.g. step:1000:0.5) or exp:STEPS:RATE (e.g. exp:1000:0.96)`);
}
