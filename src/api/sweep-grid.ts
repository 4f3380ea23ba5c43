/**
 * Grid files of `sculpt sweep`: YAML with `command` (a sculpt command line without --out/--seed),
 * `grid` (option name → list of values) and optionally `compare: [metricA, metricB]` or a list of
 * such pairs (`compare: [[a, b], [c, d]]`). Every mistake is one line naming the file and the line it is on.
 */
import { readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { SculptError } from '../core/errors.js';

export type GridValue = string | number | boolean;

export interface SweepGrid {
  /** The command line split into words, without `sculpt` itself. */
  readonly command: readonly string[];
  /** Option names (without dashes) and their values, in file order. */
  readonly grid: ReadonlyArray<readonly [string, readonly GridValue[]]>;
  /** The first paired difference asked for (metric a − metric b). */
  readonly compare?: readonly [string, string];
  /** Every paired difference asked for, in file order (the first is `compare`). */
  readonly comparisons?: ReadonlyArray<readonly [string, string]>;
  /** Line of each grid option in the file, for errors found later (unknown option...). */
  readonly lines: Readonly<Record<string, number>>;
  readonly commandLine: number;
}

const KEYS = ['command', 'grid', 'compare'];

/** Splits a command line into words: whitespace separates, single and double quotes group. */
export function splitCommandLine(line: string): string[] {
  const out: string[] = [];
  let word = '';
  let inWord = false;
  let quote: string | undefined;
  for (const ch of line) {
    if (quote) {
      if (ch === quote) quote = undefined; else word += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch; inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) out.push(word);
      word = ''; inWord = false;
    } else {
      word += ch; inWord = true;
    }
  }
  if (quote) throw new Error(`unclosed ${quote} quote`);
  if (inWord) out.push(word);
  return out;
}

export function readSweepGrid(path: string): SweepGrid {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new SculptError(`${path}: cannot read the grid file; check the path`);
  }
  return parseSweepGrid(text, path);
}

/** Parses grid-file text; `name` is used in error messages. */
export function parseSweepGrid(text: string, name: string): SweepGrid {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
  const lineOf = (node: { range?: [number, number, number] | null } | null | undefined): number =>
    node?.range ? counter.linePos(node.range[0]).line : 1;
  const fail = (line: number, what: string): never => {
    throw new SculptError(`${name}:${line}: ${what}`);
  };
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    fail(e.linePos?.[0]?.line ?? 1, `not valid YAML: ${e.message.split('\n')[0]}`);
  }
  const root = doc.contents;
  if (!isMap(root)) fail(lineOf(root as Node | null), 'a grid file is a mapping with "command:" and "grid:"');
  const map = root as import('yaml').YAMLMap<unknown, unknown>;
  let command: string[] | undefined;
  let commandLine = 1;
  const grid: Array<[string, GridValue[]]> = [];
  const lines: Record<string, number> = {};
  const comparisons: Array<[string, string]> = [];
  for (const pair of map.items) {
    const key = pair.key as Node;
    const keyName = isScalar(key) ? String(key.value) : '';
    const line = lineOf(key);
    if (!KEYS.includes(keyName)) fail(line, `unknown key "${keyName}"; a grid file has ${KEYS.join(', ')}`);
    const value = pair.value as Node | null;
    if (keyName === 'command') {
      commandLine = line;
      if (!isScalar(value) || typeof value.value !== 'string' || value.value.trim() === '') {
        fail(line, 'command: give a sculpt command line as a string, e.g. "prune model.onnx --sparsity 0.5"');
      }
      try {
        command = splitCommandLine((value as import('yaml').Scalar<string>).value.trim());
      } catch (e) {
        fail(line, `command: ${(e as Error).message}`);
      }
      if (command![0] === 'sculpt') command = command!.slice(1);
      if (command!.length === 0) fail(line, 'command: name a sculpt command');
    } else if (keyName === 'grid') {
      if (!isMap(value)) fail(line, 'grid: give a mapping of option names to lists of values, e.g. "sparsity: [0.5, 0.9]"');
      for (const item of (value as import('yaml').YAMLMap<unknown, unknown>).items) {
        const k = item.key as Node;
        const optLine = lineOf(k);
        const opt = isScalar(k) ? String(k.value).replace(/^-+/, '') : '';
        if (!/^[a-z][a-z0-9-]*$/i.test(opt)) fail(optLine, `grid: "${opt}" is not an option name (letters, digits and dashes)`);
        if (opt === 'out' || opt === 'output' || opt === 'o' || opt === 'json') fail(optLine, `grid: --${opt} is set by sculpt sweep for every job; remove it from the grid`);
        const list = item.value as Node | null;
        const scalars = isSeq(list) ? list.items : isScalar(list) ? [list] : undefined;
        if (!scalars) fail(optLine, `grid: ${opt}: give a list of values, e.g. "${opt}: [1, 2]"`);
        if (scalars!.length === 0) fail(optLine, `grid: ${opt}: the list of values is empty`);
        const values: GridValue[] = [];
        for (const s of scalars!) {
          const v = isScalar(s) ? s.value : undefined;
          if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
            fail(lineOf(s as Node), `grid: ${opt}: every value is a number, a string or true/false`);
          }
          if (opt === 'seed' && !(typeof v === 'number' && Number.isInteger(v) && v >= 0)) fail(lineOf(s as Node), `grid: seed: ${String(v)} is not a whole number >= 0`);
          values.push(v as GridValue);
        }
        if (new Set(values.map((v) => JSON.stringify(v))).size !== values.length) fail(optLine, `grid: ${opt}: a value is listed twice`);
        grid.push([opt, values]);
        lines[opt] = optLine;
      }
    } else {
      const pairOf = (node: unknown): [string, string] | undefined => {
        const items = isSeq(node) ? node.items : [];
        const names = items.map((s) => (isScalar(s) && typeof s.value === 'string' ? s.value : undefined));
        return names.length === 2 && names.every((n) => n !== undefined) ? [names[0]!, names[1]!] : undefined;
      };
      const hint = 'compare: give two metric names, e.g. "compare: [ticket.accuracy, reinit.accuracy]", or a list of such pairs, e.g. "compare: [[a.x, b.x], [a.y, b.y]]"';
      const one = pairOf(value);
      const items = isSeq(value) ? value.items : [];
      if (one) {
        comparisons.push(one);
      } else if (items.length > 0 && items.every((i) => isSeq(i))) {
        for (const item of items) comparisons.push(pairOf(item) ?? fail(lineOf(item as Node), hint));
      } else {
        fail(line, hint);
      }
    }
  }
  if (command === undefined) fail(1, 'missing "command:": the sculpt command line every job runs');
  return { command: command!, grid, lines, commandLine, ...(comparisons.length > 0 && { compare: comparisons[0]!, comparisons }) };
}
