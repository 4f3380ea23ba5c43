import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SculptError } from '../../src/core/errors.js';
import { constantSchedule, lrSchedule, parseLrSchedule, polynomialSchedule } from '../../src/train/schedules.js';

test('polynomial schedule follows s_f + (s_i − s_f)(1 − (t − t0)/(n Δt))^3', () => {
  const s = polynomialSchedule({ initialSparsity: 0.1, finalSparsity: 0.9, beginStep: 100, endStep: 1100, frequency: 100 });
  assert.deepEqual(s(0), { prune: false, sparsity: 0 });
  assert.deepEqual(s(100), { prune: true, sparsity: 0.1 });
  assert.equal(s(150).prune, false);
  const mid = s(600);
  assert.equal(mid.prune, true);
  assert.ok(Math.abs(mid.sparsity - (0.9 + (0.1 - 0.9) * 0.125)) < 1e-12);
  assert.deepEqual(s(1100), { prune: true, sparsity: 0.9 });
  assert.deepEqual(s(5000), { prune: false, sparsity: 0.9 });
  const updates = Array.from({ length: 1200 }, (_, t) => t).filter((t) => s(t).prune);
  assert.deepEqual(updates, [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1100]);
  let prev = 0;
  for (let t = 0; t < 1200; t++) {
    assert.ok(s(t).sparsity >= prev, `non-decreasing at ${t}`);
    prev = s(t).sparsity;
  }
});

test('polynomial schedule prunes at the end step even off the frequency grid', () => {
  const s = polynomialSchedule({ initialSparsity: 0, finalSparsity: 0.5, beginStep: 0, endStep: 250, frequency: 100 });
  assert.deepEqual(Array.from({ length: 400 }, (_, t) => t).filter((t) => s(t).prune), [0, 100, 200, 250]);
  assert.equal(s(250).sparsity, 0.5);
});

test('constant schedule and argument checks', () => {
  const c = constantSchedule({ sparsity: 0.8, beginStep: 10, endStep: 50, frequency: 20 });
  assert.deepEqual(Array.from({ length: 100 }, (_, t) => t).filter((t) => c(t).prune), [10, 30, 50]);
  assert.equal(c(5).sparsity, 0);
  assert.equal(c(60).sparsity, 0.8);
  assert.throws(() => polynomialSchedule({ initialSparsity: 0, finalSparsity: 1, beginStep: 0, endStep: 10, frequency: 1 }), SculptError);
  assert.throws(() => polynomialSchedule({ initialSparsity: 0, finalSparsity: 0.5, beginStep: 10, endStep: 5, frequency: 1 }), /--end-step/);
  assert.throws(() => polynomialSchedule({ initialSparsity: 0, finalSparsity: 0.5, beginStep: 0, endStep: 5, frequency: 0 }), /--frequency/);
});

test('learning-rate schedules: constant, step, exponential', () => {
  assert.equal(lrSchedule(0.1, { kind: 'constant' })(12345), 0.1);
  const st = lrSchedule(0.1, parseLrSchedule('step:100:0.5'));
  assert.equal(st(99), 0.1);
  assert.equal(st(100), 0.05);
  assert.equal(st(250), 0.025);
  const ex = lrSchedule(0.1, parseLrSchedule('exp:1000:0.5'));
  assert.ok(Math.abs(ex(500) - 0.1 * Math.SQRT1_2) < 1e-15);
  assert.ok(Math.abs(ex(2000) - 0.025) < 1e-15);
  assert.deepEqual(parseLrSchedule('constant'), { kind: 'constant' });
  assert.throws(() => parseLrSchedule('cosine'), (e: unknown) => e instanceof SculptError && /--lr-schedule cosine/.test(e.message));
  assert.throws(() => parseLrSchedule('step:0:0.5'), SculptError);
});
