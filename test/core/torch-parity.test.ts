// sculpt's core against masks computed by PyTorch 1.13 torch.nn.utils.prune on the same weights
// (test/fixtures/torch-prune.json, made by scripts/fixtures/make_torch_prune.py). Every mask must
// agree bit for bit, including the counts PyTorch rounds with Python's half-to-even round().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Mask } from '../../src/core/mask.js';
import { parsePattern } from '../../src/core/patterns.js';
import { prune } from '../../src/core/plan.js';
import type { PruneOptions } from '../../src/core/options.js';
import { WeightSet, type WeightTensor } from '../../src/core/types.js';

const DIR = join(import.meta.dirname, '..', 'fixtures');

interface FixtureTensor { name: string; shape: number[]; module: 'linear' | 'conv'; byteOffset: number }
interface FixtureCase {
  kind: 'l1_unstructured' | 'global_unstructured' | 'ln_structured' | 'iterative_l1_unstructured';
  tensors: string[];
  amount: number;
  amountIsCount: boolean;
  n?: 1 | 2;
  masks?: Record<string, string>;
  pruned?: Record<string, number>;
  keptChannels?: Record<string, number[]>;
  steps?: { mask: string; pruned: number }[];
  note?: string;
}

const doc = JSON.parse(readFileSync(join(DIR, 'torch-prune.json'), 'utf8')) as { tensors: FixtureTensor[]; cases: FixtureCase[] };
const bin = readFileSync(join(DIR, 'torch-prune.bin'));
const specs = new Map(doc.tensors.map((t) => [t.name, t]));

function weight(name: string): WeightTensor {
  const s = specs.get(name)!;
  const n = s.shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  new Uint8Array(data.buffer).set(bin.subarray(s.byteOffset, s.byteOffset + 4 * n));
  return {
    name, shape: s.shape, data, role: 'weight', op: s.module === 'conv' ? 'Conv' : 'Gemm',
    prunable: true, reason: 'torch parity fixture', outputAxis: 0,
  };
}

/** PyTorch's mask from the fixture: base64 bitset, bit i set = kept, LSB first. */
function torchMask(b64: string, length: number): Mask {
  const bytes = Buffer.from(b64, 'base64');
  const m = new Mask(length);
  for (let i = 0; i < length; i++) m.set(i, ((bytes[i >> 3] >> (i & 7)) & 1) === 1);
  return m;
}

function assertSameMask(got: Mask | undefined, want: Mask, label: string): void {
  assert.ok(got, `${label}: sculpt returned no mask`);
  assert.equal(got.length, want.length, `${label}: length`);
  const diff: number[] = [];
  for (let i = 0; i < want.length; i++) if (got.get(i) !== want.get(i)) diff.push(i);
  assert.equal(diff.length, 0,
    `${label}: ${diff.length} elements differ (first at ${diff[0]}); sculpt prunes ${got.prunedCount()}, PyTorch ${want.prunedCount()}`);
}

function options(over: Partial<PruneOptions>): PruneOptions {
  return {
    sparsity: 0, scope: 'layer', pattern: parsePattern('unstructured'), criterion: 'magnitude',
    exclude: [], overrides: new Map(), seed: 0, ...over,
  };
}

function amountOptions(c: FixtureCase): Partial<PruneOptions> {
  return c.amountIsCount ? { count: c.amount } : { sparsity: c.amount };
}

function label(c: FixtureCase): string {
  const n = c.n !== undefined ? ` n=${c.n}` : '';
  return `${c.kind}${n} ${c.tensors.join('+')} amount=${c.amount}${c.note ? ` (${c.note})` : ''}`;
}

test('the fixture holds every case the parity check needs', () => {
  const kinds = doc.cases.map((c) => c.kind);
  assert.equal(kinds.filter((k) => k === 'l1_unstructured').length, 10);
  assert.equal(kinds.filter((k) => k === 'global_unstructured').length, 2);
  assert.equal(kinds.filter((k) => k === 'ln_structured').length, 10);
  assert.equal(kinds.filter((k) => k === 'iterative_l1_unstructured').length, 2);
});

for (const c of doc.cases) {
  test(`torch parity: ${label(c)}`, () => {
    const tensors = c.tensors.map(weight);
    const ws = new WeightSet(tensors);
    if (c.kind === 'iterative_l1_unstructured') {
      let existing = new Map<string, Mask>();
      const t = tensors[0];
      for (const [i, step] of c.steps!.entries()) {
        const r = prune(ws, options({ sparsity: c.amount, fractionOfRemaining: true }), existing);
        const want = torchMask(step.mask, t.data.length);
        assert.equal(want.prunedCount(), step.pruned);
        assertSameMask(r.masks.get(t.name), want, `${label(c)} step ${i + 1}`);
        existing = r.masks;
      }
      return;
    }
    let opts: PruneOptions;
    if (c.kind === 'l1_unstructured') opts = options(amountOptions(c));
    else if (c.kind === 'global_unstructured') opts = options({ ...amountOptions(c), scope: 'global' });
    else opts = options({ ...amountOptions(c), pattern: parsePattern(c.n === 1 ? 'channel:l1' : 'channel:l2') });
    const r = prune(ws, opts);
    for (const t of tensors) {
      const want = torchMask(c.masks![t.name], t.data.length);
      assert.equal(want.prunedCount(), c.pruned![t.name], 'fixture decodes to its own count');
      assertSameMask(r.masks.get(t.name), want, `${label(c)} ${t.name}`);
    }
  });
}

test('torch parity: iterative pruning with the masks applied to the weights gives the same masks', () => {
  const c = doc.cases.find((x) => x.kind === 'iterative_l1_unstructured')!;
  const t = weight(c.tensors[0]);
  const ws = new WeightSet([t]);
  for (const step of c.steps!) {
    const r = prune(ws, options({ sparsity: c.amount, fractionOfRemaining: true }));
    const m = r.masks.get(t.name)!;
    assertSameMask(m, torchMask(step.mask, t.data.length), `zeroed weights, after ${step.pruned}`);
    m.applyTo(t.data);
  }
});
