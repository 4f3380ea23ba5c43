import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, MACHINE_PROFILE, ROOT, sculpt, tempDir } from './helpers.js';

// Every bench run in this file reads and writes its machine cache under a temporary folder.
const cacheHome = tempDir('sculpt-cache-');
process.env.XDG_CACHE_HOME = cacheHome;
const cacheFile = join(cacheHome, 'sculpt', 'machine.json');
/** What test/fixtures/machine-profile.json holds: every run below but the measuring ones uses it. */
const FIXED = JSON.parse(readFileSync(MACHINE_PROFILE, 'utf8')).machine;
/** A CLI run that measures the machine (no fixed profile). */
const MEASURE = { SCULPT_MACHINE_PROFILE: '' };

test.after(() => rmSync(cacheHome, { recursive: true, force: true }));

test('bench --machine measures once, writes the cache, then reuses it; --remeasure refreshes it', () => {
  rmSync(join(cacheHome, 'sculpt'), { recursive: true, force: true });
  const first = sculpt(['bench', '--machine'], ROOT, MEASURE);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /measured now/);
  assert.ok(first.stdout.includes(cacheFile));
  const cached = JSON.parse(readFileSync(cacheFile, 'utf8'));
  assert.equal(cached.version, 2);
  // Whatever the machine's speed (or load), a measurement is positive and finite.
  const rates = (m: typeof FIXED) => [m.bandwidth, m.cacheBandwidth, m.denseFlops.vector, m.denseFlops.batch, m.denseFlops.wide, m.sparseFlops.vector, m.sparseFlops.batch, m.sparseFlops.wide];
  assert.ok(rates(cached.machine).every((v) => Number.isFinite(v) && v > 0), JSON.stringify(cached.machine));
  const second = sculpt(['bench', '--machine', '--json'], ROOT, MEASURE);
  assert.equal(second.code, 0, second.stderr);
  const j = JSON.parse(second.stdout);
  assert.equal(j.source, 'cache');
  assert.equal(j.measuredAt, cached.measuredAt);
  assert.deepEqual(j.machine, cached.machine);
  const third = JSON.parse(sculpt(['bench', '--machine', '--remeasure', '--json'], ROOT, MEASURE).stdout);
  assert.equal(third.source, 'measured');
  assert.ok(third.measuredAt >= cached.measuredAt);
  assert.equal(JSON.parse(readFileSync(cacheFile, 'utf8')).measuredAt, third.measuredAt);
  // A damaged cache is measured again, not an error.
  writeFileSync(cacheFile, '{ not json');
  assert.equal(JSON.parse(sculpt(['bench', '--machine', '--json'], ROOT, MEASURE).stdout).source, 'measured');
});

test('a fixed machine profile: SCULPT_MACHINE_PROFILE for every command, --machine-profile FILE for bench, bench --machine --json output reusable', () => {
  const dir = tempDir();
  try {
    // The fixture through the environment (what helpers.sculpt sets for every test run).
    const viaEnv = JSON.parse(sculpt(['bench', '--machine', '--json']).stdout);
    assert.equal(viaEnv.source, 'file');
    assert.equal(viaEnv.path, MACHINE_PROFILE);
    assert.deepEqual(viaEnv.machine, FIXED);
    // What bench --machine --json prints is itself a profile file; the flag wins over the variable.
    const saved = join(dir, 'saved.json');
    const other = { ...FIXED, bandwidth: 3e9 };
    writeFileSync(saved, JSON.stringify({ ...viaEnv, machine: other }));
    const viaFlag = JSON.parse(sculpt(['bench', '--machine', '--machine-profile', saved, '--json']).stdout);
    assert.equal(viaFlag.source, 'file');
    assert.equal(viaFlag.path, saved);
    assert.deepEqual(viaFlag.machine, other);
    // A bare profile works too; the table names the file.
    const bare = join(dir, 'bare.json');
    writeFileSync(bare, JSON.stringify(FIXED));
    const text = sculpt(['bench', '--machine', '--machine-profile', bare]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /machine profile \(fixed, from file; .*bare\.json\)/);
    assert.match(text.stdout, /bandwidth 10\.0 GB\/s/);
    // Bad profiles: one line naming the file.
    writeFileSync(join(dir, 'broken.json'), '{');
    writeFileSync(join(dir, 'zero.json'), JSON.stringify({ ...FIXED, bandwidth: 0 }));
    const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
      [['bench', '--machine', '--machine-profile', join(dir, 'missing.json')], {}, /^sculpt: machine profile .*missing\.json: no such file\n$/],
      [['bench', '--machine', '--machine-profile', join(dir, 'broken.json')], {}, /broken\.json: not JSON/],
      [['bench', '--machine', '--machine-profile', join(dir, 'zero.json')], {}, /zero\.json: needs positive numbers bandwidth/],
      [['bench', '--machine', '--machine-profile', bare, '--remeasure'], {}, /give one or the other/],
      [['bench', '--machine'], { SCULPT_MACHINE_PROFILE: join(dir, 'zero.json') }, /zero\.json: needs positive numbers/],
    ];
    for (const [args, env, message] of cases) {
      const r = sculpt(args, ROOT, env);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bench MODEL --json: fields present and consistent on a 90% pruned mlp, with the fixed machine profile', () => {
  const dir = tempDir();
  try {
    const pruned = join(dir, 'mlp-90.onnx');
    assert.equal(sculpt(['prune', join(FIXTURES, 'mlp.onnx'), '-o', pruned, '--sparsity', '0.9', '--scope', 'layer']).code, 0);
    const r = sculpt(['bench', pruned, '--runs', '3', '--batch', '2', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const b = JSON.parse(r.stdout);
    assert.equal(b.machine.source, 'file');
    assert.equal(b.machine.bandwidth, FIXED.bandwidth);
    assert.equal(b.batch, 2);
    assert.equal(b.runs, 3);
    assert.deepEqual(b.inputs, [{ name: 'input', dims: [2, 784] }]);
    assert.ok(b.denseMs > 0 && b.sparseMs > 0);
    assert.ok(Math.abs(b.speedup - b.denseMs / b.sparseMs) <= 1e-9 * b.speedup);
    assert.ok(Number.isFinite(b.predictedSpeedup) && b.predictedSpeedup > 1, `predicted ${b.predictedSpeedup}`);
    assert.ok(b.maxRelError < 1e-4, `max rel error ${b.maxRelError}`);
    assert.deepEqual(b.kernels, ['csr', 'csr', 'csr']);
    assert.deepEqual(b.layers.map((l: { name: string }) => l.name), ['/fc1/Gemm', '/fc2/Gemm', '/fc3/Gemm']);
    assert.deepEqual(b.layers.map((l: { shape: number[] }) => l.shape), [[300, 784], [100, 300], [10, 100]]);
    assert.deepEqual(b.layers.map((l: { columns: number; calls: number }) => [l.columns, l.calls]), [[2, 1], [2, 1], [2, 1]]);
    // The plans measured against each other: every node of the MLP runs on sculpt (Relus folded), so no hybrid one.
    assert.ok(['sculpt', 'onnxruntime'].includes(b.plan.chosen), b.plan.chosen);
    assert.deepEqual(Object.keys(b.plan.ms).sort(), ['onnxruntime', 'sculpt']);
    assert.equal(b.plan.ms[b.plan.chosen], Math.min(...Object.values(b.plan.ms) as number[]));
    assert.match(b.plan.hybridUnavailable, /every node runs on sculpt/);
    for (const l of b.layers) {
      assert.ok(Math.abs(l.density - 0.1) < 1e-3, `${l.name} density ${l.density}`);
      assert.equal(l.kernel, 'csr');
      assert.ok(l.measuredDenseMs > 0 && l.measuredSparseMs > 0 && l.predictedDenseMs > 0 && l.predictedSparseMs > 0);
      assert.ok(Math.abs(l.measuredSpeedup - l.measuredDenseMs / l.measuredSparseMs) <= 1e-9 * l.measuredSpeedup);
      assert.ok(Math.abs(l.predictedSpeedup - l.predictedDenseMs / l.predictedSparseMs) <= 1e-9 * l.predictedSpeedup);
      assert.ok(l.crossoverDensity > 0.1 && l.crossoverDensity <= 1, `${l.name} crossover ${l.crossoverDensity}`);
    }
    // Where the time goes: the exported graph's 3 Gemm and 2 Relu nodes run as one chain of the
    // Gemms, each Relu done by the kernel before it; onnxruntime reports the kernels it ran after
    // its own fusions (Gemm + Relu may fuse).
    assert.equal(b.profile.runs, 5);
    assert.deepEqual(b.profile.sculpt.map((o: { op: string; nodes: number }) => [o.op, o.nodes]), [['Gemm → Gemm → Gemm (chained)', 1]]);
    for (const side of [b.profile.sculpt, b.profile.onnxruntime]) {
      assert.ok(side.length > 0);
      for (let i = 0; i < side.length; i++) {
        assert.ok(side[i].ms >= 0 && side[i].nodes >= 1, JSON.stringify(side[i]));
        if (i > 0) assert.ok(side[i].ms <= side[i - 1].ms, 'largest first');
      }
    }
    const kernels = b.profile.onnxruntime.reduce((n: number, o: { nodes: number }) => n + o.nodes, 0);
    assert.ok(kernels >= 3 && kernels <= 5, `onnxruntime ran ${kernels} kernels`);
    assert.ok(b.profile.onnxruntime.some((o: { op: string }) => /Gemm/.test(o.op)), JSON.stringify(b.profile.onnxruntime));
    assert.deepEqual(readdirSync(process.cwd()).filter((f) => /^(ort|sculpt-ort-profile)/.test(f)), [], 'no profile file left behind');
    // The table says the same.
    const t = sculpt(['bench', pruned, '--runs', '3']);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /onnxruntime dense [\d.]+ ms, sculpt sparse [\d.]+ ms: speed-up [\d.]+x/);
    assert.match(t.stdout, /\/fc1\/Gemm\s+300x784\s+1\s+0\.100\s+csr/);
    assert.match(t.stdout, /where the time goes \(ms per inference, mean of 5 profiled runs; onnxruntime's kernels after its own fusions\): sculpt [\d.]+ ms in 1 op type, onnxruntime [\d.]+ ms in \d+\n/);
    assert.match(t.stdout, /\nGemm → Gemm → Gemm \(chained\) \(1\) +[\d.]+ +[\d.]+%/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bench --plot: a report page with an <svg> chart of measured and predicted speed-up per sparsity', () => {
  const dir = tempDir();
  try {
    const page = join(dir, 'speedup.html');
    const r = sculpt(['bench', join(FIXTURES, 'mlp.onnx'), '--runs', '2', '--warmup', '1', '--plot', page, '--sparsities', '0.5,0.9', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const b = JSON.parse(r.stdout);
    assert.deepEqual(b.sweep.map((p: { sparsity: number }) => p.sparsity), [0.5, 0.9]);
    for (const p of b.sweep) {
      assert.ok(Math.abs(p.speedup - p.denseMs / p.sparseMs) <= 1e-9 * p.speedup);
      assert.ok(p.maxRelError < 1e-4);
    }
    // The fixed profile keeps 50% dense (predicted 1×) and runs 90% on CSR.
    assert.equal(b.sweep[0].predictedSpeedup, 1);
    assert.deepEqual(b.sweep[1].kernels, ['csr', 'csr', 'csr']);
    const html = readFileSync(page, 'utf8');
    assert.match(html, /<svg/);
    assert.match(html, /measured/);
    assert.match(html, /predicted/);
    assert.match(html, /FLOP count/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bench: bad requests fail with one line and write nothing', () => {
  const dir = tempDir();
  try {
    const mlp = join(FIXTURES, 'mlp.onnx');
    const cases: [string[], RegExp][] = [
      [['bench'], /missing MODEL/],
      [['bench', mlp, '--machine'], /either MODEL or --machine/],
      [['bench', join(dir, 'missing.onnx')], /missing\.onnx: no such file/],
      [['bench', mlp, '--batch', '0'], /--batch: '0' is not a whole number ≥ 1/],
      [['bench', mlp, '--runs', 'many'], /--runs: 'many' is not a number/],
      [['bench', mlp, '--plot', join(dir, 'p.png')], /the report is an HTML page/],
      [['bench', mlp, '--plot', join(dir, 'p.html'), '--sparsities', '1.5'], /--sparsities: 1\.5 is outside \[0, 1\)/],
    ];
    for (const [args, message] of cases) {
      const r = sculpt(args);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bench --shape sets a dynamic axis (a sequence length); unknown inputs and wrong ranks are refused in one line', () => {
  const bert = join(FIXTURES, 'shrink/bert.onnx');
  const r = sculpt(['bench', bert, '--shape', 'input_ids=2x5', '--shape', 'attention_mask=2x5', '--runs', '1', '--warmup', '0', '--profile-runs', '1', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const b = JSON.parse(r.stdout);
  assert.deepEqual(b.inputs, [{ name: 'input_ids', dims: [2, 5] }, { name: 'attention_mask', dims: [2, 5] }]);
  assert.equal(b.profile.runs, 1);
  // Each weight product multiplies all 2 × 5 tokens at once.
  assert.equal(b.batch, 10);
  // Both decomposed LayerNorm kinds run fused, each layer's Div, mask Add and Softmax as one, and
  // each MLP's two products as one chain, its GELU inside the first.
  assert.deepEqual(b.profile.sculpt.filter((o: { op: string }) => /\((fused|chained)\)$/.test(o.op)).map((o: { op: string; nodes: number }) => [o.op, o.nodes]).sort(), [['LayerNormalization (fused)', 5], ['MatMul + Gelu → MatMul (chained)', 2], ['ScaledMaskedSoftmax (fused)', 2]]);
  assert.ok(b.maxRelError < 1e-5, `${b.maxRelError}`);
  // The whole-model view splits the profiled time into the 12 weight products and the rest, and
  // predicts both: the rest by class, each class's measured time the sum of its nodes'.
  const m = b.profile.model;
  const profiled = b.profile.sculpt.reduce((a: number, o: { ms: number }) => a + o.ms, 0);
  assert.ok(Math.abs(m.weightMeasuredMs + m.otherMeasuredMs - profiled) < 1e-9 * Math.max(1, profiled));
  assert.equal(m.weightNodes, 12);
  assert.ok(m.weightPredictedMs > 0 && m.otherMeasuredMs > 0 && m.otherPredictedMs > 0);
  assert.ok(Math.abs(m.predictedMs - (m.weightPredictedMs + m.otherPredictedMs)) < 1e-9);
  type Part = { class: string; nodes: number; predictedMs: number; measuredMs: number };
  assert.deepEqual(m.classes.map((c: Part) => c.class).sort(), ['activation product', 'memory op', 'shape op', 'vector op']);
  assert.ok(Math.abs(m.classes.reduce((a: number, c: Part) => a + c.measuredMs, 0) - m.otherMeasuredMs) < 1e-9 * Math.max(1, profiled));
  assert.ok(Math.abs(m.classes.reduce((a: number, c: Part) => a + c.predictedMs, 0) - m.otherPredictedMs) < 1e-12);
  const part = (name: string) => m.classes.find((c: Part) => c.class === name) as Part;
  // Attention's two products per layer (2 layers); the 5 fused LayerNorms and 2 Softmaxes (each
  // GELU runs inside its weight product's kernel); shape ops are free.
  assert.equal(part('activation product').nodes, 4);
  assert.equal(part('vector op').nodes, 7);
  assert.equal(part('shape op').predictedMs, 0);
  assert.ok(part('activation product').predictedMs > 0 && part('memory op').predictedMs > 0);
  const unknown = sculpt(['bench', bert, '--shape', 'tokens=1x8']);
  assert.equal(unknown.code, 2);
  assert.equal(unknown.stderr, 'sculpt: --shape tokens=…: the model has no input tokens; its inputs: input_ids, attention_mask\n');
  const rank = sculpt(['bench', bert, '--shape', 'input_ids=1x8x2']);
  assert.equal(rank.stderr, 'sculpt: --shape input_ids=1x8x2: the model declares input_ids as [?, ?]\n');
  const form = sculpt(['bench', bert, '--shape', 'input_ids:1x8']);
  assert.equal(form.stderr, 'sculpt: --shape input_ids:1x8: expected NAME=DIMS with DIMS like 1x128\n');
  // Longer than the model's 16 positions: onnxruntime's refusal, in one line (not its own log too).
  const long = sculpt(['bench', bert, '--shape', 'input_ids=1x64', '--shape', 'attention_mask=1x64', '--runs', '1', '--warmup', '0']);
  assert.equal(long.code, 2);
  assert.match(long.stderr, /^sculpt: .*bert\.onnx: onnxruntime failed \(.*indices element out of data bounds.*\)\n$/);
});
