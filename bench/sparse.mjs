/* global process, console, performance */
// npm run bench:sparse — sculpt's sparse engine against onnxruntime-node dense, one thread, on a
// 4096-4096-4096-1024 MLP (Gemm + Relu) at 50/70/90/95% unstructured magnitude sparsity, batch 1
// and 16; medians over interleaved runs after warm-up; the roofline table beside the measured one.
// Appends a dated section to BENCHMARKS.md (skip with --no-append); --json prints one JSON object
// (machine, per-configuration denseMs/sparseMs/speedup/predictedSpeedup/maxRelError, per-layer rows).
// Options: --sizes 4096,4096,4096,1024  --sparsity 0.5,0.7,0.9,0.95  --batch 1,16  --repeats 31
import { register } from 'tsx/esm/api';
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { createRequire } from 'node:module';
import * as ort from 'onnxruntime-node';

register();
const { Rng } = await import('../src/core/rng.ts');
const { Kernels, applyChain, uploadDense } = await import('../src/sparse/kernels.ts');
const { measureMachine, crossoverDensity, peakRound, peakLoadRound, ceilingSpeedup } = await import('../src/sparse/roofline.ts');
const { ceilingNote } = await import('./lib/engines.mjs');
const { mlpModel } = await import('./sparse-onnx-writer.ts');
const { SparseExecutor } = await import('../src/sparse/executor.ts');
const { OnnxModel } = await import('../src/formats/onnx.ts');
const { HybridRunner, choosePlan } = await import('../src/api/hybrid.ts');

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const list = (s) => s.split(',').map(Number);
const sizes = list(option('sizes', '4096,4096,4096,1024'));
const sparsities = list(option('sparsity', '0.5,0.7,0.9,0.95'));
const batches = list(option('batch', '1,16'));
const repeats = Number(option('repeats', '31'));
const warmup = 10;
const append = !process.argv.includes('--no-append');
const json = process.argv.includes('--json');
const layerCount = sizes.length - 1;

const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (v, d = 2) => v.toFixed(d);

// ---- weights: seeded Kaiming-normal weights, small biases, exact per-layer magnitude pruning ----
const rng = new Rng(2024);
const uniform = () => (rng.nextUint32() + 0.5) / 2 ** 32;
function normals(n, std) {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(uniform())) * std;
    const t = 2 * Math.PI * uniform();
    out[i] = r * Math.cos(t);
    if (i + 1 < n) out[i + 1] = r * Math.sin(t);
  }
  return out;
}
const weights = [], biases = [], sortedAbs = [];
for (let l = 0; l < layerCount; l++) {
  const w = normals(sizes[l + 1] * sizes[l], Math.sqrt(2 / sizes[l]));
  weights.push(w);
  biases.push(normals(sizes[l + 1], 0.01));
  const a = new Float32Array(w.length);
  for (let i = 0; i < w.length; i++) a[i] = Math.abs(w[i]);
  sortedAbs.push(a.sort());
}

/** Removes exactly round(s·N) weights of smallest magnitude (ties: lower index first). */
function prune(l, s) {
  const w = weights[l];
  const k = Math.round(s * w.length);
  const out = w.slice();
  if (k === 0) return out;
  const threshold = sortedAbs[l][k - 1];
  let below = 0;
  for (let i = 0; i < w.length; i++) if (Math.abs(w[i]) < threshold) below++;
  let tiesToRemove = k - below;
  for (let i = 0; i < w.length; i++) {
    const a = Math.abs(w[i]);
    if (a < threshold) out[i] = 0;
    else if (a === threshold && tiesToRemove > 0) { out[i] = 0; tiesToRemove--; }
  }
  return out;
}

// ---- machine ----
const require = createRequire(import.meta.url);
const ortVersion = require('onnxruntime-node/package.json').version;
const loadAtStart = os.loadavg().map((v) => v.toFixed(1)).join(' / ');
const machine = measureMachine();
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
console.log(`machine: ${cpu}, ${os.cpus().length} cores, node ${process.version}, onnxruntime-node ${ortVersion}`);
console.log(`measured: bandwidth ${fmt(machine.bandwidth / 1e9, 1)} GB/s (stream ${fmt(machine.streamBandwidth / 1e9, 1)}), cache ${fmt(machine.cacheBandwidth / 1e9, 1)} GB/s; dense ${fmt(machine.denseFlops.vector / 1e9, 1)} / ${fmt(machine.denseFlops.batch / 1e9, 1)} GFLOP/s (batch 1 / 16); sparse ${fmt(machine.sparseFlops.vector / 1e9, 1)} / ${fmt(machine.sparseFlops.batch / 1e9, 1)} GFLOP/s`);

const sessionOptions = { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' };

const summary = [];
const layerRows = [];
for (const s of sparsities) {
  const pruned = weights.map((_, l) => prune(l, s));
  // The weights left, counted once: each multiplies every column of the batch.
  let nonzeros = 0;
  for (const w of pruned) for (let i = 0; i < w.length; i++) if (w[i] !== 0) nonzeros++;
  const sessions = {};
  let gemmBytes;
  for (const style of ['gemm', 'matmul']) {
    const bytes = mlpModel(sizes, pruned, biases, style);
    if (style === 'gemm') gemmBytes = bytes;
    sessions[style] = await ort.InferenceSession.create(bytes, sessionOptions);
  }
  const graph = new OnnxModel('mlp.onnx', gemmBytes).graph();
  const k = new Kernels();
  const dense = pruned.map((w, l) => uploadDense(k, w, sizes[l + 1], sizes[l], biases[l]));
  const relu = pruned.map((_, l) => l + 1 < layerCount);

  for (const batch of batches) {
    const x = normals(batch * sizes[0], 1);
    const feeds = { x: new ort.Tensor('float32', x, [batch, sizes[0]]) };
    // sculpt's engine: the graph executor, each layer CSR or dense as the roofline chooses.
    const executor = new SparseExecutor(graph, { engine: 'auto', machine, batchHint: batch });
    const runSculpt = () => executor.run({ x: { dtype: 'float32', dims: [batch, sizes[0]], data: x } }).y.data;

    // Pick onnxruntime's faster graph form (Gemm transB=1 or MatMul+Add) as the baseline.
    const ortTimes = {};
    for (const style of ['gemm', 'matmul']) {
      for (let i = 0; i < warmup; i++) await sessions[style].run(feeds);
      const t = [];
      for (let i = 0; i < Math.max(5, repeats >> 1); i++) { const t0 = performance.now(); await sessions[style].run(feeds); t.push(performance.now() - t0); }
      ortTimes[style] = median(t);
    }
    const ortStyle = ortTimes.gemm <= ortTimes.matmul ? 'gemm' : 'matmul';
    const session = sessions[ortStyle];

    // Interleave the engines so that noise from other processes hits them alike.
    for (let i = 0; i < warmup; i++) { await session.run(feeds); runSculpt(); applyChain(k, dense, relu, x, batch); }
    const tOrt = [], tSparse = [], tDense = [], tRoof = [], tLoaded = [];
    let roofFlops = 0, loadedFlops = 0;
    let ortOut;
    for (let i = 0; i < repeats; i++) {
      let t0 = performance.now();
      ortOut = (await session.run(feeds)).y.data;
      tOrt.push(performance.now() - t0);
      t0 = performance.now();
      runSculpt();
      tSparse.push(performance.now() - t0);
      t0 = performance.now();
      applyChain(k, dense, relu, x, batch);
      tDense.push(performance.now() - t0);
      t0 = performance.now();
      roofFlops = peakRound(k);
      tRoof.push(performance.now() - t0);
      t0 = performance.now();
      loadedFlops = peakLoadRound(k);
      tLoaded.push(performance.now() - t0);
    }
    const ySparse = runSculpt();
    let maxDiff = 0, maxRef = 0;
    for (let i = 0; i < ySparse.length; i++) { maxDiff = Math.max(maxDiff, Math.abs(ySparse[i] - ortOut[i])); maxRef = Math.max(maxRef, Math.abs(ortOut[i])); }

    // Per layer: measured dense and sparse kernel times beside the roofline's predictions.
    let predictedSparse = 0, predictedDense = 0;
    for (const r of executor.profile(batch, machine, Math.max(5, repeats >> 1))) {
      predictedDense += r.predictedDenseMs;
      predictedSparse += r.kind === 'csr' ? r.predictedSparseMs : r.predictedDenseMs;
      layerRows.push({
        sparsity: s, batch, layer: `${r.rows}×${r.cols}`, density: r.density,
        denseMB: r.denseBytes / 1e6, sparseMB: r.sparseBytes / 1e6,
        predDenseMs: r.predictedDenseMs, predSparseMs: r.predictedSparseMs, bound: r.sparseBound,
        measDenseMs: r.measuredDenseMs, measSparseMs: r.measuredSparseMs,
        predSpeedup: r.predictedSpeedup, measSpeedup: r.measuredSpeedup, flopSpeedup: r.flopSpeedup,
        crossover: r.crossoverDensity, kind: r.kind,
        chosenVsDense: (r.kind === 'csr' ? r.measuredSparseMs : r.measuredDenseMs) / r.measuredDenseMs,
      });
    }

    // The ceilings: onnxruntime's time over the longer of the kept multiply-adds at a roof (the
    // fastest of its runs in the same rounds) and the CSR bytes at the stream bandwidth.
    const peak = roofFlops / (Math.min(...tRoof) / 1000), loadedPeak = loadedFlops / (Math.min(...tLoaded) / 1000);
    const kept = nonzeros * batch;
    const csrBytes = layerRows.filter((r) => r.sparsity === s && r.batch === batch).reduce((a, r) => a + r.sparseMB * 1e6, 0);
    const floorMs = (roofFlops) => Math.max((2 * kept) / roofFlops, csrBytes / machine.streamBandwidth) * 1000;
    const row = {
      peak, loadedPeak, ceiling: median(tOrt) / floorMs(peak), loaded: median(tOrt) / floorMs(loadedPeak), ceilingCompute: ceilingSpeedup(median(tOrt), kept, peak),
      sparsity: s, batch, ortStyle, ortMs: median(tOrt), sculptMs: median(tSparse), sculptDenseMs: median(tDense),
      bestSpeedup: Math.min(...tOrt) / Math.min(...tSparse),
      kinds: executor.layers.map((c) => c.kind).join('/'), maxRelError: maxDiff / maxRef,
      predictedSpeedupVsSculptDense: predictedDense / predictedSparse,
    };
    row.speedup = row.ortMs / row.sculptMs;
    // The plan (hybrid.ts): all sculpt, all onnxruntime or hybrid, whichever is fastest in
    // alternated rounds; then timed again against onnxruntime, so the choice is not graded on the
    // runs that made it.
    const sculptInputs = { x: { dtype: 'float32', dims: [batch, sizes[0]], data: x } };
    const hybrid = await HybridRunner.create(new OnnxModel('mlp.onnx', gemmBytes), executor, sculptInputs);
    const plans = { sculpt: runSculpt, onnxruntime: () => session.run(feeds), ...(typeof hybrid !== 'string' && { hybrid: () => hybrid.run(sculptInputs) }) };
    const choice = await choosePlan(plans, Math.max(5, repeats >> 2));
    const tPlan = [], tOrt2 = [];
    // Handed to onnxruntime whole, the plan is the onnxruntime session itself: 1× by construction.
    for (let i = 0; i < (choice.chosen === 'onnxruntime' ? 0 : repeats); i++) {
      let t0 = performance.now();
      await session.run(feeds);
      tOrt2.push(performance.now() - t0);
      t0 = performance.now();
      await plans[choice.chosen]();
      tPlan.push(performance.now() - t0);
    }
    if (typeof hybrid !== 'string') await hybrid.release();
    const handedOver = choice.chosen === 'onnxruntime';
    Object.assign(row, { plan: choice.chosen, planMs: handedOver ? row.ortMs : median(tPlan), planOrtMs: handedOver ? row.ortMs : median(tOrt2), planSpeedup: handedOver ? 1 : median(tOrt2) / median(tPlan), hybridMs: choice.ms.hybrid, hybridWhy: typeof hybrid === 'string' ? hybrid : undefined });
    summary.push(row);
    console.log(`sparsity ${s} batch ${batch}: onnxruntime ${fmt(row.ortMs)} ms (${ortStyle}; gemm ${fmt(ortTimes.gemm)}, matmul ${fmt(ortTimes.matmul)}), sculpt ${fmt(row.sculptMs)} ms [${row.kinds}], speed-up ${fmt(row.speedup)}× (fastest runs ${fmt(row.bestSpeedup)}×), sculpt dense ${fmt(row.sculptDenseMs)} ms, max rel error ${row.maxRelError.toExponential(2)}` + `; plan: ${row.plan} ${fmt(row.planMs)} ms against onnxruntime ${fmt(row.planOrtMs)} ms (${fmt(row.planSpeedup)}×)${row.hybridMs !== undefined ? `, hybrid ${fmt(row.hybridMs)} ms` : ''}`);
  }
  for (const style of Object.keys(sessions)) await sessions[style].release();
}

// ---- tables ----
const table1 = [
  '| sparsity | batch | onnxruntime dense ms | sculpt ms | speed-up vs ort (medians) | speed-up, fastest runs | sculpt dense-kernel ms | kernels per layer | predicted speed-up vs dense kernel | max rel error | plan (fastest measured) | plan ms / onnxruntime ms, timed again | plan speed-up | ceilings: register; loaded roof (and stream) |',
  '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- | ---: | ---: | ---: |',
  ...summary.map((r) => `| ${r.sparsity * 100}% | ${r.batch} | ${fmt(r.ortMs)} | ${fmt(r.sculptMs)} | **${fmt(r.speedup)}×** | ${fmt(r.bestSpeedup)}× | ${fmt(r.sculptDenseMs)} | ${r.kinds} | ${fmt(r.predictedSpeedupVsSculptDense)}× | ${r.maxRelError.toExponential(1)} | ${r.plan}${r.hybridMs !== undefined ? ` (hybrid ${fmt(r.hybridMs)} ms)` : ''} | ${fmt(r.planMs)} / ${fmt(r.planOrtMs)} | **${fmt(r.planSpeedup)}×** | ${fmt(r.ceiling)}×; ${fmt(r.loaded)}× |`),
];
const targetLines = [
  ['batch 16 at 90%', (r) => r.sparsity === 0.9 && r.batch === 16, 4, 'speedup'],
  ['batch 1 at 70%', (r) => r.sparsity === 0.7 && r.batch === 1, 1.5, 'speedup'],
  ...batches.map((b) => [`batch ${b} at 50%, the plan never slower than onnxruntime`, (r) => r.sparsity === 0.5 && r.batch === b, 0.97, 'planSpeedup']),
  ...batches.map((b) => [`batch ${b} at 70%, the plan never slower than onnxruntime`, (r) => r.sparsity === 0.7 && r.batch === b, 0.97, 'planSpeedup']),
].flatMap(([what, pick, target, key]) => summary.filter(pick).map((r) => `- ${what}: ${fmt(r[key])}× (target ≥ ${key === 'planSpeedup' ? '1× within 3% timing noise' : `${target}×`}): ${r[key] >= target ? 'met' : 'not met'}${key === 'speedup' ? `; ${ceilingNote(r.ceiling, r.loaded, target, r.speedup, ', each with the CSR bytes streamed')} (roofs ${fmt(r.peak / 1e9, 1)} and ${fmt(r.loadedPeak / 1e9, 1)} GFLOP/s, stream ${fmt(machine.streamBandwidth / 1e9, 1)} GB/s; the multiply-adds alone at the register roof: ${fmt(r.ceilingCompute)}×)` : ''}${key === 'planSpeedup' && r.plan === 'onnxruntime' ? ' (the model handed to onnxruntime whole)' : key === 'planSpeedup' ? ` (plan: ${r.plan})` : ''}.`));
const table2 = [
  '| sparsity | batch | layer | density | dense MB | sparse MB | pred. dense ms | pred. sparse ms (bound) | meas. dense ms | meas. sparse ms | FLOP speed-up | pred. speed-up | meas. speed-up | crossover density | chosen | chosen / dense |',
  '| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |',
  ...layerRows.map((r) => `| ${r.sparsity * 100}% | ${r.batch} | ${r.layer} | ${fmt(r.density, 3)} | ${fmt(r.denseMB, 1)} | ${fmt(r.sparseMB, 1)} | ${fmt(r.predDenseMs, 3)} | ${fmt(r.predSparseMs, 3)} (${r.bound}) | ${fmt(r.measDenseMs, 3)} | ${fmt(r.measSparseMs, 3)} | ${fmt(r.flopSpeedup, 1)}× | ${fmt(r.predSpeedup)}× | ${fmt(r.measSpeedup)}× | ${fmt(r.crossover, 3)} | ${r.kind} | ${fmt(r.chosenVsDense)} |`),
];
const shapes = [...new Map(sizes.slice(1).map((out, l) => [`${out}×${sizes[l]}`, { rows: out, cols: sizes[l] }])).entries()];
const crossBatches = [1, 4, 16, 64];
const table3 = [
  `| layer shape | ${crossBatches.map((b) => `batch ${b}`).join(' | ')} |`,
  `| --- | ${crossBatches.map(() => '---:').join(' | ')} |`,
  ...shapes.map(([name, sh]) => `| ${name} | ${crossBatches.map((b) => `${(100 * (1 - crossoverDensity({ ...sh, batch: b }, machine))).toFixed(0)}%`).join(' | ')} |`),
];
console.log(['', ...table1, '', ...targetLines, '', ...table2, '', 'Predicted crossover sparsity (sparse wins above it):', '', ...table3].join('\n'));
if (json) {
  console.log(JSON.stringify({
    model: sizes, machine, onnxruntime: ortVersion,
    runs: summary.map((r) => ({
      sparsity: r.sparsity, batch: r.batch, denseMs: r.ortMs, sparseMs: r.sculptMs, speedup: r.speedup, bestRunSpeedup: r.bestSpeedup,
      sculptDenseMs: r.sculptDenseMs, predictedSpeedup: r.predictedSpeedupVsSculptDense, maxRelError: r.maxRelError, kernels: r.kinds.split('/'),
      layers: layerRows.filter((l) => l.sparsity === r.sparsity && l.batch === r.batch),
    })),
  }));
}

if (append) {
  const date = new Date().toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
  const section = [
    '',
    `## Sparse engine vs onnxruntime dense — ${date}`,
    '',
    `Command: \`npm run bench:sparse${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}\`  `,
    `Machine: ${cpu}, ${os.cpus().length} logical cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.arch()}, node ${process.version}, onnxruntime-node ${ortVersion}; one thread each; load average at start ${loadAtStart} (above ~1 per core means other work shared the CPU)  `,
    `Model: MLP ${sizes.join('-')} (Gemm + Relu), per-layer unstructured magnitude pruning; medians of ${repeats} interleaved runs after ${warmup} warm-ups; onnxruntime baseline = the faster of its Gemm and MatMul+Add forms; max rel error = max|sculpt − ort| / max|ort|; ceilings = onnxruntime's time over the longer of the kept multiply-adds at a roof (the fastest of its runs in the same rounds) and the layers' CSR bytes at the measured stream bandwidth; the register roof (kernels' peakMadd: 12 fused multiply-adds on 128-bit vectors in registers) bounds any 128-bit WebAssembly SIMD engine, the loaded roof (peakLoadMadd: each multiply-add fed by one 16-byte load from L1) any kernel that loads a vector per multiply-add.  `,
    `Measured machine: bandwidth ${fmt(machine.bandwidth / 1e9, 1)} GB/s sustained by the dense matrix-vector kernel (pure stream ${fmt(machine.streamBandwidth / 1e9, 1)} GB/s, cache ${fmt(machine.cacheBandwidth / 1e9, 1)} GB/s); dense kernel ${fmt(machine.denseFlops.vector / 1e9, 1)} GFLOP/s (batch 1), ${fmt(machine.denseFlops.batch / 1e9, 1)} GFLOP/s (batched); CSR kernel ${fmt(machine.sparseFlops.vector / 1e9, 1)} / ${fmt(machine.sparseFlops.batch / 1e9, 1)} GFLOP/s.`,
    '',
    ...table1,
    '',
    ...targetLines,
    '',
    'Roofline (predicted time = max(flops / kernel rate, bytes / bandwidth); sparse bytes = values + 16-bit indices + row pointers + x + y):',
    '',
    ...table2,
    '',
    'Predicted crossover sparsity, above which the CSR kernel beats the dense one (1 − crossover density):',
    '',
    ...table3,
    '',
  ].join('\n');
  if (!existsSync('BENCHMARKS.md')) writeFileSync('BENCHMARKS.md', '# sculpt benchmarks\n');
  appendFileSync('BENCHMARKS.md', section);
  console.log('\nappended to BENCHMARKS.md');
}
