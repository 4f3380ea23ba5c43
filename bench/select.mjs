// npm run bench:select — global magnitude selection at 90% over a 141.6M-parameter checkpoint:
// the whole `sculpt prune` process versus PyTorch 1.13 `prune.global_unstructured`, same file,
// same run. Appends a dated section to BENCHMARKS.md.
//
// Options: --runs N (3), --blocks N (20; fewer for a quick try), --sparsity S (0.9),
//          --skip-sculpt, --skip-torch, --no-append.
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, openSync, readSync, closeSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Buffer } from 'node:buffer';
import console from 'node:console';
import process from 'node:process';
import { ensureBertLike } from './lib/bert-like.mjs';
import { fmtMB, fmtS, machine, measure, median } from './lib/measure.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const PYTHON = '/usr/bin/python3';
/** Issue 12: PyTorch's pruning step over sculpt's whole process. */
const TARGET_RATIO = 30;

function parseArgs(argv) {
  const o = { runs: 3, blocks: 20, sparsity: 0.9, sculpt: true, torch: true, append: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--runs') o.runs = Number(argv[++i]);
    else if (a === '--blocks') o.blocks = Number(argv[++i]);
    else if (a === '--sparsity') o.sparsity = Number(argv[++i]);
    else if (a === '--skip-sculpt') o.sculpt = false;
    else if (a === '--skip-torch') o.torch = false;
    else if (a === '--no-append') o.append = false;
    else { console.error(`bench:select: unknown option ${a}`); process.exit(2); }
  }
  if (!(o.runs >= 1 && o.blocks >= 1 && o.sparsity > 0 && o.sparsity < 1)) {
    console.error('bench:select: --runs and --blocks must be ≥ 1, --sparsity in (0, 1)');
    process.exit(2);
  }
  return o;
}

/** Counts exact zeros in the float32 payload of a safetensors file, streaming. */
function countZeros(path) {
  const fd = openSync(path, 'r');
  try {
    const len = Buffer.alloc(8);
    readSync(fd, len, 0, 8, 0);
    let pos = 8 + Number(len.readBigUInt64LE());
    const size = statSync(path).size;
    const buf = Buffer.alloc(1 << 24);
    let zeros = 0;
    while (pos < size) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, size - pos), pos);
      const f = new Float32Array(buf.buffer, buf.byteOffset, n >> 2);
      for (let i = 0; i < f.length; i++) if (f[i] === 0) zeros++;
      pos += n;
    }
    return zeros;
  } finally {
    closeSync(fd);
  }
}

function torchAvailable() {
  const r = spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' });
  return r.status === 0;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const m = machine();
  const name = o.blocks === 20 ? 'bert-like.safetensors' : `bert-like-${o.blocks}.safetensors`;
  const ckpt = join(ROOT, 'bench', 'data', name);
  const gen = ensureBertLike(ckpt, o.blocks);
  const relCkpt = relative(ROOT, ckpt);
  console.log(`checkpoint ${relCkpt}: ${gen.parameters.toLocaleString('en-US')} parameters, ${fmtMB(gen.bytes)}` +
    (gen.generated ? ` (generated in ${fmtS(gen.seconds)})` : ' (cached)'));
  const expectedPruned = Math.round(o.sparsity * gen.parameters);

  const cli = join(ROOT, 'bin', 'sculpt.js');
  const sculptCmd = ['prune', relCkpt, '-o', '<tmp>.safetensors', '--sparsity', String(o.sparsity), '--scope', 'global'];
  if (o.sculpt && !existsSync(join(ROOT, 'dist', 'src', 'cli', 'main.js'))) {
    console.error('bench:select: dist/src/cli/main.js is missing: run `npm run build` first (or pass --skip-sculpt)');
    process.exit(1);
  }
  const haveTorch = o.torch && torchAvailable();
  if (o.torch && !haveTorch) console.log(`PyTorch side skipped: \`${PYTHON} -c 'import torch'\` fails (apt-get install python3-torch)`);

  const tmp = mkdtempSync(join(tmpdir(), 'sculpt-bench-select-'));
  const sculptRuns = [];
  const torchRuns = [];
  let sculptZeros;
  try {
    // One untimed run of each side first: it brings the checkpoint into the page cache and lets
    // this VM fault in the guest memory that page cache and PyTorch's tensors need, which
    // otherwise lands on whichever timed run comes first (seen: 3.8 s for sculpt's first run,
    // 1.5 s for its third; 46 s and 40 s for PyTorch's).
    if (o.sculpt) {
      const out = join(tmp, 'warm-up.safetensors');
      await measure(process.execPath, [cli, ...sculptCmd.map((a) => (a === '<tmp>.safetensors' ? out : a))], { cwd: ROOT });
      rmSync(out, { force: true });
    }
    if (haveTorch) await measure(PYTHON, [join(ROOT, 'bench', 'lib', 'torch_select.py'), ckpt, String(o.sparsity)], { cwd: ROOT });
    for (let r = 0; r < o.runs; r++) {
      if (o.sculpt) {
        const out = join(tmp, `pruned-${r}.safetensors`);
        const args = [cli, ...sculptCmd.map((a) => (a === '<tmp>.safetensors' ? out : a))];
        const res = await measure(process.execPath, args, { cwd: ROOT });
        if (res.code !== 0) throw new Error(`sculpt exited with ${res.code}: ${res.stderr.trim().split('\n').slice(-3).join(' | ')}`);
        if (r === 0) sculptZeros = countZeros(out);
        rmSync(out, { force: true });
        sculptRuns.push(res);
        console.log(`  sculpt run ${r + 1}: ${fmtS(res.seconds)}, peak RSS ${fmtMB(res.peakRssBytes)}`);
      }
      if (haveTorch) {
        const res = await measure(PYTHON, [join(ROOT, 'bench', 'lib', 'torch_select.py'), ckpt, String(o.sparsity)], { cwd: ROOT });
        if (res.code !== 0) throw new Error(`PyTorch script exited with ${res.code}: ${res.stderr.trim().split('\n').slice(-3).join(' | ')}`);
        const j = JSON.parse(res.stdout.trim().split('\n').pop());
        torchRuns.push({ ...res, ...j });
        console.log(`  torch  run ${r + 1}: prune step ${fmtS(j.prune_s)}, load ${fmtS(j.load_s)}, process ${fmtS(res.seconds)}, peak RSS ${fmtMB(res.peakRssBytes)}`);
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }

  const rows = [];
  const s = sculptRuns.length ? { whole: median(sculptRuns.map((x) => x.seconds)), rss: median(sculptRuns.map((x) => x.peakRssBytes)) } : undefined;
  const t = torchRuns.length ? {
    step: median(torchRuns.map((x) => x.prune_s)), load: median(torchRuns.map((x) => x.load_s)),
    whole: median(torchRuns.map((x) => x.seconds)), rss: median(torchRuns.map((x) => x.peakRssBytes)),
    pruned: torchRuns[0].pruned, threads: torchRuns[0].threads, version: torchRuns[0].torch, blas: torchRuns[0].blas ?? [],
  } : undefined;
  if (s) rows.push(['sculpt prune (whole process: read, select, write)', fmtS(s.whole), '—', fmtMB(s.rss), `${(s.rss / gen.bytes).toFixed(2)}×`]);
  if (t) rows.push([`PyTorch ${t.version} global_unstructured (${t.threads} threads)`, fmtS(t.whole), fmtS(t.step), fmtMB(t.rss), `${(t.rss / gen.bytes).toFixed(2)}×`]);
  const head = ['', 'whole process', 'pruning step', 'peak RSS', 'RSS / checkpoint'];
  const table = [head, head.map(() => '---'), ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
  const lines = [];
  if (s && sculptZeros !== undefined) {
    lines.push(`- sculpt output: ${sculptZeros.toLocaleString('en-US')} zeros; expected round(${o.sparsity}·N) = ${expectedPruned.toLocaleString('en-US')}` +
      (sculptZeros === expectedPruned ? ' ✓' : ' ✗ MISMATCH'));
  }
  if (t) lines.push(`- PyTorch mask: ${t.pruned.toLocaleString('en-US')} pruned` + (t.pruned === expectedPruned ? ' ✓' : ' ✗ MISMATCH') + `; load ${fmtS(t.load)} (median)`);
  if (t) lines.push(`- PyTorch peer: ${t.threads} intra-op thread${t.threads === 1 ? '' : 's'} (torch.get_num_threads(), its default here), BLAS ${t.blas.length ? t.blas.map((b) => `\`${b}\``).join(', ') : 'not mapped'}`);
  if (s) lines.push('- sculpt: one thread selecting and masking (histograms, kept bits and zeroing in WebAssembly SIMD, in place on the chunks read); helper threads read ahead (selection passes, write pass) and write behind (direct I/O where the file system takes it)');
  if (s && t) {
    const ratio = t.step / s.whole;
    lines.push(`- **PyTorch pruning step / sculpt whole process: ${ratio.toFixed(1)}×** (target ≥ ${TARGET_RATIO}×: ${ratio >= TARGET_RATIO ? 'met' : 'not met'})`);
  }
  if (s) {
    const r = s.rss / gen.bytes;
    lines.push(`- **sculpt peak RSS / checkpoint size: ${r.toFixed(2)}** (target < 1.5: ${r < 1.5 ? 'met' : 'not met'})`);
  }
  if (s || t) {
    const each = (xs) => xs.map((x) => x.toFixed(2)).join(', ');
    lines.push(`- each run (s): ${[s && `sculpt ${each(sculptRuns.map((x) => x.seconds))}`, t && `PyTorch step ${each(torchRuns.map((x) => x.prune_s))}`].filter(Boolean).join('; ')}`);
  }
  if (!t) lines.push(o.torch ? '- PyTorch side skipped: torch is not importable with /usr/bin/python3' : '- PyTorch side skipped (--skip-torch)');
  if (!s) lines.push('- sculpt side skipped (--skip-sculpt)');

  console.log(`\n${table}\n${lines.join('\n')}`);

  if (o.append) {
    const date = new Date().toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
    const section = [
      '', `## bench:select — ${date}`, '',
      `Machine: ${m.nproc} × ${m.model}, ${m.memGiB.toFixed(0)} GiB RAM, Node ${m.node}.`,
      `Checkpoint: \`${relCkpt}\`, ${o.blocks} BERT-base-shaped blocks, ${gen.parameters.toLocaleString('en-US')} float32 parameters, ${fmtMB(gen.bytes)}.`,
      `Command: \`npm run bench:select${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}\` — medians of ${o.runs} runs, interleaved.`,
      `- sculpt: \`node bin/sculpt.js ${sculptCmd.join(' ')}\``,
      `- PyTorch: \`bench/lib/torch_select.py\`: load with numpy into \`nn.Parameter\`s, then \`prune.global_unstructured(params, pruning_method=prune.L1Unstructured, amount=${o.sparsity})\``,
      '', table, '', ...lines, '',
    ].join('\n');
    const file = join(ROOT, 'BENCHMARKS.md');
    if (!existsSync(file)) writeFileSync(file, '# sculpt benchmarks\n\nEach section is appended by a `bench/` script; figures of sculpt and its peer come from the same run.\n');
    appendFileSync(file, section);
    console.log(`appended to ${relative(ROOT, file)}`);
  }
}

main().catch((e) => {
  console.error(`bench:select: ${e.message}`);
  process.exit(1);
});
