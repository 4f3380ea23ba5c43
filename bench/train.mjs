/* global process, console */
// npm run bench:train — one epoch of LeNet-300-100 on the full Fashion-MNIST (Adam, lr 1.2e-3,
// batch 60): the whole sculpt training process (start-up, data loading, training, test
// evaluation, saving the model) against the same in PyTorch 1.13 (Debian's /usr/bin/python3,
// 2 threads), interleaved in the same run. Appends a dated section to BENCHMARKS.md.
// Options: --runs N (3)  --backend wasm|cpu|auto  --torch-threads 2[,1]  --skip-torch  --no-append
import { appendFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { machine, measure, median } from './lib/measure.mjs';

const PYTHON = '/usr/bin/python3';
const DATA = '/usr/share/datasets/fashion-mnist';
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const runs = Number(opt('runs', '3'));
const backend = opt('backend', 'auto');
const append = !args.includes('--no-append');
const torchThreads = opt('torch-threads', '2').split(',').map(Number);

if (!existsSync(join(DATA, 'train-images-idx3-ubyte.gz'))) {
  console.error(`bench:train needs the full Fashion-MNIST in ${DATA} (apt-get install dataset-fashion-mnist)`);
  process.exit(2);
}
let torch = !args.includes('--skip-torch');
let torchNote = '';
if (torch) {
  const probe = spawnSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    torch = false;
    torchNote = `PyTorch peer skipped: ${PYTHON} cannot import torch (apt-get install python3-torch)`;
    console.log(torchNote);
  } else torchNote = `PyTorch ${probe.stdout.trim()} (${PYTHON}), torch.set_num_threads(${torchThreads.join(' and ')}), BLAS ${blasLibrary()}`;
}

/**
 * The BLAS Debian's PyTorch calls through libblas.so.3: the reference BLAS makes its matrix products
 * about 20× slower than OpenBLAS (apt-get install libopenblas0-pthread), so the section says which.
 */
function blasLibrary() {
  const r = spawnSync('readlink', ['-f', '/etc/alternatives/libblas.so.3-x86_64-linux-gnu'], { encoding: 'utf8' });
  const lib = r.status === 0 ? r.stdout.trim() : '';
  if (/openblas/.test(lib)) return `OpenBLAS (${lib})`;
  if (/blas/.test(lib)) return `the reference BLAS (${lib}) — install libopenblas0-pthread for a fair peer`;
  return 'unknown';
}

const sculpt = [];
const peer = new Map(torchThreads.map((t) => [t, []]));
const torchLines = new Map();
let sculptLine = '';
for (let i = 0; i < runs; i++) {
  const out = mkdtempSync(join(tmpdir(), 'sculpt-bench-train-'));
  const s = await measure(process.execPath, ['bench/train-run.mjs', out, backend]);
  rmSync(out, { recursive: true, force: true });
  if (s.code !== 0) throw new Error(`sculpt run failed: ${s.stderr}`);
  sculptLine = s.stdout.trim().split('\n').pop();
  sculpt.push(s.seconds);
  console.log(`run ${i + 1}: sculpt ${s.seconds.toFixed(2)} s (${sculptLine})`);
  for (const threads of torch ? torchThreads : []) {
    const t = await measure(PYTHON, ['bench/train_torch.py', DATA, String(threads)]);
    if (t.code !== 0) throw new Error(`torch run failed: ${t.stderr}`);
    torchLines.set(threads, t.stdout.trim().split('\n').pop());
    peer.get(threads).push(t.seconds);
    console.log(`run ${i + 1}: torch  ${t.seconds.toFixed(2)} s (${torchLines.get(threads)})`);
  }
}
const m = machine();
const load = (await import('node:os')).loadavg()[0].toFixed(2);
const rows = [`| sculpt (TF.js ${backend}, whole process) | ${median(sculpt).toFixed(2)} s | ${sculpt.map((x) => x.toFixed(2)).join(', ')} | ${sculptLine} |`];
for (const [threads, xs] of torch ? peer : []) {
  rows.push(`| PyTorch, ${threads} thread${threads === 1 ? '' : 's'} (whole process) | ${median(xs).toFixed(2)} s | ${xs.map((x) => x.toFixed(2)).join(', ')} | ${torchLines.get(threads)} |`);
}
const ref = torch ? median(peer.get(torchThreads[0])) : NaN;
const verdict = torch ? `sculpt / PyTorch (${torchThreads[0]} threads) = ${(median(sculpt) / ref).toFixed(2)} (issue 12 target ≤ 0.7: ${median(sculpt) / ref <= 0.7 ? "met" : "not met"}).` : torchNote;
const section = [
  '',
  `## Training: one epoch of LeNet-300-100 on Fashion-MNIST — ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
  '',
  `Machine: ${m.nproc} × ${m.model}, ${m.memGiB.toFixed(1)} GiB, Node ${m.node}; load average at the end ${load}. Command: \`npm run bench:train -- ${args.join(' ')}\`.`,
  `Adam lr 1.2e-3, batch 60, 60000 training images, then test accuracy on 10000; wall time of the whole process, ${runs} interleaved runs. Peer: ${torchNote}.`,
  '',
  '| what | median | runs | last run |',
  '| --- | --- | --- | --- |',
  ...rows,
  '',
  verdict,
  '',
].join('\n');
console.log(section);
if (append) appendFileSync('BENCHMARKS.md', section);
