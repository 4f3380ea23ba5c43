import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Mask, popcount } from '../../src/core/mask.js';
import { SculptError } from '../../src/core/errors.js';

test('full and empty masks count exactly, including odd lengths', () => {
  for (const n of [0, 1, 31, 32, 33, 64, 65, 1000]) {
    const f = Mask.full(n);
    assert.equal(f.keptCount(), n);
    assert.equal(f.prunedCount(), 0);
    assert.equal(Mask.empty(n).keptCount(), 0);
    assert.equal(f.density(), 1);
  }
});

test('fromNonZero treats +0 and -0 as pruned', () => {
  const m = Mask.fromNonZero(new Float32Array([0, -0, 1e-45, -3, 0, 2]));
  assert.deepEqual([...m.toBytes()], [0, 0, 1, 1, 0, 1]);
  assert.equal(m.prunedCount(), 3);
  assert.equal(m.density(), 0.5);
});

test('get/set/toBytes/fromBytes round trip and equals', () => {
  const n = 77;
  const m = Mask.full(n);
  for (let i = 0; i < n; i += 3) m.set(i, false);
  assert.equal(m.prunedCount(), 26);
  assert.equal(m.get(0), false);
  assert.equal(m.get(1), true);
  const back = Mask.fromBytes(m.toBytes());
  assert.ok(back.equals(m));
  back.set(1, false);
  assert.ok(!back.equals(m));
  assert.ok(!Mask.full(3).equals(Mask.full(4)));
  assert.throws(() => m.set(77, true), RangeError);
});

test('and only removes, applyTo zeros pruned entries in place', () => {
  const a = Mask.fromBytes(new Uint8Array([1, 1, 0, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]));
  const b = Mask.fromBytes(new Uint8Array([1, 0, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1]));
  const c = a.and(b);
  assert.deepEqual([...c.toBytes()].slice(0, 6), [1, 0, 0, 1, 0, 1]);
  assert.equal(c.prunedCount(), 5);
  const data = new Float32Array(34).fill(2);
  c.applyTo(data);
  assert.equal(data.filter((v) => v === 0).length, 5);
  assert.equal(data[1], 0);
  assert.equal(data[33], 0);
  assert.equal(data[0], 2);
  assert.throws(() => a.and(Mask.full(5)), SculptError);
  assert.throws(() => a.applyTo(new Float32Array(5)), SculptError);
});

test('popcount is exact on edge words', () => {
  assert.equal(popcount(0), 0);
  assert.equal(popcount(0xffffffff), 32);
  assert.equal(popcount(0x80000001), 2);
  assert.equal(popcount(0x55555555), 16);
});
