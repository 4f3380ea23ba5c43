import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SculptError } from '../../src/core/errors.js';
import { encodeIdxUint8, parseIdx, readIdxFile } from '../../src/formats/idx.js';
import { tempDir } from '../fixtures/temp.js';

const dims = [3, 2, 2];
const values = Uint8Array.from({ length: 12 }, (_, i) => i * 20);

test('IDX round trip, plain and gzip (detected by magic bytes, not by name)', () => {
  const plain = encodeIdxUint8(dims, values);
  assert.deepEqual([...plain.subarray(0, 4)], [0, 0, 8, 3]);
  for (const bytes of [plain, new Uint8Array(gzipSync(plain))]) {
    const a = parseIdx(bytes);
    assert.deepEqual(a.dims, dims);
    assert.ok(a.data instanceof Uint8Array);
    assert.deepEqual([...a.data], [...values]);
  }
  const dir = tempDir('idx-');
  writeFileSync(join(dir, 'images.idx'), gzipSync(plain));
  assert.deepEqual([...readIdxFile(join(dir, 'images.idx')).data], [...values]);
});

test('IDX int32 and float32 payloads are big-endian', () => {
  const b = new Uint8Array(4 + 4 + 8);
  const v = new DataView(b.buffer);
  b[2] = 0x0d; b[3] = 1; v.setUint32(4, 2);
  v.setFloat32(8, 1.5); v.setFloat32(12, -2.25);
  assert.deepEqual([...parseIdx(b).data], [1.5, -2.25]);
  b[2] = 0x0c; v.setInt32(8, -7); v.setInt32(12, 123456);
  assert.deepEqual([...parseIdx(b).data], [-7, 123456]);
});

test('malformed IDX files are SculptErrors naming the file', () => {
  const good = encodeIdxUint8(dims, values);
  const bad = (bytes: Uint8Array, re: RegExp): void => {
    assert.throws(() => parseIdx(bytes, 'x.idx'), (e: unknown) => e instanceof SculptError && re.test(e.message) && e.message.startsWith('x.idx'));
  };
  bad(new Uint8Array([1, 2, 3, 4, 5]), /bad magic/);
  bad(Uint8Array.from([0, 0, 0x42, 1, 0, 0, 0, 1, 0]), /unknown IDX data type/);
  bad(good.subarray(0, 10), /truncated IDX header/);
  bad(good.subarray(0, good.length - 1), /needs 28 bytes, file has 27/);
  bad(Uint8Array.from([...good, 0]), /needs 28 bytes, file has 29/);
  bad(Uint8Array.from([0x1f, 0x8b, 1, 2, 3]), /corrupt gzip/);
  assert.throws(() => readIdxFile('/nonexistent/file.idx'), (e: unknown) => e instanceof SculptError && /\/nonexistent\/file.idx: cannot read/.test(e.message));
});

test('the committed Fashion-MNIST subset parses with the expected headers', () => {
  const imgs = readIdxFile('data/fashion-mnist-subset/t10k-images-idx3-ubyte.gz');
  assert.deepEqual(imgs.dims, [1000, 28, 28]);
  const labels = readIdxFile('data/fashion-mnist-subset/t10k-labels-idx1-ubyte.gz');
  assert.deepEqual(labels.dims, [1000]);
  assert.ok([...labels.data].every((l) => l >= 0 && l <= 9));
});
