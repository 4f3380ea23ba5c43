/**
 * `csv:FILE`: one example per row, numeric features and one label column. A first row with a
 * non-numeric field is the header. The label column is `--label-column NAME|INDEX`, else one
 * named `label`, else the last; integer labels are class indices, string labels are numbered in
 * sorted order (the class names).
 */
import { readFileSync } from 'node:fs';
import { SculptError } from '../../core/errors.js';
import type { DatasetReader } from './types.js';

/** Splits one CSV record (RFC 4180 quoting; commas inside quotes). */
export function splitCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') { cur += '"'; i++; } else if (ch === '"') quoted = false; else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') { out.push(cur); cur = ''; } else cur += ch;
  }
  out.push(cur);
  return out.map((f) => f.trim());
}

const isNumber = (s: string): boolean => s !== '' && Number.isFinite(Number(s));

export const csvReader: DatasetReader = {
  kind: 'csv',
  usage: 'csv:FILE',
  describe: 'a CSV file: numeric feature columns and a label column (--label-column)',
  open(path, opts, source) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new SculptError(`${source}: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    const rows = text.split(/\r?\n/).filter((l) => l.trim() !== '').map(splitCsvLine);
    if (rows.length === 0) throw new SculptError(`${path}: empty CSV file; the dataset needs at least one row`);
    const header = rows[0].some((f) => !isNumber(f)) ? rows.shift()! : undefined;
    if (rows.length === 0) throw new SculptError(`${path}: only a header row; the dataset needs at least one example`);
    const width = rows[0].length;
    if (width < 2) throw new SculptError(`${path}: one column; a CSV dataset needs feature columns and a label column`);
    let labelCol = width - 1;
    if (opts.labelColumn !== undefined) {
      const byName = header?.indexOf(opts.labelColumn) ?? -1;
      const byIndex = /^\d+$/.test(opts.labelColumn) ? Number(opts.labelColumn) : -1;
      labelCol = byName >= 0 ? byName : byIndex;
      if (labelCol < 0 || labelCol >= width) {
        throw new SculptError(`--label-column ${opts.labelColumn}: no such column in ${path}${header ? ` (columns: ${header.join(', ')})` : ` (${width} columns, give a 0-based index)`}`);
      }
    } else if (header?.includes('label')) labelCol = header.indexOf('label');
    const count = Math.min(rows.length, opts.limit ?? Infinity);
    const features = width - 1;
    const inputs = new Float32Array(count * features);
    const raw: string[] = [];
    for (let r = 0; r < count; r++) {
      const row = rows[r];
      const line = r + 1 + (header ? 1 : 0);
      if (row.length !== width) throw new SculptError(`${path}: line ${line} has ${row.length} fields, the first row has ${width}`);
      let k = 0;
      for (let c = 0; c < width; c++) {
        if (c === labelCol) { raw.push(row[c]); continue; }
        if (!isNumber(row[c])) throw new SculptError(`${path}: line ${line}, column ${header?.[c] ?? c + 1}: '${row[c]}' is not a number`);
        inputs[r * features + k++] = Number(row[c]);
      }
    }
    const numeric = raw.every((v) => /^-?\d+$/.test(v));
    let labels: Int32Array;
    let classNames: string[] | undefined;
    if (numeric) {
      labels = Int32Array.from(raw, Number);
      const bad = labels.findIndex((v) => v < 0);
      if (bad >= 0) throw new SculptError(`${path}: label ${labels[bad]} on line ${bad + 1 + (header ? 1 : 0)} is out of range; class indices start at 0`);
    } else {
      classNames = [...new Set(raw)].sort();
      const index = new Map(classNames.map((n, i) => [n, i]));
      labels = Int32Array.from(raw, (v) => index.get(v)!);
    }
    const classes = classNames?.length ?? labels.reduce((m, v) => Math.max(m, v), -1) + 1;
    const labelName = header?.[labelCol] ?? `column ${labelCol + 1}`;
    return {
      kind: 'csv', source, count, sampleShape: [features], inputs, labels, classes, classNames,
      notes: [`${path}: ${count} rows, ${features} features, labels from ${labelName}${classNames ? ` (classes ${classNames.join(', ')})` : ''}`],
    };
  },
};
