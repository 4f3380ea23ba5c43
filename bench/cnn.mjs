// npm run bench:cnn (node --import tsx bench/cnn.mjs) — torchvision's ResNet-18 (random weights,
// BatchNorm statistics randomised and folded by the export: bench/shrink_models.py) pruned by
// `sculpt prune` to 90% unstructured, by global magnitude and layer by layer, at 1 × 3 × 224 × 224:
// sculpt's engine (1 and 2 threads) and its hybrid plan against onnxruntime-node (dense model, 1
// and 2 threads) and onnxruntime-web (wasm, SIMD, 1 thread) in the same process, runs alternated,
// medians; outputs compared with onnxruntime's on the pruned model. Appends to BENCHMARKS.md.
//
// Options: --runs N (10), --warmup N (20 untimed runs of each engine first), --sparsities a,b (0.9), --scopes global,layer, --no-append, --dir DIR (where the models are built and kept).
import { appendFileSync, mkdirSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import console from 'node:console';
import process from 'node:process';
import * as ort from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { machine } from './lib/measure.mjs';
import { ROOT, alternate, ceilingNote, ensureModel, keptMultiplyAdds, peerSessions, relError, roofEngines, sculptCli } from './lib/engines.mjs';

const DIMS = [1, 3, 224, 224];
/** Target of issue 12 (sculpt over onnxruntime-node, one thread each). */
const TARGET = 1.5;

function parseArgs(argv) {
  const o = { runs: 10, warmup: 20, sparsities: [0.9], scopes: ['global', 'layer'], append: true, dir: join(tmpdir(), 'sculpt-bench-cnn') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--runs') o.runs = Number(argv[++i]);
    else if (a === '--warmup') o.warmup = Number(argv[++i]);
    else if (a === '--sparsities') o.sparsities = argv[++i].split(',').map(Number);
    else if (a === '--scopes') o.scopes = argv[++i].split(',');
    else if (a === '--no-append') o.append = false;
    else if (a === '--dir') o.dir = argv[++i];
    else { console.error(`bench:cnn: unknown option ${a}`); process.exit(2); }
  }
  return o;
}

/** A seeded image-like input, the same for every engine. */
function input() {
  const n = DIMS.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) { s = (Math.imul(s, 1103515245) + 12345) >>> 0; data[i] = (s / 2 ** 32) * 4 - 2; }
  return { ort: (T) => ({ input: new T.Tensor('float32', data, DIMS) }), sculpt: { input: { dtype: 'float32', dims: DIMS, data } } };
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  mkdirSync(o.dir, { recursive: true });
  const dense = join(o.dir, 'resnet18.onnx');
  ensureModel(dense, 'shrink_models.py', [o.dir, 'resnet18']);
  const { loadSparseModel, SparseExecutor, kernelBuild, threadedKernels, readMachineCache } = await import(join(ROOT, 'src', 'index.ts'));
  const { HybridRunner } = await import(join(ROOT, 'src', 'api', 'hybrid.ts'));
  const { ceilingSpeedup } = await import(join(ROOT, 'src', 'sparse', 'roofline.ts'));
  const roofs = await roofEngines();
  const profile = readMachineCache()?.machine;
  const x = input();
  const loadBefore = loadavg()[0];
  const peers = await peerSessions(ort, ortWeb, dense);
  const { node1, node2, web } = peers;
  const rows = [];
  for (const scope of o.scopes) {
    for (const s of o.sparsities) {
      const pruned = join(o.dir, `resnet18-${scope}-${Math.round(s * 100)}.onnx`);
      rmSync(pruned, { force: true });
      const p = sculptCli(['prune', dense, '-o', pruned, '--sparsity', String(s), '--scope', scope, '--json']);
      const model = loadSparseModel(pruned);
      const ex = new SparseExecutor(model.graph, { engine: 'auto', machine: profile });
      const ex2 = new SparseExecutor(model.graph, { engine: 'auto', machine: profile, kernels: threadedKernels(2) });
      await ex2.ready();
      const check = await ort.InferenceSession.create(pruned, { intraOpNumThreads: 1 });
      const ref = (await check.run(x.ort(ort))).logits.data;
      await check.release();
      const ours = ex.run(x.sculpt).logits.data;
      const ours2 = ex2.run(x.sculpt).logits.data;
      if (ours2.some((v, i) => v !== ours[i])) throw new Error('sculpt with 2 threads differs from 1 thread');
      const hybrid = await HybridRunner.create(model.onnx, new SparseExecutor(model.graph, { engine: 'auto', machine: profile }), x.sculpt, 1);
      const engines = [
        roofs.roof,
        roofs.loaded,
        { run: () => ex.run(x.sculpt) },
        { run: () => ex2.run(x.sculpt) },
        { run: () => node1.run(x.ort(ort)) },
        { run: () => node2.run(x.ort(ort)) },
        { run: () => web.run(x.ort(ortWeb)) },
        ...(typeof hybrid === 'string' ? [] : [{ run: () => hybrid.run(x.sculpt) }]),
      ];
      const [, , sculptMs, sculpt2Ms, node1Ms, node2Ms, webMs, hybridMs] = await alternate(engines, o.runs, o.warmup);
      const hybridRel = typeof hybrid === 'string' ? undefined : relError((await hybrid.run(x.sculpt)).logits.data, ref);
      const cut = typeof hybrid === 'string' ? hybrid : hybrid.summary();
      if (typeof hybrid !== 'string') await hybrid.release();
      // The convolutions' share of the work: multiply-adds kept, each Conv at its real positions;
      // the ceiling: onnxruntime's time over those alone at the roofs.
      const { kept, all } = keptMultiplyAdds(ex);
      const peak = roofs.roof.best(), loadedPeak = roofs.loaded.best();
      const ceiling = ceilingSpeedup(node1Ms, kept, peak), loaded = ceilingSpeedup(node1Ms, kept, loadedPeak);
      const kinds = ex.layers.reduce((acc, l) => ({ ...acc, [l.kind]: (acc[l.kind] ?? 0) + 1 }), {});
      rows.push({ scope, s, density: p.target.densityAfter, workDensity: kept / all, peak, loadedPeak, ceiling, loaded, sculptMs, sculpt2Ms, node1Ms, node2Ms, webMs, hybridMs, hybridRel, cut, rel: relError(ours, ref), kinds });
      console.log(`${scope} ${s}: sculpt ${sculptMs.toFixed(1)} ms (2 threads ${sculpt2Ms.toFixed(1)}), onnxruntime-node ${node1Ms.toFixed(1)} (2 threads ${node2Ms.toFixed(1)}), onnxruntime-web ${webMs.toFixed(1)}, hybrid ${hybridMs?.toFixed(1) ?? '—'}; multiply-adds kept ${(100 * kept / all).toFixed(1)}%; roofs ${(peak / 1e9).toFixed(1)} and ${(loadedPeak / 1e9).toFixed(1)} GFLOP/s, ceilings ${ceiling.toFixed(2)}× and ${loaded.toFixed(2)}×; max relative error ${relError(ours, ref).toExponential(1)}`);
    }
  }
  await peers.release();
  const loadAfter = loadavg()[0];
  const m = machine();
  const cutText = (c) => (typeof c === 'string' ? `none (${c})` : `${c.sculptSegments} parts on sculpt, ${c.segments - c.sculptSegments} on onnxruntime`);
  const lines = [
    '',
    `## CNN: ResNet-18 at 1 × 3 × 224 × 224, unstructured magnitude pruning — ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    '',
    `Machine: ${m.nproc} × ${m.model}, ${m.memGiB.toFixed(1)} GiB, Node ${m.node}; load average ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after; kernels chosen with ${profile ? `the machine profile cached ${readMachineCache().measuredAt} (\`sculpt bench --machine\`)` : 'a machine profile measured in the run'}.`,
    `Command: \`npm run bench:cnn${process.argv.slice(2).length ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\`. Model: torchvision 0.14 \`resnet18()\` (random weights, BatchNorm statistics randomised, folded into the convolutions by the export, opset 13; bench/shrink_models.py), pruned by \`sculpt prune --sparsity S --scope global|layer\` (the 20 convolutions and the classifier). sculpt's engine (${kernelBuild()} kernels, im2col in WebAssembly, each Conv's kernel chosen for its real output positions; 2 threads: worker threads splitting each product's rows; the process runs with V8's --single-threaded-gc, as sculpt run and bench do with --threads 2) and its hybrid plan (the CSR layers on sculpt, the rest on onnxruntime-node, one thread) against onnxruntime-node ${ort.env.versions?.common ?? ''} on the dense model (1 and 2 threads) and onnxruntime-web ${ortWeb.env.versions?.web ?? ''} (wasm, SIMD, 1 thread); median of ${o.runs} rounds alternating the engines after ${o.warmup} warm-up runs of each; error: against onnxruntime on the pruned model. "Multiply-adds kept": the convolutions' work left, each layer weighted by its output positions (global magnitude on random weights prunes the wide late layers most, whose positions are few); a layer run dense counts its nonzeros too. Ceiling: onnxruntime-node's one-thread time over the time the kept multiply-adds alone take at a roof run in the same rounds (its fastest round; ${roofs.build} build): the register roof (kernels' peakMadd: 12 fused multiply-adds on 128-bit vectors in registers, no loads) bounds any 128-bit WebAssembly SIMD engine; the loaded roof (peakLoadMadd: each multiply-add fed by one 16-byte load from L1, no index loads) bounds any kernel that loads a vector per multiply-add, as an unstructured sparse product does.`,
    '',
    '| scope | sparsity | multiply-adds kept | sculpt, 1 thread | onnxruntime-node, 1 thread | speed-up | sculpt, 2 threads | scaling | onnxruntime-node, 2 threads | onnxruntime-web, 1 thread | speed-up over onnxruntime-web | hybrid plan | speed-up over onnxruntime-node | roofs: registers; loaded | ceilings over onnxruntime-node, 1 thread | max relative error (sculpt; hybrid) | kernels |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.scope} | ${(r.s * 100).toFixed(0)}% | ${(100 * r.workDensity).toFixed(1)}% | ${r.sculptMs.toFixed(1)} ms | ${r.node1Ms.toFixed(1)} ms | ${(r.node1Ms / r.sculptMs).toFixed(2)}× | ${r.sculpt2Ms.toFixed(1)} ms | ${(r.sculptMs / r.sculpt2Ms).toFixed(2)}× | ${r.node2Ms.toFixed(1)} ms | ${r.webMs.toFixed(1)} ms | ${(r.webMs / r.sculptMs).toFixed(2)}× | ${r.hybridMs !== undefined ? `${r.hybridMs.toFixed(1)} ms, ${cutText(r.cut)}` : cutText(r.cut)} | ${r.hybridMs !== undefined ? `${(r.node1Ms / r.hybridMs).toFixed(2)}×` : '—'} | ${(r.peak / 1e9).toFixed(1)}; ${(r.loadedPeak / 1e9).toFixed(1)} GFLOP/s | ${r.ceiling.toFixed(2)}×; ${r.loaded.toFixed(2)}× | ${r.rel.toExponential(1)}; ${r.hybridRel?.toExponential(1) ?? '—'} | ${Object.entries(r.kinds).map(([k, n]) => `${n} ${k}`).join(', ')} |`),
    '',
    ...rows.map((r) => `- ${r.scope} ${(r.s * 100).toFixed(0)}%: target ≥ ${TARGET}× onnxruntime-node (one thread each): ${r.node1Ms / Math.min(r.sculptMs, r.hybridMs ?? Infinity) >= TARGET ? 'met' : 'not met'}; ${ceilingNote(r.ceiling, r.loaded, TARGET, r.node1Ms / Math.min(r.sculptMs, r.hybridMs ?? Infinity))}.`),
  ];
  console.log(lines.join('\n'));
  if (o.append) appendFileSync(join(ROOT, 'BENCHMARKS.md'), `${lines.join('\n')}\n`);
}

main().catch((e) => { console.error(e); process.exit(1); });
