// Statistics of sweep cells: Student-t quantiles against published values, summaries, paired differences.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cellStats, flattenNumbers, studentTCdf, studentTQuantile, summarize } from '../../src/analysis/sweep-stats.js';

test('Student t quantiles match published values to 1e-6 (and the CDF inverts them)', () => {
  // scipy.stats.t.ppf(p, df) (R: qt), to 9 decimals
  const known: Array<[number, number, number]> = [
    [0.975, 1, 12.706204736], [0.975, 2, 4.302652730], [0.975, 3, 3.182446305], [0.975, 4, 2.776445105],
    [0.975, 9, 2.262157163], [0.975, 29, 2.045229642], [0.975, 100, 1.983971519], [0.995, 10, 3.169272673],
    [0.95, 5, 2.015048373], [0.9, 1, 3.077683537], [0.975, 2.5, 3.574654842], [0.975, 1e6, 1.959966357],
  ];
  for (const [p, df, t] of known) {
    const q = studentTQuantile(p, df);
    assert.ok(Math.abs(q - t) < 1e-6 * Math.max(1, t), `t(${p}, ${df}) = ${q}, expected ${t}`);
    assert.ok(Math.abs(studentTCdf(q, df) - p) < 1e-12);
    assert.ok(Math.abs(studentTQuantile(1 - p, df) + q) < 1e-12);
  }
  assert.equal(studentTQuantile(0.5, 7), 0);
  assert.ok(Number.isNaN(studentTQuantile(1, 3)));
});

test('summaries: mean, sample sd, 95% t interval; one value has no spread', () => {
  const s = summarize([1, 2, 3, 4, 5]);
  assert.equal(s.mean, 3);
  assert.ok(Math.abs(s.sd - Math.sqrt(2.5)) < 1e-15);
  const half = 2.776445105 * Math.sqrt(2.5) / Math.sqrt(5);
  assert.ok(Math.abs(s.ci95[0] - (3 - half)) < 1e-8 && Math.abs(s.ci95[1] - (3 + half)) < 1e-8);
  assert.deepEqual(summarize([7]), { n: 1, mean: 7, sd: 0, ci95: [7, 7] });
});

test('nested numbers flatten with dotted names; paired differences use the same seeds', () => {
  assert.deepEqual([...flattenNumbers({ a: 1, b: { c: [2, { d: 3 }], s: 'x', n: null, inf: Infinity } })], [['a', 1], ['b.c.0', 2], ['b.c.1.d', 3]]);
  const results = [
    { seed: 0, result: { ticket: { acc: 0.90 }, reinit: { acc: 0.88 } } },
    { seed: 1, result: { ticket: { acc: 0.91 }, reinit: { acc: 0.87 } } },
    { seed: 2, result: { ticket: { acc: 0.89 }, reinit: { acc: 0.89 } } },
  ];
  const c = cellStats(results, ['ticket.acc', 'reinit.acc']);
  assert.equal(c.n, 3);
  assert.ok(Math.abs(c.metrics['ticket.acc']!.mean - 0.9) < 1e-12);
  const d = summarize([0.90 - 0.88, 0.91 - 0.87, 0.89 - 0.89]);
  assert.deepEqual(c.paired, { a: 'ticket.acc', b: 'reinit.acc', n: 3, mean: d.mean, sd: d.sd, ci95: d.ci95 });
  assert.ok(Math.abs(d.mean - 0.02) < 1e-12);
});

test('a list of pairs: each difference seed by seed, in order; the first is also `paired`', () => {
  const results = [
    { seed: 0, result: { rounds: [{ acc: 0.86 }, { acc: 0.87, reinit: 0.85, mask: 0.80 }] } },
    { seed: 1, result: { rounds: [{ acc: 0.85 }, { acc: 0.88, reinit: 0.84, mask: 0.82 }] } },
    { seed: 2, result: { rounds: [{ acc: 0.87 }, { acc: 0.86, reinit: 0.85 }] } },
  ];
  const c = cellStats(results, [['rounds.1.acc', 'rounds.1.reinit'], ['rounds.1.acc', 'rounds.1.mask'], ['rounds.1.acc', 'rounds.0.acc'], ['x', 'y']]);
  const d1 = summarize([0.87 - 0.85, 0.88 - 0.84, 0.86 - 0.85]);
  const d2 = summarize([0.87 - 0.80, 0.88 - 0.82]); // seed 2 has no random-mask value: n = 2
  const d3 = summarize([0.87 - 0.86, 0.88 - 0.85, 0.86 - 0.87]);
  assert.deepEqual(c.pairs, [
    { a: 'rounds.1.acc', b: 'rounds.1.reinit', n: 3, mean: d1.mean, sd: d1.sd, ci95: d1.ci95 },
    { a: 'rounds.1.acc', b: 'rounds.1.mask', n: 2, mean: d2.mean, sd: d2.sd, ci95: d2.ci95 },
    { a: 'rounds.1.acc', b: 'rounds.0.acc', n: 3, mean: d3.mean, sd: d3.sd, ci95: d3.ci95 },
  ]);
  assert.deepEqual(c.paired, c.pairs![0]);
  assert.ok(Math.abs(d2.mean - 0.065) < 1e-12 && Math.abs(d1.mean - 0.07 / 3) < 1e-12);
  assert.equal(cellStats(results).pairs, undefined);
});
