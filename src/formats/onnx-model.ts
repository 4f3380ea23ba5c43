/**
 * ONNX models held as bytes: weights (with roles, quantized weights dequantized), stored tensors and
 * the graph, wherever the tensors live. Node-free: external data comes through an injected
 * `ExternalData` (formats/onnx.ts reads it from files beside the model; in a browser there is none).
 */
import { SculptError } from '../core/errors.js';
import type { Graph, GraphTensor } from '../core/graph.js';
import { numel, WeightSet, type WeightTensor } from '../core/types.js';
import { graphOfDecoded } from './graph-of-onnx.js';
import { decodeOnnx, describePlace, graphTensor, ONNX_FLOAT_DTYPE, tensorValues, type DecodedOnnx, type OnnxInitializer } from './onnx-decode.js';
import { dequantize, quantizedWeights, type QuantParams } from './onnx-quant.js';
import { initializerRoles, type RoleInfo } from './onnx-roles.js';
import { printable } from './printable.js';
import type { FloatDType } from './safetensors-dtypes.js';

/** Where a model's external data comes from. */
export interface ExternalData {
  /** The checked file that holds `location` (writers copy from it). */
  path(location: string, tensor: string): string;
  /** `length` bytes at `offset` of `location`. */
  read(location: string, offset: number, length: number, tensor: string): Uint8Array;
}

export class OnnxBytesModel {
  /** Path the model was read from. */
  readonly path: string;
  /** The file's bytes; never modified. */
  readonly bytes: Uint8Array;
  readonly decoded: DecodedOnnx;
  /** Role, prunability and output axis of every stored tensor, by name. */
  readonly roles: ReadonlyMap<string, RoleInfo>;
  /** Quantization of the integer weights that are read as quantized weights, by name. */
  readonly quantized: ReadonlyMap<string, QuantParams>;
  /**
   * Floating stored tensors and quantized weights as WeightTensors with empty data (see `read`),
   * wherever they live: initializers, Constant nodes, sparse initializers, subgraphs.
   */
  readonly tensors: readonly WeightTensor[];
  private readonly byName: Map<string, OnnxInitializer>;
  private graphCache: Graph | undefined;
  private readonly constantCache = new Map<string, GraphTensor | undefined>();

  private readonly external: ExternalData | undefined;

  /** `external` supplies external data; without it, a model that has some is refused where it is read. */
  constructor(file: string, bytes: Uint8Array, external?: ExternalData) {
    this.path = file;
    this.bytes = bytes;
    this.external = external;
    this.decoded = decodeOnnx(bytes, file, this.readExternal);
    const inits = this.decoded.initializers;
    this.byName = new Map(inits.map((t) => [t.name, t]));
    for (const t of inits) if (t.storage.kind === 'external') this.externalPath(t.storage.location, t.name);
    this.quantized = quantizedWeights(this.decoded.allNodes, inits, (name) => this.constant(name), file);
    this.roles = initializerRoles(
      this.decoded.allNodes,
      inits.map((t) => ({ name: t.name, rank: t.dims.length, floating: ONNX_FLOAT_DTYPE.has(t.dataType) || this.quantized.has(t.name) })),
      (name) => {
        const t = this.byName.get(name);
        if (!t || t.dims.length > 1 || numel(t.dims) > 16 || ONNX_FLOAT_DTYPE.has(t.dataType)) return undefined;
        const c = this.constant(name);
        return c ? Array.from(c.data as ArrayLike<number | bigint>, Number) : undefined;
      },
    );
    this.tensors = inits
      .filter((t) => ONNX_FLOAT_DTYPE.has(t.dataType) || this.quantized.has(t.name))
      .map((t) => {
        const r = this.roles.get(t.name)!;
        const q = this.quantized.get(t.name);
        let reason = r.reason;
        if (q) reason += `; ${q.signed ? 'int8' : 'uint8'} through ${q.via}${q.unscaled ? ', ranked by code minus zero point (the scale is applied after the op)' : ''}`;
        if (t.place !== 'initializer' || t.scope) reason += `; ${describePlace(t)}`;
        return { name: t.name, shape: t.dims, data: new Float32Array(0), role: r.role, op: r.op, prunable: r.prunable, reason, outputAxis: r.outputAxis };
      });
  }

  /** Every stored tensor: initializers, sparse initializers and Constant values, in all graphs. */
  get initializers(): readonly OnnxInitializer[] {
    return this.decoded.initializers;
  }

  /** The stored tensor named `name`, if there is one. */
  stored(name: string): OnnxInitializer | undefined {
    return this.byName.get(name);
  }

  /** Absolute paths of the external data files the model refers to. */
  externalFiles(): string[] {
    const files = new Set<string>();
    for (const t of this.decoded.initializers) if (t.storage.kind === 'external') files.add(this.externalPath(t.storage.location, t.name));
    return [...files];
  }

  /** The stored floating type of a tensor, or undefined if it is not floating (quantized weights included). */
  floatDType(name: string): FloatDType | undefined {
    const t = this.byName.get(name);
    return t ? ONNX_FLOAT_DTYPE.get(t.dataType) : undefined;
  }

  /** Values of one floating (or quantized, then dequantized) stored tensor as a new float32 array. */
  read(name: string): Float32Array {
    const t = this.byName.get(name);
    const q = this.quantized.get(name);
    if (t && q) return dequantize(tensorValues(t, this.bytes, this.path, this.readExternal) as Int8Array | Uint8Array, t.dims, q);
    if (!t || !ONNX_FLOAT_DTYPE.has(t.dataType)) throw new SculptError(`${this.path}: no floating-point tensor named ${printable(name)}`);
    return tensorValues(t, this.bytes, this.path, this.readExternal) as Float32Array;
  }

  /**
   * Stores new values of a float32 tensor kept as raw_data inside the model file in this model's
   * in-memory copy of the file (never the file itself): later reads, extractions and writes see
   * them, and no second copy is held. False (nothing changed) for any other storage — external
   * data, other dtypes, quantized, sparse or int-field tensors: keep the values and pass them to the write.
   */
  replaceValues(name: string, values: Float32Array): boolean {
    const t = this.byName.get(name);
    if (!t || t.storage.kind !== 'raw' || t.sparseIndices || this.quantized.has(name) || ONNX_FLOAT_DTYPE.get(t.dataType) !== 'F32') return false;
    if (values.length !== numel(t.dims) || t.storage.end - t.storage.start !== values.length * 4) {
      throw new SculptError(`${this.path}: new values for ${printable(name)} have ${values.length} elements, its shape [${t.dims.join(', ')}] needs ${numel(t.dims)}`);
    }
    const dv = new DataView(this.bytes.buffer, this.bytes.byteOffset + t.storage.start, values.length * 4);
    for (let i = 0; i < values.length; i++) dv.setFloat32(4 * i, values[i], true);
    this.graphCache = undefined;
    return true;
  }

  /** Every floating tensor with its values, in file order (a fresh copy on each call). */
  weights(): WeightSet {
    return new WeightSet(this.tensors.map((t) => ({ ...t, data: this.read(t.name) })));
  }

  /** The main graph, with its initializers (sparse ones densified) and every subgraph attached to its node. */
  graph(): Graph {
    if (!this.graphCache) {
      this.graphCache = graphOfDecoded(this.decoded.graph, this.decoded.opsetVersion, this.bytes, this.path, this.readExternal);
    }
    return this.graphCache;
  }

  /** Values of a stored tensor of any type (for quantization parameters). */
  private constant(name: string): GraphTensor | undefined {
    if (!this.constantCache.has(name)) {
      const t = this.byName.get(name);
      this.constantCache.set(name, t ? graphTensor(t, this.bytes, this.path, this.readExternal) : undefined);
    }
    return this.constantCache.get(name);
  }

  /** The external data file of `tensor` (in Node: inside the model's folder, a regular file). */
  externalPath(location: string, tensor: string): string {
    if (!this.external) {
      throw new SculptError(`${this.path}: tensor ${printable(tensor)} is stored in the external data file ${printable(location)}, which a model given as bytes cannot read; save the model with its weights inside (onnx.save_model(..., save_as_external_data=False))`);
    }
    return this.external.path(location, tensor);
  }

  /** Bytes of an external tensor's payload. */
  readonly readExternal = (location: string, offset: number, length: number, tensor: string): Uint8Array => {
    this.externalPath(location, tensor);
    return this.external!.read(location, offset, length, tensor);
  };
}
