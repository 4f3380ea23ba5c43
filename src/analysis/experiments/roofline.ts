/**
 * `roofline`: FLOP reduction against the speed-up the sparse engine measures, for LeNet-300-100's
 * three layers (784→300→100→10) at several sparsities, batch 1 and 32. The network is built as a
 * format-neutral graph (MatMul + Add + Relu) with seeded N(0,1) weights pruned by global
 * magnitude: kernel speed depends on the shapes and the sparsity pattern, not on training.
 */
import type { Graph, GraphNode, GraphTensor } from '../../core/graph.js';
import type { WeightSet } from '../../core/types.js';
import { prune, applyMasks } from '../../core/plan.js';
import { SparseExecutor } from '../../sparse/executor.js';
import { measureMachine } from '../../sparse/roofline.js';
import { lenetShapedWeights } from './cheap.js';
import { lineChart, round } from './charts.js';
import { pruneOptions } from './training.js';
import type { Experiment } from './types.js';

function node(name: string, opType: string, inputs: string[], outputs: string[]): GraphNode {
  return { name, opType, inputs, outputs, attributes: new Map(), domain: '' };
}

/** x [1, 784] → MatMul/Add/Relu ×2 → MatMul/Add → logits, weights from `ws` (TF.js [in, out] = MatMul's B). */
export function mlpGraph(ws: WeightSet): Graph {
  const initializers = new Map<string, GraphTensor>();
  const nodes: GraphNode[] = [];
  let x = 'x';
  ws.tensors.forEach((t, l) => {
    const b = `${t.name.split('/')[0]}/bias`;
    initializers.set(t.name, { name: t.name, dtype: 'float32', dims: t.shape, data: t.data });
    initializers.set(b, { name: b, dtype: 'float32', dims: [t.shape[1]], data: new Float32Array(t.shape[1]).fill(0.01) });
    nodes.push(node(`mm${l}`, 'MatMul', [x, t.name], [`z${l}`]));
    const last = l === ws.tensors.length - 1;
    nodes.push(node(`add${l}`, 'Add', [`z${l}`, b], [last ? 'logits' : `a${l}`]));
    if (!last) nodes.push(node(`relu${l}`, 'Relu', [`a${l}`], [`h${l}`]));
    x = `h${l}`;
  });
  const first = ws.tensors[0].shape[0];
  const outDim = ws.tensors[ws.tensors.length - 1].shape[1];
  return { nodes, initializers, inputs: [{ name: 'x', dtype: 'float32', dims: [-1, first] }], outputs: [{ name: 'logits', dtype: 'float32', dims: [-1, outDim] }], opsetVersion: 13 };
}

export const rooflineExperiment: Experiment = {
  name: 'roofline',
  description: 'FLOP reduction against measured (and roofline-predicted) speed-up of the sparse engine on LeNet-300-100 shapes',
  needsTraining: false,
  async run(ctx) {
    const machine = measureMachine({ streamBytes: (ctx.quick ? 16 : 64) * 2 ** 20, repeats: ctx.quick ? 3 : 7 });
    const repeats = ctx.quick ? 5 : 21;
    const rows: { batch: number; sparsity: number; flopReduction: number; measuredSpeedup: number; predictedSpeedup: number; denseMs: number; sparseMs: number }[] = [];
    for (const batch of [1, 32]) {
      for (const sparsity of [0.5, 0.8, 0.9, 0.95, 0.98, 0.99]) {
        const ws = lenetShapedWeights(ctx.seed);
        applyMasks(ws, prune(ws, pruneOptions(sparsity, 'global')).masks);
        const ex = new SparseExecutor(mlpGraph(ws), { engine: 'sparse', batchHint: batch });
        const prof = ex.profile(batch, machine, repeats);
        const sum = (f: (p: (typeof prof)[number]) => number): number => prof.reduce((a, p) => a + f(p), 0);
        const row = {
          batch, sparsity, flopReduction: sum((p) => p.denseFlops) / sum((p) => p.sparseFlops),
          measuredSpeedup: sum((p) => p.measuredDenseMs) / sum((p) => p.measuredSparseMs),
          predictedSpeedup: sum((p) => p.predictedDenseMs) / sum((p) => p.predictedSparseMs),
          denseMs: sum((p) => p.measuredDenseMs), sparseMs: sum((p) => p.measuredSparseMs),
        };
        rows.push(row);
        ctx.log(`roofline: batch ${batch}, sparsity ${sparsity}: FLOPs ÷${row.flopReduction.toFixed(1)}, measured ×${row.measuredSpeedup.toFixed(2)}, predicted ×${row.predictedSpeedup.toFixed(2)}`);
      }
    }
    const points = rows.flatMap((r) => [
      { sparsity: r.sparsity, speedup: r.measuredSpeedup, series: `measured, batch ${r.batch}` },
      { sparsity: r.sparsity, speedup: r.predictedSpeedup, series: `roofline, batch ${r.batch}` },
      { sparsity: r.sparsity, speedup: r.flopReduction, series: 'FLOP reduction' },
    ]).filter((p, i, a) => a.findIndex((q) => q.series === p.series && q.sparsity === p.sparsity) === i);
    return {
      result: { experiment: 'roofline', shapes: '784x300, 300x100, 100x10 (MatMul + bias + ReLU)', machine, rows },
      report: {
        title: 'Roofline: FLOP reduction vs measured speed-up',
        subtitle: 'sculpt sparse engine (CSR kernels, WebAssembly) against its own dense kernel, per-layer timings summed',
        settings: { bandwidthGBs: round(machine.bandwidth / 1e9, 2), cacheBandwidthGBs: round(machine.cacheBandwidth / 1e9, 2), repeats, seed: ctx.seed },
        charts: [{ title: 'Speed-up against sparsity', spec: lineChart(points, 'sparsity', 'speedup', 'series', { yLog: true }) }],
        tables: [{ title: 'Per sparsity', columns: ['batch', 'sparsity', 'FLOP reduction', 'measured speed-up', 'roofline speed-up', 'dense ms', 'sparse ms'], rows: rows.map((r) => [r.batch, r.sparsity, round(r.flopReduction, 2), round(r.measuredSpeedup, 2), round(r.predictedSpeedup, 2), round(r.denseMs, 4), round(r.sparseMs, 4)]) }],
      },
    };
  },
};
