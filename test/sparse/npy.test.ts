import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { SculptError } from '../../src/core/errors.js';
import { parseNpy, writeNpy } from '../../src/sparse/npy.js';
import { parseNpy as fixtureParse } from '../fixtures/npy.js';

test('reads the NumPy-written fixtures exactly', () => {
  for (const name of ['mlp.input', 'cnn.input', 'transformer.output']) {
    const bytes = readFileSync(`test/fixtures/${name}.npy`);
    const ours = parseNpy(bytes, name);
    const ref = fixtureParse(bytes, name);
    assert.equal(ours.dtype, 'float32');
    assert.deepEqual([...ours.dims], ref.shape);
    assert.deepEqual(new Uint8Array(ours.data.buffer, ours.data.byteOffset, ours.data.byteLength), new Uint8Array(ref.data.buffer));
  }
});

test('writes version 1.0 files that read back exactly, data aligned to 64 bytes', () => {
  const f = { dtype: 'float32' as const, dims: [2, 3], data: Float32Array.of(1, -2.5, NaN, 0, 1e-40, 3) };
  const bytes = writeNpy(f);
  assert.equal((bytes.length - 6 * 4) % 64, 0);
  assert.equal(bytes[bytes.length - 6 * 4 - 1], 0x0a);
  const back = parseNpy(bytes);
  assert.deepEqual(new Uint8Array(back.data.buffer), new Uint8Array(f.data.buffer));
  assert.deepEqual(fixtureParse(bytes).shape, [2, 3]);
  const i = parseNpy(writeNpy({ dtype: 'int64', dims: [4], data: Float64Array.of(-3, 0, 2 ** 40, 7) }));
  assert.equal(i.dtype, 'int64');
  assert.deepEqual(Array.from(i.data), [-3, 0, 2 ** 40, 7]);
  const b = parseNpy(writeNpy({ dtype: 'bool', dims: [], data: Uint8Array.of(1) }));
  assert.deepEqual([b.dtype, b.dims.length, b.data[0]], ['bool', 0, 1]);
});

test('refuses what it cannot read with a SculptError naming the file', () => {
  const good = writeNpy({ dtype: 'float32', dims: [3], data: Float32Array.of(1, 2, 3) });
  const fortran = new TextDecoder('latin1').decode(good).replace("'fortran_order': False", "'fortran_order': True ");
  assert.throws(() => parseNpy(Uint8Array.from(fortran, (c) => c.charCodeAt(0)), 'x.npy'), (e: unknown) => e instanceof SculptError && /x\.npy: Fortran/.test(e.message));
  assert.throws(() => parseNpy(good.subarray(0, good.length - 1), 'x.npy'), (e: unknown) => e instanceof SculptError && /needs 12/.test(e.message));
  assert.throws(() => parseNpy(new Uint8Array(20), 'x.npy'), (e: unknown) => e instanceof SculptError && /magic/.test(e.message));
});
