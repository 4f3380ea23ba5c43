// `sculpt experiment structured --quick` on the committed Fashion-MNIST subset: channel pruning
// (L1, random) shrunk exactly, unstructured at the same parameter count, onnxruntime latencies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { structuredExperiment, FRACTIONS, BATCHES, structuredSizes } from '../../src/analysis/experiments/structured.js';
import type { ExperimentContext } from '../../src/analysis/experiments/types.js';
import { structuredTools } from '../../src/api/experiment-structured.js';
import { countToPrune } from '../../src/core/counting.js';
import { renderReport } from '../../src/report/index.js';
import { setupBackend } from '../../src/train/backend.js';
import { loadDataset } from '../../src/train/data.js';
import { buildModel } from '../../src/train/zoo.js';
import { ROOT } from '../cli/helpers.js';

/** Conv-2 (3×3 convs of 64 and 64, pool to 14×14, Dense 256-256-10) with `c` channels left per hidden layer, biases included. */
function conv2Parameters(c1: number, c2: number, h1: number, h2: number): number {
  return (9 * c1 + c1) + (9 * c1 * c2 + c2) + (14 * 14 * c2 * h1 + h1) + (h1 * h2 + h2) + (h2 * 10 + 10);
}

test('experiment structured --quick: exact shrinking, round(f·G) channels per layer, unstructured at the same parameter count', async () => {
  await setupBackend('wasm');
  const sz = structuredSizes(true);
  const tools = structuredTools();
  const ctx: ExperimentContext = {
    quick: true,
    seed: 0,
    loadData: (trainLimit, testLimit) => loadDataset({ dataset: 'fashion-mnist', dataDir: join(ROOT, 'data/fashion-mnist-subset'), trainLimit, testLimit }),
    buildModel: (name, data, seed) => buildModel(name, { inputShape: data.imageShape, classes: data.classes, seed }),
    log: () => {},
    structured: tools,
  };
  let out;
  try {
    out = await structuredExperiment.run(ctx);
  } finally {
    tools.dispose();
  }
  const r = out.result as Record<string, any>;
  assert.equal(r.model, 'conv-2');
  assert.equal(r.train, sz.trainLimit);
  assert.equal(r.test, sz.testLimit);
  assert.deepEqual(r.layers, ['conv1', 'conv2', 'fc1', 'fc2']);
  assert.equal(r.denseParameters, conv2Parameters(64, 64, 256, 256));
  assert.equal(r.denseParameters, 3317450);
  assert.equal(r.fineTune.steps, Math.ceil(sz.fineTuneExamples / 60));
  assert.deepEqual(r.rows.map((x: any) => x.fraction), [...FRACTIONS]);
  assert.deepEqual(r.latency.map((l: any) => l.batch), [...BATCHES]);
  for (const row of r.rows) {
    const f = row.fraction as number;
    // Channels removed: round(f·G) of each hidden layer; the classifier's group is pinned (a model output).
    const sizes: Record<string, number> = { 'Conv2D conv1': 64, 'Conv2D conv2': 64, 'Dense fc1': 256, 'Dense fc2': 256 };
    for (const [layer, G] of Object.entries(sizes)) {
      const g = row.channels.find((c: any) => c.layer === layer);
      assert.ok(g !== undefined, `${layer} group at f ${f}`);
      assert.equal(g.size, G);
      assert.equal(g.removed, countToPrune(f, G), `${layer} at f ${f}`);
      assert.equal(g.pinned, false);
    }
    const fc3 = row.channels.find((c: any) => c.layer === 'Dense fc3');
    assert.ok(fc3.pinned && fc3.removed === 0, 'fc3 keeps its outputs');
    const left = (G: number): number => G - countToPrune(f, G);
    // The shrunk model's parameters, counted from the architecture; unstructured leaves exactly as many.
    assert.equal(row.parameters.channel, conv2Parameters(left(64), left(64), left(256), left(256)));
    assert.ok(Math.abs(row.parameters.unstructured - row.parameters.channel) <= r.parameterTolerance, `f ${f}: ${row.parameters.unstructured} vs ${row.parameters.channel}`);
    assert.equal(r.parameterTolerance, 0);
    const kernels = r.denseParameters - 650;
    assert.ok(Math.abs(row.unstructuredSparsity - (r.denseParameters - row.parameters.channel) / kernels) < 1e-12);
    // Exact shrinking: the physically smaller model scores what the channel-masked one scored.
    for (const m of ['l1', 'random']) {
      assert.equal(row[m].shrunk, row[m].fineTuned, `${m} at f ${f}`);
      for (const k of ['oneShot', 'fineTuned']) assert.ok(row[m][k] >= 0 && row[m][k] <= 1);
    }
    for (const k of ['oneShot', 'fineTuned']) assert.ok(row.unstructured[k] >= 0 && row.unstructured[k] <= 1);
    for (const b of BATCHES) {
      const l = row.latencyMs[`batch${b}`];
      for (const v of [l.dense, l.channel, l.unstructured]) assert.ok(Number.isFinite(v) && v > 0);
      assert.equal(l.dense, r.latency.find((x: any) => x.batch === b).denseMs);
      assert.ok(Math.abs(row.speedup[`batch${b}`].channel - l.dense / l.channel) < 1e-12);
      assert.ok(Math.abs(row.speedup[`batch${b}`].unstructured - l.dense / l.unstructured) < 1e-12);
    }
  }
  // At 75% of the channels the shrunk Conv-2 does ~1/16 of the convolutions: faster at batch 64 even on a loaded machine.
  const last = r.rows[r.rows.length - 1];
  assert.ok(last.speedup.batch64.channel > 2, `batch-64 speed-up ${last.speedup.batch64.channel}`);
  const html = await renderReport(out.report);
  assert.ok(html.includes('<svg'), 'the report page has a chart');
});
