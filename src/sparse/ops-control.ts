/** Control flow: If, Loop and Scan, whose bodies run through the executor's subgraph runner (OpContext). */
import { SculptError } from '../core/errors.js';
import { isGraph, type Graph, type GraphNode } from '../core/graph.js';
import { at, attrInt, attrInts, need, needValue, type Attrs, type OpContext, type OpFn } from './ops-common.js';
import { allocLike, intTensor, size, type Tensor } from './tensor.js';

function body(attrs: Attrs, name: string, node: GraphNode): Graph {
  const g = attrs.get(name);
  if (!isGraph(g)) throw new SculptError(`${at(node)} has no ${name} subgraph (the model file may have been read without subgraphs)`);
  return g;
}

function context(ctx: OpContext | undefined, node: GraphNode): OpContext {
  if (!ctx) throw new SculptError(`${at(node)} needs the executor's subgraph runner`);
  return ctx;
}

const boolScalar = (v: boolean): Tensor => ({ dtype: 'bool', dims: [], data: Uint8Array.of(v ? 1 : 0) });

/** The slice at index `i` of `axis`, with that axis removed. */
function sliceAxis(t: Tensor, axis: number, i: number): Tensor {
  const n = t.dims[axis], outer = size(t.dims.slice(0, axis)), inner = size(t.dims.slice(axis + 1));
  const out = allocLike(t.dtype, [...t.dims.slice(0, axis), ...t.dims.slice(axis + 1)]);
  for (let p = 0; p < outer; p++) out.data.set(t.data.subarray((p * n + i) * inner, (p * n + i + 1) * inner), p * inner);
  return out;
}

/** Stacks equally shaped tensors along a new `axis`. */
function stack(parts: readonly Tensor[], axis: number, node: GraphNode): Tensor {
  if (parts.length === 0) return allocLike('float32', [0]);
  const d = parts[0].dims;
  if (parts.some((p) => p.dims.length !== d.length || p.dims.some((v, i) => v !== d[i]))) throw new SculptError(`${at(node)} body produced scan outputs of different shapes`);
  const outer = size(d.slice(0, axis)), inner = size(d.slice(axis));
  const out = allocLike(parts[0].dtype, [...d.slice(0, axis), parts.length, ...d.slice(axis)]);
  parts.forEach((p, k) => {
    for (let q = 0; q < outer; q++) out.data.set(p.data.subarray(q * inner, (q + 1) * inner), (q * parts.length + k) * inner);
  });
  return out;
}

export const ifOp: OpFn = (inputs, attrs, node, ctx) => {
  const cond = need(inputs[0], node, 0);
  const branch = body(attrs, cond.data[0] ? 'then_branch' : 'else_branch', node);
  return context(ctx, node).runGraph(branch, new Map());
};

export const loop: OpFn = (inputs, attrs, node, ctx) => {
  const run = context(ctx, node);
  const g = body(attrs, 'body', node);
  const maxTrips = inputs[0] ? inputs[0].data[0] : Infinity;
  let cond = inputs[1] ? inputs[1].data[0] !== 0 : true;
  let carried = inputs.slice(2).map((t, i) => needValue(t, node, i + 2));
  const nCarried = carried.length;
  const scans: Tensor[][] = [];
  for (let i = 0; i < maxTrips && cond; i++) {
    const feeds = new Map<string, Tensor>();
    if (g.inputs[0]) feeds.set(g.inputs[0].name, intTensor([], [i]));
    if (g.inputs[1]) feeds.set(g.inputs[1].name, boolScalar(cond));
    carried.forEach((t, k) => { if (g.inputs[2 + k]) feeds.set(g.inputs[2 + k].name, t); });
    const outs = run.runGraph(g, feeds);
    cond = outs[0].data[0] !== 0;
    carried = outs.slice(1, 1 + nCarried);
    outs.slice(1 + nCarried).forEach((t, k) => { (scans[k] ??= []).push(t); });
  }
  const nScan = g.outputs.length - 1 - nCarried;
  return [...carried, ...Array.from({ length: nScan }, (_, k) => stack(scans[k] ?? [], 0, node))];
};

/** Scan (opset 9+): state variables, then scan inputs sliced along their axes; opset 8 adds a batch axis and sequence_lens. */
export const scan: OpFn = (inputs, attrs, node, ctx) => {
  const run = context(ctx, node);
  if (run.opset < 9) return scan8(inputs, attrs, node, run);
  const g = body(attrs, 'body', node);
  const m = attrInt(attrs, 'num_scan_inputs', 0);
  const all = inputs.map((t, i) => need(t, node, i));
  const n = all.length - m;
  return scanOnce(all.slice(0, n), all.slice(n), g, attrs, node, run);
};

function scanOnce(state0: Tensor[], scanIns: Tensor[], g: Graph, attrs: Attrs, node: GraphNode, run: OpContext): Tensor[] {
  const m = scanIns.length, n = state0.length;
  const inAxes = (attrInts(attrs, 'scan_input_axes') ?? new Array<number>(m).fill(0)).map((a, i) => (a < 0 ? a + scanIns[i].dims.length : a));
  const inDirs = attrInts(attrs, 'scan_input_directions') ?? attrInts(attrs, 'directions') ?? new Array<number>(m).fill(0);
  const k = g.outputs.length - n;
  const outAxes0 = attrInts(attrs, 'scan_output_axes') ?? new Array<number>(k).fill(0);
  const outDirs = attrInts(attrs, 'scan_output_directions') ?? new Array<number>(k).fill(0);
  const steps = m > 0 ? scanIns[0].dims[inAxes[0]] : 0;
  let state = state0;
  const scans: Tensor[][] = Array.from({ length: k }, () => []);
  for (let t = 0; t < steps; t++) {
    const feeds = new Map<string, Tensor>();
    state.forEach((s, i) => feeds.set(g.inputs[i].name, s));
    scanIns.forEach((x, j) => feeds.set(g.inputs[n + j].name, sliceAxis(x, inAxes[j], inDirs[j] === 1 ? steps - 1 - t : t)));
    const outs = run.runGraph(g, feeds);
    state = outs.slice(0, n);
    outs.slice(n).forEach((o, j) => scans[j].push(o));
  }
  return [...state, ...scans.map((parts, j) => {
    const ordered = outDirs[j] === 1 ? [...parts].reverse() : parts;
    const rank = (parts[0]?.dims.length ?? 0) + 1;
    return stack(ordered, outAxes0[j] < 0 ? outAxes0[j] + rank : outAxes0[j], node);
  })];
}

function scan8(inputs: readonly (Tensor | undefined)[], attrs: Attrs, node: GraphNode, run: OpContext): Tensor[] {
  const g = body(attrs, 'body', node);
  const m = attrInt(attrs, 'num_scan_inputs', 0);
  const all = inputs.slice(1).map((t, i) => need(t, node, i + 1));
  const n = all.length - m;
  const batch = all[0].dims[0];
  const steps = m > 0 ? all[n].dims[1] : 0;
  if (inputs[0] && Array.from(inputs[0].data).some((v) => v !== steps)) throw new SculptError(`${at(node)} sequence_lens shorter than the scan axis are not supported`);
  const results: Tensor[][] = [];
  // Per batch entry, scan axis 1 of the full inputs becomes axis 0 of the entry.
  for (let b = 0; b < batch; b++) {
    const entry = all.map((t) => sliceAxis(t, 0, b));
    results.push(scanOnce(entry.slice(0, n), entry.slice(n), g, new Map([...attrs].filter(([key]) => key !== 'scan_input_axes' && key !== 'scan_output_axes')), node, run));
  }
  return results[0].map((_, j) => stack(results.map((r) => r[j]), 0, node));
}
