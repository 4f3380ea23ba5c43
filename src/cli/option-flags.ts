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
