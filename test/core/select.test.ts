import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyThreshold, histogramHigh, histogramLow, markAbove, markKept, selectSmallestKeys, selectThreshold, type ScoreSequence } from '../../src/core/select.js';
import { Mask } from '../../src/core/mask.js';
import { Rng } from '../../src/core/rng.js';
import { SculptError } from '../../src/core/errors.js';
import { concat, referenceSmallest } from './helpers.js';

function sequence(arrays: Float32Array[], alive?: Mask[]): ScoreSequence & { reads: number } {
  const seq = {
    reads: 0,
    length: arrays.length,
    name: (i: number) => `t${i}`,
    scores(i: number) {
      seq.reads++;
      return arrays[i];
    },
    alive: alive ? (i: number) => alive[i] : undefined,
  };
  return seq;
}

/** Applies a threshold over the sequence and returns the pruned flat indices. */
function prunedBy(arrays: Float32Array[], alive: Mask[] | undefined, k: number): Set<number> {
  const t = selectThreshold(sequence(arrays, alive), k);
  const ties = { n: t.tiesToPrune };
  const out = new Set<number>();
  let off = 0;
  arrays.forEach((a, i) => {
    const m = new Mask(a.length);
    applyThreshold(a, alive?.[i], t, ties, m);
    for (let j = 0; j < a.length; j++) if (!m.get(j) && (alive === undefined || alive[i].get(j))) out.add(off + j);
    off += a.length;
  });
  return out;
}

function randomArrays(rng: Rng, sizes: number[], distinct: number): Float32Array[] {
  return sizes.map((n) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = distinct > 0 ? rng.int(distinct) / 7 : Math.abs(rng.normal());
    return a;
  });
}

test('selection equals a sort-based reference for every k, with and without ties', () => {
  const rng = new Rng(11);
  for (const distinct of [0, 3, 40]) {
    const arrays = randomArrays(rng, [37, 1, 64, 129], distinct);
    const all = concat(arrays);
    const alive = arrays.map((a) => {
      const m = Mask.full(a.length);
      for (let j = 0; j < a.length; j++) if (rng.next() < 0.2) m.set(j, false);
      return m;
    });
    const aliveFlat = new Uint8Array(all.length);
    let off = 0;
    alive.forEach((m) => {
      aliveFlat.set(m.toBytes(), off);
      off += m.length;
    });
    const nAlive = aliveFlat.reduce((s, v) => s + v, 0);
    for (let k = 0; k <= nAlive + 2; k++) {
      const got = prunedBy(arrays, alive, k);
      const want = referenceSmallest(all, aliveFlat, k);
      assert.equal(got.size, Math.min(k, nAlive), `distinct=${distinct} k=${k}`);
      assert.deepEqual([...got].sort((a, b) => a - b), [...want].sort((a, b) => a - b), `distinct=${distinct} k=${k}`);
    }
  }
});

test('tie rule: among equal scores the earlier position is pruned first, across arrays', () => {
  const arrays = [new Float32Array([5, 1, 1, 1]), new Float32Array([1, 1, 0.5])];
  // k = 3: 0.5 first, then the two earliest 1s (t0[1], t0[2]).
  const t = selectThreshold(sequence(arrays), 3);
  assert.equal(t.value, 1);
  assert.equal(t.tiesToPrune, 2);
  assert.deepEqual([...prunedBy(arrays, undefined, 3)].sort((a, b) => a - b), [1, 2, 6]);
  assert.deepEqual([...prunedBy(arrays, undefined, 5)].sort((a, b) => a - b), [1, 2, 3, 4, 6]);
});

test('boundary bin: values sharing the high 16 bits are split exactly in pass 2', () => {
  const a = new Float32Array(1000);
  for (let i = 0; i < a.length; i++) a[i] = 1 + ((i * 7919) % 1000) * 2 ** -23; // all in one 16-bit bin
  for (const k of [1, 499, 500, 999]) {
    const t = selectThreshold(sequence([a]), k);
    assert.equal(t.value, 1 + (k - 1) * 2 ** -23);
    assert.equal(t.tiesToPrune, 1);
  }
});

test('k = 0 prunes nothing, k >= alive prunes everything alive', () => {
  const a = [new Float32Array([3, 0, 2])];
  assert.deepEqual(selectThreshold(sequence(a), 0), { value: 0, tiesToPrune: 0 });
  assert.equal(selectThreshold(sequence(a), 3).value, Infinity);
  assert.equal(selectThreshold(sequence(a), 99).value, Infinity);
  // A zero score is an alive element like any other at the score level.
  assert.deepEqual(selectThreshold(sequence(a), 1), { value: 0, tiesToPrune: 1 });
});

test('NaN or Inf scores are a SculptError naming the tensor', () => {
  for (const bad of [NaN, Infinity, -Infinity]) {
    const arrays = [new Float32Array([1, 2]), new Float32Array([1, bad, 3])];
    assert.throws(() => selectThreshold(sequence(arrays), 1), (e: unknown) => e instanceof SculptError && /'t1'/.test(e.message));
  }
  // Raw float bits as keys (the magnitude fast path): NaN is caught in pass 1, even for k = 0.
  const raw = new Float32Array([1, NaN]);
  const keys = new Uint32Array(raw.buffer);
  assert.throws(() => selectSmallestKeys({ length: 1, name: () => 'w', keys: () => keys }, 0), /tensor 'w'/);
});

test('negative scores are refused', () => {
  assert.throws(() => selectThreshold(sequence([new Float32Array([1, -2])]), 1), /negative scores/);
});

test('two passes over the sequence (plus one counting pass at the score level)', () => {
  const seq = sequence(randomArrays(new Rng(2), [100, 100, 100], 0));
  selectThreshold(seq, 150);
  assert.equal(seq.reads, 9);
});

test('markAbove and markKept agree with the rule, and count zeros', () => {
  const rng = new Rng(5);
  const n = 1000;
  const keys = new Uint32Array(n);
  for (let i = 0; i < n; i++) keys[i] = rng.next() < 0.1 ? 0 : 1 + rng.int(50);
  const a = new Mask(n);
  const zeros = markAbove(keys, 20, a.words);
  let z = 0;
  let kept = 0;
  for (let i = 0; i < n; i++) {
    if (keys[i] === 0) z++;
    if (keys[i] > 20) kept++;
    assert.equal(a.get(i), keys[i] > 20);
  }
  assert.equal(zeros, z);
  assert.equal(a.keptCount(), kept);
  const b = new Mask(n);
  const eq = keys.filter((k) => k === 21).length;
  assert.deepEqual(markKept(keys, 21, 3, b.words), { tiesPruned: 3, zeros: z });
  assert.equal(b.keptCount(), kept - 3);
  assert.ok(eq > 3);
  // The three pruned ties are the first three 21s.
  const firstTies = [...keys.keys()].filter((i) => keys[i] === 21).slice(0, 3);
  for (const i of firstTies) assert.equal(b.get(i), false);
  // Sign bit ignored: raw bits of -2.0 rank like 2.0.
  const f = new Float32Array([-2, 1, 3]);
  const m = new Mask(3);
  markAbove(new Uint32Array(f.buffer), new Uint32Array(new Float32Array([1.5]).buffer)[0], m.words);
  assert.deepEqual([...m.toBytes()], [1, 0, 1]);
});

test('unrolled histogram kernels equal a plain loop for every tail length', () => {
  const rng = new Rng(9);
  for (const n of [0, 1, 7, 8, 9, 15, 31, 32, 33, 100, 1003]) {
    const keys = new Uint32Array(n);
    for (let i = 0; i < n; i++) keys[i] = (rng.nextUint32() & 0x8003ffff) | (rng.int(3) << 16) | 0x3f000000;
    const hi = new Uint32Array(65536);
    histogramHigh(keys, hi);
    const lo = new Uint32Array(65536);
    histogramLow(keys, 0x3f01, lo);
    const wantHi = new Uint32Array(65536);
    const wantLo = new Uint32Array(65536);
    for (const k of keys) {
      const a = k & 0x7fffffff;
      wantHi[a >>> 16]++;
      if (a >>> 16 === 0x3f01) wantLo[a & 0xffff]++;
    }
    assert.deepEqual(hi, wantHi, `n=${n}`);
    assert.deepEqual(lo, wantLo, `n=${n}`);
    const m = new Mask(n);
    const above = 0x3f018000;
    const zeros = markAbove(keys, above, m.words);
    assert.equal(zeros, 0);
    for (let i = 0; i < n; i++) assert.equal(m.get(i), (keys[i] & 0x7fffffff) > above);
  }
});

test('short single arrays (sorted copy) and sequences (radix) select identically', () => {
  const rng = new Rng(21);
  for (const distinct of [5, 1000, 0]) {
    const n = 3000;
    const keys = new Uint32Array(n);
    for (let i = 0; i < n; i++) keys[i] = distinct > 0 ? rng.int(distinct) * 40000 : rng.nextUint32() & 0x3fffffff;
    const one = { length: 1, name: () => 'a', keys: () => keys };
    const halves = [keys.subarray(0, 1234), keys.subarray(1234)];
    const two = { length: 2, name: (i: number) => `h${i}`, keys: (i: number) => halves[i] };
    for (const k of [0, 1, 2, 17, 1499, 1500, 2999, 3000, 4000]) {
      assert.deepEqual(selectSmallestKeys(one, k), selectSmallestKeys(two, k), `distinct=${distinct} k=${k}`);
    }
  }
});

test('markKept (branch-free words, equal keys walked in order) equals the plain rule for every length, tie count and sign', () => {
  const rng = new Rng(23);
  /** The rule, one element at a time: kept = k > key, or k == key ≠ 0 once `ties` equal keys are pruned. */
  const reference = (keys: Uint32Array, key: number, ties: number) => {
    let left = ties;
    let zeros = 0;
    const kept: boolean[] = [];
    for (const raw of keys) {
      const k = raw & 0x7fffffff;
      if (k === 0) zeros++;
      let keep = k > key;
      if (k === key && k !== 0) {
        if (left > 0) left--;
        else keep = true;
      }
      kept.push(keep);
    }
    return { kept, tiesPruned: ties - left, zeros };
  };
  for (const n of [0, 1, 5, 31, 32, 33, 63, 64, 65, 100, 1000, 4099]) {
    // Few distinct magnitudes: long runs of equal keys, also inside one 32-element word.
    const keys = new Uint32Array(n);
    for (let i = 0; i < n; i++) keys[i] = (rng.int(2) << 31) | (rng.next() < 0.05 ? 0 : 1 + rng.int(6));
    for (const key of [0, 1, 3, 6, 7]) {
      const equal = keys.filter((k) => (k & 0x7fffffff) === key).length;
      for (const ties of [0, 1, 2, Math.floor(equal / 2), equal, equal + 3]) {
        const m = new Mask(n);
        m.words.fill(0xdeadbeef); // every word is written
        const got = markKept(keys, key, ties, m.words);
        const want = reference(keys, key, ties);
        assert.deepEqual(got, { tiesPruned: want.tiesPruned, zeros: want.zeros }, `n=${n} key=${key} ties=${ties}`);
        for (let i = 0; i < n; i++) assert.equal(m.get(i), want.kept[i], `n=${n} key=${key} ties=${ties} i=${i}`);
      }
    }
  }
});
