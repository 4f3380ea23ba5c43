import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { loadSparseModel } from '../../src/api/sparse-model.js';
import { HybridRunner } from '../../src/api/hybrid.js';
import { SparseExecutor } from '../../src/sparse/executor.js';
import { threadedKernels } from '../../src/sparse/threads.js';
import type { Tensor } from '../../src/sparse/tensor.js';
import { FIXTURES, MACHINE_PROFILE, sculpt, tempDir } from '../cli/helpers.js';
import { readFileSync } from 'node:fs';
import { readNpy } from '../fixtures/npy.js';
import { maxRelError } from '../fixtures/compare.js';

const machine = JSON.parse(readFileSync(MACHINE_PROFILE, 'utf8'));
const profile = machine.machine ?? machine;

/** bert.onnx (a PyTorch export: fused-away LayerNorm and GELU patterns) pruned to `sparsity` by the CLI. */
function prunedBert(dir: string, sparsity: number): string {
  const out = join(dir, `bert-${sparsity}.onnx`);
  const r = sculpt(['prune', join(FIXTURES, 'shrink', 'bert.onnx'), '-o', out, '--sparsity', String(sparsity), '--scope', 'layer']);
  assert.equal(r.code, 0, r.stderr);
  return out;
}

function tokens(n: number): Record<string, Tensor> {
  return {
    input_ids: { dtype: 'int64', dims: [1, n], data: Float64Array.from({ length: n }, (_, i) => (i * 37 + 5) % 64) },
    attention_mask: { dtype: 'int64', dims: [1, n], data: Float64Array.from({ length: n }, (_, i) => (i < n - 3 ? 1 : 0)) },
  };
}

/** onnxruntime's outputs (one thread) for the model at `path` on int64 `inputs`. */
async function ortReference(path: string, inputs: Record<string, Tensor>): Promise<{ ref: ort.InferenceSession.OnnxValueMapType; outputNames: readonly string[] }> {
  const session = await ort.InferenceSession.create(path, { intraOpNumThreads: 1 });
  const feeds = Object.fromEntries(Object.entries(inputs).map(([k, t]) => [k, new ort.Tensor('int64', BigInt64Array.from(t.data as Float64Array, BigInt), [...t.dims])]));
  const ref = await session.run(feeds);
  const outputNames = session.outputNames;
  await session.release();
  return { ref, outputNames };
}

test('hybrid plan on a pruned BERT export: CSR layers with their bias, GELU and fused patterns on sculpt, the rest on onnxruntime, outputs equal onnxruntime', async () => {
  const dir = tempDir();
  try {
    const path = prunedBert(dir, 0.9);
    const model = loadSparseModel(path);
    const inputs = tokens(16);
    const ex = new SparseExecutor(model.graph, { engine: 'sparse', machine: profile, batchHint: 16 });
    const plan = await HybridRunner.create(model.onnx, ex, inputs);
    assert.ok(typeof plan !== 'string', String(plan));
    try {
      const segs = plan.segments;
      // Every node in exactly one segment; engines alternate.
      const all = segs.flatMap((s) => s.nodes);
      assert.equal(all.length, model.graph.nodes.length);
      assert.equal(new Set(all).size, model.graph.nodes.length);
      for (let i = 1; i < segs.length; i++) assert.notEqual(segs[i].engine, segs[i - 1].engine);
      // Every weight MatMul (all CSR under engine 'sparse') runs on sculpt, and nothing else but what it fuses.
      const onSculpt = new Set(segs.filter((s) => s.engine === 'sculpt').flatMap((s) => s.nodes));
      const weightNodes = new Set(ex.layers.map((l) => l.node));
      assert.ok(weightNodes.size >= 12, `${weightNodes.size} weight layers`);
      for (const n of model.graph.nodes) if (weightNodes.has(n.name)) assert.ok(onSculpt.has(n), `${n.name} is not on sculpt`);
      const extra = [...onSculpt].filter((n) => !weightNodes.has(n.name)).map((n) => n.opType);
      // The bias Adds folded into the kernels and the GELUs applied in kernel memory (Div, Erf, Add, Mul, Mul).
      assert.ok(extra.includes('Add') && extra.includes('Erf'), `sculpt also runs ${[...new Set(extra)].join(', ')}`);
      assert.ok(!extra.includes('Softmax') && !extra.includes('ReduceMean'), 'attention and LayerNorm stay on onnxruntime');
      // A value crossing between segments is produced before it is read.
      const seen = new Set([...model.graph.inputs.map((i) => i.name)]);
      for (const s of segs) {
        for (const v of s.inputs) assert.ok(seen.has(v), `${v} read before it is produced`);
        for (const v of s.outputs) seen.add(v);
      }
      const got = await plan.run(inputs);
      const { ref, outputNames } = await ortReference(path, inputs);
      for (const name of outputNames) {
        const e = maxRelError(got[name].data as Float32Array, ref[name].data as Float32Array);
        assert.ok(e <= 1e-4, `${name}: ${e}`);
      }
      assert.deepEqual(plan.summary().segments, segs.length);
    } finally {
      await plan.release();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('no hybrid plan, with the reason, for a model whose layers all run dense and for one with control flow', async () => {
  const dense = loadSparseModel(join(FIXTURES, 'mlp.onnx'));
  const x = readNpy(join(FIXTURES, 'mlp.input.npy'));
  const inputs: Record<string, Tensor> = { input: { dtype: 'float32', dims: x.shape, data: x.data } };
  const reason = await HybridRunner.create(dense.onnx, new SparseExecutor(dense.graph, { engine: 'dense' }), inputs);
  assert.equal(reason, 'no weight layer runs sparse');
  const vad = join(FIXTURES, 'exporters', 'if-subgraph.onnx');
  const m = loadSparseModel(vad);
  const r = await HybridRunner.create(m.onnx, new SparseExecutor(m.graph, { engine: 'sparse' }), {});
  assert.match(String(r), /control flow/);
});

test('sculpt run --engine hybrid writes what onnxruntime does; a model with nothing sparse, or nothing but, is refused in one line', () => {
  const dir = tempDir();
  try {
    // cnn.onnx: Conv, Relu, MaxPool twice, Flatten, Gemm — the MaxPools and Flatten run on onnxruntime.
    const pruned = join(dir, 'cnn-90.onnx');
    assert.equal(sculpt(['prune', join(FIXTURES, 'cnn.onnx'), '-o', pruned, '--sparsity', '0.9', '--scope', 'layer']).code, 0);
    const outs: Float32Array[] = [];
    for (const engine of ['hybrid', 'onnxruntime']) {
      const out = join(dir, `${engine}.npy`);
      const r = sculpt(['run', pruned, '--input', join(FIXTURES, 'cnn.input.npy'), '-o', out, '--engine', engine, '--json'], undefined, { SCULPT_MACHINE_PROFILE: MACHINE_PROFILE });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).engine, engine);
      outs.push(readNpy(out).data as Float32Array);
    }
    assert.ok(maxRelError(outs[0], outs[1]) <= 1e-5, `hybrid vs onnxruntime ${maxRelError(outs[0], outs[1])}`);
    for (const [model, why] of [['cnn.onnx', 'no weight layer runs sparse'], ['mlp.onnx', 'every node runs on sculpt']]) {
      const src = model === 'mlp.onnx' ? (() => {
        const p = join(dir, 'mlp-90.onnx');
        assert.equal(sculpt(['prune', join(FIXTURES, 'mlp.onnx'), '-o', p, '--sparsity', '0.9', '--scope', 'layer']).code, 0);
        return p;
      })() : join(FIXTURES, model);
      const r = sculpt(['run', src, '--input', join(FIXTURES, model.replace('.onnx', '.input.npy')), '-o', join(dir, 'y.npy'), '--engine', 'hybrid'], undefined, { SCULPT_MACHINE_PROFILE: MACHINE_PROFILE });
      assert.equal(r.code, 2);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`no hybrid plan: ${why}.*; run it with --engine sparse or --engine onnxruntime`));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('hybrid plan on 2 threads (sculpt worker threads; onnxruntime parts on 2 intra-op threads that do not spin): outputs equal onnxruntime within 1e-4, run after run', async () => {
  const dir = tempDir();
  try {
    const path = prunedBert(dir, 0.9);
    const model = loadSparseModel(path);
    const inputs = tokens(16);
    const ex = new SparseExecutor(model.graph, { engine: 'sparse', machine: profile, batchHint: 16, kernels: threadedKernels(2) });
    await ex.ready();
    const plan = await HybridRunner.create(model.onnx, ex, inputs, 2);
    assert.ok(typeof plan !== 'string', String(plan));
    try {
      assert.ok(plan.segments.some((s) => s.engine === 'onnxruntime') && plan.segments.some((s) => s.engine === 'sculpt'));
      const { ref, outputNames } = await ortReference(path, inputs);
      for (let run = 0; run < 3; run++) {
        const got = await plan.run(inputs);
        for (const name of outputNames) {
          const e = maxRelError(got[name].data as Float32Array, ref[name].data as Float32Array);
          assert.ok(e <= 1e-4, `run ${run}, ${name}: ${e}`);
        }
      }
    } finally {
      await plan.release();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
