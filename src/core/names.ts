/**
 * Tensor-name patterns for --exclude, --include and --override: exact names, or globs where `*`
 * matches any run of characters (dots and slashes included) and `?` any one character.
 */

/** Whether `pattern` contains glob characters. */
export function isGlob(pattern: string): boolean {
  return pattern.includes('*') || pattern.includes('?');
}

/** A RegExp matching whole names against a glob. */
export function globToRegExp(pattern: string): RegExp {
  let re = '^';
  for (const ch of pattern) {
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(re + '$', 's');
}

/** Whether `name` matches the exact name or glob `pattern`. */
export function nameMatches(pattern: string, name: string): boolean {
  return isGlob(pattern) ? globToRegExp(pattern).test(name) : pattern === name;
}

/** The names among `names` that `pattern` matches, in their order. */
export function matchNames(pattern: string, names: readonly string[]): string[] {
  if (!isGlob(pattern)) return names.includes(pattern) ? [pattern] : [];
  const re = globToRegExp(pattern);
  return names.filter((n) => re.test(n));
}
