import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/core/rng.js';
import { denseToCsr } from '../../src/sparse/formats.js';
import { Kernels, prepareKernels, applyChain, applyLinear, columnTile, nonzeroRows, stripColumns, stripStarts, uploadCsr, uploadDense, uploadRows } from '../../src/sparse/kernels.js';

function uniform(rng: Rng): number {
  return rng.nextUint32() / 2 ** 32;
}

function randomMatrix(rows: number, cols: number, density: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < out.length; i++) if (uniform(rng) < density) out[i] = uniform(rng) * 2 - 1;
  return out;
}

/** Naive Y = X·W^T + b, ReLU, in float64, and the scale sum |w||x| each output's error is judged by. */
function reference(w: Float32Array, rows: number, cols: number, x: Float32Array, batch: number, bias: Float32Array | undefined, relu: boolean) {
  const y = new Float64Array(batch * rows);
  const scale = new Float64Array(batch * rows);
  for (let b = 0; b < batch; b++) {
    for (let r = 0; r < rows; r++) {
      let s = bias ? bias[r] : 0;
      let a = bias ? Math.abs(bias[r]) : 0;
      for (let c = 0; c < cols; c++) {
        s += w[r * cols + c] * x[b * cols + c];
        a += Math.abs(w[r * cols + c] * x[b * cols + c]);
      }
      y[b * rows + r] = relu ? Math.max(0, s) : s;
      scale[b * rows + r] = a;
    }
  }
  return { y, scale };
}

function assertClose(actual: Float32Array, ref: { y: Float64Array; scale: Float64Array }, what: string): void {
  assert.equal(actual.length, ref.y.length);
  for (let i = 0; i < actual.length; i++) {
    const tol = 1e-5 * ref.scale[i] + 1e-30;
    if (!(Math.abs(actual[i] - ref.y[i]) <= tol)) assert.fail(`${what}: element ${i} is ${actual[i]}, expected ${ref.y[i]} (±${tol})`);
  }
}

const shapes = [
  { rows: 37, cols: 53, density: 0.3 },
  { rows: 64, cols: 128, density: 0.1 },
  { rows: 5, cols: 3, density: 1 },
  { rows: 33, cols: 200, density: 0.02 },
];

test('CSR (16-bit) and dense kernels match the naive product at batch 1, 3, 6, 10, 16 and 17 (CSR passes of 1, 2, 3, 4 and 5 vectors), with bias and ReLU', () => {
  const k = new Kernels();
  let seed = 10;
  for (const { rows, cols, density } of shapes) {
    const w = randomMatrix(rows, cols, density, seed++);
    const bias = randomMatrix(1, rows, 1, seed++);
    const sparse = uploadCsr(k, denseToCsr(w, rows, cols), bias);
    const dense = uploadDense(k, w, rows, cols, bias);
    const plainSparse = uploadCsr(k, denseToCsr(w, rows, cols));
    for (const batch of [1, 3, 6, 10, 16, 17]) {
      const x = randomMatrix(batch, cols, 1, seed++);
      for (const relu of [false, true]) {
        const ref = reference(w, rows, cols, x, batch, bias, relu);
        assertClose(applyLinear(k, sparse, x, batch, relu), ref, `csr ${rows}x${cols} batch ${batch} relu ${relu}`);
        assertClose(applyLinear(k, dense, x, batch, relu), ref, `dense ${rows}x${cols} batch ${batch} relu ${relu}`);
      }
      assertClose(applyLinear(k, plainSparse, x, batch), reference(w, rows, cols, x, batch, undefined, false), `csr no bias batch ${batch}`);
    }
  }
});

test('CSR wider than one pass (indices as offsets, passes of 7 vectors, then the rest in one pass or two equal ones) matches the naive product, and bit for bit the same columns in parts of 16 tokens or more', () => {
  const k = new Kernels();
  const rows = 45, cols = 300;
  const w = randomMatrix(rows, cols, 0.2, 71);
  const bias = randomMatrix(1, rows, 1, 72);
  const csr16 = denseToCsr(w, rows, cols);
  // The same matrix with 32-bit column indices (as for more than 65536 columns).
  const csr32 = { ...csr16, colIndex: Uint32Array.from(csr16.colIndex) };
  // Batches whose padded widths leave 1–6 vectors after the passes of 7, and BERT's 128 tokens (4·7 + 4).
  for (const batch of [29, 33, 37, 41, 45, 49, 128]) {
    const x = randomMatrix(batch, cols, 1, 700 + batch);
    for (const [name, csr] of [['csr16', csr16], ['csr32', csr32]] as const) {
      const layer = uploadCsr(k, csr, bias);
      for (const relu of [false, true]) {
        const y = applyLinear(k, layer, x, batch, relu);
        assertClose(y, reference(w, rows, cols, x, batch, bias, relu), `${name} batch ${batch} relu ${relu}`);
        // Each output sums its nonzeros in the same order whatever the pass: 16 tokens at a time
        // (one pass of 4 vectors, indices multiplied in the loop), then the 16–31 left, give the
        // same bits. (Passes of 1–3 vectors, 12 tokens or fewer, multiply then add where the rest
        // fuse the two, and a single token runs the batch-1 kernel, which sums in another order.)
        for (let b0 = 0, n = 0; b0 < batch; b0 += n) {
          n = batch - b0 < 32 ? batch - b0 : 16;
          const part = applyLinear(k, layer, x.subarray(b0 * cols, (b0 + n) * cols), n, relu);
          assert.deepEqual(part, y.subarray(b0 * rows, (b0 + n) * rows), `${name} batch ${batch} tokens ${b0}…`);
        }
      }
    }
  }
});

test('stripStarts: where each row enters each strip, counted independently; undefined for a row with columns out of order', () => {
  const rows = 9, cols = 50, width = 16;
  const w = randomMatrix(rows, cols, 0.3, 301);
  w.fill(0, 4 * cols, 5 * cols); // an empty row
  const csr = denseToCsr(w, rows, cols);
  const starts = stripStarts(csr, width)!;
  assert.equal(starts.length, (Math.ceil(cols / width) + 1) * rows);
  for (let r = 0; r < rows; r++) {
    for (let s = 0; s <= 4; s++) {
      // Row r's nonzeros in columns before s·width, counted from the dense matrix.
      let before = 0;
      for (let c = 0; c < Math.min(cols, s * width); c++) if (w[r * cols + c] !== 0) before++;
      assert.equal(starts[s * rows + r], csr.rowPtr[r] + before, `row ${r} strip ${s}`);
    }
  }
  const shuffled = { ...csr, colIndex: csr.colIndex.slice() };
  const k0 = csr.rowPtr[2];
  [shuffled.colIndex[k0], shuffled.colIndex[k0 + 1]] = [shuffled.colIndex[k0 + 1], shuffled.colIndex[k0]];
  assert.equal(stripStarts(shuffled, width), undefined);
});

test('CSR in strips of columns (a narrow last strip, empty rows, rows in one strip only) equals spmmCsr over the whole row bit for bit, 16- and 32-bit indices, with bias and ReLU; columns out of order fall back to spmmCsr', () => {
  const k = new Kernels();
  const rows = 41, cols = 700;
  const w = randomMatrix(rows, cols, 0.05, 311);
  w.fill(0, 3 * cols, 4 * cols); // empty
  w.fill(0, 5 * cols, 6 * cols);
  for (let c = 330; c < 400; c += 3) w[5 * cols + c] = 0.25 + c / 1000; // the middle strip only
  w.fill(0, 7 * cols, 7 * cols + 640);
  w[7 * cols + 699] = -1.5; // the last strip only
  const bias = randomMatrix(1, rows, 1, 312);
  const csr16 = denseToCsr(w, rows, cols);
  const csr32 = { ...csr16, colIndex: Uint32Array.from(csr16.colIndex) };
  const width = stripColumns(cols, csr16.values.length, rows);
  assert.ok(Math.ceil(cols / width) >= 2 && cols % width !== 0, `strips of ${width} columns`);
  const e = k.exports;
  for (const [name, csr] of [['csr16', csr16], ['csr32', csr32]] as const) {
    const layer = uploadCsr(k, csr, bias);
    for (const ld of [32, 36, 128, 200, 512]) {
      const x = randomMatrix(cols, ld, 1, 320 + ld);
      for (const relu of [false, true]) {
        const mark = k.mark();
        const xt = k.upload(x), yt = k.alloc(rows * ld * 4), want = k.alloc(rows * ld * 4), offsets = k.alloc(csr.values.length * 4);
        const rowPtr = k.upload(csr.rowPtr), colIdx = k.upload(csr.colIndex), values = k.upload(csr.values), b = k.upload(bias);
        layer.runBatch(xt, ld, yt, relu);
        e.spmmCsr(rows, rowPtr, colIdx, name === 'csr32' ? 1 : 0, values, xt, ld, want, b, relu ? 1 : 0, columnTile(cols, ld), offsets);
        const got = k.f32(yt, rows * ld).slice();
        assert.deepEqual(got, k.f32(want, rows * ld).slice(), `${name} ld ${ld} relu ${relu}`);
        // And the naive product (Y^T here: row r of W times column j of X^T).
        const xRows = new Float32Array(ld * cols);
        for (let c = 0; c < cols; c++) for (let j = 0; j < ld; j++) xRows[j * cols + c] = x[c * ld + j];
        const ref = reference(w, rows, cols, xRows, ld, bias, relu);
        const gotRows = new Float32Array(ld * rows);
        for (let r = 0; r < rows; r++) for (let j = 0; j < ld; j++) gotRows[j * rows + r] = got[r * ld + j];
        assertClose(gotRows, ref, `${name} ld ${ld} relu ${relu} naive`);
        k.release(mark);
      }
    }
  }
  // Two columns of a row swapped: no strips, the product as spmmCsr sums it in that order.
  const shuffled = { ...csr16, colIndex: csr16.colIndex.slice(), values: csr16.values.slice() };
  const k0 = csr16.rowPtr[0];
  for (const a of [shuffled.colIndex, shuffled.values]) [a[k0], a[k0 + 1]] = [a[k0 + 1], a[k0]];
  const x = randomMatrix(128, cols, 1, 330);
  assertClose(applyLinear(k, uploadCsr(k, shuffled, bias), x, 128), reference(w, rows, cols, x, 128, bias, false), 'columns out of order');
});

test('CSR with 32-bit column indices (more than 65536 columns) matches the naive product', () => {
  const k = new Kernels();
  const rows = 3, cols = 70_001;
  const w = randomMatrix(rows, cols, 0.01, 99);
  w[cols - 1] = 0.5; // a column index above 65535
  const csr = denseToCsr(w, rows, cols);
  assert.ok(csr.colIndex instanceof Uint32Array);
  const layer = uploadCsr(k, csr);
  for (const batch of [1, 4]) {
    const x = randomMatrix(batch, cols, 1, 100 + batch);
    assertClose(applyLinear(k, layer, x, batch), reference(w, rows, cols, x, batch, undefined, false), `csr32 batch ${batch}`);
  }
});

test('empty rows give the bias, and scratch memory is released after each call', () => {
  const k = new Kernels();
  const w = new Float32Array(4 * 8);
  w[2 * 8 + 5] = 2;
  const layer = uploadCsr(k, denseToCsr(w, 4, 8), new Float32Array([1, -1, 0.5, 0]));
  const before = k.used;
  const y = applyLinear(k, layer, new Float32Array([0, 0, 0, 0, 0, 3, 0, 0]), 1);
  assert.deepEqual(Array.from(y), [1, -1, 6.5, 0]);
  assert.equal(k.used, before);
});

test('applyChain equals layer-by-layer application, sparse and dense mixed, batch 1 and 5', () => {
  const k = new Kernels();
  const sizes = [24, 40, 17, 9];
  const layers = [];
  for (let l = 0; l < 3; l++) {
    const w = randomMatrix(sizes[l + 1], sizes[l], 0.3, 200 + l);
    const b = randomMatrix(1, sizes[l + 1], 1, 300 + l);
    layers.push(l === 1 ? uploadDense(k, w, sizes[l + 1], sizes[l], b) : uploadCsr(k, denseToCsr(w, sizes[l + 1], sizes[l]), b));
  }
  const relu = [true, true, false];
  for (const batch of [1, 5]) {
    const x = randomMatrix(batch, sizes[0], 1, 400 + batch);
    let h = x;
    for (let l = 0; l < 3; l++) h = applyLinear(k, layers[l], h, batch, relu[l]);
    const chained = applyChain(k, layers, relu, x, batch);
    assert.equal(chained.length, batch * 9);
    for (let i = 0; i < h.length; i++) assert.ok(Math.abs(chained[i] - h[i]) <= 1e-6 * (1 + Math.abs(h[i])), `element ${i}`);
  }
});

test('row-compacted kernel for channel-pruned weights: pruned rows give ReLU(bias), the rest the product', () => {
  const k = new Kernels();
  const rows = 23, cols = 41;
  const w = randomMatrix(rows, cols, 0.6, 500);
  for (const r of [0, 3, 4, 17, 22]) w.fill(0, r * cols, (r + 1) * cols);
  const bias = randomMatrix(1, rows, 1, 501);
  assert.equal(nonzeroRows(w, rows, cols).length, rows - 5);
  const layer = uploadRows(k, w, rows, cols, bias);
  assert.equal(layer.kind, 'rows');
  assert.equal(layer.nonzeros, (rows - 5) * cols);
  for (const batch of [1, 6]) {
    const x = randomMatrix(batch, cols, 1, 502 + batch);
    for (const relu of [false, true]) {
      assertClose(applyLinear(k, layer, x, batch, relu), reference(w, rows, cols, x, batch, bias, relu), `rows batch ${batch} relu ${relu}`);
    }
  }
});

test('alloc hands out zeroed memory, also where released scratch meets newly grown pages', () => {
  const k = new Kernels();
  const mark = k.mark();
  const have = k.memory.buffer.byteLength;
  const p = k.alloc(have - mark); // up to the current end
  k.f32(p, (have - mark) >> 2).fill(7);
  k.release(mark);
  const q = k.alloc(have - mark + 200_000); // spans old and grown memory
  const v = k.f32(q, (have - mark + 200_000) >> 2);
  assert.equal(v.findIndex((x) => x !== 0), -1);
});

test('prepareKernels compiles asynchronously and instances still work after it', async () => {
  await prepareKernels();
  const k = new Kernels();
  const layer = uploadDense(k, Float32Array.of(1, 2, 3, 4), 2, 2);
  assert.deepEqual(Array.from(applyLinear(k, layer, Float32Array.of(1, 1), 1)), [3, 7]);
});
