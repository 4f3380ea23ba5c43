/**
 * What to prune: the typed options record shared by the API, the CLI and recipes, its validation,
 * and how it resolves to a target set (prunable tensors − exclude + include, with overrides).
 */
import { getCriterion } from './criteria.js';
import { SculptError } from './errors.js';
import { matchNames } from './names.js';
import type { PatternSpec } from './patterns.js';
import type { WeightTensor } from './types.js';

/** How one pruning step is asked for. */
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
  /** Gradients by tensor name for criteria that need data. */
  gradients?: Map<string, Float32Array>;
  /** Calibration statistics for criteria that need activations or curvature (`obd`, `wanda`). */
  calibration?: import('./criteria.js').ScoreContext['calibration'];
}

/** Checks ranges and names; throws a SculptError naming the flag. */
export function validatePruneOptions(opts: PruneOptions): void {
  checkSparsity(opts.sparsity, '--sparsity');
  if (opts.scope !== 'global' && opts.scope !== 'layer') {
    throw new SculptError(`--scope must be 'global' or 'layer', got '${String(opts.scope)}'`);
  }
  getCriterion(opts.criterion);
  for (const [name, s] of opts.overrides) checkSparsity(s, `--override ${name}`);
  if (opts.count !== undefined && (!Number.isInteger(opts.count) || opts.count < 0)) {
    throw new SculptError(`--count must be a non-negative integer, got ${opts.count}`);
  }
  if (!Number.isFinite(opts.seed)) throw new SculptError(`--seed must be a finite number, got ${opts.seed}`);
}

function checkSparsity(s: number, flag: string): void {
  if (typeof s !== 'number' || !Number.isFinite(s) || s < 0 || s >= 1) {
    throw new SculptError(`${flag} must be a number in [0, 1) (e.g. 0.9 for 90% pruned), got ${String(s)}`);
  }
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
 * tensor an override names. Each pattern that matches no tensor is a SculptError naming it.
 */
export function resolveTargets(tensors: readonly WeightTensor[], opts: PruneOptions): TargetEntry[] {
  const all = tensors.map((t) => t.name);
  const chosen = new Set(tensors.filter((t) => t.prunable).map((t) => t.name));
  for (const p of opts.include ?? []) {
    const m = matchNames(p, all);
    if (m.length === 0) throw noMatch('--include', p, all);
    for (const n of m) chosen.add(n);
  }
  const candidates = all.filter((n) => chosen.has(n));
  for (const p of opts.exclude) {
    const m = matchNames(p, all);
    if (m.length === 0) throw noMatch('--exclude', p, all);
    for (const n of m) chosen.delete(n);
  }
  const override = new Map<string, number>();
  for (const [p, s] of opts.overrides) {
    const m = matchNames(p, candidates);
    if (m.length === 0) {
      if (matchNames(p, all).length > 0) {
        throw new SculptError(`--override '${p}' names only tensors that are not prunable by default; add them with --include '${p}'`);
      }
      throw noMatch('--override', p, all);
    }
    for (const n of m) if (!override.has(n)) override.set(n, s);
  }
  const out: TargetEntry[] = [];
  tensors.forEach((t, index) => {
    const s = override.get(t.name);
    if (s !== undefined) out.push({ tensor: t, index, sparsity: s, scope: 'layer', overridden: true });
    else if (chosen.has(t.name)) out.push({ tensor: t, index, sparsity: opts.sparsity, scope: opts.scope, overridden: false });
  });
  return out;
}

function noMatch(flag: string, pattern: string, names: readonly string[]): SculptError {
  const some = names.slice(0, 4).map((n) => `'${n}'`).join(', ');
  return new SculptError(`${flag} '${pattern}' matches no tensor (names look like ${some}${names.length > 4 ? ', ...' : ''}; 'sculpt inspect' lists them)`);
}
