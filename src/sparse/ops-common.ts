/** What every operator file shares: attribute access and input checks. */
import { SculptError } from '../core/errors.js';
import type { AttributeValue, GraphNode } from '../core/graph.js';
import type { Tensor } from './tensor.js';

export type Attrs = ReadonlyMap<string, AttributeValue>;
export type OpFn = (inputs: readonly (Tensor | undefined)[], attrs: Attrs, node: GraphNode) => Tensor[];

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

export function need(t: Tensor | undefined, node: GraphNode, i: number): Tensor {
  if (!t) throw new SculptError(`sparse executor: node ${node.name} (${node.opType}) is missing input ${i}`);
  return t;
}

export function float(t: Tensor, node: GraphNode): Float32Array {
  if (t.dtype !== 'float32') throw new SculptError(`sparse executor: node ${node.name} (${node.opType}) needs float32 input, got ${t.dtype}`);
  return t.data as Float32Array;
}

