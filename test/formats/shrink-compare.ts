/** Output comparisons shared by the shrink tests (shrunk vs channel-masked models in onnxruntime). */
import assert from 'node:assert/strict';
import { numel } from '../../src/core/types.js';
import type { TensorSpec } from '../../src/formats/onnx-build.js';

/** max |a − b| / max |b|. */
export function relativeDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let diff = 0;
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    max = Math.max(max, Math.abs(b[i]));
  }
  return diff / max;
}

/** The shrunk model computes what the masked one does (1e-5 relative), and the selection changed the original's output by more than `changed`. */
export function assertShrunkIsMasked(shrunk: Float32Array, masked: Float32Array, original: Float32Array, changed: number): void {
  const d = relativeDiff(shrunk, masked);
  assert.ok(d < 1e-5, `shrunk vs masked ${d}`);
  assert.ok(relativeDiff(original, masked) > changed, 'the selection changes the model');
}

/** A maker of seeded weights in [−scale, scale) (one LCG stream per maker, starting at `seed`). */
export function weightMaker(seed: number, defaultScale = 0.5): (name: string, dims: number[], scale?: number) => TensorSpec {
  let state = seed;
  return (name, dims, scale = defaultScale) => {
    const data = new Float32Array(numel(dims));
    for (let i = 0; i < data.length; i++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      data[i] = (state / 2 ** 32 - 0.5) * 2 * scale;
    }
    return { name, dims, data };
  };
}
