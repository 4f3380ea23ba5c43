/**
 * The counting rule: "sparsity s over N elements" means exactly round(s·N) elements pruned, with
 * Python's round-half-to-even, as torch.nn.utils.prune._compute_nparams_toprune does, so counts
 * agree with PyTorch. Already-zero or already-masked elements count as pruned.
 */
import { SculptError } from './errors.js';

/** Python's round(): nearest integer, exact halves to the even neighbour. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/** Number of elements to prune for sparsity `s` over `n` elements: round(s·n), half to even. */
export function countToPrune(s: number, n: number): number {
  return roundHalfEven(s * n);
}

/**
 * The IMP step "prune a fraction p of what remains" as a total pruned count:
 * z + round(p·(n − z)), where z elements are already pruned (as PyTorch's PruningContainer does).
 */
export function countFractionOfRemaining(p: number, n: number, alreadyPruned: number): number {
  return alreadyPruned + roundHalfEven(p * (n - alreadyPruned));
}

/** How a target count is asked for: a sparsity, or an absolute count (PyTorch's integer amount). */
export interface CountRequest {
  /** Fraction in [0, 1) of the set to have pruned. */
  readonly sparsity: number;
  /** Absolute number to prune instead of `sparsity` (elements, or channels for channel pruning). */
  readonly count?: number;
  /** Apply the amount to what remains (IMP step) instead of to the whole set. */
  readonly fractionOfRemaining?: boolean;
}

/**
 * Total number of units (elements or channels) that should be pruned in a set of `n` units,
 * `alreadyPruned` of them pruned already. Never less than `alreadyPruned`: nothing is restored.
 * `what` names the set for error messages.
 */
export function targetPrunedCount(req: CountRequest, n: number, alreadyPruned: number, what: string): number {
  let k: number;
  if (req.count !== undefined) {
    k = req.fractionOfRemaining ? alreadyPruned + req.count : req.count;
    if (k > n) {
      throw new SculptError(`cannot prune ${k} of ${n} elements in ${what}; lower --count`);
    }
  } else if (req.fractionOfRemaining) {
    k = countFractionOfRemaining(req.sparsity, n, alreadyPruned);
  } else {
    k = countToPrune(req.sparsity, n);
  }
  return Math.max(k, alreadyPruned);
}
