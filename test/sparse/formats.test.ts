import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/core/rng.js';
import { SculptError } from '../../src/core/errors.js';
import {
  chooseFormat, denseToBitmask, denseToBlock, denseToCsr, denseToNm, fitsNm, storageBytes, toDense, toSparse,
} from '../../src/sparse/formats.js';

/** A random matrix with about `density` of its entries nonzero (values never 0). */
function randomSparse(rows: number, cols: number, density: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < out.length; i++) {
    if (rng.nextUint32() / 2 ** 32 < density) out[i] = (rng.nextUint32() / 2 ** 32) * 2 - 1 || 0.5;
  }
  return out;
}

function bytesOf(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

test('CSR round trip is byte exact, with 16-bit indices up to 65536 columns and 32-bit beyond', () => {
  const dense = randomSparse(37, 53, 0.2, 1);
  const csr = denseToCsr(dense, 37, 53);
  assert.ok(csr.colIndex instanceof Uint16Array);
  assert.equal(csr.rowPtr[37], csr.values.length);
  assert.deepEqual(bytesOf(toDense(csr)), bytesOf(dense));
  assert.equal(storageBytes(csr), 38 * 4 + csr.values.length * 6);

  const wide = new Float32Array(2 * 70000);
  wide[69999] = 3; wide[70000 + 65536] = -2; wide[5] = 1;
  const csrWide = denseToCsr(wide, 2, 70000);
  assert.ok(csrWide.colIndex instanceof Uint32Array);
  assert.deepEqual(Array.from(csrWide.colIndex), [5, 69999, 65536]);
  assert.deepEqual(bytesOf(toDense(csrWide)), bytesOf(wide));
  assert.ok(denseToCsr(new Float32Array(65536), 1, 65536).colIndex instanceof Uint16Array);
});

test('bitmask round trip is byte exact and keeps NaN; -0 counts as pruned', () => {
  const dense = randomSparse(13, 29, 0.5, 2);
  dense[7] = NaN; dense[8] = -0; dense[9] = -1e-30;
  const bm = denseToBitmask(dense, 13, 29);
  const back = toDense(bm);
  assert.ok(Number.isNaN(back[7]));
  assert.ok(Object.is(back[8], 0));
  assert.equal(back[9], dense[9]);
  dense[8] = 0;
  assert.deepEqual(bytesOf(back), bytesOf(dense));
  assert.equal(storageBytes(bm), Math.ceil((13 * 29) / 8) + bm.values.length * 4);
});

test('N:M round trip is exact, including short last groups and groups with fewer than N', () => {
  const rows = 9, cols = 22, n = 2, m = 4;
  const rng = new Rng(3);
  const dense = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < cols; g += m) {
      const keep = rng.nextUint32() % (n + 1);
      for (let j = 0; j < keep; j++) {
        const c = g + (rng.nextUint32() % Math.min(m, cols - g));
        dense[r * cols + c] = 1 + (rng.nextUint32() % 100);
      }
    }
  }
  assert.ok(fitsNm(dense, rows, cols, n, m));
  const nm = denseToNm(dense, rows, cols, n, m);
  assert.equal(nm.indexBits, 2);
  assert.equal(nm.values.length, rows * 6 * n);
  assert.equal(nm.indices.length, Math.ceil((rows * 6 * n * 2) / 8));
  assert.deepEqual(bytesOf(toDense(nm)), bytesOf(dense));
});

test('N:M refuses a matrix that does not fit the pattern, naming the row', () => {
  const dense = new Float32Array([1, 2, 3, 0, 1, 0, 0, 0]);
  assert.equal(fitsNm(dense, 2, 4, 2, 4), false);
  assert.throws(() => denseToNm(dense, 2, 4, 2, 4), (e: unknown) => e instanceof SculptError && /row 0/.test(e.message));
});

test('block round trip is exact with edge blocks that overhang the matrix', () => {
  const rows = 10, cols = 14;
  const dense = new Float32Array(rows * cols);
  const rng = new Rng(4);
  for (let i = 0; i < 12; i++) dense[rng.nextUint32() % dense.length] = 1 + i;
  const blk = denseToBlock(dense, rows, cols, 4, 4);
  assert.deepEqual(bytesOf(toDense(blk)), bytesOf(dense));
  let expectedBlocks = 0;
  for (let r0 = 0; r0 < rows; r0 += 4) for (let c0 = 0; c0 < cols; c0 += 4) {
    let any = false;
    for (let i = r0; i < Math.min(r0 + 4, rows); i++) for (let j = c0; j < Math.min(c0 + 4, cols); j++) any ||= dense[i * cols + j] !== 0;
    if (any) expectedBlocks++;
  }
  assert.equal(blk.blockCol.length, expectedBlocks);
  assert.equal(blk.values.length, expectedBlocks * 16);
});

test('chooseFormat picks the smallest storage and its byte counts match the built storage', () => {
  const rows = 64, cols = 128;
  const at = (d: number, seed: number) => randomSparse(rows, cols, d, seed);
  assert.equal(chooseFormat(at(1, 5), rows, cols).kind, 'dense');
  assert.equal(chooseFormat(at(0.9, 5), rows, cols).kind, 'bitmask');
  assert.equal(chooseFormat(at(0.4, 6), rows, cols).kind, 'bitmask');
  const sparse = at(0.02, 7);
  const choice = chooseFormat(sparse, rows, cols);
  assert.equal(choice.kind, 'csr');
  assert.equal(choice.bytes, storageBytes(denseToCsr(sparse, rows, cols)));
  assert.equal(choice.candidates.bitmask, storageBytes(denseToBitmask(sparse, rows, cols)));

  // Whole 8×8 blocks: block storage beats CSR.
  const blocky = new Float32Array(rows * cols);
  for (let i = 0; i < 8; i++) for (let j = 0; j < 8; j++) blocky[(16 + i) * cols + 32 + j] = 1;
  const blockChoice = chooseFormat(blocky, rows, cols, { block: { rows: 8, cols: 8 } });
  assert.equal(blockChoice.kind, 'block');
  assert.equal(blockChoice.bytes, storageBytes(toSparse(blocky, rows, cols, 'block', { block: { rows: 8, cols: 8 } })));

  // 1:4 everywhere: N:M (4 + 0.25 bytes per kept value) beats CSR (6 + row pointers) and bitmask.
  const oneOfFour = new Float32Array(rows * cols);
  for (let i = 0; i < oneOfFour.length; i += 4) oneOfFour[i + (i % 3)] = 2;
  const nmChoice = chooseFormat(oneOfFour, rows, cols, { nm: { n: 1, m: 4 } });
  assert.equal(nmChoice.kind, 'nm');
  assert.equal(nmChoice.bytes, storageBytes(toSparse(oneOfFour, rows, cols, 'nm', { nm: { n: 1, m: 4 } })));
});

test('shape mismatches are SculptErrors', () => {
  assert.throws(() => denseToCsr(new Float32Array(5), 2, 3), SculptError);
  assert.throws(() => denseToBlock(new Float32Array(6), 2, 3, 0, 1), SculptError);
});
