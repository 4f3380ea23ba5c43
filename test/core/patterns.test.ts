import { test } from 'node:test';
import assert from 'node:assert/strict';
import { channelLayout, formatPattern, nmMaskInto, parsePattern } from '../../src/core/patterns.js';
import { Rng } from '../../src/core/rng.js';
import { prune } from '../../src/core/plan.js';
import { countToPrune } from '../../src/core/counting.js';
import { Mask } from '../../src/core/mask.js';
import { WeightSet, type WeightTensor } from '../../src/core/types.js';
import { SculptError } from '../../src/core/errors.js';
import { options, tensor } from './helpers.js';

test('parsePattern accepts the documented forms and names options.pattern otherwise', () => {
  assert.deepEqual(parsePattern('unstructured'), { kind: 'unstructured' });
  assert.deepEqual(parsePattern('2:4'), { kind: 'nm', n: 2, m: 4 });
  assert.deepEqual(parsePattern(' 1:8 '), { kind: 'nm', n: 1, m: 8 });
  assert.deepEqual(parsePattern('channel'), { kind: 'channel', norm: 2 });
  assert.deepEqual(parsePattern('channel:l1'), { kind: 'channel', norm: 1 });
  for (const p of ['unstructured', '2:4', 'channel:l1', 'channel:l2']) assert.equal(formatPattern(parsePattern(p)), p);
  for (const bad of ['blocks', '4:2', '0:4', '2:', 'channel:l3']) {
    assert.throws(() => parsePattern(bad), (e: unknown) => e instanceof SculptError && /options\.pattern/.test(e.message));
  }
});

/** Flat indices of the M-groups of one tensor, computed from the documented layout rules. */
function groupsOf(t: WeightTensor, m: number): number[][] {
  const L = channelLayout(t);
  const out: number[][] = [];
  for (let o = 0; o < L.channels; o++) {
    for (let r0 = 0; r0 < L.reduction; r0 += m) {
      const g: number[] = [];
      for (let r = r0; r < r0 + m; r++) g.push((Math.floor(r / L.post) * L.channels + o) * L.post + (r % L.post));
      out.push(g);
    }
  }
  return out;
}

test('N:M keeps exactly the N largest of every group, for each layout', () => {
  const cases: [number[], number][] = [
    [[6, 8], 0], // [out, in]: groups along rows
    [[8, 6], 1], // [in, out]: groups down the columns
    [[3, 3, 4, 5], 3], // TF.js conv [kh, kw, in, out]
    [[5, 4, 3, 3], 0], // ONNX conv [out, in, kh, kw]
  ];
  for (const [shape, axis] of cases) {
    for (const [n, m] of [[2, 4], [1, 4], [4, 8]]) {
      const t = tensor('w', shape, 17, { outputAxis: axis });
      if (channelLayout(t).reduction % m !== 0) continue;
      const r = prune(new WeightSet([t]), options({ pattern: { kind: 'nm', n, m } }));
      const mask = r.masks.get('w') as Mask;
      assert.equal(mask.keptCount(), (t.data.length / m) * n, `${shape} ${n}:${m}`);
      for (const g of groupsOf(t, m)) {
        const kept = g.filter((i) => mask.get(i));
        assert.equal(kept.length, n);
        const minKept = Math.min(...kept.map((i) => Math.abs(t.data[i])));
        for (const i of g) if (!mask.get(i)) assert.ok(Math.abs(t.data[i]) <= minKept);
      }
    }
  }
  // Layout check by hand: [in=4, out=2] with outputAxis 1, 2:4 runs down each column.
  const h = tensor('h', [4, 2], 1, { outputAxis: 1 });
  h.data.set([1, 8, 2, 7, 3, 6, 4, 5]);
  const hm = prune(new WeightSet([h]), options({ pattern: { kind: 'nm', n: 2, m: 4 } })).masks.get('h') as Mask;
  assert.deepEqual([...hm.toBytes()], [0, 1, 0, 1, 1, 0, 1, 0]);
});

test('N:M ties prune the earlier index; zeros count as pruned; bad lengths are an error', () => {
  const t = tensor('w', [1, 8], 1);
  t.data.set([1, 1, 1, 1, 0, 0, 0, 3]);
  const m = prune(new WeightSet([t]), options({ pattern: { kind: 'nm', n: 2, m: 4 } })).masks.get('w') as Mask;
  assert.deepEqual([...m.toBytes()], [0, 0, 1, 1, 0, 0, 0, 1]);
  const bad = tensor('conv.weight', [4, 3, 3, 3], 1);
  assert.throws(() => prune(new WeightSet([bad]), options({ pattern: { kind: 'nm', n: 2, m: 4 } })), (e: unknown) => e instanceof SculptError && /'conv.weight'.*27.*M=4/.test(e.message));
});

/** Per-channel Ln norms computed directly (the reference for ln_structured). */
function norms(t: WeightTensor, n: 1 | 2): number[] {
  const L = channelLayout(t);
  const out = new Array(L.channels).fill(0);
  for (let i = 0; i < t.data.length; i++) {
    const o = Math.floor(i / L.post) % L.channels;
    out[o] += n === 1 ? Math.abs(t.data[i]) : t.data[i] ** 2;
  }
  return out;
}

test('layer channel pruning removes exactly round(s*C) whole channels with the smallest norms', () => {
  for (const [shape, axis] of [[[12, 3, 3, 3], 0], [[20, 15], 1], [[3, 3, 4, 9], 3]] as [number[], number][]) {
    for (const norm of [1, 2] as const) {
      for (const s of [0.1, 0.25, 0.5, 0.75, 0.9]) {
        const t = tensor('w', shape, 23, { outputAxis: axis });
        const L = channelLayout(t);
        const mask = prune(new WeightSet([t]), options({ sparsity: s, scope: 'layer', pattern: { kind: 'channel', norm } })).masks.get('w') as Mask;
        const k = countToPrune(s, L.channels);
        assert.equal(mask.prunedCount(), k * L.reduction, `${shape} s=${s}`);
        const nv = norms(t, norm);
        const prunedCh = new Set<number>();
        for (let i = 0; i < t.data.length; i++) if (!mask.get(i)) prunedCh.add(Math.floor(i / L.post) % L.channels);
        assert.equal(prunedCh.size, k);
        const want = [...nv.keys()].sort((a, b) => nv[a] - nv[b]).slice(0, k);
        assert.deepEqual([...prunedCh].sort((a, b) => a - b), want.sort((a, b) => a - b));
      }
    }
  }
});

test('global channel pruning ranks channels by RMS across tensors and lands near round(s*N)', () => {
  const a = tensor('a', [16, 8], 3);
  const b = tensor('b', [8, 32], 4);
  for (let i = 0; i < b.data.length; i++) b.data[i] *= 0.5; // b's channels are smaller
  const ws = new WeightSet([a, b]);
  for (const s of [0.2, 0.5, 0.7]) {
    // Extreme sparsities empty whole tensors here: the count, not the collapse, is under test.
    const r = prune(ws, options({ sparsity: s, pattern: { kind: 'channel', norm: 2 }, allowCollapse: true }));
    const target = countToPrune(s, 128 + 256);
    const pruned = r.targetTotal.zerosAfter;
    assert.ok(Math.abs(pruned - target) <= 16, `s=${s}: ${pruned} vs ${target}`); // within half the largest channel
    // Every pruned channel's RMS <= every kept channel's RMS.
    const rms: { v: number; pruned: boolean }[] = [];
    for (const t of [a, b]) {
      const m = r.masks.get(t.name) as Mask;
      const C = t.shape[0];
      const size = t.data.length / C;
      for (let c = 0; c < C; c++) {
        let ss = 0;
        for (let j = 0; j < size; j++) ss += t.data[c * size + j] ** 2;
        rms.push({ v: Math.sqrt(ss / size), pruned: !m.get(c * size) });
      }
    }
    const maxPruned = Math.max(...rms.filter((x) => x.pruned).map((x) => x.v));
    const minKept = Math.min(...rms.filter((x) => !x.pruned).map((x) => x.v));
    assert.ok(maxPruned <= minKept);
  }
});

test('channels already all zero count toward round(s*C); nothing is restored', () => {
  const t = tensor('w', [10, 6], 31);
  for (const c of [2, 7]) for (let j = 0; j < 6; j++) t.data[c * 6 + j] = 0;
  const ws = new WeightSet([t]);
  const prunedChannels = (s: number, extra: Partial<Parameters<typeof options>[0]> = {}) => {
    const m = prune(ws, options({ sparsity: s, scope: 'layer', pattern: { kind: 'channel', norm: 2 }, ...extra })).masks.get('w') as Mask;
    const out: number[] = [];
    for (let c = 0; c < 10; c++) if (!m.get(c * 6)) out.push(c);
    assert.equal(m.prunedCount(), out.length * 6);
    return out;
  };
  assert.deepEqual(prunedChannels(0.1), [2, 7]); // round(1) < 2 dead: none removed, none restored
  const five = prunedChannels(0.5);
  assert.equal(five.length, 5);
  assert.ok(five.includes(2) && five.includes(7));
  // IMP on channels: 2 dead + round(0.5 * 8) = 6.
  assert.equal(prunedChannels(0.5, { fractionOfRemaining: true }).length, 6);
  assert.equal(prunedChannels(0, { count: 3 }).length, 3);
});

test('the N:4 fast path equals the generic N:M loop (random data, ties, pruned elements, both layouts)', () => {
  const rng = new Rng(77);
  for (const [shape, axis] of [[[12, 16], 0], [[16, 12], 1], [[3, 3, 4, 6], 3], [[6, 4, 2, 2], 0]] as [number[], number][]) {
    const t = tensor('w', shape, 5, { outputAxis: axis });
    const scores = new Float32Array(t.data.length);
    for (let i = 0; i < scores.length; i++) scores[i] = rng.int(4) / 2; // many ties
    const alive = Mask.full(scores.length);
    for (let i = 0; i < scores.length; i++) if (rng.next() < 0.25) alive.set(i, false);
    for (const n of [1, 2, 3]) {
      const fast = new Mask(scores.length);
      nmMaskInto(t, scores, alive, n, 4, fast);
      // Reference: the documented rule, group by group.
      const L = channelLayout(t);
      const want = new Mask(scores.length);
      for (let o = 0; o < L.channels; o++) {
        for (let r0 = 0; r0 < L.reduction; r0 += 4) {
          const g = [0, 1, 2, 3].map((j) => (Math.floor((r0 + j) / L.post) * L.channels + o) * L.post + ((r0 + j) % L.post));
          for (let j = 0; j < 4; j++) {
            if (!alive.get(g[j])) continue;
            let beaten = 0;
            for (let l = 0; l < 4; l++) {
              if (l !== j && alive.get(g[l]) && (scores[g[l]] > scores[g[j]] || (scores[g[l]] === scores[g[j]] && l > j))) beaten++;
            }
            want.set(g[j], beaten < n);
          }
        }
      }
      assert.ok(fast.equals(want), `${shape} axis ${axis} ${n}:4`);
    }
  }
});
