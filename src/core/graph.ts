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
export type GraphDType = 'float32' | 'float16' | 'float64' | 'int64' | 'int32' | 'int8' | 'uint8' | 'bool';

export interface GraphTensor {
  readonly name: string;
  readonly dtype: GraphDType;
  readonly dims: readonly number[];
  /** float32 data for float tensors (converted from float16/float64), or integer data. */
  readonly data: Float32Array | BigInt64Array | Int32Array | Uint8Array | Int8Array;
}

export interface GraphValueInfo {
  readonly name: string;
  readonly dtype: GraphDType;
  /** Dimensions; a symbolic or unknown dimension is -1. */
  readonly dims: readonly number[];
}

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
