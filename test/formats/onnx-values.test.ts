import { test } from 'node:test';
import assert from 'node:assert/strict';
import protobuf from 'protobufjs';
import { SculptError } from '../../src/core/errors.js';
import { ONNX_DTYPE, readTensorProto, readValueProto } from '../../src/formats/onnx-decode.js';
import { fromGraphTensor, fromGraphValue } from '../../src/sparse/tensor.js';

// The ONNX test suites' .pb files: TensorProto of every integer width, SequenceProto and OptionalProto.

function tensorProto(name: string, dataType: number, dims: number[], fill: (w: protobuf.Writer) => void): Uint8Array {
  const w = protobuf.Writer.create();
  w.uint32((1 << 3) | 2).fork();
  for (const d of dims) w.int64(d);
  w.ldelim();
  w.uint32((2 << 3) | 0).int32(dataType);
  w.uint32((8 << 3) | 2).string(name);
  fill(w);
  return w.finish();
}

const raw = (bytes: ArrayBufferView) => (w: protobuf.Writer) => { w.uint32((9 << 3) | 2).bytes(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)); };
const packed = (field: number, values: number[], unsigned = false) => (w: protobuf.Writer) => {
  w.uint32((field << 3) | 2).fork();
  for (const v of values) if (unsigned) w.uint64(v); else w.int64(v);
  w.ldelim();
};

test('int16, uint16, uint32 and uint64 tensors read from raw_data and from int32_data/uint64_data, exact below 2^53', () => {
  const u16 = readTensorProto(tensorProto('a', ONNX_DTYPE.UINT16, [2], raw(Uint16Array.of(1, 65535))), 'a.pb');
  assert.equal(u16.dtype, 'uint16');
  assert.deepEqual(Array.from(u16.data as Uint16Array), [1, 65535]);
  const i16 = readTensorProto(tensorProto('b', ONNX_DTYPE.INT16, [3], packed(5, [-3, 7, -32768])), 'b.pb');
  assert.equal(i16.dtype, 'int16');
  assert.deepEqual(Array.from(i16.data as Int16Array), [-3, 7, -32768]);
  const u32 = readTensorProto(tensorProto('c', ONNX_DTYPE.UINT32, [1], packed(11, [4294967295], true)), 'c.pb');
  assert.deepEqual(Array.from(u32.data as Uint32Array), [4294967295]);
  const u64 = readTensorProto(tensorProto('d', ONNX_DTYPE.UINT64, [2], raw(BigUint64Array.of(2n ** 53n, 5n))), 'd.pb');
  assert.equal(u64.dtype, 'uint64');
  const held = fromGraphTensor(u64);
  assert.equal(held.dtype, 'int64');
  assert.equal(held.intType, 'uint64');
  assert.deepEqual(Array.from(held.data), [2 ** 53, 5]);
  assert.equal(fromGraphTensor(u16).intType, 'uint16');
});

test('a string tensor is refused with one line naming its type', () => {
  const bytes = tensorProto('s', ONNX_DTYPE.STRING, [1], (w) => { w.uint32((6 << 3) | 2).string('hi'); });
  assert.throws(() => readTensorProto(bytes, 's.pb'), (e: unknown) => e instanceof SculptError && /s\.pb: tensor s has ONNX data type 8 \(STRING\), which sculpt does not read/.test(e.message));
});

test('SequenceProto and OptionalProto (onnx-data.proto field numbers) read as sequences and optionals', () => {
  const t1 = tensorProto('x', ONNX_DTYPE.FLOAT, [2], raw(Float32Array.of(1, 2)));
  const t2 = tensorProto('y', ONNX_DTYPE.INT64, [1], raw(BigInt64Array.of(-4n)));
  const seq = protobuf.Writer.create().uint32((1 << 3) | 2).string('s').uint32((2 << 3) | 0).int32(1)
    .uint32((3 << 3) | 2).bytes(t1).uint32((3 << 3) | 2).bytes(t2).finish();
  const v = readValueProto(seq, 's.pb', 'sequence');
  assert.equal(v.kind, 'sequence');
  const held = fromGraphValue(v);
  assert.equal(held.items?.length, 2);
  assert.deepEqual(Array.from(held.items![0].data), [1, 2]);
  assert.deepEqual([held.items![1].dtype, ...held.items![1].data], ['int64', -4]);

  // An optional holding that sequence (sequence_value = 5), and an empty one.
  const opt = protobuf.Writer.create().uint32((1 << 3) | 2).string('o').uint32((2 << 3) | 0).int32(3).uint32((5 << 3) | 2).bytes(seq).finish();
  const o = fromGraphValue(readValueProto(opt, 'o.pb', 'optional'));
  assert.equal(o.optional, true);
  assert.equal(o.items?.[0].items?.length, 2);
  const empty = fromGraphValue(readValueProto(protobuf.Writer.create().uint32((1 << 3) | 2).string('e').uint32((2 << 3) | 0).int32(1).finish(), 'e.pb', 'optional'));
  assert.deepEqual([empty.optional, empty.items?.length], [true, 0]);

  // A sequence that says it holds tensors but holds an optional is malformed.
  const wrong = protobuf.Writer.create().uint32((2 << 3) | 0).int32(1).uint32((7 << 3) | 2).bytes(opt).finish();
  assert.throws(() => readValueProto(wrong, 'w.pb', 'sequence'), /w\.pb: sequence .* says it holds tensor values but holds optional values/);
});
