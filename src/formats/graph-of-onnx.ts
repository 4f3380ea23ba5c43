/**
 * The format-neutral Graph of decoded ONNX bytes: initializers (sparse ones densified) and every
 * subgraph attached to its node. Node-free: external data comes through `readExternal`.
 */
import type { Graph, GraphNode, GraphTensor } from '../core/graph.js';
import { graphTensor, type DecodedGraph } from './onnx-decode.js';

type ReadExternal = Parameters<typeof graphTensor>[3];

/** `g` as a Graph; `readExternal` supplies external data (absent: such a tensor is an error). */
export function graphOfDecoded(g: DecodedGraph, opsetVersion: number, bytes: Uint8Array, file: string, readExternal?: ReadExternal): Graph {
  const initializers = new Map<string, GraphTensor>();
  for (const t of g.initializers) {
    const gt = graphTensor(t, bytes, file, readExternal);
    if (gt) initializers.set(t.name, gt);
  }
  const nodes = g.nodes.map((n): GraphNode => {
    if (n.subgraphs.size === 0) return n;
    const attributes = new Map(n.attributes);
    for (const [name, sub] of n.subgraphs) attributes.set(name, graphOfDecoded(sub, opsetVersion, bytes, file, readExternal));
    return { ...n, attributes };
  });
  return { name: g.name, nodes, initializers, inputs: g.inputs, outputs: g.outputs, opsetVersion };
}

