/* global process, console, performance, crossOriginIsolated */
// npm run bench:browser — sculpt's sparse engine (the browser bundle, WebAssembly SIMD) against
// onnxruntime-web (wasm, SIMD, one thread) in the same Chromium page, on the same inputs: the
// fixture MLP (784-300-100-10) pruned to 90% and a 4096-4096-4096-1024 MLP (bench:sparse's model)
// pruned to 90% per layer, batch 1 and 16. sculpt runs the `.sculpt` file, onnxruntime-web the
// pruned ONNX model (dense storage, zeros kept). Runs alternate between the engines after warm-up;
// medians. Appends a section to BENCHMARKS.md (skip with --no-append).
// With --encoder: also bench:transformer's BERT-base-shaped encoder (bench/transformer_model.py,
// built once into $TMPDIR/sculpt-bench-transformer) pruned to 90% by global magnitude, 1 × 128
// tokens, onnxruntime-web on the dense model as in bench:transformer.
// With --threads T: both engines on T threads (sculpt's Web Workers, onnxruntime-web's own).
// Options: --repeats 31  --batch 1,16  --no-large  --encoder  --threads 1  --chromium /usr/bin/chromium
// Needs Debian's chromium (apt-get install chromium). Run it on a quiet machine.
import { register } from 'tsx/esm/api';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';

register();
const { Rng } = await import('../src/core/rng.ts');
const { pruneOptions } = await import('../src/core/options.ts');
const { pruneFile } = await import('../src/api/prune-file.ts');
const { packFile } = await import('../src/api/sparse-pack.ts');
const { mlpModel } = await import('./sparse-onnx-writer.ts');
const { buildBundle, openBrowser, serve, ROOT } = await import('../test/browser/page.ts');

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const repeats = Number(option('repeats', '31'));
const batches = option('batch', '1,16').split(',').map(Number);
const warmup = 10;
const append = !process.argv.includes('--no-append');
const large = !process.argv.includes('--no-large');
const encoder = process.argv.includes('--encoder');
const threads = Number(option('threads', '1'));
if (!Number.isInteger(threads) || threads < 1) {
  console.error(`bench:browser: --threads takes a whole number ≥ 1, got ${option('threads')}`);
  process.exit(1);
}
const chromiumPath = option('chromium', '/usr/bin/chromium');
if (!existsSync(chromiumPath)) {
  console.error(`bench:browser: ${chromiumPath} is missing; apt-get install chromium, or give --chromium PATH`);
  process.exit(1);
}
const fmt = (v, d = 2) => v.toFixed(d);
const ORT_DIST = join(ROOT, 'node_modules/onnxruntime-web/dist');
const ortVersion = JSON.parse(readFileSync(join(ORT_DIST, '../package.json'), 'utf8')).version;

// ---- models: pruned ONNX for onnxruntime-web, packed .sculpt for sculpt ----
const work = mkdtempSync(join(os.tmpdir(), 'sculpt-bench-browser-'));
const models = [];
function addModel(name, what, dense, options) {
  const pruned = join(work, `${name}-90.onnx`), packed = join(work, `${name}-90.sculpt`);
  pruneFile(dense, pruned, pruneOptions(options));
  const pack = packFile(pruned, packed);
  models.push({ name, what, onnx: readFileSync(pruned), sculpt: readFileSync(packed), packedBytes: pack.packedBytes, denseBytes: pack.denseBytes });
}
addModel('mlp', 'test/fixtures/mlp.onnx (784-300-100-10, Gemm + Relu), 90% global magnitude', join(ROOT, 'test/fixtures/mlp.onnx'), { sparsity: 0.9 });
if (large) {
  // bench:sparse's model: seeded Kaiming-normal weights, small biases.
  const sizes = [4096, 4096, 4096, 1024];
  const rng = new Rng(2024);
  const uniform = () => (rng.nextUint32() + 0.5) / 2 ** 32;
  const normals = (n, std) => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i += 2) {
      const r = Math.sqrt(-2 * Math.log(uniform())) * std, t = 2 * Math.PI * uniform();
      out[i] = r * Math.cos(t);
      if (i + 1 < n) out[i + 1] = r * Math.sin(t);
    }
    return out;
  };
  const weights = sizes.slice(1).map((out, l) => normals(out * sizes[l], Math.sqrt(2 / sizes[l])));
  const biases = sizes.slice(1).map((out) => normals(out, 0.01));
  const dense = join(work, 'mlp4096.onnx');
  writeFileSync(dense, mlpModel(sizes, weights, biases, 'gemm'));
  addModel('mlp4096', 'MLP 4096-4096-4096-1024 (Gemm + Relu, bench:sparse\'s weights), 90% per layer', dense, { sparsity: 0.9, scope: 'layer' });
}

// The encoder: built by PyTorch (once), pruned to 90% by `sculpt prune`'s library call, packed.
let encoderModel;
if (encoder) {
  const { spawnSync } = await import('node:child_process');
  const dir = join(os.tmpdir(), 'sculpt-bench-transformer');
  const dense = join(dir, 'bert_base.onnx');
  if (!existsSync(dense)) {
    const r = spawnSync('/usr/bin/python3', [join(ROOT, 'bench', 'transformer_model.py'), dense], { stdio: 'inherit' });
    if (r.status !== 0) process.exit(1);
  }
  const pruned = join(work, 'bert-90.onnx'), packed = join(work, 'bert-90.sculpt');
  pruneFile(dense, pruned, pruneOptions({ sparsity: 0.9, scope: 'global' }));
  const pack = packFile(pruned, packed);
  encoderModel = { name: 'bert-90', what: 'BERT-base-shaped encoder (bench/transformer_model.py), 90% global magnitude, 1 × 128 tokens; onnxruntime-web on the dense model', onnx: readFileSync(dense), sculpt: readFileSync(packed), packedBytes: pack.packedBytes, denseBytes: pack.denseBytes };
}

// ---- the page ----
const files = {
  '/index.html': '<!doctype html><meta charset="utf-8"><title>sculpt vs onnxruntime-web</title><link rel="icon" href="data:,">',
  '/sculpt.mjs': buildBundle(),
  // Both engines as every measurement in the page sets them up: onnxruntime-web on `threads` wasm threads.
  '/engines.mjs': `export async function engines(threads) {
  const s = await import('/sculpt.mjs');
  const ort = await import('/ort/ort.wasm.min.mjs');
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.simd = true;
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmPaths = '/ort/';
  const get = async (p) => new Uint8Array(await (await fetch(p)).arrayBuffer());
  // With threads, each engine's idle workers spin for a while after its run (sculpt's 10 ms,
  // onnxruntime-web's longer: with 50 ms pauses sculpt's 4096 MLP at batch 1 took 3.0 ms a run,
  // with 200 ms 1.4): a pause before each sample keeps them off the other engine's cores.
  const settle = () => (threads > 1 ? new Promise((r) => setTimeout(r, 200)) : Promise.resolve());
  return { s, ort, get, settle };
}
`,
  '/ort/ort.wasm.min.mjs': readFileSync(join(ORT_DIST, 'ort.wasm.min.mjs')),
  '/ort/ort-wasm-simd-threaded.mjs': readFileSync(join(ORT_DIST, 'ort-wasm-simd-threaded.mjs')),
  '/ort/ort-wasm-simd-threaded.wasm': readFileSync(join(ORT_DIST, 'ort-wasm-simd-threaded.wasm')),
};
for (const m of encoderModel ? [...models, encoderModel] : models) {
  files[`/${m.name}.onnx`] = m.onnx;
  files[`/${m.name}.sculpt`] = m.sculpt;
}
const site = await serve(files);
const loadAtStart = os.loadavg().map((v) => v.toFixed(2)).join(' / ');
const { browser, page, problems } = await openBrowser(chromiumPath);
const rows = [];
try {
  await page.goto(`${site.url}/index.html`, { waitUntil: 'load' });
  const chromiumVersion = browser.version();
  // The machine profile for the kernels' choice, measured once before either engine has run (with
  // threads, onnxruntime-web's spinning workers skewed a profile measured later).
  const machine = await page.evaluate(async () => {
    const s = await import('/sculpt.mjs');
    await s.prepareKernels();
    return s.measureMachine();
  });
  for (const m of models) {
    for (const batch of batches) {
      const r = await page.evaluate(async ({ name, batch, repeats, warmup, threads, machine }) => {
        const { s, ort, get, settle } = await (await import('/engines.mjs')).engines(threads);
        const model = await s.loadModel(await get(`/${name}.sculpt`), { batchHint: batch, threads, machine });
        const session = await ort.InferenceSession.create(await get(`/${name}.onnx`), { executionProviders: ['wasm'], graphOptimizationLevel: 'all', executionMode: 'sequential', intraOpNumThreads: threads, interOpNumThreads: 1 });
        const input = model.inputs[0].name, output = model.outputs[0].name;
        const width = model.inputs[0].dims[1];
        // Same inputs for both: a fixed pseudo-random batch.
        const x = new Float32Array(batch * width);
        let state = 12345;
        for (let i = 0; i < x.length; i++) { state = (Math.imul(state, 1103515245) + 12345) >>> 0; x[i] = state / 2 ** 32 - 0.5; }
        const feeds = { [input]: new ort.Tensor('float32', x, [batch, width]) };
        const runSculpt = () => model.run({ [input]: { dims: [batch, width], data: x } })[output].data;
        const runOrt = async () => (await session.run(feeds))[output].data;
        for (let i = 0; i < warmup; i++) { runSculpt(); await runOrt(); }
        // A sample is k back-to-back runs, k chosen so that a sample takes about 5 ms: a page's
        // clock is coarsened (5 µs when cross-origin isolated, 100 µs otherwise).
        const perRun = async (f) => { const t0 = performance.now(); for (let i = 0; i < 20; i++) await f(); return (performance.now() - t0) / 20; };
        const kS = Math.max(1, Math.ceil(5 / Math.max(await perRun(runSculpt), 1e-3)));
        const kO = Math.max(1, Math.ceil(5 / Math.max(await perRun(runOrt), 1e-3)));
        const tS = [], tO = [];
        let yS, yO;
        for (let i = 0; i < repeats; i++) {
          await settle();
          let t0 = performance.now();
          for (let j = 0; j < kS; j++) yS = runSculpt();
          tS.push((performance.now() - t0) / kS);
          await settle();
          t0 = performance.now();
          for (let j = 0; j < kO; j++) yO = await runOrt();
          tO.push((performance.now() - t0) / kO);
        }
        let d = 0, ref = 0;
        for (let i = 0; i < yO.length; i++) { d = Math.max(d, Math.abs(yS[i] - yO[i])); ref = Math.max(ref, Math.abs(yO[i])); }
        await session.release();
        const median = (a) => { const v = [...a].sort((p, q) => p - q); const h = v.length >> 1; return v.length % 2 ? v[h] : (v[h - 1] + v[h]) / 2; };
        return { sculptMs: median(tS), ortMs: median(tO), sculptBest: Math.min(...tS), ortBest: Math.min(...tO), maxRelError: d / ref, isolated: crossOriginIsolated, runsPerSample: [kS, kO], kernels: model.layers.map((l) => l.kind).join('/') };
      }, { name: m.name, batch, repeats, warmup, threads, machine });
      const row = { model: m, batch, ...r, speedup: r.ortMs / r.sculptMs };
      rows.push(row);
      console.log(`${m.name} batch ${batch}: onnxruntime-web ${fmt(r.ortMs, 3)} ms, sculpt ${fmt(r.sculptMs, 3)} ms [${r.kernels}], speed-up ${fmt(row.speedup)}× (fastest runs ${fmt(r.ortBest / r.sculptBest)}×), max rel error ${r.maxRelError.toExponential(1)}; runs per sample ${r.runsPerSample.join('/')}${r.isolated ? '' : ', page NOT cross-origin isolated'}`);
    }
  }
  if (encoderModel) {
    const runs = Math.max(5, Math.min(repeats, 11));
    const r = await page.evaluate(async ({ runs, threads, machine }) => {
      const { s, ort, get, settle } = await (await import('/engines.mjs')).engines(threads);
      const T = 128;
      const ids = Array.from({ length: T }, (_, i) => (i * 7919 + 101) % 30522), mask = Array.from({ length: T }, (_, i) => (i < T - 8 ? 1 : 0));
      const model = await s.loadModel(await get('/bert-90.sculpt'), { batchHint: T, threads, machine });
      const session = await ort.InferenceSession.create(await get('/bert-90.onnx'), { executionProviders: ['wasm'], graphOptimizationLevel: 'all', executionMode: 'sequential', intraOpNumThreads: threads, interOpNumThreads: 1 });
      const feeds = { input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, T]), attention_mask: new ort.Tensor('int64', BigInt64Array.from(mask, BigInt), [1, T]) };
      const mine = { input_ids: { dtype: 'int64', dims: [1, T], data: Float64Array.from(ids) }, attention_mask: { dtype: 'int64', dims: [1, T], data: Float64Array.from(mask) } };
      const runSculpt = () => model.run(mine).last_hidden_state.data;
      const runOrt = async () => (await session.run(feeds)).last_hidden_state.data;
      runSculpt(); await runOrt();
      const tS = [], tO = [];
      let yS, yO;
      for (let i = 0; i < runs; i++) {
        await settle();
        let t0 = performance.now();
        yS = runSculpt();
        tS.push(performance.now() - t0);
        await settle();
        t0 = performance.now();
        yO = await runOrt();
        tO.push(performance.now() - t0);
      }
      await session.release();
      const median = (a) => { const v = [...a].sort((p, q) => p - q); const h = v.length >> 1; return v.length % 2 ? v[h] : (v[h - 1] + v[h]) / 2; };
      return { sculptMs: median(tS), ortMs: median(tO), sculptBest: Math.min(...tS), ortBest: Math.min(...tO), isolated: crossOriginIsolated, runs, kernels: `${model.layers.filter((l) => l.kind === 'csr').length} csr of ${model.layers.length}`, outputs: [yS.length, yO.length] };
    }, { runs, threads, machine });
    // The outputs differ by pruning (sculpt runs the pruned model, onnxruntime-web the dense one):
    // agreement is checked in Node against onnxruntime-node on the pruned model (bench:transformer).
    encoderModel.result = { ...r, speedup: r.ortMs / r.sculptMs };
    console.log(`bert-90 1×128: onnxruntime-web (dense) ${fmt(r.ortMs, 1)} ms, sculpt ${fmt(r.sculptMs, 1)} ms [${r.kernels}], speed-up ${fmt(r.ortMs / r.sculptMs)}× (fastest runs ${fmt(r.ortBest / r.sculptBest)}×)`);
  }
  if (problems.length > 0) throw new Error(`the page reported: ${problems.join('; ')}`);
  const loadAtEnd = os.loadavg().map((v) => v.toFixed(2)).join(' / ');

  const table = [
    '| model | batch | onnxruntime-web ms | sculpt ms | speed-up (medians) | speed-up, fastest samples | sculpt kernels | .sculpt / pruned .onnx | max rel error |',
    '| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |',
    ...rows.map((r) => `| ${r.model.name} | ${r.batch} | ${fmt(r.ortMs, 3)} | ${fmt(r.sculptMs, 3)} | **${fmt(r.speedup)}×** | ${fmt(r.ortBest / r.sculptBest)}× | ${r.kernels} | ${fmt(100 * r.model.packedBytes / r.model.denseBytes, 1)}% | ${r.maxRelError.toExponential(1)} |`),
  ];
  console.log(['', ...table].join('\n'));
  if (append) {
    const date = new Date().toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
    const section = [
      '',
      `## In the browser: sculpt's bundle vs onnxruntime-web in one Chromium page${threads > 1 ? `, ${threads} threads` : ''} — ${date}`,
      '',
      `Command: \`npm run bench:browser${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}\`  `,
      `Machine: ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} logical cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.arch()}; Debian Chromium ${chromiumVersion} headless (playwright-core), onnxruntime-web ${ortVersion} (wasm EP, SIMD, graph optimizations all); both engines on ${threads} thread${threads > 1 ? 's' : ''}; load average ${loadAtStart} at start, ${loadAtEnd} at end  `,
      `Models: ${models.map((m) => `${m.name}: ${m.what}`).join('; ')}. sculpt runs the \`.sculpt\` file through dist/browser/sculpt.mjs (kernels chosen per layer by the roofline on a machine profile measured once in the page, before either engine runs), onnxruntime-web the pruned ONNX file (zeros stored densely). Same inputs; after ${warmup} warm-ups, ${repeats} samples per engine, alternating between the engines, each sample the mean of k back-to-back runs (k so that a sample takes about 5 ms; the page is cross-origin isolated: ${rows.every((r) => r.isolated) ? 'yes' : 'no'}, so its clock has 5 µs steps); medians of the samples; max rel error = max|sculpt − ort| / max|ort|.`,
      '',
      ...table,
      '',
      ...(encoderModel ? [
        `Encoder (\`--encoder\`): ${encoderModel.what}; ${encoderModel.result.runs} runs per engine, alternating, one inference each, medians. onnxruntime-web ${fmt(encoderModel.result.ortMs, 1)} ms, sculpt ${fmt(encoderModel.result.sculptMs, 1)} ms (${encoderModel.result.kernels} weight layers; .sculpt ${fmt(encoderModel.packedBytes / 1e6, 1)} MB): **${fmt(encoderModel.result.speedup)}×** (fastest runs ${fmt(encoderModel.result.ortBest / encoderModel.result.sculptBest)}×); issue 12's target ≥ 3×: ${encoderModel.result.speedup >= 3 ? 'met' : 'not met'}. sculpt's outputs on this model agree with onnxruntime-node's on the pruned model within bench:transformer's error (6e-7).`,
        '',
      ] : []),
    ].join('\n');
    if (!existsSync(join(ROOT, 'BENCHMARKS.md'))) writeFileSync(join(ROOT, 'BENCHMARKS.md'), '# sculpt benchmarks\n');
    appendFileSync(join(ROOT, 'BENCHMARKS.md'), section);
    console.log('appended to BENCHMARKS.md');
  }
} finally {
  await browser.close();
  await site.close();
  rmSync(work, { recursive: true, force: true });
}
