// npm run bench:shrink (node --import tsx bench/shrink.mjs) — structural channel pruning (`sculpt prune --pattern channel --sparsity 0.5
// --shrink`) of torchvision's ResNet-18 and MobileNetV2 (random weights, input 1×3×224×224, built
// by bench/shrink_models.py): parameters, file size and onnxruntime-node latency (one thread,
// dense and shrunk sessions alternated in the same run, median) against the dense original, and
// the shrunk model's agreement with the channel-masked one. Appends to BENCHMARKS.md.
//
// Options: --runs N (30), --sparsity S (0.5), --no-append, --dir DIR (where the models are built and kept).
import { appendFileSync, mkdirSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import console from 'node:console';
import process from 'node:process';
import * as ort from 'onnxruntime-node';
import { machine } from './lib/measure.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const PYTHON = '/usr/bin/python3';

function parseArgs(argv) {
  const o = { runs: 30, sparsity: 0.5, append: true, dir: join(tmpdir(), 'sculpt-bench-shrink') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--runs') o.runs = Number(argv[++i]);
    else if (a === '--sparsity') o.sparsity = Number(argv[++i]);
    else if (a === '--no-append') o.append = false;
    else if (a === '--dir') o.dir = argv[++i];
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

async function main() {
  const o = parseArgs(process.argv.slice(2));
  mkdirSync(o.dir, { recursive: true });
  const r = spawnSync(PYTHON, [join(ROOT, 'bench', 'shrink_models.py'), o.dir], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(1);
  const loadBefore = loadavg()[0];
  const rows = [];
  const x = new Float32Array(3 * 224 * 224).map((_, i) => Math.sin(i * 0.01));
  const feeds = { input: new ort.Tensor('float32', x, [1, 3, 224, 224]) };
  for (const name of ['resnet18', 'mobilenet_v2']) {
    const dense = join(o.dir, `${name}.onnx`);
    const small = join(o.dir, `${name}-shrunk.onnx`);
    const masked = join(o.dir, `${name}-masked.onnx`);
    const args = ['prune', dense, '-o', small, '--pattern', 'channel', '--sparsity', String(o.sparsity), '--shrink', '--json'];
    console.log(`sculpt ${args.join(' ')}`);
    const s = sculpt(args);
    // The masked reference (same selection, nothing removed) through the library.
    const { shrinkFile } = await import(join(ROOT, 'src', 'index.ts'));
    shrinkFile(dense, masked, { sparsity: o.sparsity, norm: 2, scope: 'layer', mask: true });
    const [d, m, k] = [await session(dense), await session(small), await session(masked)];
    await d.run(feeds);
    const ys = (await m.run(feeds)).logits.data;
    const ym = (await k.run(feeds)).logits.data;
    let diff = 0;
    let max = 0;
    for (let i = 0; i < ys.length; i++) { diff = Math.max(diff, Math.abs(ys[i] - ym[i])); max = Math.max(max, Math.abs(ym[i])); }
    const td = [];
    const ts = [];
    for (let i = 0; i < o.runs; i++) {
      let t0 = performance.now();
      await d.run(feeds);
      td.push(performance.now() - t0);
      t0 = performance.now();
      await m.run(feeds);
      ts.push(performance.now() - t0);
    }
    const groups = s.json.groups;
    rows.push({
      name, seconds: s.seconds, paramsBefore: s.json.parameters.before, paramsAfter: s.json.parameters.after,
      bytesBefore: statSync(dense).size, bytesAfter: statSync(small).size, msDense: median(td), msSmall: median(ts),
      rel: diff / max, groups: groups.length, pinned: groups.filter((g) => g.pinned.length).length, removed: s.json.channels.removed, channels: s.json.channels.before,
    });
  }
  const loadAfter = loadavg()[0];
  const m = machine();
  const lines = [
    '',
    `## Structural shrinking: ${o.sparsity * 100}% of each channel group, ResNet-18 and MobileNetV2 — ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    '',
    `Machine: ${m.nproc} × ${m.model}, ${m.memGiB.toFixed(1)} GiB, Node ${m.node}; load average ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after.`,
    `Command: \`npm run bench:shrink${process.argv.slice(2).length ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\`. Models: torchvision 0.14 \`resnet18()\` and \`mobilenet_v2()\`, random weights, default export (opset 13). Latency: onnxruntime-node ${ort.env.versions?.common ?? ''}, one thread, input 1×3×224×224, median of ${o.runs} runs, dense and shrunk alternated.`,
    '',
    '| model | groups (pinned) | channels removed | parameters | file | latency | speed-up | shrunk vs masked |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.name} | ${r.groups} (${r.pinned}) | ${r.removed.toLocaleString('en')} of ${r.channels.toLocaleString('en')} | ${r.paramsBefore.toLocaleString('en')} → ${r.paramsAfter.toLocaleString('en')} | ${(r.bytesBefore / 1e6).toFixed(1)} → ${(r.bytesAfter / 1e6).toFixed(1)} MB (${(100 * r.bytesAfter / r.bytesBefore).toFixed(0)}%) | ${r.msDense.toFixed(1)} → ${r.msSmall.toFixed(1)} ms | ${(r.msDense / r.msSmall).toFixed(2)}× | ${r.rel.toExponential(1)} |`),
    '',
    ...rows.map((r) => `- ${r.name}: \`sculpt prune --shrink\` took ${r.seconds.toFixed(1)} s (whole process); targets (issue 11): ≥ 2× faster (${r.msDense / r.msSmall >= 2 ? 'met' : 'not met'}), file ≤ 40% (${r.bytesAfter / r.bytesBefore <= 0.4 ? 'met' : 'not met'}).`),
  ];
  console.log(lines.join('\n'));
  if (o.append) appendFileSync(join(ROOT, 'BENCHMARKS.md'), `${lines.join('\n')}\n`);
}

main().catch((e) => { console.error(e); process.exit(1); });
