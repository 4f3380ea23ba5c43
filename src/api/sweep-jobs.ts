/**
 * The jobs of a sweep: the grid file's command with every combination of grid values and every
 * seed, each resolved to its full option set and keyed by a SHA-256 of that set, so the same job
 * has the same folder (DIR/jobs/<key>/) in every sweep that contains it.
 */
import { createHash } from 'node:crypto';
import { basename, join } from 'node:path';
import { SculptError } from '../core/errors.js';
import type { GridValue, SweepGrid } from './sweep-grid.js';

/** What the sweep needs to know of a command's options (read from its command-line definition). */
export interface CommandShape {
  readonly name: string;
  readonly options: ReadonlyArray<{ readonly long: string; readonly short?: string; readonly takesValue: boolean }>;
}

export type OptionValue = string | true | string[];

export interface SweepJob {
  readonly key: string;
  readonly dir: string;
  /** The cell's grid values (the seed left out), as the grid file wrote them. */
  readonly options: Readonly<Record<string, GridValue>>;
  readonly seed: number;
  /** Canonical JSON of the cell's options: jobs with the same cellKey differ only by seed. */
  readonly cellKey: string;
  /** The fully resolved job (what the key is the hash of). */
  readonly resolved: { readonly command: string; readonly operands: readonly string[]; readonly options: Readonly<Record<string, OptionValue>> };
  /** The sculpt command line the job runs, without `sculpt`. */
  readonly argv: readonly string[];
}

/** JSON with object keys sorted at every level: equal values give equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The key of a resolved job: hex SHA-256 of the canonical JSON of (command, operands, options). */
export function jobKey(resolved: SweepJob['resolved']): string {
  return createHash('sha256').update(canonicalJson(resolved)).digest('hex');
}

type Option = CommandShape['options'][number];

/** Splits a command's words into operands and long-named options, the way its parser reads them. */
export function resolveWords(words: readonly string[], shape: CommandShape, where: string): { operands: string[]; options: Record<string, OptionValue> } {
  const byLong = new Map(shape.options.map((o) => [o.long, o]));
  const byShort = new Map(shape.options.filter((o) => o.short).map((o) => [o.short!, o]));
  const operands: string[] = [];
  const options: Record<string, OptionValue> = {};
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (!w.startsWith('-') || w === '-' || /^-\d/.test(w)) { operands.push(w); continue; }
    const eq = w.indexOf('=');
    const flag = eq > 0 ? w.slice(0, eq) : w;
    const opt: Option | undefined = flag.startsWith('--') ? byLong.get(flag.slice(2)) : byShort.get(flag.slice(1));
    if (!opt) throw new SculptError(`${where}: sculpt ${shape.name} has no option ${flag}; see sculpt ${shape.name} --help`);
    if (!opt.takesValue) { options[opt.long] = true; continue; }
    const value = eq > 0 ? w.slice(eq + 1) : words[++i];
    if (value === undefined) throw new SculptError(`${where}: ${flag} needs a value`);
    const prev = options[opt.long];
    options[opt.long] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev as string, value];
  }
  return { operands, options };
}

/** Every combination of the grid's values, in file order (the last option varies fastest). */
function combinations(grid: SweepGrid['grid']): Array<Record<string, GridValue>> {
  let out: Array<Record<string, GridValue>> = [{}];
  for (const [name, values] of grid) out = out.flatMap((c) => values.map((v) => ({ ...c, [name]: v })));
  return out;
}

function words(resolved: SweepJob['resolved'], shape: CommandShape): string[] {
  const out = [shape.name, ...resolved.operands];
  for (const [k, v] of Object.entries(resolved.options)) {
    if (v === true) out.push(`--${k}`);
    else for (const x of Array.isArray(v) ? v : [v]) out.push(`--${k}`, x);
  }
  return out;
}

/**
 * The sweep's jobs under `dir`: `file` names the grid file in messages, `seeds` is --seeds (seeds
 * 0..N-1) when given. Each job gets --out (or -o inside its folder), --seed and --json when its
 * command takes them.
 */
export function sweepJobs(grid: SweepGrid, shape: CommandShape, dir: string, file: string, seeds?: number): SweepJob[] {
  const at = (line: number): string => `${file}:${line}`;
  const has = (long: string): boolean => shape.options.some((o) => o.long === long);
  const base = resolveWords(grid.command.slice(1), shape, at(grid.commandLine));
  for (const forbidden of ['out', 'output', 'seed', 'json']) {
    if (base.options[forbidden] !== undefined) {
      throw new SculptError(`${at(grid.commandLine)}: command: drop --${forbidden}: sculpt sweep sets it for every job${forbidden === 'seed' ? ' (use --seeds N or seed: [...] in the grid)' : ''}`);
    }
  }
  const gridSeeds = grid.grid.find(([n]) => n === 'seed')?.[1] as number[] | undefined;
  if (gridSeeds && seeds !== undefined) throw new SculptError(`${at(grid.lines.seed!)}: grid: seed is given both here and by --seeds; keep one`);
  const seedList = gridSeeds ?? Array.from({ length: seeds ?? 1 }, (_, i) => i);
  if (!has('seed') && seedList.length > 1) throw new SculptError(`${at(grid.commandLine)}: sculpt ${shape.name} takes no --seed, so more than one seed would run the same job`);
  const cellGrid = grid.grid.filter(([n]) => n !== 'seed');
  for (const [name, values] of cellGrid) {
    const opt = shape.options.find((o) => o.long === name);
    if (!opt) throw new SculptError(`${at(grid.lines[name]!)}: grid: sculpt ${shape.name} has no option --${name}; see sculpt ${shape.name} --help`);
    if (!opt.takesValue && values.some((v) => typeof v !== 'boolean')) throw new SculptError(`${at(grid.lines[name]!)}: grid: --${name} is a switch: its values are true and false`);
  }
  const jobs: SweepJob[] = [];
  for (const cell of combinations(cellGrid)) {
    for (const seed of seedList) {
      const options: Record<string, OptionValue> = { ...base.options };
      for (const [name, v] of Object.entries(cell)) {
        if (v === false) delete options[name];
        else if (v === true && !shape.options.find((o) => o.long === name)!.takesValue) options[name] = true;
        else options[name] = String(v);
      }
      if (has('seed')) options.seed = String(seed);
      const resolved = { command: shape.name, operands: base.operands, options };
      const key = jobKey(resolved);
      const jobDir = join(dir, 'jobs', key);
      const argv = words(resolved, shape);
      if (has('out')) argv.push('--out', jobDir);
      else if (has('output')) argv.push('--output', join(jobDir, base.operands[0] ? basename(base.operands[0]) : 'output'));
      if (has('json')) argv.push('--json');
      jobs.push({ key, dir: jobDir, options: cell, seed, cellKey: canonicalJson(cell), resolved, argv });
    }
  }
  return jobs;
}
