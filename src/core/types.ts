/**
 * The shared vocabulary of every path in sculpt: named float32 tensors with shape and role.
 * Formats produce a WeightSet, the pruning plan turns it into Masks, and formats write it back.
 */

/** What a tensor is in its network. Only `weight` tensors are prunable by default. */
export type Role = 'weight' | 'bias' | 'norm' | 'embedding' | 'other';

/** The operator that consumes a weight, where the format knows it (ONNX graph, TF.js layer). */
export type WeightOp = 'MatMul' | 'Gemm' | 'Conv' | 'ConvTranspose' | 'Dense' | 'Embedding' | 'Recurrent' | 'Einsum' | 'Attention' | 'Other';

export interface WeightTensor {
  /** Name as in the file (ONNX initializer name, safetensors key, TF.js weight name). */
  readonly name: string;
  readonly shape: readonly number[];
  /**
   * Values in row-major order. Formats that stream (safetensors) may leave this empty
   * (length 0) and supply values through a `TensorSource` instead.
   */
  data: Float32Array;
  readonly role: Role;
  readonly op?: WeightOp;
  /** Whether the default plan prunes this tensor. */
  readonly prunable: boolean;
  /** One short phrase saying why it is or is not prunable (shown by `sculpt inspect`). */
  readonly reason: string;
  /**
   * Axis that indexes output channels / neurons (what channel pruning removes):
   * 0 for Conv [M, C, kh, kw], Gemm with transB=1 [N, K] and PyTorch Linear [out, in];
   * 1 for MatMul's B [K, N], TF.js Dense kernels [in, out] and ConvTranspose [C, M, kh, kw].
   */
  readonly outputAxis: number;
}

/** An ordered collection of tensors; order is the file's order and is the tie-break order. */
export class WeightSet {
  readonly tensors: WeightTensor[];
  private readonly byName: Map<string, WeightTensor>;

  constructor(tensors: WeightTensor[]) {
    this.tensors = tensors;
    this.byName = new Map(tensors.map((t) => [t.name, t]));
  }

  get(name: string): WeightTensor | undefined {
    return this.byName.get(name);
  }

  get size(): number {
    return this.tensors.length;
  }

  /** Total number of elements over all tensors. */
  get parameterCount(): number {
    let n = 0;
    for (const t of this.tensors) n += numel(t.shape);
    return n;
  }
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
