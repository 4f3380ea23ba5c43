/**
 * The hybrid plan: the weight layers sculpt stores sparse (CSR) run on sculpt's kernels, and every
 * other part of the graph — the dense layers and the ops between them — on onnxruntime, whose
 * native dense kernels are faster than any WebAssembly ones. The graph is cut, in its own node
 * order, into maximal runs of nodes on one engine; each onnxruntime run is extracted as a model of
 * its own (onnx-extract.ts, nodes copied byte for byte) and run as one session, and values pass
 * between the engines as tensors.
 *
 * `choosePlan` measures the three plans — all sculpt, all onnxruntime, hybrid — on the same inputs
 * and names the fastest: at the model level sculpt hands over to onnxruntime where that wins.
 */
import { performance } from 'node:perf_hooks';
import { SculptError } from '../core/errors.js';
import type { GraphNode } from '../core/graph.js';
import { ELEM, ONNX_DTYPE, decodeOnnx } from '../formats/onnx-decode.js';
import { extractModel } from '../formats/onnx-extract.js';
import type { OnnxModel } from '../formats/onnx.js';
import type { SparseExecutor } from '../sparse/executor.js';
import type { Tensor } from '../sparse/tensor.js';
import { createOrtSession, settle, type OrtSession } from './sparse-ort.js';

export interface HybridSegment {
  readonly engine: 'sculpt' | 'onnxruntime';
  readonly nodes: readonly GraphNode[];
  /** Values read from earlier segments or the graph's inputs, and values later segments or the graph's outputs read. */
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
}

/** A model run as a hybrid plan; `create` probes it once on `inputs` (for the value types and a Conv's positions). */
export class HybridRunner {
  private constructor(
    private readonly executor: SparseExecutor,
    readonly segments: readonly HybridSegment[],
    private readonly sessions: (OrtSession | undefined)[],
    private readonly constants: ReadonlyMap<string, Tensor>,
    private readonly outputNames: readonly string[],
  ) {}

  /**
   * The plan for `executor`'s graph (read from `model`), or a reason it has none: a graph with
   * control flow or external data, or nothing to run on one of the engines.
   */
  static async create(model: OnnxModel, executor: SparseExecutor, inputs: Readonly<Record<string, Tensor>>, threads = 1): Promise<HybridRunner | string> {
    const graph = executor.graph;
    if (graph.nodes.some((n) => [...n.attributes.values()].some((v) => typeof v === 'object' && v !== null && 'nodes' in v))) return 'the graph has control flow (If, Loop or Scan), which the plan does not cut';
    const decoded = decodeOnnx(model.bytes, model.path);
    if (decoded.graph.nodes.length !== graph.nodes.length) return 'the graph sculpt runs is not the file\'s node for node';
    if (decoded.graph.initializers.some((t) => t.storage.kind === 'external')) return 'the model keeps its weights in an external data file';
    // A first run settles each Conv's kernel (chosen for its real positions).
    executor.run(inputs);
    const sparse = new Set(executor.layers.filter((l) => l.kind === 'csr').map((l) => l.node));
    if (sparse.size === 0) return 'no weight layer runs sparse';
    const units = executor.units();
    const onSculpt = new Set<GraphNode>();
    for (const n of graph.nodes) if (sparse.has(n.name)) onSculpt.add(units.get(n)!);
    const engineOf = (n: GraphNode) => (onSculpt.has(units.get(n)!) ? 'sculpt' : 'onnxruntime');
    // Graph order, except that a unit sculpt runs moves whole to where its last node stands (an
    // exporter may interleave a GELU's nodes with others): its intermediates have no other readers,
    // and everything it reads comes before its last node.
    const members = new Map<GraphNode, GraphNode[]>();
    for (const n of graph.nodes) {
      if (engineOf(n) !== 'sculpt') continue;
      const unit = units.get(n)!;
      if (!members.has(unit)) members.set(unit, []);
      members.get(unit)!.push(n);
    }
    const order: GraphNode[] = [];
    for (const n of graph.nodes) {
      const unit = members.get(units.get(n)!);
      if (!unit) order.push(n);
      else if (unit[unit.length - 1] === n) order.push(...unit);
    }
    // Maximal runs of one engine.
    const runs: { engine: 'sculpt' | 'onnxruntime'; nodes: GraphNode[] }[] = [];
    for (const n of order) {
      const e = engineOf(n);
      if (runs.length === 0 || runs[runs.length - 1].engine !== e) runs.push({ engine: e, nodes: [] });
      runs[runs.length - 1].nodes.push(n);
    }
    const constants = executor.constantValues();
    const initializers = new Set(decoded.graph.initializers.filter((t) => t.place !== 'constant').map((t) => t.name));
    const graphOutputs = graph.outputs.map((o) => o.name);
    // What the runs after each one read (the graph's outputs included), built from the last run back.
    const readAfter: Set<string>[] = new Array(runs.length);
    const read = new Set(graphOutputs);
    for (let i = runs.length - 1; i >= 0; i--) {
      readAfter[i] = new Set(read);
      for (const n of runs[i].nodes) for (const v of n.inputs) read.add(v);
    }
    const segments: HybridSegment[] = runs.map((r, i) => {
      const produced = new Set(r.nodes.flatMap((n) => n.outputs));
      const inputs = [...new Set(r.nodes.flatMap((n) => n.inputs))].filter((v) => v !== '' && !produced.has(v) && !(r.engine === 'onnxruntime' ? initializers.has(v) : constants.has(v)));
      const outputs = [...produced].filter((v) => v !== '' && readAfter[i].has(v));
      return { engine: r.engine, nodes: r.nodes, inputs, outputs };
    });
    if (segments.length === 1) return 'every node runs on sculpt\'s kernels (the hybrid plan is sculpt\'s)';
    const runner = new HybridRunner(executor, segments, segments.map(() => undefined), constants, graphOutputs);
    // Sessions made on the way through the probe run, once each input's type is known.
    const values = runner.seed(inputs);
    const index = new Map(graph.nodes.map((n, i) => [n, i]));
    for (let i = 0; i < segments.length; i++) {
      const s = segments[i];
      if (s.engine === 'onnxruntime') {
        const specs = s.inputs.map((name) => {
          const t = values.get(name);
          if (!t) throw new SculptError(`hybrid plan: ${name} is read before anything produces it`);
          return { name, elemType: ELEM[t.dtype] ?? ONNX_DTYPE.FLOAT };
        });
        const bytes = extractModel(model.bytes, model.path, { nodes: new Set(s.nodes.map((n) => index.get(n)!)), inputs: specs, outputs: [...s.outputs] });
        runner.sessions[i] = await createOrtSession(bytes, `${model.path} (part ${i + 1} of the hybrid plan)`, threads, { spin: false });
      }
      await runner.step(i, values);
    }
    return runner;
  }

  private seed(inputs: Readonly<Record<string, Tensor>>): Map<string, Tensor> {
    const values = new Map<string, Tensor>(this.constants);
    for (const [name, t] of Object.entries(inputs)) values.set(name, t);
    return values;
  }

  private async step(i: number, values: Map<string, Tensor>): Promise<void> {
    const s = this.segments[i];
    const feeds = new Map(s.inputs.map((name) => [name, values.get(name)!] as const));
    if (s.engine === 'sculpt') {
      for (const [name, t] of this.executor.runPart(s.nodes, feeds, s.outputs)) values.set(name, t);
    } else {
      const out = await this.sessions[i]!.run(Object.fromEntries(feeds));
      for (const name of s.outputs) values.set(name, out[name]);
    }
  }

  async run(inputs: Readonly<Record<string, Tensor>>): Promise<Record<string, Tensor>> {
    const values = this.seed(inputs);
    for (let i = 0; i < this.segments.length; i++) await this.step(i, values);
    return Object.fromEntries(this.outputNames.map((name) => [name, values.get(name)!]));
  }

  /** Nodes and segments per engine. */
  summary(): { segments: number; sculptNodes: number; onnxruntimeNodes: number; sculptSegments: number } {
    const on = (e: HybridSegment['engine']) => this.segments.filter((s) => s.engine === e);
    return {
      segments: this.segments.length,
      sculptSegments: on('sculpt').length,
      sculptNodes: on('sculpt').reduce((a, s) => a + s.nodes.length, 0),
      onnxruntimeNodes: on('onnxruntime').reduce((a, s) => a + s.nodes.length, 0),
    };
  }

  async release(): Promise<void> {
    for (const s of this.sessions) await s?.release();
  }
}

export type PlanName = 'sculpt' | 'onnxruntime' | 'hybrid';

/**
 * Median ms of each plan over `runs` rounds that alternate them (after one warm-up round), and the
 * fastest; on more than one thread, with a pause before each run (sparse-ort.ts `settle`).
 */
export async function choosePlan(plans: Partial<Record<PlanName, () => Promise<unknown> | unknown>>, runs: number, threads = 1): Promise<{ ms: Partial<Record<PlanName, number>>; chosen: PlanName }> {
  const entries = Object.entries(plans) as [PlanName, () => Promise<unknown> | unknown][];
  const times = new Map<PlanName, number[]>(entries.map(([n]) => [n, []]));
  for (const [, f] of entries) await f();
  for (let i = 0; i < runs; i++) {
    for (const [name, f] of entries) {
      await settle(threads);
      const t0 = performance.now();
      await f();
      times.get(name)!.push(performance.now() - t0);
    }
  }
  const ms: Partial<Record<PlanName, number>> = {};
  for (const [name, ts] of times) ms[name] = [...ts].sort((a, b) => a - b)[Math.floor(ts.length / 2)];
  const chosen = entries.map(([n]) => n).reduce((best, n) => (ms[n]! < ms[best]! ? n : best));
  return { ms, chosen };
}
