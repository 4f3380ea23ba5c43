/**
 * Einsum: any equation with explicit or implicit output, ellipsis broadcasting, repeated labels
 * (diagonals) and any number of operands. One odometer over output labels, then summed labels.
 */
import { SculptError } from '../core/errors.js';
import type { GraphNode } from '../core/graph.js';
import { at, attrString, need, numeric, type OpFn } from './ops-common.js';
import { allocLike, strides, type Tensor } from './tensor.js';

interface Parsed {
  readonly inputs: string[][];
  readonly output: string[];
}

/** Labels per operand with '...' expanded to one label per broadcast axis ('0', '1', … right-aligned). */
function parse(equation: string, operands: readonly Tensor[], node: GraphNode): Parsed {
  const eq = equation.replace(/\s+/g, '');
  const [lhs, rhs] = eq.includes('->') ? eq.split('->') : [eq, undefined];
  const terms = lhs.split(',');
  if (terms.length !== operands.length) throw new SculptError(`${at(node)} equation ${equation} names ${terms.length} operands, the node has ${operands.length}`);
  let ellipsisRank = 0;
  const split = (term: string, rank: number | undefined): string[] => {
    const [before, after] = term.includes('...') ? term.split('...') : [term, undefined];
    if (after === undefined) return [...before];
    const k = rank === undefined ? ellipsisRank : rank - before.length - after.length;
    if (rank !== undefined) ellipsisRank = Math.max(ellipsisRank, k);
    // Broadcast axes are labelled by their distance from the right end of the ellipsis.
    return [...before, ...Array.from({ length: k }, (_, i) => String(k - 1 - i)), ...after];
  };
  const inputs = terms.map((t, i) => split(t, operands[i].dims.length));
  for (let i = 0; i < inputs.length; i++) {
    if (inputs[i].length !== operands[i].dims.length) throw new SculptError(`${at(node)} term ${terms[i]} does not fit operand ${i} of rank ${operands[i].dims.length}`);
  }
  let output: string[];
  if (rhs !== undefined) output = split(rhs, undefined);
  else {
    const counts = new Map<string, number>();
    for (const t of inputs) for (const l of t) counts.set(l, (counts.get(l) ?? 0) + 1);
    const ell = Array.from({ length: ellipsisRank }, (_, i) => String(ellipsisRank - 1 - i));
    output = [...ell, ...[...counts].filter(([l, c]) => c === 1 && !/[0-9]/.test(l)).map(([l]) => l).sort()];
  }
  return { inputs, output };
}

export const einsum: OpFn = (inputs, attrs, node) => {
  const ops = inputs.map((t, i) => need(t, node, i));
  const { inputs: terms, output } = parse(attrString(attrs, 'equation', ''), ops, node);
  const sizes = new Map<string, number>();
  terms.forEach((t, i) => t.forEach((l, k) => {
    const d = ops[i].dims[k];
    const have = sizes.get(l);
    if (have === undefined || have === 1) sizes.set(l, d);
    else if (d !== have && d !== 1) throw new SculptError(`${at(node)} label ${l} has sizes ${have} and ${d}`);
  }));
  const summed = [...sizes.keys()].filter((l) => !output.includes(l));
  const order = [...output, ...summed];
  const dims = order.map((l) => sizes.get(l)!);
  // Per operand, the stride each loop label moves it by (0 for labels it lacks or broadcasts).
  const step = ops.map((t, i) => {
    const s = strides(t.dims);
    return order.map((l) => terms[i].reduce((acc, tl, k) => acc + (tl === l && t.dims[k] !== 1 ? s[k] : 0), 0));
  });
  const data = ops.map((t) => numeric(t, node));
  const outDims = output.map((l) => sizes.get(l)!);
  const isInt = ops.every((t) => t.dtype !== 'float32');
  const out = allocLike(isInt ? 'int64' : 'float32', outDims);
  const inner = summed.reduce((p, l) => p * sizes.get(l)!, 1);
  const total = dims.reduce((p, d) => p * d, 1);
  const r = order.length;
  const counter = new Array<number>(r).fill(0);
  const offs = new Array<number>(ops.length).fill(0);
  let acc = 0;
  for (let k = 0; k < total; k++) {
    let prod = 1;
    for (let i = 0; i < ops.length; i++) prod *= data[i][offs[i]];
    acc += prod;
    if ((k + 1) % inner === 0) { out.data[(k + 1) / inner - 1] = acc; acc = 0; }
    for (let d = r - 1; d >= 0; d--) {
      counter[d]++;
      for (let i = 0; i < ops.length; i++) offs[i] += step[i][d];
      if (counter[d] < dims[d]) break;
      for (let i = 0; i < ops.length; i++) offs[i] -= step[i][d] * counter[d];
      counter[d] = 0;
    }
  }
  return [out];
};
