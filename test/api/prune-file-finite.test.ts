import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pruneFile } from '../../src/api/prune-file.js';
import { SculptError } from '../../src/core/errors.js';
import { pruneOptions } from '../../src/core/options.js';

// The NaN/Inf check rides on the global selection's own pass (prune-file.ts, planCheckingFinite):
// whichever check meets a non-finite value, the refusal is the full check's, naming the first
// prunable tensor in file order that holds one, and it comes before other refusals.

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sculpt-finite-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** a.weight [8,8], b.weight [8,8], c.weight [8,8] (F32), bad values placed by the caller. */
function checkpoint(name: string, bad: Record<string, [number, number]>): string {
  const names = ['a.weight', 'b.weight', 'c.weight'];
  const header: Record<string, unknown> = {};
  const data = new Float32Array(64 * names.length);
  for (let i = 0; i < data.length; i++) data[i] = ((i * 37) % 101) / 100 - 0.5;
  names.forEach((n, t) => {
    header[n] = { dtype: 'F32', shape: [8, 8], data_offsets: [t * 256, (t + 1) * 256] };
    if (bad[n]) data[t * 64 + bad[n][0]] = bad[n][1];
  });
  let json = JSON.stringify(header);
  while ((json.length + 8) % 8 !== 0) json += ' ';
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const file = path.join(dir, name);
  fs.writeFileSync(file, Buffer.concat([len, Buffer.from(json), Buffer.from(data.buffer)]));
  return file;
}

function refusal(file: string, opts: Parameters<typeof pruneOptions>[0]): string {
  const out = path.join(dir, `out-${path.basename(file)}`);
  try {
    pruneFile(file, out, pruneOptions(opts));
  } catch (e) {
    assert.ok(e instanceof SculptError, String(e));
    assert.ok(!fs.existsSync(out), 'nothing written');
    return e.message;
  }
  return assert.fail('expected a refusal');
}

test('NaN or Inf in a global target, an excluded tensor or a layer-scope target: the first in file order, with its element', () => {
  const global = { sparsity: 0.5, scope: 'global' as const };
  let f = checkpoint('g.safetensors', { 'b.weight': [5, NaN] });
  assert.match(refusal(f, global), /g\.safetensors: tensor b\.weight contains NaN at element 5;/);
  // Outside the global set (excluded): checked on its own pass, same message.
  f = checkpoint('x.safetensors', { 'a.weight': [3, -Infinity] });
  assert.match(refusal(f, { ...global, exclude: ['a.weight'] }), /tensor a\.weight contains -Inf at element 3;/);
  // Both: the earlier tensor in the file is named, though the selection met the later one first.
  f = checkpoint('both.safetensors', { 'a.weight': [7, Infinity], 'c.weight': [1, NaN] });
  assert.match(refusal(f, { ...global, exclude: ['a.weight'] }), /tensor a\.weight contains \+Inf at element 7;/);
  // Layer scope, and other criteria.
  f = checkpoint('l.safetensors', { 'c.weight': [0, NaN] });
  assert.match(refusal(f, { sparsity: 0.5, scope: 'layer' }), /tensor c\.weight contains NaN at element 0;/);
  assert.match(refusal(f, { ...global, criterion: 'random' }), /tensor c\.weight contains NaN at element 0;/);
  // Before an option the plan refuses (an --exclude matching nothing).
  assert.match(refusal(f, { ...global, exclude: ['nothing.*'] }), /tensor c\.weight contains NaN at element 0;/);
});

test('finite checkpoints prune as before: exact count over the global set', () => {
  const f = checkpoint('ok.safetensors', {});
  const out = path.join(dir, 'ok-out.safetensors');
  const r = pruneFile(f, out, pruneOptions({ sparsity: 0.75, scope: 'global' }));
  assert.equal(r.targetTotal.zerosAfter, 144);
});
