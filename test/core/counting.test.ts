import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countFractionOfRemaining, countToPrune, roundHalfEven, targetPrunedCount } from '../../src/core/counting.js';
import { SculptError } from '../../src/core/errors.js';

test('roundHalfEven matches Python round on halves', () => {
  assert.equal(roundHalfEven(0.5), 0);
  assert.equal(roundHalfEven(1.5), 2);
  assert.equal(roundHalfEven(2.5), 2);
  assert.equal(roundHalfEven(3.5), 4);
  assert.equal(roundHalfEven(2.4999), 2);
  assert.equal(roundHalfEven(2.5001), 3);
  assert.equal(roundHalfEven(0), 0);
});

test('countToPrune agrees with Python round(s*n) including float artefacts', () => {
  // Python 3: [round(s*n) for s in S for n in N]
  const S = [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.45, 0.5, 0.55, 0.65, 0.7, 0.75, 0.85, 0.9, 0.95, 0.99];
  const N = [1, 2, 3, 5, 7, 10, 15, 25, 33, 99, 1001];
  const expected = [0, 0, 0, 0, 0, 0, 1, 1, 2, 5, 50, 0, 0, 0, 0, 1, 1, 2, 2, 3, 10, 100, 0, 0, 0, 1, 1, 2, 2, 4, 5, 15, 150, 0, 0, 1, 1, 1, 2, 3, 5, 7, 20, 200, 0, 0, 1, 1, 2, 2, 4, 6, 8, 25, 250, 0, 1, 1, 2, 2, 3, 4, 8, 10, 30, 300, 0, 1, 1, 2, 2, 4, 5, 9, 12, 35, 350, 0, 1, 1, 2, 3, 4, 7, 11, 15, 45, 450, 0, 1, 2, 2, 4, 5, 8, 12, 16, 50, 500, 1, 1, 2, 3, 4, 6, 8, 14, 18, 54, 551, 1, 1, 2, 3, 5, 6, 10, 16, 21, 64, 651, 1, 1, 2, 4, 5, 7, 10, 18, 23, 69, 701, 1, 2, 2, 4, 5, 8, 11, 19, 25, 74, 751, 1, 2, 3, 4, 6, 8, 13, 21, 28, 84, 851, 1, 2, 3, 4, 6, 9, 14, 22, 30, 89, 901, 1, 2, 3, 5, 7, 10, 14, 24, 31, 94, 951, 1, 2, 3, 5, 7, 10, 15, 25, 33, 98, 991];
  const got: number[] = [];
  for (const s of S) for (const n of N) got.push(countToPrune(s, n));
  assert.deepEqual(got, expected);
  assert.equal(countToPrune(0.35, 10), 4); // 3.5 -> 4
  assert.equal(countToPrune(0.45, 10), 4); // 4.5 -> 4
  assert.equal(countToPrune(0.3, 5), 2); // 1.5 -> 2
  assert.equal(countToPrune(0.1, 25), 2); // 2.5 -> 2
});

test('fraction of remaining: z + round(p(N - z)) and PyTorch iterative 0.2 x3', () => {
  let z = 0;
  const seen: number[] = [];
  for (let step = 0; step < 3; step++) {
    z = countFractionOfRemaining(0.2, 1000, z);
    seen.push(z);
  }
  assert.deepEqual(seen, [200, 360, 488]);
  assert.equal(countFractionOfRemaining(0.5, 7, 2), 2 + 2); // round(2.5) = 2
});

test('targetPrunedCount never restores and checks counts', () => {
  assert.equal(targetPrunedCount({ sparsity: 0.5 }, 10, 7, 'x'), 7);
  assert.equal(targetPrunedCount({ sparsity: 0.5 }, 10, 3, 'x'), 5);
  assert.equal(targetPrunedCount({ sparsity: 0.5, count: 4 }, 10, 1, 'x'), 4);
  assert.equal(targetPrunedCount({ sparsity: 0.5, count: 4, fractionOfRemaining: true }, 10, 1, 'x'), 5);
  assert.throws(() => targetPrunedCount({ sparsity: 0, count: 11 }, 10, 0, "tensor 'w'"), (e: unknown) => e instanceof SculptError && /tensor 'w'/.test(e.message));
});
