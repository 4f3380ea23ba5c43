/**
 * Sparse storage for a 2-D weight matrix [rows, cols] (row-major; for a layer y = W·x the rows are
 * output neurons). A zero in the dense array means "pruned": it is not stored, and a round trip
 * gives it back as +0 (so -0 becomes +0; every other value, NaN included, survives bit for bit).
 */
import { SculptError } from '../core/errors.js';

/** Compressed sparse rows; column indices are 16-bit whenever `cols` ≤ 65536. */
export interface CsrMatrix {
  readonly kind: 'csr';
  readonly rows: number;
  readonly cols: number;
  /** rows + 1 offsets into colIndex/values. */
  readonly rowPtr: Uint32Array;
  readonly colIndex: Uint16Array | Uint32Array;
  readonly values: Float32Array;
}

/** One bit per element (row-major, least significant bit first) plus the nonzeros in order. */
export interface BitmaskMatrix {
  readonly kind: 'bitmask';
  readonly rows: number;
  readonly cols: number;
  readonly mask: Uint8Array;
  readonly values: Float32Array;
}

/**
 * N:M along each row: every group of M consecutive columns keeps at most N values. Each group
 * stores exactly N values and N in-group positions packed at `indexBits` bits each (groups with
 * fewer nonzeros are padded with zeros at unused positions). The last group of a row may be short.
 */
export interface NmMatrix {
  readonly kind: 'nm';
  readonly rows: number;
  readonly cols: number;
  readonly n: number;
  readonly m: number;
  readonly indexBits: number;
  /** rows · ceil(cols / m) · n values. */
  readonly values: Float32Array;
  /** The in-group positions, packed little-endian bit by bit. */
  readonly indices: Uint8Array;
}

/** Block sparse rows: blocks of blockRows × blockCols kept whole when any element is nonzero. */
export interface BlockMatrix {
  readonly kind: 'block';
  readonly rows: number;
  readonly cols: number;
  readonly blockRows: number;
  readonly blockCols: number;
  /** ceil(rows / blockRows) + 1 offsets into blockCol. */
  readonly rowPtr: Uint32Array;
  /** Block-column index of each stored block. */
  readonly blockCol: Uint16Array | Uint32Array;
  /** Stored blocks, each blockRows·blockCols values row-major (edge blocks padded with zeros). */
  readonly values: Float32Array;
}

export type SparseMatrix = CsrMatrix | BitmaskMatrix | NmMatrix | BlockMatrix;
export type StorageKind = SparseMatrix['kind'] | 'dense';

function checkDense(dense: Float32Array, rows: number, cols: number): void {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0) {
    throw new SculptError(`sparse: matrix shape [${rows}, ${cols}] is not a pair of non-negative integers`);
  }
  if (dense.length !== rows * cols) {
    throw new SculptError(`sparse: ${dense.length} values do not fill a [${rows}, ${cols}] matrix (need ${rows * cols})`);
  }
}

export function countNonzeros(dense: Float32Array): number {
  let nnz = 0;
  for (let i = 0; i < dense.length; i++) if (dense[i] !== 0) nnz++;
  return nnz;
}

/** Index arrays are 16-bit when every index fits. */
function indexArray(length: number, maxIndexExclusive: number): Uint16Array | Uint32Array {
  return maxIndexExclusive <= 0x10000 ? new Uint16Array(length) : new Uint32Array(length);
}

export function denseToCsr(dense: Float32Array, rows: number, cols: number): CsrMatrix {
  checkDense(dense, rows, cols);
  const nnz = countNonzeros(dense);
  const rowPtr = new Uint32Array(rows + 1);
  const colIndex = indexArray(nnz, cols);
  const values = new Float32Array(nnz);
  let k = 0;
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) {
      const v = dense[base + c];
      if (v !== 0) {
        colIndex[k] = c;
        values[k] = v;
        k++;
      }
    }
    rowPtr[r + 1] = k;
  }
  return { kind: 'csr', rows, cols, rowPtr, colIndex, values };
}

/**
 * A grouped convolution's weight, `group` blocks of [rows, cols] stacked, as one block-diagonal
 * CSR matrix [group·rows, group·cols]: row r of block g keeps its columns, shifted by g·cols.
 */
export function groupedToCsr(dense: Float32Array, group: number, rows: number, cols: number): CsrMatrix {
  const one = denseToCsr(dense, group * rows, cols);
  const colIndex = indexArray(one.values.length, group * cols);
  for (let r = 0; r < group * rows; r++) {
    const shift = Math.floor(r / rows) * cols;
    for (let k = one.rowPtr[r]; k < one.rowPtr[r + 1]; k++) colIndex[k] = one.colIndex[k] + shift;
  }
  return { ...one, cols: group * cols, colIndex };
}

export function denseToBitmask(dense: Float32Array, rows: number, cols: number): BitmaskMatrix {
  checkDense(dense, rows, cols);
  const values = new Float32Array(countNonzeros(dense));
  const mask = new Uint8Array(Math.ceil((rows * cols) / 8));
  let k = 0;
  for (let i = 0; i < dense.length; i++) {
    const v = dense[i];
    if (v !== 0) {
      mask[i >>> 3] |= 1 << (i & 7);
      values[k++] = v;
    }
  }
  return { kind: 'bitmask', rows, cols, mask, values };
}

export function nmIndexBits(m: number): number {
  return Math.max(1, Math.ceil(Math.log2(m)));
}

function checkNm(n: number, m: number): void {
  if (!Number.isInteger(n) || !Number.isInteger(m) || n < 1 || m < 2 || n > m || m > 256) {
    throw new SculptError(`sparse: N:M pattern ${n}:${m} is invalid (need integers 1 ≤ N ≤ M, 2 ≤ M ≤ 256)`);
  }
}

/** Whether every group of m consecutive columns in each row has at most n nonzeros. */
export function fitsNm(dense: Float32Array, rows: number, cols: number, n: number, m: number): boolean {
  checkDense(dense, rows, cols);
  checkNm(n, m); // m = 0 would never advance through a row
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < cols; g += m) {
      let count = 0;
      const end = Math.min(g + m, cols);
      for (let c = g; c < end; c++) if (dense[r * cols + c] !== 0) count++;
      if (count > n) return false;
    }
  }
  return true;
}

export function denseToNm(dense: Float32Array, rows: number, cols: number, n: number, m: number): NmMatrix {
  checkDense(dense, rows, cols);
  checkNm(n, m);
  const groups = Math.ceil(cols / m);
  const indexBits = nmIndexBits(m);
  const values = new Float32Array(rows * groups * n);
  const indices = new Uint8Array(Math.ceil((rows * groups * n * indexBits) / 8));
  const used = new Uint8Array(m);
  let slot = 0;
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < groups; g++) {
      const start = r * cols + g * m;
      const width = Math.min(m, cols - g * m);
      used.fill(0);
      let kept = 0;
      for (let j = 0; j < width; j++) {
        const v = dense[start + j];
        if (v === 0) continue;
        if (kept === n) {
          throw new SculptError(`sparse: row ${r}, columns ${g * m}..${g * m + width - 1} hold more than ${n} nonzeros, so the matrix is not ${n}:${m} sparse; use CSR or prune it ${n}:${m}`);
        }
        used[j] = 1;
        values[slot + kept] = v;
        writeBits(indices, (slot + kept) * indexBits, indexBits, j);
        kept++;
      }
      // Pad with zeros at positions that hold zeros, so decoding writes nothing wrong.
      for (let j = 0; kept < n; j++) {
        if (used[j]) continue;
        writeBits(indices, (slot + kept) * indexBits, indexBits, j < width ? j : 0);
        kept++;
      }
      slot += n;
    }
  }
  return { kind: 'nm', rows, cols, n, m, indexBits, values, indices };
}

function writeBits(target: Uint8Array, bitOffset: number, bits: number, value: number): void {
  for (let b = 0; b < bits; b++) {
    if ((value >>> b) & 1) target[(bitOffset + b) >>> 3] |= 1 << ((bitOffset + b) & 7);
  }
}

function readBits(source: Uint8Array, bitOffset: number, bits: number): number {
  let value = 0;
  for (let b = 0; b < bits; b++) value |= ((source[(bitOffset + b) >>> 3] >>> ((bitOffset + b) & 7)) & 1) << b;
  return value;
}

export function denseToBlock(dense: Float32Array, rows: number, cols: number, blockRows: number, blockCols: number): BlockMatrix {
  checkDense(dense, rows, cols);
  if (!Number.isInteger(blockRows) || !Number.isInteger(blockCols) || blockRows < 1 || blockCols < 1) {
    throw new SculptError(`sparse: block shape ${blockRows}×${blockCols} is invalid (need positive integers)`);
  }
  const blockRowCount = Math.ceil(rows / blockRows);
  const blockColCount = Math.ceil(cols / blockCols);
  const rowPtr = new Uint32Array(blockRowCount + 1);
  const kept: number[] = [];
  for (let br = 0; br < blockRowCount; br++) {
    for (let bc = 0; bc < blockColCount; bc++) {
      if (blockHasNonzero(dense, cols, rows, br * blockRows, bc * blockCols, blockRows, blockCols)) kept.push(bc);
    }
    rowPtr[br + 1] = kept.length;
  }
  const blockCol = indexArray(kept.length, blockColCount);
  blockCol.set(kept);
  const area = blockRows * blockCols;
  const values = new Float32Array(kept.length * area);
  for (let br = 0; br < blockRowCount; br++) {
    for (let k = rowPtr[br]; k < rowPtr[br + 1]; k++) {
      const r0 = br * blockRows;
      const c0 = blockCol[k] * blockCols;
      for (let i = 0; i < blockRows && r0 + i < rows; i++) {
        for (let j = 0; j < blockCols && c0 + j < cols; j++) values[k * area + i * blockCols + j] = dense[(r0 + i) * cols + c0 + j];
      }
    }
  }
  return { kind: 'block', rows, cols, blockRows, blockCols, rowPtr, blockCol, values };
}

function blockHasNonzero(dense: Float32Array, cols: number, rows: number, r0: number, c0: number, h: number, w: number): boolean {
  for (let i = r0; i < Math.min(r0 + h, rows); i++) {
    for (let j = c0; j < Math.min(c0 + w, cols); j++) if (dense[i * cols + j] !== 0) return true;
  }
  return false;
}

/** The dense row-major matrix a sparse one stands for. */
export function toDense(matrix: SparseMatrix): Float32Array {
  const { rows, cols } = matrix;
  const out = new Float32Array(rows * cols);
  switch (matrix.kind) {
    case 'csr':
      for (let r = 0; r < rows; r++) {
        for (let k = matrix.rowPtr[r]; k < matrix.rowPtr[r + 1]; k++) out[r * cols + matrix.colIndex[k]] = matrix.values[k];
      }
      break;
    case 'bitmask': {
      let k = 0;
      for (let i = 0; i < out.length; i++) if ((matrix.mask[i >>> 3] >>> (i & 7)) & 1) out[i] = matrix.values[k++];
      break;
    }
    case 'nm': {
      const groups = Math.ceil(cols / matrix.m);
      let slot = 0;
      for (let r = 0; r < rows; r++) {
        for (let g = 0; g < groups; g++) {
          for (let j = 0; j < matrix.n; j++, slot++) {
            const v = matrix.values[slot];
            if (v !== 0) out[r * cols + g * matrix.m + readBits(matrix.indices, slot * matrix.indexBits, matrix.indexBits)] = v;
          }
        }
      }
      break;
    }
    case 'block': {
      const { blockRows, blockCols } = matrix;
      const area = blockRows * blockCols;
      for (let br = 0; br + 1 < matrix.rowPtr.length; br++) {
        for (let k = matrix.rowPtr[br]; k < matrix.rowPtr[br + 1]; k++) {
          const r0 = br * blockRows;
          const c0 = matrix.blockCol[k] * blockCols;
          for (let i = 0; i < blockRows && r0 + i < rows; i++) {
            for (let j = 0; j < blockCols && c0 + j < cols; j++) out[(r0 + i) * cols + c0 + j] = matrix.values[k * area + i * blockCols + j];
          }
        }
      }
      break;
    }
  }
  return out;
}

/** Bytes the stored arrays occupy (the shape fields are a few bytes more, ignored). */
export function storageBytes(matrix: SparseMatrix): number {
  switch (matrix.kind) {
    case 'csr': return matrix.rowPtr.byteLength + matrix.colIndex.byteLength + matrix.values.byteLength;
    case 'bitmask': return matrix.mask.byteLength + matrix.values.byteLength;
    case 'nm': return matrix.values.byteLength + matrix.indices.byteLength;
    case 'block': return matrix.rowPtr.byteLength + matrix.blockCol.byteLength + matrix.values.byteLength;
  }
}

export interface FormatOptions {
  /** Also consider N:M storage with this pattern (used only when the matrix fits it). */
  readonly nm?: { readonly n: number; readonly m: number };
  /** Also consider block storage with this block shape. */
  readonly block?: { readonly rows: number; readonly cols: number };
}

export interface FormatChoice {
  readonly kind: StorageKind;
  readonly bytes: number;
  /** Byte size of every candidate considered, the chosen one included. */
  readonly candidates: Partial<Record<StorageKind, number>>;
  readonly nonzeros: number;
}

/**
 * The storage that takes the fewest bytes for this matrix's pattern and density, computed from
 * counts without building the candidates. Ties go to the earlier of dense, csr, bitmask, nm, block.
 */
export function chooseFormat(dense: Float32Array, rows: number, cols: number, options: FormatOptions = {}): FormatChoice {
  checkDense(dense, rows, cols);
  const nnz = countNonzeros(dense);
  const candidates: Partial<Record<StorageKind, number>> = {
    dense: rows * cols * 4,
    csr: (rows + 1) * 4 + nnz * (cols <= 0x10000 ? 2 : 4) + nnz * 4,
    bitmask: Math.ceil((rows * cols) / 8) + nnz * 4,
  };
  if (options.nm && fitsNm(dense, rows, cols, options.nm.n, options.nm.m)) {
    const slots = rows * Math.ceil(cols / options.nm.m) * options.nm.n;
    candidates.nm = slots * 4 + Math.ceil((slots * nmIndexBits(options.nm.m)) / 8);
  }
  if (options.block) {
    const { rows: bh, cols: bw } = options.block;
    if (!Number.isInteger(bh) || !Number.isInteger(bw) || bh < 1 || bw < 1) {
      throw new SculptError(`sparse: block shape ${bh}×${bw} is invalid (need positive integers)`);
    }
    let blocks = 0;
    for (let r0 = 0; r0 < rows; r0 += bh) for (let c0 = 0; c0 < cols; c0 += bw) if (blockHasNonzero(dense, cols, rows, r0, c0, bh, bw)) blocks++;
    candidates.block = (Math.ceil(rows / bh) + 1) * 4 + blocks * (Math.ceil(cols / bw) <= 0x10000 ? 2 : 4) + blocks * bh * bw * 4;
  }
  let kind: StorageKind = 'dense';
  for (const k of ['dense', 'csr', 'bitmask', 'nm', 'block'] as const) {
    const b = candidates[k];
    if (b !== undefined && b < candidates[kind]!) kind = k;
  }
  return { kind, bytes: candidates[kind]!, candidates, nonzeros: nnz };
}

/** Builds the given storage; `options` supplies the N:M pattern or the block shape. */
export function toSparse(dense: Float32Array, rows: number, cols: number, kind: SparseMatrix['kind'], options: FormatOptions = {}): SparseMatrix {
  switch (kind) {
    case 'csr': return denseToCsr(dense, rows, cols);
    case 'bitmask': return denseToBitmask(dense, rows, cols);
    case 'nm':
      if (!options.nm) throw new SculptError('sparse: N:M storage needs the pattern (options.nm = { n, m })');
      return denseToNm(dense, rows, cols, options.nm.n, options.nm.m);
    case 'block':
      if (!options.block) throw new SculptError('sparse: block storage needs the block shape (options.block = { rows, cols })');
      return denseToBlock(dense, rows, cols, options.block.rows, options.block.cols);
  }
}
