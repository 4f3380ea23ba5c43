/**
 * Sequence values as scripted PyTorch exports use them (lists built in loops, split and
 * concatenated): SequenceEmpty/Construct/Insert/At/Erase/Length, SplitToSequence,
 * ConcatFromSequence and SequenceMap; and optional values (Optional, OptionalHasElement,
 * OptionalGetElement). A sequence or optional is a Tensor carrying `items` (tensor.ts).
 */
import { SculptError } from '../core/errors.js';
import { isGraph, type GraphNode } from '../core/graph.js';
import { at, attrInt, need, needSequence, needValue, nodeLabel, type Attrs, type OpFn } from './ops-common.js';
import { concat, split, unsqueeze } from './ops-shape.js';
import { intTensor, intValues, isSequence, normAxis, optionalOf, sequence, type Tensor } from './tensor.js';

/** A position in a sequence of length n; `insert` allows n itself. */
function position(t: Tensor | undefined, n: number, insert: boolean, node: GraphNode): number {
  if (!t) return insert ? n : n - 1;
  const p0 = intValues(t, `${node.opType} position`)[0];
  const p = p0 < 0 ? p0 + n : p0;
  if (p < 0 || p > (insert ? n : n - 1)) throw new SculptError(`${at(node)} position ${p0} is out of range for a sequence of ${n}`);
  return p;
}

export const sequenceEmpty: OpFn = () => [sequence([])];

export const sequenceConstruct: OpFn = (inputs, _attrs, node) => [sequence(inputs.map((t, i) => need(t, node, i)))];

export const sequenceInsert: OpFn = (inputs, _attrs, node) => {
  const items = needSequence(inputs[0], node, 0), t = need(inputs[1], node, 1);
  const p = position(inputs[2], items.length, true, node);
  return [sequence([...items.slice(0, p), t, ...items.slice(p)])];
};

export const sequenceAt: OpFn = (inputs, _attrs, node) => {
  const items = needSequence(inputs[0], node, 0);
  return [items[position(need(inputs[1], node, 1), items.length, false, node)]];
};

export const sequenceErase: OpFn = (inputs, _attrs, node) => {
  const items = needSequence(inputs[0], node, 0);
  const p = position(inputs[1], items.length, false, node);
  return [sequence([...items.slice(0, p), ...items.slice(p + 1)])];
};

export const sequenceLength: OpFn = (inputs, _attrs, node) => [intTensor([], [needSequence(inputs[0], node, 0).length])];

export const splitToSequence: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const axis = normAxis(attrInt(attrs, 'axis', 0), a.dims.length, `${nodeLabel(node)} (SplitToSequence)`);
  const d = a.dims[axis];
  const splitT = inputs[1];
  let sizes: number[];
  if (!splitT) sizes = new Array<number>(d).fill(1);
  else if (splitT.dims.length === 0) {
    const k = intValues(splitT, `${node.opType} split`)[0];
    sizes = Array.from({ length: Math.ceil(d / k) }, (_, i) => Math.min(k, d - i * k));
  } else sizes = intValues(splitT, `${node.opType} split`);
  const splitAttrs: Attrs = new Map<string, number | number[]>([['axis', axis], ['split', sizes]]);
  const parts = split([a], splitAttrs, { ...node, outputs: sizes.map((_, i) => `${i}`) });
  // Without `split`, keepdims 0 drops the split axis (each part has size 1 there).
  const keep = splitT !== undefined || attrInt(attrs, 'keepdims', 1) === 1;
  return [sequence(keep ? parts : parts.map((p) => ({ ...p, dims: p.dims.filter((_, i) => i !== axis) })))];
};

export const concatFromSequence: OpFn = (inputs, attrs, node) => {
  const items = needSequence(inputs[0], node, 0);
  if (items.length === 0) throw new SculptError(`${at(node)} has an empty sequence to concatenate`);
  const newAxis = attrInt(attrs, 'new_axis', 0) === 1;
  const rank = items[0].dims.length + (newAxis ? 1 : 0);
  const axis = normAxis(attrInt(attrs, 'axis', 0), rank, `${nodeLabel(node)} (ConcatFromSequence)`);
  const parts = newAxis ? items.map((t) => unsqueeze([t], new Map([['axes', [axis]]]), node)[0]) : items;
  return concat(parts, new Map([['axis', axis]]), node);
};

/** SequenceMap: the body once per element of the sequence inputs (tensor inputs passed whole); each output a sequence. */
export const sequenceMap: OpFn = (inputs, attrs, node, ctx) => {
  const body = attrs.get('body');
  if (!isGraph(body)) throw new SculptError(`${at(node)} has no body subgraph`);
  if (!ctx) throw new SculptError(`${at(node)} needs the executor's subgraph runner`);
  const values = inputs.map((t, i) => needValue(t, node, i));
  const n = needSequence(values[0], node, 0).length;
  const outs: Tensor[][] = body.outputs.map(() => []);
  for (let k = 0; k < n; k++) {
    const feeds = new Map<string, Tensor>();
    values.forEach((v, i) => {
      if (isSequence(v) && v.items!.length !== n) throw new SculptError(`${at(node)} sequences have lengths ${n} and ${v.items!.length}`);
      feeds.set(body.inputs[i].name, isSequence(v) ? v.items![k] : v);
    });
    ctx.runGraph(body, feeds).forEach((t, j) => outs[j].push(t));
  }
  return outs.map((items) => sequence(items));
};

export const optional: OpFn = (inputs) => [optionalOf(inputs[0])];

/** True for a non-empty optional, and (opset 18) for a plain tensor or sequence; false for an absent input. */
export const optionalHasElement: OpFn = (inputs) => {
  const v = inputs[0];
  const has = v !== undefined && (!v.optional || v.items!.length > 0);
  return [{ dtype: 'bool', dims: [], data: Uint8Array.of(has ? 1 : 0) }];
};

export const optionalGetElement: OpFn = (inputs, _attrs, node) => {
  const v = needValue(inputs[0], node, 0);
  if (!v.optional) return [v];
  if (v.items!.length === 0) throw new SculptError(`${at(node)} reads an empty optional`);
  return [v.items![0]];
};
