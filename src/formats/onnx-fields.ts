/**
 * ONNX protobuf field numbers (onnx/onnx.proto, checked against ONNX 1.12) and the enum values the
 * encoder writes. One list for the decoder and the builder, so the two cannot drift apart; the
 * names are those onnx-decode.ts uses.
 */

// ModelProto
export const MODEL_IR_VERSION = 1;
export const MODEL_PRODUCER_NAME = 2;
export const MODEL_PRODUCER_VERSION = 3;
export const MODEL_DOC_STRING = 6;
export const MODEL_GRAPH = 7;
export const MODEL_OPSET_IMPORT = 8;
export const MODEL_METADATA_PROPS = 14;
// OperatorSetIdProto
export const OPSET_DOMAIN = 1;
export const OPSET_VERSION = 2;
// GraphProto
export const GRAPH_NODE = 1;
export const GRAPH_NAME = 2;
export const GRAPH_INITIALIZER = 5;
export const GRAPH_DOC_STRING = 10;
export const GRAPH_INPUT = 11;
export const GRAPH_OUTPUT = 12;
export const GRAPH_VALUE_INFO = 13;
export const GRAPH_SPARSE_INITIALIZER = 15;
// NodeProto
export const NODE_INPUT = 1;
export const NODE_OUTPUT = 2;
export const NODE_NAME = 3;
export const NODE_OP_TYPE = 4;
export const NODE_ATTRIBUTE = 5;
export const NODE_DOC_STRING = 6;
export const NODE_DOMAIN = 7;
// AttributeProto
export const ATTR_NAME = 1;
export const ATTR_F = 2;
export const ATTR_I = 3;
export const ATTR_S = 4;
export const ATTR_T = 5;
export const ATTR_G = 6;
export const ATTR_FLOATS = 7;
export const ATTR_INTS = 8;
export const ATTR_STRINGS = 9;
export const ATTR_TYPE = 20;
// TensorProto
export const TENSOR_DIMS = 1;
export const TENSOR_DATA_TYPE = 2;
export const TENSOR_FLOAT_DATA = 4;
export const TENSOR_INT32_DATA = 5;
export const TENSOR_INT64_DATA = 7;
export const TENSOR_NAME = 8;
export const TENSOR_RAW_DATA = 9;
export const TENSOR_DOUBLE_DATA = 10;
export const TENSOR_UINT64_DATA = 11;
export const TENSOR_EXTERNAL_DATA = 13;
export const TENSOR_DATA_LOCATION = 14;
// StringStringEntryProto
export const ENTRY_KEY = 1;
export const ENTRY_VALUE = 2;
// ValueInfoProto / TypeProto / TensorShapeProto
export const VALUE_INFO_NAME = 1;
export const VALUE_INFO_TYPE = 2;
export const TYPE_TENSOR = 1;
export const TYPE_SEQUENCE = 4;
export const TYPE_MAP = 5;
export const TYPE_OPTIONAL = 9;
export const TYPE_TENSOR_ELEM_TYPE = 1;
export const TYPE_TENSOR_SHAPE = 2;
export const SHAPE_DIM = 1;
export const DIM_VALUE = 1;
export const DIM_PARAM = 2;

/** AttributeProto.AttributeType values. */
export const ATTR_TYPE_VALUE = {
  FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8,
} as const;
// SparseTensorProto
export const SPARSE_VALUES = 1;
export const SPARSE_INDICES = 2;
export const SPARSE_DIMS = 3;
