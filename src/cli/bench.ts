/** `sculpt bench MODEL`: onnxruntime dense against sculpt's sparse engine, with the roofline's prediction. */
import type { Command } from 'commander';
import { extname } from 'node:path';
import { benchFile, benchSweep, type BenchPlan, type BenchResult, type SweepPoint } from '../api/sparse-bench.js';
import { machineProfile, type MachineResult } from '../api/sparse-machine.js';
import { SculptError } from '../core/errors.js';
import { BATCH_COLUMNS, WIDE_COLUMNS, type KernelRates } from '../sparse/roofline.js';
import { assertNotInput, writeFileAtomic } from '../formats/fsutil.js';
import { renderReport } from '../report/html.js';
import { collectList, parseInteger, parseSparsity } from './args.js';
import { ProgressBar, formatFraction, formatTable } from './output.js';

interface BenchFlags {
  machine?: boolean;
  remeasure?: boolean;
  machineProfile?: string;
  batch?: string;
  threads: string;
  runs: string;
  warmup: string;
  seed: string;
  plot?: string;
  sparsities: string[];
  shape: string[];
  profileRuns: string;
  json?: boolean;
}

/** `--shape name=1x128` (repeatable; commas also separate). */
function parseShapes(values: readonly string[]): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const v of values) {
    const m = /^(.+)=(\d+(?:x\d+)*)$/.exec(v.trim());
    if (!m) throw new SculptError(`--shape ${v}: expected NAME=DIMS with DIMS like 1x128`);
    out[m[1]] = m[2].split('x').map(Number);
  }
  return out;
}

const DEFAULT_SWEEP = ['0.5', '0.7', '0.8', '0.9', '0.95'];

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('time a model on onnxruntime (dense) and on sculpt\'s sparse engine, beside the roofline\'s prediction')
    .argument('[model]', 'model file (.onnx or .sculpt)')
    .option('--machine', 'measure this machine\'s bandwidth and kernel rates once and cache them (no model needed)')
    .option('--remeasure', 'measure the machine again instead of using the cache')
    .option('--machine-profile <file>', 'use this fixed profile (JSON, as bench --machine --json prints) instead of measuring or the cache')
    .option('--batch <b>', 'rows of the random input batch (default: the model\'s fixed batch, else 1)')
    .option('--threads <t>', 'threads for both engines: onnxruntime intra-op threads, sculpt worker threads for its weight products (above 1, runs of the two engines alternate with 50 ms pauses, so that neither\'s idle threads spin into the other\'s run)', '1')
    .option('--runs <n>', 'timed runs per engine; the medians are reported', '20')
    .option('--warmup <n>', 'untimed runs per engine first (V8 settles sculpt\'s JavaScript over about 20)', '20')
    .option('--seed <n>', 'seed of the random input', '0')
    .option('--plot <file.html>', 'also prune the model in memory to several sparsities, measure each, and write a report page')
    .option('--sparsities <list>', 'sparsities for --plot (comma-separated)', collectList, [])
    .option('--shape <name=dims>', 'dims of a model input, e.g. input_ids=1x128 for a dynamic sequence axis (repeatable)', collectList, [])
    .option('--profile-runs <n>', 'runs per engine timed node by node for "where the time goes" (0: none)', '5')
    .option('--json', 'print one JSON object instead of the tables')
    .addHelpText('after', `
The machine profile is cached in $XDG_CACHE_HOME/sculpt/machine.json (default ~/.cache/sculpt).
A fixed profile (--machine-profile FILE, or SCULPT_MACHINE_PROFILE=FILE for every command, run
included) makes kernel choices and predictions independent of how busy the machine is.
Examples:
  sculpt bench --machine
  sculpt bench --machine --json > machine.json
  sculpt bench mlp-90.onnx --machine-profile machine.json
  sculpt bench mlp-90.onnx --batch 1 --threads 1 --runs 50
  sculpt bench mlp.onnx --plot speedup.html --sparsities 0.5,0.8,0.9,0.95
  sculpt bench bert.onnx --shape input_ids=1x128 --shape attention_mask=1x128`)
    .action(async (model: string | undefined, flags: BenchFlags) => {
      if (flags.machine) {
        if (model) throw new SculptError('bench: give either MODEL or --machine, not both');
        const m = machineProfile({ remeasure: flags.remeasure === true, profileFile: flags.machineProfile });
        process.stdout.write((flags.json ? JSON.stringify(m) : machineText(m)) + '\n');
        return;
      }
      if (!model) throw new SculptError('bench: missing MODEL (an .onnx or .sculpt file), or --machine to measure the machine');
      const options = {
        batch: flags.batch === undefined ? undefined : parseInteger('--batch', flags.batch, 1),
        threads: parseInteger('--threads', flags.threads, 1),
        runs: parseInteger('--runs', flags.runs, 1),
        warmup: parseInteger('--warmup', flags.warmup, 0),
        seed: parseInteger('--seed', flags.seed),
        profileRuns: parseInteger('--profile-runs', flags.profileRuns, 0),
        shapes: parseShapes(flags.shape),
      };
      const sparsities = (flags.sparsities.length > 0 ? flags.sparsities : DEFAULT_SWEEP).map((s) => parseSparsity('--sparsities', s));
      if (flags.plot !== undefined) {
        if (extname(flags.plot).toLowerCase() !== '.html') throw new SculptError(`--plot ${flags.plot}: the report is an HTML page; name it X.html`);
        assertNotInput(flags.plot, [model]);
      }
      const m = machineProfile({ remeasure: flags.remeasure === true, profileFile: flags.machineProfile });
      const result = await benchFile(model, { ...options, machine: m.machine });
      let sweep: SweepPoint[] | undefined;
      if (flags.plot !== undefined) {
        const bar = new ProgressBar('sweep', sparsities.length);
        sweep = await benchSweep(model, sparsities, { ...options, machine: m.machine }, (done, total) => bar.update(done, `${done}/${total} sparsities`));
        bar.finish();
        writeFileAtomic(flags.plot, new TextEncoder().encode(await plotPage(result, sweep)));
      }
      const json = { ...result, machine: { source: m.source, path: m.path, measuredAt: m.measuredAt, ...m.machine }, sweep, plot: flags.plot };
      process.stdout.write((flags.json ? JSON.stringify(json) : benchText(result, m, sweep, flags.plot)) + '\n');
    });
}

const gb = (v: number) => (v / 1e9).toFixed(1);
const ms = (v: number) => v.toFixed(3);
const times = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}x` : 'inf');

function sourceText(m: MachineResult): string {
  if (m.source === 'file') return 'fixed, from file';
  return m.source === 'cache' ? `cached ${m.measuredAt}` : 'measured now';
}

/** A kernel's rates as `machineText` prints them. */
function rates(r: KernelRates): string {
  return r.wide === undefined ? `${gb(r.vector)} / ${gb(r.batch)} GFLOP/s (batch 1 / ${BATCH_COLUMNS})` : `${gb(r.vector)} / ${gb(r.batch)} / ${gb(r.wide)} GFLOP/s (batch 1 / ${BATCH_COLUMNS} / ${WIDE_COLUMNS})`;
}

function machineText(m: MachineResult): string {
  const p = m.machine;
  return [
    `machine profile (${sourceText(m)}; ${m.path})`,
    `  bandwidth ${gb(p.bandwidth)} GB/s (stream ${p.streamBandwidth ? gb(p.streamBandwidth) : '?'}), cache ${gb(p.cacheBandwidth)} GB/s`,
    `  dense kernel ${rates(p.denseFlops)}`,
    `  CSR kernel   ${rates(p.sparseFlops)}`,
    ...(p.roofFlops ? [`  roofs       ${gb(p.roofFlops.registers)} / ${gb(p.roofFlops.loaded)} GFLOP/s (fused multiply-adds in registers / each fed by a load)`] : []),
  ].join('\n');
}

/** The plan line: the fastest of the plans measured, each one's time, and how the hybrid cuts the graph. */
function planText(p: BenchPlan): string {
  const names = { sculpt: 'sculpt', onnxruntime: 'onnxruntime', hybrid: 'hybrid' } as const;
  const times = (Object.keys(names) as (keyof typeof names)[]).filter((n) => p.ms[n] !== undefined).map((n) => `${n} ${ms(p.ms[n]!)} ms`).join(', ');
  const h = p.hybrid;
  const how = h
    ? `hybrid: ${h.sculptSegments} part${h.sculptSegments === 1 ? '' : 's'} (${h.sculptNodes} nodes) on sculpt's sparse kernels, ${h.segments - h.sculptSegments} (${h.onnxruntimeNodes} nodes) on onnxruntime, max relative error ${h.maxRelError.toExponential(2)}`
    : `no hybrid plan: ${p.hybridUnavailable}`;
  return `  plan: ${p.chosen} is fastest (${times}); ${how}`;
}

function benchText(r: BenchResult, m: MachineResult, sweep: SweepPoint[] | undefined, plot: string | undefined): string {
  const rows = r.layers.map((l) => [
    l.name, `${l.shape[0]}x${l.shape[1]}`, l.calls > 1 ? `${l.columns} x${l.calls}` : String(l.columns), formatFraction(l.density, 3), l.kernel, ms(l.measuredDenseMs), ms(l.measuredSparseMs), times(l.measuredSpeedup),
    ms(l.predictedDenseMs), ms(l.predictedSparseMs), times(l.predictedSpeedup), formatFraction(l.crossoverDensity, 3),
  ]);
  const perLayer = r.layers.some((l) => l.columns !== r.batch || l.calls !== 1);
  const lines = [
    `${r.model}: ${r.inputs.map((i) => `${i.name} ${i.dims.join('x')}`).join(', ')} (${perLayer ? 'columns per weight product by layer below' : `${r.batch} row${r.batch > 1 ? 's' : ''} per weight product`}), onnxruntime vs sculpt, ${r.threads} thread${r.threads > 1 ? 's' : ''} each, medians of ${r.runs} runs`,
    `  onnxruntime dense ${ms(r.denseMs)} ms, sculpt sparse ${ms(r.sparseMs)} ms: speed-up ${times(r.speedup)} (roofline predicts ${times(r.predictedSpeedup)} for the weight layers)`,
    `  max relative error ${r.maxRelError.toExponential(2)}; machine profile ${sourceText(m)} (${m.path})`,
    ...(r.plan ? [planText(r.plan)] : []),
    '',
    formatTable(['layer', 'matrix', 'columns', 'density', 'kernel', 'dense ms', 'csr ms', 'meas. x', 'pred. dense', 'pred. csr', 'pred. x', 'crossover'], rows,
      [false, false, true, true, false, true, true, true, true, true, true, true]),
  ];
  if (r.profile) lines.push('', ...profileText(r.profile));
  if (sweep) {
    lines.push('', formatTable(['sparsity', 'onnxruntime ms', 'sculpt ms', 'speed-up', 'predicted', 'FLOP count', 'kernels'],
      sweep.map((p) => [formatFraction(p.sparsity, 2), ms(p.denseMs), ms(p.sparseMs), times(p.speedup), times(p.predictedSpeedup), times(1 / (1 - p.sparsity)), p.kernels.join('/')]),
      [true, true, true, true, true, true, false]));
  }
  if (plot) lines.push(`wrote ${plot}`);
  return lines.join('\n');
}

/** Where the time goes: the operator types that take most of either engine's time, side by side. */
function profileText(p: NonNullable<BenchResult['profile']>): string[] {
  const total = (xs: readonly { ms: number }[]) => xs.reduce((s, x) => s + x.ms, 0);
  const [st, ot] = [total(p.sculpt), total(p.onnxruntime)];
  const top = 10;
  const rows: string[][] = [];
  for (let i = 0; i < Math.min(top, Math.max(p.sculpt.length, p.onnxruntime.length)); i++) {
    const [a, b] = [p.sculpt[i], p.onnxruntime[i]];
    rows.push([a ? `${a.op} (${a.nodes})` : '', a ? ms(a.ms) : '', a ? `${(100 * a.ms / st).toFixed(1)}%` : '', b ? `${b.op} (${b.nodes})` : '', b ? ms(b.ms) : '', b ? `${(100 * b.ms / ot).toFixed(1)}%` : '']);
  }
  const m = p.model;
  return [
    `where the time goes (ms per inference, mean of ${p.runs} profiled runs; onnxruntime's kernels after its own fusions): sculpt ${ms(st)} ms in ${p.sculpt.length} op type${p.sculpt.length === 1 ? '' : 's'}, onnxruntime ${ms(ot)} ms in ${p.onnxruntime.length}`,
    formatTable(['sculpt op (nodes)', 'ms', 'share', 'onnxruntime kernel (nodes)', 'ms', 'share'], rows, [false, true, true, false, true, true]),
    `whole model by the roofline: ${ms(m.predictedMs)} ms predicted, ${ms(m.weightMeasuredMs + m.otherMeasuredMs)} ms measured (onnxruntime ${ms(ot)} ms)`,
    formatTable(['part (nodes)', 'predicted ms', 'measured ms', 'measured / predicted'], [
      [`weight layers (${m.weightNodes})`, ms(m.weightPredictedMs), ms(m.weightMeasuredMs), ratio(m.weightMeasuredMs, m.weightPredictedMs)],
      ...m.classes.map((c) => [`${c.class}s (${c.nodes})`, ms(c.predictedMs), ms(c.measuredMs), ratio(c.measuredMs, c.predictedMs)]),
    ], [false, true, true, true]),
    'activation products at the dense kernel\'s rate for their columns; vector ops (Softmax, LayerNorm, GELU, Exp, …) at their flops per element on the register roof; memory ops at their bytes over cache or memory bandwidth; shape ops free',
  ];
}

/** measured / predicted, or — when nothing was predicted. */
function ratio(measured: number, predicted: number): string {
  return predicted > 0 ? `${(measured / predicted).toFixed(2)}×` : '—';
}

async function plotPage(r: BenchResult, sweep: SweepPoint[]): Promise<string> {
  return renderReport({
    title: `sculpt bench: ${r.model}`,
    subtitle: `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, batch ${r.batch}, ${r.threads} thread(s) each engine, medians of ${r.runs} runs`,
    summary: [
      `As given: onnxruntime ${ms(r.denseMs)} ms, sculpt ${ms(r.sparseMs)} ms, speed-up ${times(r.speedup)}, max relative error ${r.maxRelError.toExponential(2)}.`,
      'Sweep: every prunable weight pruned in memory to each sparsity (per layer, unstructured magnitude). Measured = onnxruntime dense time / sculpt time; ' +
        'predicted = roofline time of sculpt\'s dense kernels / its chosen kernels (weight layers only); FLOP count = 1 / density.',
    ],
    speedup: {
      points: sweep.flatMap((p) => [
        { kind: 'measured', sparsity: p.sparsity, speedup: p.speedup },
        { kind: 'predicted', sparsity: p.sparsity, speedup: p.predictedSpeedup },
      ]),
      flopLine: true,
    },
    tables: [{
      title: 'Sweep',
      columns: ['sparsity', 'onnxruntime ms', 'sculpt ms', 'measured speed-up', 'predicted speed-up', 'max rel error', 'kernels'],
      rows: sweep.map((p) => [p.sparsity, Number(p.denseMs.toFixed(3)), Number(p.sparseMs.toFixed(3)), Number(p.speedup.toFixed(2)), Number(p.predictedSpeedup.toFixed(2)), p.maxRelError.toExponential(2), p.kernels.join('/')]),
    }],
  });
}
