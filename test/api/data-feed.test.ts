/** FeedBuilder: dataset examples placed as a model's input takes them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FeedBuilder, imageShapeOf } from '../../src/api/data-feed.js';
import { batches, type ExampleSet } from '../../src/formats/datasets/types.js';
import type { GraphValueInfo } from '../../src/core/graph.js';

// Two 2×2 RGB images: value = 100·example + 10·pixel + channel.
const IMAGES: ExampleSet = {
  kind: 'images', source: 'images:x', count: 2, sampleShape: [2, 2, 3], image: true, notes: [],
  inputs: Float32Array.from({ length: 24 }, (_, i) => 100 * Math.floor(i / 12) + 10 * Math.floor((i % 12) / 3) + (i % 3)),
  labels: Int32Array.from([0, 1]), classes: 2,
};
const input = (dims: number[], dtype: GraphValueInfo['dtype'] = 'float32', name = 'x'): GraphValueInfo => ({ name, dtype, dims });
const first = (set: ExampleSet) => [...batches(set, 8)][0];

test('images: NHWC as stored, NCHW transposed, flat reshaped; the shape is read off the input', () => {
  const nhwc = new FeedBuilder([input([-1, 2, 2, 3])], IMAGES, 'm.onnx').feeds(first(IMAGES)).x;
  assert.deepEqual(nhwc.dims, [2, 2, 2, 3]);
  assert.deepEqual(Array.from(nhwc.data), Array.from(IMAGES.inputs));
  const nchw = new FeedBuilder([input([-1, 3, 2, 2])], IMAGES, 'm.onnx').feeds(first(IMAGES)).x;
  assert.deepEqual(nchw.dims, [2, 3, 2, 2]);
  assert.deepEqual(Array.from(nchw.data.subarray(0, 12)), [0, 10, 20, 30, 1, 11, 21, 31, 2, 12, 22, 32]);
  assert.equal(nchw.data[12], 100);
  const flat = new FeedBuilder([input([-1, 12])], IMAGES, 'm.onnx').feeds(first(IMAGES)).x;
  assert.deepEqual(flat.dims, [2, 12]);
  assert.deepEqual(new FeedBuilder([input([-1, -1])], IMAGES, 'm.onnx').feeds(first(IMAGES)).x.dims, [2, 12]);
  assert.throws(() => new FeedBuilder([input([-1, 1, 28, 28])], IMAGES, 'm.onnx'), /m.onnx: input 'x' is \[N, 1, 28, 28\] but images:x examples are 2×2×3 \(12 values\); pass --image-size H,W and --channels/);
  assert.deepEqual(imageShapeOf(input([-1, 3, 224, 200])), { imageSize: [224, 200], channels: 3 });
  assert.deepEqual(imageShapeOf(input([-1, 28, 28, 1])), { imageSize: [28, 28], channels: 1 });
  assert.equal(imageShapeOf(input([-1, 784])), undefined);
});

test('text: input_ids with attention_mask ones and position_ids 0..L-1, by name; other inputs refused', () => {
  const text: ExampleSet = {
    kind: 'text', source: 'text:t', count: 2, sampleShape: [3], inputs: Int32Array.from([5, 6, 7, 8, 9, 10]), notes: [],
    text: { seqLen: 3, stride: 3, tokens: 6, scoreFrom: Int32Array.from([1, 1]), tokenizer: 'bytes', vocabSize: 256 },
  };
  const inputs = [input([-1, -1], 'int64', 'input_ids'), input([-1, -1], 'int64', 'attention_mask'), input([-1, -1], 'int64', 'position_ids')];
  const f = new FeedBuilder(inputs, text, 'lm.onnx').feeds(first(text));
  assert.deepEqual(Array.from(f.input_ids.data), [5, 6, 7, 8, 9, 10]);
  assert.deepEqual(Array.from(f.attention_mask.data), [1, 1, 1, 1, 1, 1]);
  assert.deepEqual(Array.from(f.position_ids.data), [0, 1, 2, 0, 1, 2]);
  assert.deepEqual(f.input_ids.dims, [2, 3]);
  assert.throws(() => new FeedBuilder([...inputs, input([-1, 4, -1, 8], 'float32', 'past_key_values.0.key')], text, 'lm.onnx'),
    /lm.onnx: input 'past_key_values.0.key' is not one sculpt fills for text \(input_ids, attention_mask, position_ids, token_type_ids\)/);
  assert.throws(() => new FeedBuilder([input([-1, 16], 'int64', 'input_ids')], text, 'lm.onnx'), /input 'input_ids' is \[-1, 16\], not \[batch, 3\] for windows of --seq-len 3/);
});
