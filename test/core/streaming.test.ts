import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planStreaming, prune, type TensorSource } from '../../src/core/plan.js';
import { Mask } from '../../src/core/mask.js';
import { WeightSet, type WeightTensor } from '../../src/core/types.js';
import type { PruneOptions } from '../../src/core/options.js';
import { SculptError } from '../../src/core/errors.js';
import { model, options, tensor } from './helpers.js';

/** A source like a file reader: tensors without data, one reused read buffer, reads counted. */
function diskLike(ws: WeightSet): TensorSource & { reads: number } {
  let buf = new Float32Array(0);
  const src = {
    reads: 0,
    tensors: ws.tensors.map((t): WeightTensor => ({ ...t, data: new Float32Array(0) })),
    read(name: string): Float32Array {
      src.reads++;
      const d = (ws.get(name) as WeightTensor).data;
      if (buf.length < d.length) buf = new Float32Array(d.length);
      const out = buf.subarray(0, d.length);
      out.set(d);
      return out;
    },
  };
  return src;
}

function streamMasks(ws: WeightSet, opts: PruneOptions, reverse = false): Map<string, Mask> {
  const src = diskLike(ws);
  const plan = planStreaming(src, opts);
  const out = new Map<string, Mask>();
  const order = reverse ? [...ws.tensors].reverse() : ws.tensors;
  for (const t of order) {
    const m = plan.maskFor(t.name, src.read(t.name));
    if (m !== undefined) out.set(t.name, m);
  }
  return out;
}

function tiedModel(): WeightSet {
  const ws = model(9);
  // Quantised weights: lots of exact ties, and some zeros.
  for (const t of ws.tensors) for (let i = 0; i < t.data.length; i++) t.data[i] = Math.round(t.data[i] * 4) / 4;
  return ws;
}

test('streaming gives the same masks as in memory, for every scope, pattern and criterion', () => {
  const configs: Partial<PruneOptions>[] = [
    { sparsity: 0.5 },
    { sparsity: 0.9, scope: 'layer' },
    { sparsity: 0.37, criterion: 'random', seed: 3 },
    { sparsity: 0.6, pattern: { kind: 'channel', norm: 2 } },
    { sparsity: 0.6, pattern: { kind: 'channel', norm: 1 }, scope: 'layer' },
    { pattern: { kind: 'nm', n: 2, m: 4 }, exclude: ['conv*'] },
    { sparsity: 0.7, overrides: new Map([['fc2.weight', 0.2]]), exclude: ['conv1.weight'] },
    { sparsity: 0.2, fractionOfRemaining: true },
    { sparsity: 0, count: 500 },
  ];
  for (const ws of [model(8), tiedModel()]) {
    for (const c of configs) {
      const opts = options(c);
      const mem = prune(ws, opts).masks;
      for (const reverse of [false, true]) {
        const str = streamMasks(ws, opts, reverse);
        assert.deepEqual([...str.keys()].sort(), [...mem.keys()].sort());
        for (const [name, m] of mem) assert.ok(m.equals(str.get(name) as Mask), `${JSON.stringify(c)} ${name} reverse=${reverse}`);
      }
    }
  }
});

test('global streaming makes two read passes, layer scope none; partial ties need no third pass in order', () => {
  const ws = model(8);
  const src = diskLike(ws);
  planStreaming(src, options({ sparsity: 0.5 }));
  assert.equal(src.reads, 2 * 3);
  // Partial ties at the threshold: counted off while maskFor goes in file order, no extra pass...
  const tiedWs = tiedModel();
  const tied = diskLike(tiedWs);
  const plan = planStreaming(tied, options({ sparsity: 0.5 }));
  assert.equal(tied.reads, 2 * 3);
  const inOrder = tiedWs.tensors.map((t) => plan.maskFor(t.name, t.data));
  assert.equal(tied.reads, 2 * 3);
  // ...while a call out of order makes one counting pass (stopping once the ties are handed out)
  // and gives the same masks, even when `values` lives in the source's reused buffer.
  const again = plan.maskFor('conv1.weight', tied.read('conv1.weight'));
  assert.ok(tied.reads > 2 * 3 + 1 && tied.reads <= 2 * 3 + 1 + 3);
  assert.ok(again?.equals(inOrder[0] as Mask));
  const fc2 = plan.maskFor('fc2.weight', tied.read('fc2.weight'));
  assert.ok(fc2?.equals(inOrder[4] as Mask));
  const layer = diskLike(ws);
  planStreaming(layer, options({ sparsity: 0.5, scope: 'layer' }));
  assert.equal(layer.reads, 0);
});

test('stats() covers every tensor, reading those the writer did not pass', () => {
  const ws = tiedModel();
  const src = diskLike(ws);
  const plan = planStreaming(src, options({ sparsity: 0.5 }));
  plan.maskFor('fc1.weight', src.read('fc1.weight'));
  const s = plan.stats();
  const mem = prune(ws, options({ sparsity: 0.5 }));
  assert.deepEqual(s.stats, mem.stats);
  assert.deepEqual(s.total, mem.total);
  assert.ok(s.total.zerosBefore > 0);
});

test('NaN or Inf weights are refused naming the tensor, in both entry points', () => {
  const ws = model(8);
  (ws.get('fc1.weight') as WeightTensor).data[17] = NaN;
  const named = (e: unknown) => e instanceof SculptError && /'fc1.weight'/.test(e.message);
  assert.throws(() => planStreaming(diskLike(ws), options()), named);
  assert.throws(() => prune(ws, options({ scope: 'layer' })), named);
  assert.throws(() => prune(ws, options({ criterion: 'random' })), named);
  assert.throws(() => prune(ws, options({ pattern: { kind: 'channel', norm: 2 } })), named);
  assert.throws(() => prune(ws, options({ pattern: { kind: 'nm', n: 2, m: 4 }, exclude: ['conv*'] })), named);
  (ws.get('fc1.weight') as WeightTensor).data[17] = -Infinity;
  assert.throws(() => prune(ws, options({ sparsity: 0 })), named);
});

test('maskFor checks names and sizes', () => {
  const ws = new WeightSet([tensor('w', [10], 1)]);
  const plan = planStreaming(diskLike(ws), options());
  assert.throws(() => plan.maskFor('v', new Float32Array(10)), /'v'/);
  assert.throws(() => plan.maskFor('w', new Float32Array(9)), /'w' has 9 values/);
});
