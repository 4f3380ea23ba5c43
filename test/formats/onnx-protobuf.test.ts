import { test } from 'node:test';
import assert from 'node:assert/strict';
import protobuf from 'protobufjs';
import { encodeVarint, spliceWithLengthFixup, WireReader, type LenPrefix } from '../../src/formats/protobuf.js';

const fail = (offset: number, why: string): never => {
  throw new Error(`${why} at ${offset}`);
};

function len(field: number, payload: Uint8Array): Uint8Array {
  return Uint8Array.from([...encodeVarint((field << 3) | 2), ...encodeVarint(payload.length), ...payload]);
}

test('varints: signed 64-bit values, lengths and truncation', () => {
  const w = protobuf.Writer.create();
  w.uint32((1 << 3) | 0).int64(-1);
  w.uint32((2 << 3) | 0).int64(2 ** 40 + 3);
  w.uint32((3 << 3) | 0).int64(-300);
  w.uint32((4 << 3) | 2).string('héllo');
  const bytes = w.finish();
  const r = new WireReader(bytes, fail);
  const f = r.fields(0, bytes.length);
  assert.deepEqual(f.map((x) => [x.field, x.wireType]), [[1, 0], [2, 0], [3, 0], [4, 2]]);
  assert.deepEqual(f.slice(0, 3).map((x) => x.value), [-1, 2 ** 40 + 3, -300]);
  assert.equal(r.string(f[3]), 'héllo');
  assert.throws(() => r.fields(0, bytes.length - 1), /truncated at/);
  assert.throws(() => new WireReader(Uint8Array.from([0x0b]), fail).fields(0, 1), /unsupported wire type 3 at 0/);
  assert.deepEqual(Array.from(encodeVarint(300)), [0xac, 0x02]);
});

test('splice: nested lengths are rewritten, including a prefix that grows from 1 to 2 bytes', () => {
  // outer(field 1) { tag(2)=7, inner(field 3) { name(4) = "x" * 120 } }, then field 5 = 9
  const name = new TextEncoder().encode('x'.repeat(120));
  const inner = len(4, name);
  const outerPayload = Uint8Array.from([...[(2 << 3) | 0, 7], ...len(3, inner)]);
  const msg = Uint8Array.from([...len(1, outerPayload), (5 << 3) | 0, 9]);
  const r = new WireReader(msg, fail);
  const [outer, tail] = r.fields(0, msg.length);
  const [, innerF] = r.fields(outer.start, outer.end);
  const [nameF] = r.fields(innerF.start, innerF.end);
  const p = (f: { lenStart: number; start: number; end: number }): LenPrefix => ({ lenStart: f.lenStart, start: f.start, end: f.end });
  const longer = new TextEncoder().encode('y'.repeat(200));
  const out = spliceWithLengthFixup(msg, [{ start: nameF.start, end: nameF.end, bytes: longer, enclosing: [p(outer), p(innerF), p(nameF)] }]);
  assert.equal(out.length, msg.length + 80 + 3); // name, inner and outer prefixes each grow by a byte
  // protobufjs agrees on the structure.
  const pr = protobuf.Reader.create(out);
  assert.equal(pr.uint32(), (1 << 3) | 2);
  const outerLen = pr.uint32();
  const outerEnd = pr.pos + outerLen;
  assert.equal(pr.uint32(), (2 << 3) | 0);
  assert.equal(pr.uint32(), 7);
  assert.equal(pr.uint32(), (3 << 3) | 2);
  pr.uint32();
  assert.equal(pr.uint32(), (4 << 3) | 2);
  assert.equal(pr.string(), 'y'.repeat(200));
  assert.equal(pr.pos, outerEnd);
  assert.equal(pr.uint32(), (5 << 3) | 0);
  assert.equal(pr.uint32(), 9);
  assert.equal(pr.pos, out.length);
  assert.equal(tail.value, 9);
  // Shrinking back restores the original bytes exactly.
  const r2 = new WireReader(out, fail);
  const [o2] = r2.fields(0, out.length);
  const [, i2] = r2.fields(o2.start, o2.end);
  const [n2] = r2.fields(i2.start, i2.end);
  const back = spliceWithLengthFixup(out, [{ start: n2.start, end: n2.end, bytes: name, enclosing: [p(n2), p(i2), p(o2)] }]);
  assert.deepEqual(back, msg);
});
