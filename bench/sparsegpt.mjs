// npm run bench:sparsegpt — sequential SparseGPT at 50% (layer scope) on a GPT-2-small-shaped
// model (124M parameters, random weights: the time does not depend on them), 128 calibration
// windows of 128 tokens: the whole `sculpt prune` process (read, calibrate stage by stage,
// reconstruct, write), its wall time and peak RSS against the model file, and PyTorch 1.13
// running the same algorithm (bench/sparsegpt_torch.py) on the same machine. Appends to BENCHMARKS.md.
//
// Options: --samples N (128), --seq-len L (128), --skip-torch, --no-append, --model FILE (reuse).
import { appendFileSync, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import console from 'node:console';
import process from 'node:process';
import { fmtMB, fmtS, machine, measure } from './lib/measure.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const PYTHON = '/usr/bin/python3';

function parseArgs(argv) {
  const o = { samples: 128, seqLen: 128, torch: true, append: true, model: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--samples') o.samples = Number(argv[++i]);
    else if (a === '--seq-len') o.seqLen = Number(argv[++i]);
    else if (a === '--skip-torch') o.torch = false;
    else if (a === '--no-append') o.append = false;
    else if (a === '--model') o.model = argv[++i];
    else { console.error(`bench:sparsegpt: unknown option ${a}`); process.exit(2); }
  }
  return o;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (!existsSync(join(ROOT, 'dist', 'src', 'cli', 'main.js'))) {
    console.error('bench:sparsegpt: dist/src/cli/main.js is missing: run `npm run build` first');
    process.exit(2);
  }
  const dir = join(tmpdir(), 'sculpt-bench-sparsegpt');
  mkdirSync(dir, { recursive: true });
  const model = o.model ?? join(dir, 'gpt2-small.onnx');
  if (!existsSync(model)) {
    console.log(`building ${model} (scripts/fixtures/make_gpt.py --gpt2-small) ...`);
    const r = spawnSync(PYTHON, [join(ROOT, 'scripts', 'fixtures', 'make_gpt.py'), '--gpt2-small', '--out', dir], { stdio: 'inherit' });
    if (r.status !== 0) process.exit(1);
  }
  const text = join(ROOT, 'test', 'fixtures', 'gpt', 'eval.txt');
  const out = join(dir, 'gpt2-small-sgpt50.onnx');
  const modelBytes = statSync(model).size;
  const loadBefore = loadavg()[0];
  const args = [join(ROOT, 'bin', 'sculpt.js'), 'prune', model, '-o', out, '--sparsity', '0.5', '--scope', 'layer', '--criterion', 'sparsegpt',
    '--calibration', `text:${text}`, '--tokenizer', 'bytes', '--calibration-samples', String(o.samples), '--seq-len', String(o.seqLen), '--json'];
  console.log(`sculpt: node ${args.slice(1).join(' ')}`);
  rmSync(out, { force: true });
  // The inner GNU time gives the CPU seconds (user + sys): on a shared machine, wall time is the load's.
  const s = await measure('/usr/bin/time', ['-f', 'cpu %U %S', process.execPath, ...args]);
  if (s.code !== 0) { console.error(s.stderr); process.exit(1); }
  const cpu = (() => { const m = /cpu ([\d.]+) ([\d.]+)\s*$/.exec(s.stderr); return m ? Number(m[1]) + Number(m[2]) : NaN; })();
  const j = JSON.parse(s.stdout.trim().split('\n').pop());
  const removed = j.target.zerosAfter - j.target.zerosBefore;
  let torch;
  if (o.torch) {
    const targs = [join(ROOT, 'bench', 'sparsegpt_torch.py'), '--text', text, '--samples', String(o.samples), '--seq-len', String(o.seqLen), '--threads', '2'];
    console.log(`torch: ${PYTHON} ${targs.join(' ')}`);
    const t = await measure('/usr/bin/time', ['-f', 'cpu %U %S', PYTHON, ...targs]);
    const m = /cpu ([\d.]+) ([\d.]+)\s*$/.exec(t.stderr);
    t.cpu = m ? Number(m[1]) + Number(m[2]) : NaN;
    t.stdout = t.stdout.trim();
    if (t.code !== 0) console.error(t.stderr);
    else torch = { ...t, report: t.stdout.trim().split('\n').pop() };
  }
  const loadAfter = loadavg()[0];
  const ratio = s.peakRssBytes / modelBytes;
  const lines = [
    '',
    `## SparseGPT, sequential, 50% on a GPT-2-small-shaped model — ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    '',
    `Machine: ${(() => { const m = machine(); return `${m.nproc} × ${m.model}, ${m.memGiB.toFixed(1)} GiB, Node ${m.node}`; })()}; load average ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after (the machine was shared with other engineers' jobs).`,
    `Command: \`npm run bench:sparsegpt${process.argv.slice(2).length ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\`. Model: ${(modelBytes / 1e6).toFixed(0)} MB ONNX (12 layers, d = 768, vocab 50257, random weights), ${j.target.count.toLocaleString('en')} weights in the 48 attention/MLP matrices; calibration ${o.samples} windows of ${o.seqLen} tokens (\`--tokenizer bytes\`).`,
    '',
    '| what | wall time | CPU time (user + sys) | peak RSS | RSS / model file |',
    '| --- | --- | --- | --- | --- |',
    `| sculpt prune --criterion sparsegpt --scope layer (whole process) | ${fmtS(s.seconds)} | ${fmtS(cpu)} | ${fmtMB(s.peakRssBytes)} | ${ratio.toFixed(2)}× |`,
    ...(torch ? [`| PyTorch 1.13 sequential SparseGPT (bench/sparsegpt_torch.py, 2 threads, whole process) | ${fmtS(torch.seconds)} | ${fmtS(torch.cpu)} | ${fmtMB(torch.peakRssBytes)} | ${(torch.peakRssBytes / modelBytes).toFixed(2)}× |`] : []),
    '',
    `- sculpt removed ${removed.toLocaleString('en')} of ${j.target.count.toLocaleString('en')} (${(removed / j.target.count).toFixed(4)}); ${j.calibration?.stages ?? '?'} sequential stages`,
    ...(torch ? [`- PyTorch: ${torch.report}`] : []),
    `- **time: ${fmtS(s.seconds)}** (target ≤ 600 s: ${s.seconds <= 600 ? 'met' : 'not met'}); **peak RSS / model file: ${ratio.toFixed(2)}** (target ≤ 2.5: ${ratio <= 2.5 ? 'met' : 'not met'})`,
  ];
  console.log(lines.join('\n'));
  if (o.append) appendFileSync(join(ROOT, 'BENCHMARKS.md'), `${lines.join('\n')}\n`);
}

main().catch((e) => { console.error(e); process.exit(1); });
