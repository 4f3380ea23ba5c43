/**
 * What to prune: the typed options record shared by the API, the CLI and recipes, its validation,
 * and how it resolves to a target set (prunable tensors − exclude + include, with overrides).
 */
import { criterionNames } from './criteria.js';
import { SculptError } from './errors.js';
import { matchNames } from './names.js';
import { checkPattern, parsePattern, type PatternSpec } from './patterns.js';
import type { WeightTensor } from './types.js';

/** How one pruning step is asked for. Build one with `pruneOptions`, which fills the defaults and checks it. */
export interface PruneOptions {
  /** Fraction in [0, 1) of the chosen set to have pruned: exactly round(s·N) (half to even). */
  sparsity: number;
  /** 'global': one ranking over all chosen tensors; 'layer': each tensor its own count. */
  scope: 'global' | 'layer';
  /** Which groups of weights go together (unstructured, N:M, channel). N:M ignores `sparsity`. */
  pattern: PatternSpec;
  /** Registered criterion name (`magnitude`, `random`, `taylor`, ...). */
  criterion: string;
  /** Tensor names or globs (`*`, `?`) left untouched; a pattern matching nothing is an error. */
  exclude: string[];
  /** Tensor name or glob → its own sparsity, pruned on its own (layer scope); wins over exclude. */
  overrides: Map<string, number>;
  /** Seed for random criteria. */
  seed: number;
  /** IMP step: prune `sparsity` of what remains (z + round(s·(N − z))) instead of of N. */
  fractionOfRemaining?: boolean;
  /** Names or globs of tensors to prune although not prunable by default (e.g. embeddings). */
  include?: string[];
  /** Absolute number to prune instead of `sparsity` (PyTorch's integer amount): elements, or channels for layer-scope channel pruning. Not applied to overrides. */
  count?: number;
  /**
   * Let a tensor be pruned to density 0 (layer collapse: the layer then ignores its input).
   * Without it such a plan is refused, naming the tensors; a tensor already all zero is no collapse.
   */
  allowCollapse?: boolean;
  /**
   * Names or globs of the weights whose output channels are the model's outputs (a classifier's
   * logits): channel pruning them warns. Default: the last tensor prunable by default, in file order.
   */
  outputWeights?: string[];
  /** Gradients by tensor name for criteria that need data. */
  gradients?: Map<string, Float32Array>;
  /** Calibration statistics for criteria that need activations or curvature (`obd`, `wanda`). */
  calibration?: import('./criteria.js').ScoreContext['calibration'];
}

/**
 * What `pruneOptions` takes: any subset of PruneOptions, with the pattern also as text
 * (`'2:4'`, `'channel'`) and overrides also as a plain object (`{ 'fc1.weight': 0.5 }`).
 */
export type PruneOptionsInput = Partial<Omit<PruneOptions, 'pattern' | 'overrides' | 'exclude' | 'include' | 'outputWeights'>> & {
  pattern?: PatternSpec | string;
  overrides?: ReadonlyMap<string, number> | Readonly<Record<string, number>>;
  exclude?: readonly string[];
  include?: readonly string[];
  outputWeights?: readonly string[];
};

const OPTION_NAMES: readonly (keyof PruneOptions)[] = [
  'sparsity', 'scope', 'pattern', 'criterion', 'exclude', 'overrides', 'seed', 'fractionOfRemaining', 'include', 'count',
  'allowCollapse', 'outputWeights', 'gradients', 'calibration',
];

/**
 * A complete, checked PruneOptions from a partial one. Defaults: scope 'global', pattern
 * unstructured, criterion 'magnitude', no exclusions or overrides, seed 0; `sparsity` is required
 * except for N:M patterns, which imply 1 − N/M. A wrong value or an unknown key (a JavaScript
 * caller's typo) is a SculptError naming the option as `options.NAME`.
 */
export function pruneOptions(partial: PruneOptionsInput): PruneOptions {
  if (typeof partial !== 'object' || partial === null) throw new SculptError(`pruneOptions needs an object of options, got ${describe(partial)}`);
  for (const key of Object.keys(partial)) {
    if (!(OPTION_NAMES as readonly string[]).includes(key)) {
      throw new SculptError(`unknown option '${key}'; pruning options are ${OPTION_NAMES.join(', ')}`);
    }
  }
  const p = partial as Record<string, unknown>;
  const pattern = typeof p.pattern === 'string' ? parsePattern(p.pattern) : checkPattern(p.pattern ?? { kind: 'unstructured' });
  let sparsity = p.sparsity;
  if (sparsity === undefined && pattern.kind === 'nm') sparsity = 1 - pattern.n / pattern.m;
  if (sparsity === undefined && p.count === undefined) {
    throw new SculptError('options.sparsity is missing: give the fraction of weights to remove, e.g. 0.9');
  }
  const opts: PruneOptions = {
    sparsity: (sparsity ?? 0) as number,
    scope: (p.scope ?? 'global') as PruneOptions['scope'],
    pattern,
    criterion: (p.criterion ?? 'magnitude') as string,
    exclude: names('exclude', p.exclude ?? []),
    include: names('include', p.include ?? []),
    overrides: overrideMap(p.overrides ?? new Map()),
    seed: (p.seed ?? 0) as number,
    fractionOfRemaining: (p.fractionOfRemaining ?? false) as boolean,
    allowCollapse: (p.allowCollapse ?? false) as boolean,
  };
  if (p.count !== undefined) opts.count = p.count as number;
  if (p.outputWeights !== undefined) opts.outputWeights = names('outputWeights', p.outputWeights);
  if (p.gradients !== undefined) opts.gradients = p.gradients as PruneOptions['gradients'];
  if (p.calibration !== undefined) opts.calibration = p.calibration as PruneOptions['calibration'];
  validatePruneOptions(opts);
  return opts;
}

/**
 * Checks every field's type and range, so a JavaScript caller's wrong value is an error rather
 * than a silent no-op. Throws a SculptError naming the option as `options.NAME` (the CLI shows
 * the flag instead).
 */
export function validatePruneOptions(opts: PruneOptions): void {
  if (typeof opts !== 'object' || opts === null) throw new SculptError(`pruning options must be an object, got ${describe(opts)}`);
  checkSparsity(opts.sparsity, 'options.sparsity');
  if (opts.scope !== 'global' && opts.scope !== 'layer') {
    throw new SculptError(`options.scope must be 'global' or 'layer', got ${describe(opts.scope)}`);
  }
  checkPattern(opts.pattern);
  if (typeof opts.criterion !== 'string' || !criterionNames().includes(opts.criterion)) {
    throw new SculptError(`unknown options.criterion ${describe(opts.criterion)}; known criteria: ${criterionNames().join(', ')}`);
  }
  names('exclude', opts.exclude);
  if (opts.include !== undefined) names('include', opts.include);
  if (opts.outputWeights !== undefined) names('outputWeights', opts.outputWeights);
  if (!(opts.overrides instanceof Map)) {
    throw new SculptError(`options.overrides must be a Map of tensor name → sparsity (pruneOptions also takes a plain object), got ${describe(opts.overrides)}`);
  }
  for (const [name, s] of opts.overrides) checkSparsity(s, `options.overrides['${name}']`);
  if (opts.count !== undefined && (typeof opts.count !== 'number' || !Number.isInteger(opts.count) || opts.count < 0)) {
    throw new SculptError(`options.count must be a non-negative integer, got ${describe(opts.count)}`);
  }
  if (typeof opts.seed !== 'number' || !Number.isFinite(opts.seed)) throw new SculptError(`options.seed must be a finite number, got ${describe(opts.seed)}`);
  for (const key of ['fractionOfRemaining', 'allowCollapse'] as const) {
    const v = opts[key];
    if (v !== undefined && typeof v !== 'boolean') throw new SculptError(`options.${key} must be true or false, got ${describe(v)}`);
  }
}

function checkSparsity(s: unknown, option: string): void {
  if (typeof s === 'string') throw new SculptError(`${option} must be a number in [0, 1), got the string '${s}'; pass a number (e.g. 0.9)`);
  if (typeof s !== 'number' || !Number.isFinite(s) || s < 0 || s >= 1) {
    throw new SculptError(`${option} must be a number in [0, 1) (e.g. 0.9 for 90% pruned), got ${describe(s)}`);
  }
}

function names(option: string, v: unknown): string[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
    const hint = typeof v === 'string' ? `the string '${v}'; pass ['${v}']` : describe(v);
    throw new SculptError(`options.${option} must be an array of tensor names or globs, got ${hint}`);
  }
  return [...(v as string[])];
}

function overrideMap(v: unknown): Map<string, number> {
  if (v instanceof Map) return new Map(v as Map<string, number>);
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) return new Map(Object.entries(v as Record<string, number>));
  throw new SculptError(`options.overrides must be a Map or an object of tensor name → sparsity, got ${describe(v)}`);
}

/** A value as a message shows it: strings quoted, objects by their kind. */
function describe(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  if (v === null || v === undefined) return String(v);
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Map) return 'a Map';
  if (typeof v === 'object') return 'an object';
  return String(v);
}

/** One tensor of the target set and how it is pruned. */
export interface TargetEntry {
  readonly tensor: WeightTensor;
  /** Position in the file (the tie-break order). */
  readonly index: number;
  /** The tensor's sparsity (the main one, or its override). */
  readonly sparsity: number;
  /** Scope this tensor is ranked in: overrides are always 'layer'. */
  readonly scope: 'global' | 'layer';
  /** Whether an override set its sparsity. */
  readonly overridden: boolean;
}

/**
 * The target set in file order: prunable tensors and `include`, minus `exclude`, plus every
 * tensor an override names. Each pattern that matches no tensor is a SculptError naming it, and
 * so is an empty set (nothing to prune: "0 removed" would hide a wrong model or a wrong exclude).
 */
export function resolveTargets(tensors: readonly WeightTensor[], opts: PruneOptions): TargetEntry[] {
  const all = tensors.map((t) => t.name);
  const chosen = new Set(tensors.filter((t) => t.prunable).map((t) => t.name));
  for (const p of opts.include ?? []) {
    const m = matchNames(p, all);
    if (m.length === 0) throw noMatch('options.include', p, all);
    for (const n of m) chosen.add(n);
  }
  const candidates = all.filter((n) => chosen.has(n));
  for (const p of opts.exclude) {
    const m = matchNames(p, all);
    if (m.length === 0) throw noMatch('options.exclude', p, all);
    for (const n of m) chosen.delete(n);
  }
  const override = new Map<string, number>();
  for (const [p, s] of opts.overrides) {
    const m = matchNames(p, candidates);
    if (m.length === 0) {
      if (matchNames(p, all).length > 0) {
        throw new SculptError(`options.overrides['${p}'] names only tensors that are not prunable by default; add them to options.include too`);
      }
      throw noMatch(`options.overrides['${p}']`, undefined, all);
    }
    for (const n of m) if (!override.has(n)) override.set(n, s);
  }
  const out: TargetEntry[] = [];
  tensors.forEach((t, index) => {
    const s = override.get(t.name);
    if (s !== undefined) out.push({ tensor: t, index, sparsity: s, scope: 'layer', overridden: true });
    else if (chosen.has(t.name)) out.push({ tensor: t, index, sparsity: opts.sparsity, scope: opts.scope, overridden: false });
  });
  if (out.length === 0) throw nothingToPrune(tensors, candidates);
  return out;
}

/** Why the target set is empty: no floating tensors, none prunable by default, or all excluded. */
function nothingToPrune(tensors: readonly WeightTensor[], candidates: readonly string[]): SculptError {
  const n = tensors.length;
  const inspect = "'sculpt inspect' shows each tensor's decision";
  if (n === 0) return new SculptError(`no prunable weights: no floating-point tensors found (${inspect})`);
  if (candidates.length === 0) {
    return new SculptError(
      `no prunable weights: ${n} floating tensor${n === 1 ? '' : 's'}, none is a weight of rank ≥ 2 (${inspect}); ` +
      'name tensors in options.include to prune them anyway',
    );
  }
  const some = candidates.slice(0, 4).map((c) => `'${c}'`).join(', ') + (candidates.length > 4 ? ', ...' : '');
  return new SculptError(
    `nothing left to prune: options.exclude removes all ${candidates.length} tensor${candidates.length === 1 ? '' : 's'} chosen for pruning (${some}); ` +
    'exclude fewer, or give a tensor its own sparsity with options.overrides',
  );
}

function noMatch(option: string, pattern: string | undefined, names: readonly string[]): SculptError {
  const some = names.slice(0, 4).map((n) => `'${n}'`).join(', ');
  const what = pattern === undefined ? option : `${option} '${pattern}'`;
  return new SculptError(`${what} matches no tensor (names look like ${some}${names.length > 4 ? ', ...' : ''}; 'sculpt inspect' lists them)`);
}
