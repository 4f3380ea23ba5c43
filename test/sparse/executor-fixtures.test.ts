import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { readOnnx } from '../../src/formats/onnx.js';
import { SparseExecutor } from '../../src/sparse/executor.js';
import { readNpy } from '../fixtures/npy.js';

const FIX = 'test/fixtures';

function maxRelError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length);
  let d = 0, m = 0;
  for (let i = 0; i < expected.length; i++) {
    d = Math.max(d, Math.abs(actual[i] - expected[i]));
    m = Math.max(m, Math.abs(expected[i]));
  }
  return d / m;
}

for (const name of ['mlp', 'cnn', 'transformer', 'mlp-external']) {
  test(`${name}.onnx: sparse and dense engines agree with onnxruntime within 1e-4 relative`, async () => {
    const base = name === 'mlp-external' ? 'mlp' : name;
    const x = readNpy(`${FIX}/${base}.input.npy`);
    const session = await ort.InferenceSession.create(`${FIX}/${name}.onnx`, { intraOpNumThreads: 1, interOpNumThreads: 1 });
    const ref = (await session.run({ input: new ort.Tensor('float32', x.data, x.shape) })).output.data as Float32Array;
    await session.release();
    const graph = readOnnx(`${FIX}/${name}.onnx`).graph();
    for (const engine of ['sparse', 'dense'] as const) {
      const ex = new SparseExecutor(graph, { engine });
      const y = ex.run({ input: { dtype: 'float32', dims: x.shape, data: x.data } }).output;
      assert.deepEqual(y.dims, [x.shape[0], 10]);
      const err = maxRelError(y.data, ref);
      assert.ok(err <= 1e-4, `${engine}: max relative error ${err}`);
      assert.ok(ex.layers.length > 0 && ex.layers.every((l) => l.kind === (engine === 'sparse' ? 'csr' : 'dense')));
    }
  });
}
