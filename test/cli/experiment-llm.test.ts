// `sculpt experiment llm --quick`: the perplexity table on the GPT fixture, and the orderings that
// hold robustly there (SparseGPT below magnitude at 50% and, by a wide margin, at 2:4; dense below all).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sculpt, tempDir } from './helpers.js';

test('experiment llm --quick: dense, magnitude, wanda, sparsegpt at 50% and 2:4, with the robust orderings', () => {
  const out = tempDir();
  const r = sculpt(['experiment', 'llm', '--quick', '--json', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.ok(existsSync(join(out, 'llm.html')));
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'llm.json'), 'utf8')).rows, j.rows);
  assert.equal(j.rows.length, 6);
  const at = (c: string, s: string): number => j.rows.find((x: { criterion: string; setting: string }) => x.criterion === c && x.setting === s).perplexity;
  for (const row of j.rows) assert.ok(row.perplexity > j.densePerplexity, `${row.criterion} ${row.setting}`);
  assert.ok(at('sparsegpt', '50%') < at('magnitude', '50%'));
  assert.ok(at('sparsegpt', '2:4') < at('magnitude', '2:4') - 1, `2:4: sparsegpt ${at('sparsegpt', '2:4')} vs magnitude ${at('magnitude', '2:4')}`);
  assert.ok(at('sparsegpt', '2:4') < at('wanda', '2:4'));
});
