/** What every operator file shares: attribute access and input checks. */
import { SculptError } from '../core/errors.js';
import type { AttributeValue, Graph, GraphNode } from '../core/graph.js';
import type { Tensor } from './tensor.js';

export type Attrs = ReadonlyMap<string, AttributeValue>;

/** What an operator may need beyond its inputs: the model's opset and a way to run subgraphs. */
export interface OpContext {
  readonly opset: number;
  /** Runs `graph` with `feeds` (by name) on top of the enclosing scope; returns its outputs in order. */
  runGraph(graph: Graph, feeds: ReadonlyMap<string, Tensor>): Tensor[];
}

export type OpFn = (inputs: readonly (Tensor | undefined)[], attrs: Attrs, node: GraphNode, ctx?: OpContext) => Tensor[];

export function attrInt(attrs: Attrs, name: string, fallback: number): number {
  const v = attrs.get(name);
  return typeof v === 'number' ? v : fallback;
}

export function attrFloat(attrs: Attrs, name: string, fallback: number): number {
  const v = attrs.get(name);
  return typeof v === 'number' ? v : fallback;
}

export function attrInts(attrs: Attrs, name: string): number[] | undefined {
  const v = attrs.get(name);
  if (Array.isArray(v)) return v as number[];
  if (typeof v === 'number') return [v];
  return undefined;
}

export function attrString(attrs: Attrs, name: string, fallback: string): string {
  const v = attrs.get(name);
  return typeof v === 'string' ? v : fallback;
}

/** A name from a file, cut to a length that keeps a message on one readable line. */
export function shortName(name: string, max = 80): string {
  return name.length > max ? `${name.slice(0, max)}…` : name;
}

/** A node's name for messages; exporters often leave it empty, so fall back to its first output. */
export function nodeLabel(node: GraphNode): string {
  return node.name !== '' ? shortName(node.name) : `(output ${shortName(node.outputs[0] ?? '?')})`;
}

/** The start of every executor error about a node: `sparse executor: node NAME (OP)`. */
export function at(node: GraphNode): string {
  return `sparse executor: node ${nodeLabel(node)} (${shortName(node.opType, 40)})`;
}

/** A required tensor input (a sequence there is refused). */
export function need(t: Tensor | undefined, node: GraphNode, i: number): Tensor {
  if (!t) throw new SculptError(`${at(node)} is missing input ${i}`);
  if (t.items) throw new SculptError(`${at(node)} input ${i} is ${t.optional ? 'an optional' : 'a sequence'}, where the operator takes a tensor`);
  return t;
}

/** A required input that may be a tensor or a sequence (Identity, control flow, sequence ops). */
export function needValue(t: Tensor | undefined, node: GraphNode, i: number): Tensor {
  if (!t) throw new SculptError(`${at(node)} is missing input ${i}`);
  return t;
}

/** A required sequence input. */
export function needSequence(t: Tensor | undefined, node: GraphNode, i: number): readonly Tensor[] {
  if (!t) throw new SculptError(`${at(node)} is missing input ${i}`);
  if (!t.items || t.optional) throw new SculptError(`${at(node)} input ${i} is ${t.optional ? 'an optional' : 'a tensor'}, where the operator takes a sequence`);
  return t.items;
}

export function float(t: Tensor, node: GraphNode): Float32Array {
  if (t.dtype !== 'float32') throw new SculptError(`${at(node)} needs float input, got ${t.dtype}`);
  return t.data as Float32Array;
}


/** Floats or integers alike (ops whose maths is the same on both). */
export function numeric(t: Tensor, node: GraphNode): Float32Array | Float64Array {
  if (t.dtype === 'bool') throw new SculptError(`${at(node)} needs a numeric input, got bool`);
  return t.data as Float32Array | Float64Array;
}

export function attrFloats(attrs: Attrs, name: string): number[] | undefined {
  const v = attrs.get(name);
  if (v instanceof Float32Array) return Array.from(v);
  if (Array.isArray(v)) return v as number[];
  if (typeof v === 'number') return [v];
  return undefined;
}

/** A possibly negative axis of a tensor of `rank`, checked. */
export function normAxisOf(axis: number, rank: number, node: GraphNode): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= Math.max(rank, 1)) throw new SculptError(`${at(node)} axis ${axis} is out of range for rank ${rank}`);
  return a;
}
