/**
 * Benchmark and test graphs built with sculpt's ONNX builder (src/formats/onnx-build.ts), which
 * this file re-exports under its old name `writeOnnx`, so benchmarks and tests keep building their
 * models anywhere without Python.
 */
import { encodeOnnx, type NodeSpec, type TensorSpec } from '../src/formats/onnx-build.js';

export { encodeOnnx as writeOnnx, type AttrValue, type ModelSpec, type NodeSpec, type TensorSpec, type ValueSpec } from '../src/formats/onnx-build.js';

/**
 * An MLP as Gemm (transB = 1, weights [out, in]) or MatMul (weights [in, out]) + Add, with Relu
 * between layers and none after the last; input "x" [N, sizes[0]], output "y".
 */
export function mlpModel(sizes: readonly number[], weights: readonly Float32Array[], biases: readonly Float32Array[], style: 'gemm' | 'matmul'): Uint8Array {
  const nodes: NodeSpec[] = [];
  const initializers: TensorSpec[] = [];
  let prev = 'x';
  for (let l = 0; l + 1 < sizes.length; l++) {
    const inF = sizes[l], outF = sizes[l + 1];
    const last = l + 2 === sizes.length;
    const out = last ? 'y' : `h${l}`;
    const pre = last ? out : `${out}_pre`;
    if (style === 'gemm') {
      initializers.push({ name: `w${l}`, dims: [outF, inF], data: weights[l] }, { name: `b${l}`, dims: [outF], data: biases[l] });
      nodes.push({ op: 'Gemm', inputs: [prev, `w${l}`, `b${l}`], outputs: [pre], attrs: { transB: { int: 1 } } });
    } else {
      const wt = new Float32Array(inF * outF);
      const w = weights[l];
      for (let o = 0; o < outF; o++) for (let i = 0; i < inF; i++) wt[i * outF + o] = w[o * inF + i];
      initializers.push({ name: `w${l}`, dims: [inF, outF], data: wt }, { name: `b${l}`, dims: [outF], data: biases[l] });
      nodes.push({ op: 'MatMul', inputs: [prev, `w${l}`], outputs: [`${out}_mm`] });
      nodes.push({ op: 'Add', inputs: [`${out}_mm`, `b${l}`], outputs: [pre] });
    }
    if (!last) nodes.push({ op: 'Relu', inputs: [pre], outputs: [out] });
    prev = out;
  }
  return encodeOnnx({
    producer: 'sculpt-bench',
    nodes,
    initializers,
    inputs: [{ name: 'x', dims: ['N', sizes[0]] }],
    outputs: [{ name: 'y', dims: ['N', sizes[sizes.length - 1]] }],
  });
}
