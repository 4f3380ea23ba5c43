/**
 * The format-neutral Graph of decoded ONNX bytes: initializers (sparse ones densified) and every
 * subgraph attached to its node. Node-free (no external data without a reader), so the sparse
 * executor gets its graph the same way in Node (through OnnxModel) and in a browser.
 */
import type { Graph, GraphNode, GraphTensor } from '../core/graph.js';
import { decodeOnnx, graphTensor, type DecodedGraph } from './onnx-decode.js';

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

/** The main graph of an ONNX model held in memory (`file` names it in messages). */
export function onnxGraph(bytes: Uint8Array, file: string): Graph {
  const decoded = decodeOnnx(bytes, file);
  return graphOfDecoded(decoded.graph, decoded.opsetVersion, bytes, file);
}
