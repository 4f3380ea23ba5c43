/** Shared fixtures for the core tests: seeded tensors and a sort-based reference selection. */
import { Rng } from '../../src/core/rng.js';
import { WeightSet, type WeightTensor } from '../../src/core/types.js';
import type { PruneOptions } from '../../src/core/options.js';

/** A prunable weight tensor with seeded normal values (zeroFraction of them set to 0). */
export function tensor(name: string, shape: number[], seed: number, opts: { zeroFraction?: number; outputAxis?: number; prunable?: boolean; role?: WeightTensor['role'] } = {}): WeightTensor {
  const rng = new Rng(seed);
  let n = 1;
  for (const d of shape) n *= d;
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = rng.next() < (opts.zeroFraction ?? 0) ? 0 : rng.normal();
  return {
    name,
    shape,
    data,
    role: opts.role ?? 'weight',
    prunable: opts.prunable ?? true,
    reason: 'test',
    outputAxis: opts.outputAxis ?? 0,
  };
}

/** Options with defaults: magnitude, unstructured, global, no excludes. */
export function options(over: Partial<PruneOptions> = {}): PruneOptions {
  return {
    sparsity: 0.5,
    scope: 'global',
    pattern: { kind: 'unstructured' },
    criterion: 'magnitude',
    exclude: [],
    overrides: new Map(),
    seed: 0,
    ...over,
  };
}

/** A small model: conv-like, linear-like, a bias and a norm (not prunable). */
export function model(seed = 1): WeightSet {
  return new WeightSet([
    tensor('conv1.weight', [8, 3, 3, 3], seed),
    tensor('conv1.bias', [8], seed + 1, { prunable: false, role: 'bias' }),
    tensor('fc1.weight', [16, 72], seed + 2),
    tensor('fc1.bias', [16], seed + 3, { prunable: false, role: 'bias' }),
    tensor('fc2.weight', [10, 16], seed + 4),
    tensor('bn.weight', [16], seed + 5, { prunable: false, role: 'norm' }),
  ]);
}

/**
 * Reference: indices (into the concatenation of `scores`) of the k smallest among `alive`,
 * by sorting, ties earlier first.
 */
export function referenceSmallest(scores: Float32Array, alive: Uint8Array, k: number): Set<number> {
  const idx: number[] = [];
  for (let i = 0; i < scores.length; i++) if (alive[i]) idx.push(i);
  idx.sort((a, b) => scores[a] - scores[b] || a - b);
  return new Set(idx.slice(0, Math.max(0, k)));
}

/** Concatenates float arrays. */
export function concat(arrays: Float32Array[]): Float32Array {
  let n = 0;
  for (const a of arrays) n += a.length;
  const out = new Float32Array(n);
  let o = 0;
  for (const a of arrays) {
    out.set(a, o);
    o += a.length;
  }
  return out;
}
