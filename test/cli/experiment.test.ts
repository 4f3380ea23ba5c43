import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spectralNormExact } from '../../src/analysis/lipschitz.js';
import { readOnnx } from '../../src/formats/onnx.js';
import { FIXTURES, sculpt, tempDir } from './helpers.js';

function runJson(name: string, out: string): Record<string, any> {
  const r = sculpt(['experiment', name, '--quick', '--json', '--out', out, '--seed', '0']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  const obj = JSON.parse(lines[lines.length - 1]) as Record<string, any>;
  assert.ok(existsSync(join(out, `${name}.json`)));
  const html = readFileSync(join(out, `${name}.html`), 'utf8');
  assert.ok(html.includes('<svg'), 'the report page has a chart');
  assert.deepEqual(JSON.parse(readFileSync(join(out, `${name}.json`), 'utf8')), obj);
  return obj;
}

test('experiment lottery-probability: closed form within 4 standard errors of Monte Carlo', () => {
  const o = runJson('lottery-probability', tempDir());
  for (const f of ['closedForm', 'monteCarlo', 'monteCarloStdErr', 'threshold', 'supportSize', 'initVariance']) assert.equal(typeof o[f], 'number', f);
  assert.ok(o.closedForm > 0.1 && o.closedForm < 0.9);
  assert.ok(Math.abs(o.closedForm - o.monteCarlo) < 4 * o.monteCarloStdErr);
  for (const s of o.sweep) if (s.monteCarloStdErr > 0) assert.ok(Math.abs(s.closedForm - s.monteCarlo) < 4 * s.monteCarloStdErr + 1e-12);
});

test('experiment imp-density and sensor-selection: density law and objective ratios', () => {
  const out = tempDir();
  const d = runJson('imp-density', out);
  for (const r of d.rows) {
    assert.deepEqual(Object.keys(r).slice(0, 3), ['round', 'rate', 'density']);
    assert.ok(Math.abs(r.density - (1 - r.rate) ** r.round) / (1 - r.rate) ** r.round < 0.01);
  }
  const s = runJson('sensor-selection', out);
  for (const r of s.rows) {
    assert.ok(r.ratio >= 1 - 1e-9 || r.method === 'greedy', `magnitude beat the exact optimum: ${JSON.stringify(r)}`);
    if (r.method === 'exact') assert.ok(Math.abs(r.ratio - r.magnitudeObjective / r.objective) < 1e-12);
  }
  assert.ok(s.rows.some((r: any) => r.ratio > 1.05), 'magnitude is worse somewhere');
});

test('experiment: unknown names are one line naming the known ones', () => {
  const r = sculpt(['experiment', 'nope']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^sculpt: unknown experiment 'nope'; known: .*lottery-probability/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
});

test('analyze lipschitz on an ONNX MLP: product of exact spectral norms', () => {
  const file = join(FIXTURES, 'mlp.onnx');
  const r = sculpt(['analyze', 'lipschitz', file, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const o = JSON.parse(r.stdout.trim().split('\n').pop() as string) as { lipschitz: number; layers: { name: string; spectralNorm: number }[] };
  const ws = readOnnx(file).weights();
  let product = 1;
  for (const l of o.layers) {
    const t = ws.get(l.name);
    assert.ok(t !== undefined);
    const exact = spectralNormExact(t.data, t.shape[0], t.shape[1]);
    assert.ok(Math.abs(l.spectralNorm - exact) / exact < 1e-5, `${l.name}: ${l.spectralNorm} vs ${exact}`);
    product *= exact;
  }
  assert.equal(o.layers.length, 3);
  assert.ok(Math.abs(o.lipschitz - product) / product < 1e-5);
});

test('experiment random-labels --quick: memorised training labels, chance on the test set', () => {
  const o = runJson('random-labels', tempDir());
  assert.equal(o.classes, 10);
  assert.equal(o.testSamples, 2000);
  assert.ok(o.dense.trainAccuracy > 0.5, `dense train accuracy ${o.dense.trainAccuracy}`);
  // 2000 test examples: the standard error of an accuracy near 0.1 is 0.0067; allow 5 points.
  assert.ok(Math.abs(o.dense.testAccuracy - 0.1) < 0.05, `dense test ${o.dense.testAccuracy}`);
  assert.ok(Math.abs(o.pruned.testAccuracy - 0.1) < 0.05, `pruned test ${o.pruned.testAccuracy}`);
});

test('experiment criteria --quick: six criteria × five sparsities, random worst at high sparsity', () => {
  const o = runJson('criteria', tempDir());
  assert.equal(o.rows.length, 30);
  const at = (c: string, s: number): number => o.rows.find((r: any) => r.criterion === c && r.sparsity === s).testAccuracy;
  for (const s of [0.8, 0.9, 0.95]) {
    for (const c of ['magnitude', 'obd', 'wanda', 'sparsegpt']) assert.ok(at('random', s) < at(c, s), `random ${at('random', s)} vs ${c} ${at(c, s)} at ${s}`);
  }
  assert.ok(at('magnitude', 0.5) > o.denseTestAccuracy - 0.05);
});
