/** Parsing of the flag values the commands share; each bad value is a SculptError naming its flag. */
import { availableParallelism } from 'node:os';
import { SculptError } from '../core/errors.js';

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

export function parseNumber(flag: string, text: string): number {
  const t = String(text).trim();
  if (!NUMBER.test(t)) throw new SculptError(`${flag}: '${text}' is not a number`);
  return Number(t);
}

export function parseSparsity(flag: string, text: string): number {
  const s = parseNumber(flag, text);
  if (!(s >= 0 && s < 1)) {
    throw new SculptError(`${flag}: ${text} is outside [0, 1); give the fraction of weights to remove, e.g. 0.9 for 90%`);
  }
  return s;
}

/**
 * Upper bounds of counts, by flag: a count from the command line must not start 10000 threads or
 * loop 1e20 times. Threads: four per core (more only oversubscribes the machine).
 */
export const COUNT_LIMITS: ReadonlyMap<string, number> = new Map([
  ['--threads', Math.max(1, availableParallelism() * 4)],
  ['--runs', 1_000_000],
  ['--warmup', 1_000_000],
  ['--epochs', 100_000],
  ['--rounds', 10_000],
  ['--batch', 1_000_000],
  ['--batch-size', 1_000_000],
  ['--calibration-samples', 10_000_000],
]);

/** A whole number in [min, max]; `max` defaults to the flag's entry in COUNT_LIMITS, else 2^53 − 1. */
export function parseInteger(flag: string, text: string, min = 0, max = COUNT_LIMITS.get(flag) ?? Number.MAX_SAFE_INTEGER): number {
  const n = parseNumber(flag, text);
  if (!Number.isInteger(n) || n < min) throw new SculptError(`${flag}: '${text}' is not a whole number ≥ ${min}`);
  if (n > max) throw new SculptError(`${flag}: ${text} is more than the limit of ${max}; give at most ${max}`);
  return n;
}

export function parseChoice<T extends string>(flag: string, text: string, choices: readonly T[]): T {
  if ((choices as readonly string[]).includes(text)) return text as T;
  throw new SculptError(`${flag}: unknown value '${text}'; use one of ${choices.join(', ')}`);
}

/** Comma-separated lists; the flag may also be repeated. */
export function collectList(value: string, previous: string[] = []): string[] {
  return previous.concat(value.split(',').map((s) => s.trim()).filter((s) => s.length > 0));
}

/** `NAME=S,NAME=S` (flag repeatable) into a map of sparsities. */
export function parseOverrides(flag: string, items: string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const item of items) {
    const eq = item.lastIndexOf('=');
    if (eq <= 0 || eq === item.length - 1) {
      throw new SculptError(`${flag}: '${item}' is not NAME=SPARSITY (e.g. fc1.weight=0.5)`);
    }
    out.set(item.slice(0, eq), parseSparsity(`${flag} ${item.slice(0, eq)}`, item.slice(eq + 1)));
  }
  return out;
}
