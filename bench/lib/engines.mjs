// Helpers shared by the whole-model benchmarks (bench:transformer, bench:cnn): the CLI from the
// sources, engines timed in alternating rounds, the error of one output against another, and the
// compute roofs and ceilings (bench:sparse uses ceilingNote too).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import console from 'node:console';
import process from 'node:process';
import { median } from './measure.mjs';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The CLI from the sources (through tsx: a stale dist/ would measure old code); its last stdout line as JSON. */
export function sculptCli(args) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli', 'dev.ts'), ...args], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) { console.error(r.stderr); process.exit(1); }
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

/** max |ours − ref| / max |ref|. */
export function relError(ours, ref) {
  let d = 0, m = 0;
  for (let i = 0; i < ref.length; i++) { d = Math.max(d, Math.abs(ours[i] - ref[i])); m = Math.max(m, Math.abs(ref[i])); }
  return d / m;
}

/** Builds the dense model with `script` (PyTorch, through Debian's python3) unless `path` is there. */
export function ensureModel(path, script, args) {
  if (existsSync(path)) return;
  const r = spawnSync('/usr/bin/python3', [join(ROOT, 'bench', script), ...args], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(1);
}

/** The peers on the dense model: onnxruntime-node on 1 and 2 threads, onnxruntime-web (wasm, SIMD) on 1. */
export async function peerSessions(ort, ortWeb, path) {
  ortWeb.env.wasm.numThreads = 1;
  ortWeb.env.wasm.simd = true;
  const node1 = await ort.InferenceSession.create(path, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' });
  const node2 = await ort.InferenceSession.create(path, { intraOpNumThreads: 2, interOpNumThreads: 1, executionMode: 'sequential' });
  const web = await ortWeb.InferenceSession.create(path, { executionProviders: ['wasm'], executionMode: 'sequential' });
  return { node1, node2, web, release: async () => { for (const s of [node1, node2, web]) await s.release(); } };
}

/**
 * Medians (ms) of `runs` rounds, each running every engine once in turn, after `warmup` untimed
 * runs of each, with a pause before each timed run (src/api/sparse-ort.ts ENGINE_SETTLE_MS):
 * onnxruntime's thread pool spins for a while after a run, and sculpt's workers for 10 ms, and
 * would take the second core from the engine after them. The warm-up: V8's optimizing compiler
 * keeps recompiling sculpt's JavaScript over its first ~20 runs of a model, on a background thread
 * that takes a core from one of sculpt's two threads while it compiles (a BERT-base encoder's 2-thread
 * runs: 70–90 ms over the first 10, 61–66 ms from the 20th; with --no-opt 63–68 ms from the first).
 */
export async function alternate(engines, runs, warmup = 1) {
  const { ENGINE_SETTLE_MS } = await import(join(ROOT, 'src', 'api', 'sparse-ort.ts'));
  const times = engines.map(() => []);
  for (const e of engines) for (let i = 0; i < warmup; i++) await e.run();
  for (let i = 0; i < runs; i++) {
    for (let j = 0; j < engines.length; j++) {
      await sleep(ENGINE_SETTLE_MS);
      const t0 = performance.now();
      await engines[j].run();
      times[j].push(performance.now() - t0);
    }
  }
  return times.map(median);
}

/**
 * The multiply-adds one run of `ex` must do at the least: each weight layer's nonzero weights times
 * the columns its products multiplied in the last run (a layer the engine runs dense is counted by
 * its nonzeros too, the work a perfect sparse kernel would do); `all` counts every weight.
 */
export function keptMultiplyAdds(ex) {
  const constants = ex.constantValues();
  let kept = 0, all = 0;
  for (const l of ex.layers) {
    let nz = l.nonzeros;
    const w = l.kind === 'csr' ? undefined : constants.get(l.weight)?.data;
    if (w) { nz = 0; for (let i = 0; i < w.length; i++) if (w[i] !== 0) nz++; }
    kept += nz * l.columns * l.calls;
    all += l.rows * l.cols * l.columns * l.calls;
  }
  return { kept, all };
}

/**
 * The whole model split three ways, from `runs` profiled runs (ms are per run): the weight layers,
 * the products of two activations (attention's QKᵀ and its product with V, dense by nature: nothing
 * in them is pruned), and every other op. `activationMultiplyAdds` counts the latter products'
 * multiply-adds from the operand dims (roofline.ts activationMultiplyAdds, as predictNode counts them).
 */
export async function modelSplit(ex, feeds, runs = 3) {
  const { activationMultiplyAdds: productsOf } = await import(join(ROOT, 'src', 'sparse', 'roofline.ts'));
  const timings = new Map(), sizes = new Map();
  for (let i = 0; i < runs; i++) ex.run(feeds, { timings, sizes });
  const weights = new Set(ex.layers.map((l) => l.node));
  let activationMultiplyAdds = 0, weightMs = 0, activationMs = 0, otherMs = 0;
  for (const [node, ms] of timings) {
    if (weights.has(node.name)) { weightMs += ms; continue; }
    const s = sizes.get(node);
    const op = ex.runsAs(node).replace(/ \(fused\)$/, '');
    const products = s && productsOf(op, s.inputs, s.outputs);
    if (products !== undefined) {
      activationMultiplyAdds += (products * s.calls) / runs;
      activationMs += ms;
    } else otherMs += ms;
  }
  return { activationMultiplyAdds, weightMs: weightMs / runs, activationMs: activationMs / runs, otherMs: otherMs / runs };
}

/**
 * The two roofs as engines for `alternate`, run in the same rounds as the engines they bound:
 * `roof`, kernels' peakMadd (12 fused multiply-adds in registers, no loads), and `loaded`,
 * peakLoadMadd (each fused multiply-add fed by a 16-byte load from L1, as an unstructured sparse
 * product's must be). `best()` is the fastest round's flops per second: a roof is what the machine
 * can do, and the fastest round makes the ceilings the most generous to the engines.
 */
export async function roofEngines() {
  const { Kernels } = await import(join(ROOT, 'src', 'sparse', 'kernels.ts'));
  const { peakRound, peakLoadRound } = await import(join(ROOT, 'src', 'sparse', 'roofline.ts'));
  const k = new Kernels();
  const engine = (round) => {
    let best = 0;
    return {
      run: () => {
        const t0 = performance.now();
        const flops = round(k);
        best = Math.max(best, flops / ((performance.now() - t0) / 1000));
      },
      best: () => best,
    };
  };
  return { roof: engine(peakRound), loaded: engine(peakLoadRound), build: k.build };
}

/**
 * What the ceilings say of a target: out of reach of 128-bit SIMD, or the share of the roof it
 * needs. `ceiling` assumes nothing but the kept multiply-adds at the register roof, `loaded` the
 * same at the loaded roof (`bound` adds what else the ceiling counts).
 */
export function ceilingNote(ceiling, loaded, target, measured, bound = '') {
  const both = `ceiling ${ceiling.toFixed(2)}× at the register roof, ${loaded.toFixed(2)}× at the loaded roof${bound}`;
  if (ceiling < target) return `${both}: out of reach of any 128-bit WebAssembly SIMD kernel on this machine, even one that did nothing but the kept multiply-adds, all from registers`;
  if (loaded < target) return `${both}: out of reach of any kernel that loads one vector per multiply-add (the target needs ${(100 * target / ceiling).toFixed(0)}% of the register-roof ceiling, measured ${(100 * measured / ceiling).toFixed(0)}%)`;
  return `${both}: the target needs ${(100 * target / loaded).toFixed(0)}% of the loaded-roof ceiling (measured ${(100 * measured / loaded).toFixed(0)}%)`;
}
