/**
 * How far a reader may expand what a file stores compactly (a sparse tensor, a gzip stream, a
 * packed container) into dense memory. A declared size is checked against this budget before
 * anything is allocated, so a few hostile bytes cannot claim gigabytes.
 *
 * The budget is 1024 times the compact size (a sparse tensor at 99.9% sparsity expands about
 * 330-fold, so real models fit), at least 64 MiB (small files may still hold modest tensors) and at
 * most 4 GiB (beyond that a typed array is refused by most engines anyway).
 */
import { SculptError } from './errors.js';

export const EXPANSION_RATIO = 1024;
export const EXPANSION_FLOOR_BYTES = 64 * 2 ** 20;
export const EXPANSION_CAP_BYTES = 4 * 2 ** 30;

/**
 * Compressed streams get a tighter ratio: real datasets compress 2–10-fold, a gzip bomb about
 * 1000-fold. At least 64 MiB, so a small archive of a real dataset always opens (inflating holds the
 * output about three times over, so a hostile file costs at most a few hundred MiB).
 */
export const GZIP_EXPANSION = { ratio: 64, floor: 64 * 2 ** 20 } as const;

export interface ExpansionLimit {
  readonly ratio: number;
  readonly floor: number;
}

const DEFAULT_LIMIT: ExpansionLimit = { ratio: EXPANSION_RATIO, floor: EXPANSION_FLOOR_BYTES };

/** Dense bytes a reader may allocate for data stored in `compactBytes` bytes. */
export function expansionBudget(compactBytes: number, limit: ExpansionLimit = DEFAULT_LIMIT): number {
  return Math.min(EXPANSION_CAP_BYTES, Math.max(limit.floor, limit.ratio * compactBytes));
}

/** `n` in MiB or GiB, for messages. */
export function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(1)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  return `${n} bytes`;
}

/**
 * Refuses (SculptError naming `what`) a dense size that is not a safe integer or exceeds the
 * expansion budget of `compactBytes`.
 */
export function checkExpansion(what: string, denseBytes: number, compactBytes: number, limit: ExpansionLimit = DEFAULT_LIMIT): void {
  const budget = expansionBudget(compactBytes, limit);
  if (!Number.isSafeInteger(denseBytes) || denseBytes < 0 || denseBytes > budget) {
    const claimed = Number.isFinite(denseBytes) ? formatBytes(denseBytes) : 'an unbounded size';
    throw new SculptError(
      `${what} would expand to ${claimed} from ${compactBytes} stored bytes, over sculpt's limit of ${formatBytes(budget)} (${limit.ratio}× the stored size, at least ${formatBytes(limit.floor)}, at most ${formatBytes(EXPANSION_CAP_BYTES)}); the file is malformed or hostile`,
    );
  }
}

/** A shape for messages: at most 8 dimensions shown. */
export function shapeText(dims: readonly number[]): string {
  return dims.length <= 8 ? `[${dims.join(', ')}]` : `[${dims.slice(0, 8).join(', ')}, … ${dims.length} dims]`;
}
