// `sculpt sweep` end to end: a real grid of prune jobs in a pool, resumed, aggregated.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, sculpt, tempDir } from './helpers.js';

interface SweepJson {
  executed: number;
  skipped: number;
  jobs: Array<{ key: string; options: Record<string, unknown>; seed: number; status: string; result?: any; error?: string }>;
  cells?: Array<{ options: Record<string, unknown>; n: number; metrics: Record<string, { mean: number; sd: number; ci95: [number, number] }>; paired?: any; pairs?: any }>;
}

const lastJson = (stdout: string): SweepJson => JSON.parse(stdout.trim().split('\n').pop()!);

test('sweep: 2 sparsities x 3 seeds of prune, each job in its hash folder; a re-run executes nothing', () => {
  const dir = tempDir('sculpt-sweep-');
  const grid = join(dir, 'grid.yaml');
  writeFileSync(grid, 'command: prune test/fixtures/mlp.onnx --sparsity 0.5 --criterion random\ngrid:\n  sparsity: [0.3, 0.6]\ncompare: [tensors.0.zerosAfter, tensors.2.zerosAfter]\n');
  const out = join(dir, 'out');
  const first = sculpt(['sweep', grid, '--seeds', '3', '--out', out, '--jobs', '3', '--json']);
  assert.equal(first.code, 0, first.stderr);
  const a = lastJson(first.stdout);
  assert.equal(a.jobs.length, 6);
  assert.equal(a.executed, 6);
  assert.deepEqual(a.jobs.map((j) => [j.options.sparsity, j.seed, j.status]), [[0.3, 0, 'done'], [0.3, 1, 'done'], [0.3, 2, 'done'], [0.6, 0, 'done'], [0.6, 1, 'done'], [0.6, 2, 'done']]);
  assert.equal(new Set(a.jobs.map((j) => j.key)).size, 6);
  for (const j of a.jobs) {
    assert.match(j.key, /^[0-9a-f]{64}$/);
    const stored = JSON.parse(readFileSync(join(out, 'jobs', j.key, 'result.json'), 'utf8'));
    assert.deepEqual(stored, j.result);
    assert.equal(j.result.options.seed, j.seed);
    assert.equal(j.result.options.sparsity, j.options.sparsity);
    assert.ok(existsSync(join(out, 'jobs', j.key, 'mlp.onnx')));
    assert.equal(j.result.target.zerosAfter, Math.round((j.options.sparsity as number) * j.result.target.count));
  }
  // Random masks differ between seeds of one cell.
  assert.notEqual(a.jobs[0]!.result.tensors[0].zerosAfter, a.jobs[1]!.result.tensors[0].zerosAfter);

  // Cells recomputed here from the jobs' results: mean, sample sd, t(0.975, 2) = 4.302652730 (scipy).
  assert.equal(a.cells!.length, 2);
  for (const [ci, cell] of a.cells!.entries()) {
    const sparsity = [0.3, 0.6][ci]!;
    assert.deepEqual(cell.options, { sparsity });
    assert.equal(cell.n, 3);
    const results = a.jobs.filter((j) => j.options.sparsity === sparsity).map((j) => j.result);
    for (const [name, pick] of [['tensors.0.zerosAfter', (r: any) => r.tensors[0].zerosAfter], ['tensors.2.densityAfter', (r: any) => r.tensors[2].densityAfter], ['total.zerosAfter', (r: any) => r.total.zerosAfter]] as const) {
      const v = results.map(pick);
      const mean = (v[0] + v[1] + v[2]) / 3;
      const sd = Math.sqrt(v.reduce((s: number, x: number) => s + (x - mean) ** 2, 0) / 2);
      const half = 4.302652730 * sd / Math.sqrt(3);
      const m = cell.metrics[name]!;
      assert.ok(Math.abs(m.mean - mean) <= 1e-9 * Math.abs(mean), `${name} mean`);
      assert.ok(Math.abs(m.sd - sd) <= 1e-9 * Math.max(1, sd), `${name} sd`);
      assert.ok(Math.abs(m.ci95[0] - (mean - half)) <= 1e-6 * Math.max(1, Math.abs(mean)) && Math.abs(m.ci95[1] - (mean + half)) <= 1e-6 * Math.max(1, Math.abs(mean)), `${name} ci95`);
    }
    assert.equal(cell.metrics['total.zerosAfter']!.sd, 0); // exact counts: no spread over seeds
    // The paired difference, seed by seed.
    const d = results.map((r: any) => r.tensors[0].zerosAfter - r.tensors[2].zerosAfter);
    const dm = (d[0] + d[1] + d[2]) / 3;
    const dh = 4.302652730 * Math.sqrt(d.reduce((s: number, x: number) => s + (x - dm) ** 2, 0) / 2) / Math.sqrt(3);
    assert.equal(cell.paired.n, 3);
    assert.ok(Math.abs(cell.paired.mean - dm) < 1e-9 * Math.max(1, Math.abs(dm)));
    assert.ok(Math.abs(cell.paired.ci95[1] - (dm + dh)) < 1e-6 * Math.max(1, Math.abs(dm)));
  }
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  assert.ok((html.match(/<svg/g) ?? []).length >= 6, 'one chart per varying metric');
  assert.ok(html.includes('paired difference tensors.0.zerosAfter − tensors.2.zerosAfter'));

  // A list of pairs over the same jobs: re-aggregated without running anything, one chart per pair.
  const pairsGrid = join(dir, 'pairs.yaml');
  writeFileSync(pairsGrid, 'command: prune test/fixtures/mlp.onnx --sparsity 0.5 --criterion random\ngrid:\n  sparsity: [0.3, 0.6]\ncompare:\n  - [tensors.0.zerosAfter, tensors.2.zerosAfter]\n  - [tensors.0.zerosAfter, tensors.1.zerosAfter]\n');
  const p = lastJson(sculpt(['sweep', pairsGrid, '--seeds', '3', '--out', out, '--json']).stdout);
  assert.equal(p.executed, 0);
  for (const [ci, cell] of p.cells!.entries()) {
    assert.deepEqual(cell.pairs[0], a.cells![ci]!.paired);
    const d = p.jobs.filter((j) => j.options.sparsity === cell.options.sparsity).map((j) => j.result.tensors[0].zerosAfter - j.result.tensors[1].zerosAfter);
    assert.equal(cell.pairs[1].b, 'tensors.1.zerosAfter');
    assert.ok(Math.abs(cell.pairs[1].mean - (d[0] + d[1] + d[2]) / 3) < 1e-9 * Math.max(1, Math.abs(d[0])));
  }
  assert.ok(readFileSync(join(out, 'report.html'), 'utf8').includes('paired difference tensors.0.zerosAfter − tensors.1.zerosAfter'));
  assert.ok(html.includes('tensors.0.zerosAfter') && !html.includes('http'));

  const again = sculpt(['sweep', grid, '--seeds', '3', '--out', out, '--json']);
  assert.equal(again.code, 0, again.stderr);
  const b = lastJson(again.stdout);
  assert.equal(b.executed, 0);
  assert.equal(b.skipped, 6);
  assert.deepEqual(b.jobs.map((j) => j.result), a.jobs.map((j) => j.result));

  // Another grid sharing one cell (sparsity 0.6 written in the command) and the same DIR: only the new seed runs.
  const other = join(dir, 'other.yaml');
  writeFileSync(other, 'command: prune test/fixtures/mlp.onnx --criterion random --sparsity 0.6\ngrid:\n  seed: [2, 3]\n');
  const shared = lastJson(sculpt(['sweep', other, '--out', out, '--json']).stdout);
  assert.equal(shared.executed, 1);
  assert.equal(shared.jobs[0]!.key, a.jobs[5]!.key);
});

test('sweep: a failing job is listed with its error, exit code 1, and runs again next time; bad grids name their line', () => {
  const dir = tempDir('sculpt-sweep-');
  const grid = join(dir, 'grid.yaml');
  const model = join(dir, 'model.onnx');
  writeFileSync(grid, `command: prune ${model}\ngrid:\n  sparsity: [0.5]\n`);
  const r = sculpt(['sweep', grid, '--out', join(dir, 'out'), '--json']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^sculpt: sweep: 1 of 1 jobs failed; /m);
  const j = lastJson(r.stdout).jobs[0]!;
  assert.equal(j.status, 'failed');
  assert.match(j.error!, /model\.onnx/);
  const errorFile = join(dir, 'out', 'jobs', j.key, 'error.txt');
  assert.ok(existsSync(errorFile));
  // The input appears: the same job (same key) runs again and succeeds.
  copyFileSync(join(FIXTURES, 'mlp.onnx'), model);
  const again = sculpt(['sweep', grid, '--out', join(dir, 'out'), '--json']);
  assert.equal(again.code, 0, again.stderr);
  const b = lastJson(again.stdout);
  assert.deepEqual([b.executed, b.jobs[0]!.key, b.jobs[0]!.status], [1, j.key, 'done']);
  assert.ok(!existsSync(errorFile));

  writeFileSync(grid, 'command: prune test/fixtures/mlp.onnx\ngrid:\n  sparsity: [0.5]\n  seed: []\n');
  const bad = sculpt(['sweep', grid, '--out', join(dir, 'out')]);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr, `sculpt: ${grid}:4: grid: seed: the list of values is empty\n`);
  writeFileSync(grid, 'command: frobnicate x\n');
  assert.equal(sculpt(['sweep', grid]).stderr, `sculpt: ${grid}:1: command: sculpt has no command "frobnicate"; see sculpt --help\n`);
});
