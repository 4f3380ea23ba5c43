/**
 * A format-neutral description of a computation graph, enough for sculpt's sparse executor and
 * for working out tensor roles. `formats` builds it from ONNX; `sparse` runs it.
 */

/** An attribute's value; a `Graph` is a subgraph (the bodies of If, Loop and Scan). */
export type AttributeValue = number | string | number[] | string[] | Float32Array | GraphTensor | Graph;

export interface GraphNode {
  readonly name: string;
  readonly opType: string;
  /** Input value names; '' marks an omitted optional input (as in ONNX). */
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes: ReadonlyMap<string, AttributeValue>;
  /** ONNX domain ('' for the default domain). */
  readonly domain: string;
}

/** ONNX TensorProto data types sculpt understands. */
export type GraphDType =
  | 'float32' | 'float16' | 'float64' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint64' | 'uint32' | 'uint16' | 'uint8' | 'bool';

export interface GraphTensor {
  readonly name: string;
  readonly dtype: GraphDType;
  readonly dims: readonly number[];
  /** float32 data for float tensors (converted from float16/float64), or integer data. */
  readonly data: Float32Array | BigInt64Array | BigUint64Array | Int32Array | Uint32Array | Int16Array | Uint16Array | Uint8Array | Int8Array;
}

/** What a graph input or output holds (ONNX TypeProto): a tensor, a sequence, a map or an optional. */
export type GraphValueKind = 'tensor' | 'sequence' | 'map' | 'optional';

export interface GraphValueInfo {
  readonly name: string;
  readonly dtype: GraphDType;
  /** Dimensions; a symbolic or unknown dimension is -1. */
  readonly dims: readonly number[];
  /** Absent: a tensor. For a sequence or optional, `dtype`, `dims` and `elemType` describe the tensors inside. */
  readonly kind?: GraphValueKind;
  /** The ONNX TensorProto.DataType number, where `dtype` loses it (bfloat16 is held as float32). */
  readonly elemType?: number;
}

/** A value as the ONNX test suites store it: a tensor, a sequence of values, or an optional that may be empty. */
export type GraphValue =
  | { readonly kind: 'tensor'; readonly tensor: GraphTensor }
  | { readonly kind: 'sequence'; readonly name: string; readonly items: readonly GraphValue[] }
  | { readonly kind: 'optional'; readonly name: string; readonly value?: GraphValue };

export interface Graph {
  /** The graph's name ('' when the file gives none). */
  readonly name?: string;
  readonly nodes: readonly GraphNode[];
  readonly initializers: ReadonlyMap<string, GraphTensor>;
  readonly inputs: readonly GraphValueInfo[];
  readonly outputs: readonly GraphValueInfo[];
  readonly opsetVersion: number;
}

/** Whether an attribute value is a subgraph. */
export function isGraph(v: AttributeValue | undefined): v is Graph {
  return typeof v === 'object' && v !== null && 'nodes' in v;
}
