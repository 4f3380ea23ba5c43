import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sculpt, tempDir } from '../cli/helpers.js';

const tiny = ['--data', 'data/fashion-mnist-subset', '--train-limit', '300', '--test-limit', '200', '--model', 'lenet-300-100'];

test('sculpt imp --json: metrics.json on stdout and on disk, round folders, report.html', () => {
  const out = tempDir();
  const r = sculpt(['imp', ...tiny, '--rounds', '2', '--rate', '0.2', '--epochs', '1', '--control', 'reinit', '--out', out, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const printed = JSON.parse(r.stdout.trim().split('\n').pop() as string);
  assert.deepEqual(printed, JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')));
  assert.deepEqual(printed.rounds.map((e: { density: number }) => e.density), [1, 0.8]);
  assert.ok(printed.rounds[1].controls.reinit.testAccuracy > 0.2);
  for (const f of ['round-0/model.json', 'round-1/weights.bin', 'report.html', 'run.json']) assert.ok(existsSync(join(out, f)), f);
  assert.match(r.stderr, /^backend: wasm/m);
  assert.match(r.stderr, /round 1 ticket: density 80\.00%/);
});

test('sculpt train and gmp run; bad flags are one-line errors with exit code 2', () => {
  const out = tempDir();
  const t = sculpt(['train', ...tiny, '--epochs', '1', '--dropout', '0.2', '--l2', '1e-4', '--lr-schedule', 'exp:5:0.5', '--out', out]);
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stdout, /round 0 {2}density 100\.00%/);
  const g = sculpt(['gmp', ...tiny, '--final-sparsity', '0.6', '--frequency', '1', '--out', join(out, 'gmp'), '--json']);
  assert.equal(g.code, 0, g.stderr);
  assert.ok(Math.abs(JSON.parse(g.stdout.trim().split('\n').pop() as string).rounds[0].density - 0.4) < 1e-4);
  for (const [args, re] of [
    [['imp', ...tiny, '--rounds', '2', '--rewind-to', 'early'], /--rewind-to early/],
    [['imp', ...tiny, '--rounds', '2', '--control', 'shuffle'], /--control/],
    [['gmp', ...tiny, '--final-sparsity', '1'], /--final-sparsity/],
    [['train', ...tiny, '--optimizer', 'lbfgs'], /--optimizer/],
  ] as const) {
    const r = sculpt([...args, '--out', join(out, 'bad')]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').filter((l) => l.startsWith('sculpt:')).length, 1);
  }
});
