// npm run bench:shrink (node --import tsx bench/shrink.mjs) — structural channel pruning (`sculpt prune --pattern channel --sparsity 0.5
// --shrink`) of torchvision's ResNet-18 and MobileNetV2 (random weights, input 1×3×224×224) and a
// BERT-base-shaped encoder (12 × 768, 12 heads, MLP 3072, dynamic axes, 128 tokens), all built by
// bench/shrink_models.py: parameters, file size and latency against the dense original in
// onnxruntime-node and onnxruntime-web (WebAssembly, SIMD; one thread each; dense and shrunk
// sessions alternated in the same run, median), and the shrunk model's agreement with the
// channel-masked one. Appends to BENCHMARKS.md.
//
// Options: --runs N (30), --sparsity S (0.5), --models a,b (all), --no-append, --dir DIR (where the models are built and kept).
import { appendFileSync, mkdirSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import console from 'node:console';
import process from 'node:process';
import * as ort from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { machine } from './lib/measure.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const PYTHON = '/usr/bin/python3';

/** The benchmarked models: their inputs, output and the issue's targets (speed-up, file fraction). */
const MODELS = {
  resnet18: { feeds: imageFeeds, output: 'logits', speedup: 2, file: 0.4, what: 'torchvision `resnet18()`, opset 13, input 1×3×224×224' },
  mobilenet_v2: { feeds: imageFeeds, output: 'logits', speedup: 2, file: 0.4, what: 'torchvision `mobilenet_v2()`, opset 13, input 1×3×224×224' },
  bert_base: { feeds: tokenFeeds, output: 'last_hidden_state', speedup: 1.7, file: undefined, what: 'BERT-base-shaped encoder (Hugging Face BertModel written out), dynamic axes, opset 14, 1×128 tokens' },
};

function imageFeeds(T) {
  const x = new Float32Array(3 * 224 * 224).map((_, i) => Math.sin(i * 0.01));
  return { input: new T.Tensor('float32', x, [1, 3, 224, 224]) };
}

function tokenFeeds(T) {
  const ids = BigInt64Array.from({ length: 128 }, (_, i) => BigInt((i * 7919 + 101) % 30522));
  const mask = BigInt64Array.from({ length: 128 }, (_, i) => (i < 120 ? 1n : 0n));
  return { input_ids: new T.Tensor('int64', ids, [1, 128]), attention_mask: new T.Tensor('int64', mask, [1, 128]) };
}

function parseArgs(argv) {
  const o = { runs: 30, sparsity: 0.5, append: true, dir: join(tmpdir(), 'sculpt-bench-shrink'), models: Object.keys(MODELS) };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--runs') o.runs = Number(argv[++i]);
    else if (a === '--sparsity') o.sparsity = Number(argv[++i]);
    else if (a === '--no-append') o.append = false;
    else if (a === '--dir') o.dir = argv[++i];
    else if (a === '--models') o.models = argv[++i].split(',');
    else { console.error(`bench:shrink: unknown option ${a}`); process.exit(2); }
  }
  return o;
}

/** The CLI from the sources (through tsx: a stale dist/ would measure old code). */
function sculpt(args) {
  const argv = ['--import', 'tsx', join(ROOT, 'src', 'cli', 'dev.ts'), ...args];
  const t0 = performance.now();
  const r = spawnSync(process.execPath, argv, { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) { console.error(r.stderr); process.exit(1); }
  return { json: JSON.parse(r.stdout), seconds: (performance.now() - t0) / 1000 };
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

async function session(file) {
  return ort.InferenceSession.create(file, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' });
}

ortWeb.env.wasm.numThreads = 1;
ortWeb.env.wasm.simd = true;
async function webSession(file) {
  return ortWeb.InferenceSession.create(file, { executionProviders: ['wasm'], executionMode: 'sequential' });
}

/** Medians (ms) of `runs` alternated runs of sessions a and b. */
async function alternate(a, b, feeds, runs) {
  const [ta, tb] = [[], []];
  await a.run(feeds);
  await b.run(feeds);
  for (let i = 0; i < runs; i++) {
    let t0 = performance.now();
    await a.run(feeds);
    ta.push(performance.now() - t0);
    t0 = performance.now();
    await b.run(feeds);
    tb.push(performance.now() - t0);
  }
  return [median(ta), median(tb)];
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  mkdirSync(o.dir, { recursive: true });
  const r = spawnSync(PYTHON, [join(ROOT, 'bench', 'shrink_models.py'), o.dir], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(1);
  const loadBefore = loadavg()[0];
  const rows = [];
  for (const name of o.models) {
    const spec = MODELS[name];
    if (!spec) { console.error(`bench:shrink: unknown model ${name}; known: ${Object.keys(MODELS).join(', ')}`); process.exit(2); }
    const dense = join(o.dir, `${name}.onnx`);
    const small = join(o.dir, `${name}-shrunk.onnx`);
    const masked = join(o.dir, `${name}-masked.onnx`);
    const args = ['prune', dense, '-o', small, '--pattern', 'channel', '--sparsity', String(o.sparsity), '--shrink', '--json'];
    console.log(`sculpt ${args.join(' ')}`);
    const s = sculpt(args);
    // The masked reference (same selection, nothing removed) through the library.
    const { shrinkFile } = await import(join(ROOT, 'src', 'index.ts'));
    shrinkFile(dense, masked, { sparsity: o.sparsity, norm: 2, scope: 'layer', mask: true });
    const feeds = spec.feeds(ort);
    let [d, m, k] = [await session(dense), await session(small), await session(masked)];
    const ys = (await m.run(feeds))[spec.output].data;
    const ym = (await k.run(feeds))[spec.output].data;
    await k.release();
    let diff = 0;
    let max = 0;
    for (let i = 0; i < ys.length; i++) { diff = Math.max(diff, Math.abs(ys[i] - ym[i])); max = Math.max(max, Math.abs(ym[i])); }
    const [msDense, msSmall] = await alternate(d, m, feeds, o.runs);
    await d.release();
    await m.release();
    [d, m] = [await webSession(dense), await webSession(small)];
    const [webDense, webSmall] = await alternate(d, m, spec.feeds(ortWeb), o.runs);
    await d.release();
    await m.release();
    const groups = s.json.groups;
    rows.push({
      name, spec, seconds: s.seconds, paramsBefore: s.json.parameters.before, paramsAfter: s.json.parameters.after,
      bytesBefore: statSync(dense).size, bytesAfter: statSync(small).size, msDense, msSmall, webDense, webSmall,
      rel: diff / max, groups: groups.length, pinned: groups.filter((g) => g.pinned.length).length, removed: s.json.channels.removed, channels: s.json.channels.before,
    });
  }
  const loadAfter = loadavg()[0];
  const m = machine();
  const lines = [
    '',
    `## Structural shrinking: ${o.sparsity * 100}% of each channel group (heads of each attention) — ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    '',
    `Machine: ${m.nproc} × ${m.model}, ${m.memGiB.toFixed(1)} GiB, Node ${m.node}; load average ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after.`,
    `Command: \`npm run bench:shrink${process.argv.slice(2).length ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\`. Models (random weights, built by bench/shrink_models.py): ${rows.map((r) => `${r.name}: ${r.spec.what}`).join('; ')}. Latency: onnxruntime-node ${ort.env.versions?.common ?? ''} and onnxruntime-web ${ortWeb.env.versions?.web ?? ''} (wasm, SIMD), one thread each, median of ${o.runs} runs, dense and shrunk alternated.`,
    '',
    '| model | groups (pinned) | channels removed | parameters | file | onnxruntime-node | speed-up | onnxruntime-web | speed-up | shrunk vs masked |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.name} | ${r.groups} (${r.pinned}) | ${r.removed.toLocaleString('en')} of ${r.channels.toLocaleString('en')} | ${r.paramsBefore.toLocaleString('en')} → ${r.paramsAfter.toLocaleString('en')} | ${(r.bytesBefore / 1e6).toFixed(1)} → ${(r.bytesAfter / 1e6).toFixed(1)} MB (${(100 * r.bytesAfter / r.bytesBefore).toFixed(0)}%) | ${r.msDense.toFixed(1)} → ${r.msSmall.toFixed(1)} ms | ${(r.msDense / r.msSmall).toFixed(2)}× | ${r.webDense.toFixed(1)} → ${r.webSmall.toFixed(1)} ms | ${(r.webDense / r.webSmall).toFixed(2)}× | ${r.rel.toExponential(1)} |`),
    '',
    ...rows.map((r) => `- ${r.name}: \`sculpt prune --shrink\` took ${r.seconds.toFixed(1)} s (whole process); targets (issue 11, onnxruntime-node): ≥ ${r.spec.speedup}× faster (${r.msDense / r.msSmall >= r.spec.speedup ? 'met' : 'not met'})${r.spec.file === undefined ? '' : `, file ≤ ${r.spec.file * 100}% (${r.bytesAfter / r.bytesBefore <= r.spec.file ? 'met' : 'not met'})`}.`),
  ];
  console.log(lines.join('\n'));
  if (o.append) appendFileSync(join(ROOT, 'BENCHMARKS.md'), `${lines.join('\n')}\n`);
}

main().catch((e) => { console.error(e); process.exit(1); });
