/**
 * Library messages name pruning options as `options.NAME` (what a JavaScript caller wrote); the
 * command line shows the flag the user typed instead. One table, applied to every SculptError
 * and warning the CLI prints, so core code never needs to know it runs under a CLI.
 */

/** Option → flag. Options without a flag (count, gradients, ...) stay as they are. */
const FLAGS: Readonly<Record<string, string>> = {
  sparsity: '--sparsity',
  scope: '--scope',
  pattern: '--pattern',
  criterion: '--criterion',
  exclude: '--exclude',
  include: '--include',
  overrides: '--override',
  seed: '--seed',
  fractionOfRemaining: '--of-remaining',
  allowCollapse: '--allow-collapse',
};

/**
 * `options.overrides['fc1.weight']` → `--override fc1.weight`, `options.allowCollapse: true` →
 * `--allow-collapse` (a boolean flag takes no value), `options.sparsity` → `--sparsity`.
 */
export function withFlagNames(message: string): string {
  return message
    .replace(/options\.overrides\['([^']*)'\]/g, (_, name: string) => `--override ${name}`)
    .replace(/options\.(\w+)(: true)?/g, (whole, option: string) => FLAGS[option] ?? whole);
}

/**
 * Options whose values are names from a fixed list (`--scope global|layer`, `--engine`, ...): the
 * CLI lower-cases them before a command sees them, so `--scope Global` is `--scope global`.
 * (Paths, dataset and model names are left alone: their case matters.)
 */
export const CASE_INSENSITIVE_OPTIONS: ReadonlySet<string> = new Set([
  'scope', 'pattern', 'criterion', 'engine', 'format', 'schedule', 'control', 'optimizer', 'backend', 'metric', 'lrSchedule', 'rewindTo', 'allocation',
]);

/** Levenshtein distance, case-insensitive. */
function distance(a: string, b: string): number {
  a = a.toLowerCase();
  b = b.toLowerCase();
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = row;
  }
  return prev[b.length]!;
}

/** The closest of `choices` to `value` when it is close enough to be a typo, else undefined. */
export function closestChoice(value: string, choices: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of choices) {
    const d = distance(value, c);
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor(value.length / 3)) ? best : undefined;
}

/**
 * An "unknown value" message (`--scope: unknown value 'lyer'; use one of global, layer`,
 * `unknown --criterion 'magnitud'; known criteria: ...`, `unknown experiment 'x'; known: ...`)
 * with "; did you mean 'layer'?" appended when one of the listed names is a likely typo of it.
 */
export function withSuggestion(message: string): string {
  if (/did you mean/i.test(message)) return message;
  const value = /\bunknown (?:value |[-\w]+ )?'([^']*)'/.exec(message)?.[1] ?? /^(?:--[\w-]+) (\S+): unknown\b/.exec(message)?.[1];
  const list = /(?:use one of|known(?: [a-z]+)?:|accepted:|; use)\s+(.+)$/.exec(message)?.[1];
  if (value === undefined || list === undefined) return message;
  const choices = list
    .replace(/\([^)]*\)/g, '')
    .split(/,\s*|\s+or\s+/)
    .map((c) => c.trim().replace(/^'|'$/g, ''))
    .filter((c) => /^[\w:.-]+$/.test(c) && !/^N:M$/.test(c));
  const best = closestChoice(value, choices);
  return best === undefined || best === value ? message : `${message}; did you mean '${best}'?`;
}
