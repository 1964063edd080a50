// Element types and shapes of the tensors in an ONNX graph, without running ONNX shape inference.
//
// Exported transformers often carry no value_info for intermediates, yet listHooks has to know
// which node outputs are float. Initializers, graph inputs and Constant nodes are always typed, so
// a forward pass with a few per-op rules (most ops keep their first input's type) types nearly
// every tensor; shapes are only taken from what the file declares.
import type { AttributeProto, GraphProto, NodeProto, TypeProto, ValueInfoProto } from 'onnx-buf';

export type Dim = number | string | null;

export interface TensorType {
  elemType?: number; // TensorProto.DataType; undefined when unknown
  shape: Dim[] | null;
}

// TensorProto.DataType numbers, named the way onnxruntime names tensor types.
const DTYPE_NAMES: Record<number, string> = {
  1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64',
  8: 'string', 9: 'bool', 10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64',
  14: 'complex64', 15: 'complex128', 16: 'bfloat16', 17: 'float8e4m3fn', 18: 'float8e4m3fnuz',
  19: 'float8e5m2', 20: 'float8e5m2fnuz', 21: 'uint4', 22: 'int4', 23: 'float4e2m1',
  24: 'float8e8m0', 25: 'uint2', 26: 'int2',
};

// Activation-like float types; the 8/4-bit float formats are storage formats, not activations.
const FLOAT_TYPES = new Set([1, 10, 11, 16]);
const INT64 = 7;
const BOOL = 9;
const INT32 = 6;
const FLOAT = 1;

export function dtypeName(elemType: number | undefined): string {
  return (elemType !== undefined && DTYPE_NAMES[elemType]) || 'unknown';
}

export function isFloatType(elemType: number | undefined): boolean {
  return elemType !== undefined && FLOAT_TYPES.has(elemType);
}

function fromTypeProto(type: TypeProto | undefined): TensorType {
  if (type?.value.case !== 'tensorType') return { shape: null };
  const t = type.value.value;
  const shape = t.shape
    ? t.shape.dim.map((d): Dim =>
        d.value.case === 'dimValue' ? Number(d.value.value) : d.value.case === 'dimParam' ? d.value.value : null)
    : null;
  return { elemType: t.elemType || undefined, shape };
}

function attr(node: NodeProto, name: string): AttributeProto | undefined {
  return node.attribute.find((a) => a.name === name);
}

function intAttr(node: NodeProto, name: string): number | undefined {
  const a = attr(node, name);
  return a ? Number(a.i) : undefined;
}

// Type of a Constant node's output, from whichever value_* attribute it carries.
function constantType(node: NodeProto): number | undefined {
  for (const a of node.attribute) {
    if (a.name === 'value' && a.t) return a.t.dataType;
    if (a.name === 'value_float' || a.name === 'value_floats') return FLOAT;
    if (a.name === 'value_int' || a.name === 'value_ints') return INT64;
    if (a.name === 'value_string' || a.name === 'value_strings') return 8;
  }
  return undefined;
}

const BOOL_OPS = new Set([
  'Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'Not', 'And', 'Or', 'Xor', 'IsNaN', 'IsInf',
]);
const INT64_OPS = new Set(['Shape', 'Size', 'NonZero', 'ArgMax', 'ArgMin']);

// Element type of output `k` of `node`, given the types known so far; undefined when not derivable.
function outputType(node: NodeProto, k: number, typeOf: (name: string | undefined) => number | undefined): number | undefined {
  const op = node.opType;
  const input = (i: number) => typeOf(node.input[i]);
  if (BOOL_OPS.has(op)) return BOOL;
  if (INT64_OPS.has(op)) return INT64;
  switch (op) {
    case 'Constant': return constantType(node);
    case 'Cast': return intAttr(node, 'to');
    case 'CastLike': return input(1);
    case 'ConstantOfShape': return attr(node, 'value')?.t?.dataType ?? FLOAT;
    case 'RandomNormal': case 'RandomUniform': return intAttr(node, 'dtype') ?? FLOAT;
    case 'RandomNormalLike': case 'RandomUniformLike': case 'EyeLike': case 'Bernoulli':
      return intAttr(node, 'dtype') ?? input(0);
    case 'Multinomial': return intAttr(node, 'dtype') ?? INT32;
    case 'Where': return input(1);
    case 'OneHot': return input(2);
    case 'TopK': return k === 0 ? input(0) : INT64;
    case 'Unique': return k === 0 ? input(0) : INT64;
    case 'Dropout': return k === 0 ? input(0) : BOOL;
    case 'MaxPool': return k === 0 ? input(0) : INT64;
    case 'MatMulInteger': case 'ConvInteger': return INT32;
    case 'QuantizeLinear': return input(2) ?? intAttr(node, 'output_dtype') ?? 2;
    case 'DequantizeLinear': return input(1);
    case 'DynamicQuantizeLinear': return k === 1 ? FLOAT : 2;
    case 'QLinearMatMul': return input(7);
    case 'If': return subgraphOutput(attr(node, 'then_branch')?.g, k);
    case 'Loop': return subgraphOutput(attr(node, 'body')?.g, k + 1); // body output 0 is the condition
    case 'Scan': return subgraphOutput(attr(node, 'body')?.g, k);
  }
  // Elementwise, shape and normalization ops keep the type of their (first typed) data input.
  for (const name of node.input) {
    const t = typeOf(name);
    if (t !== undefined) return t;
  }
  return undefined;
}

function subgraphOutput(g: GraphProto | undefined, k: number): number | undefined {
  return g ? fromTypeProto(g.output[k]?.type).elemType : undefined;
}

/** Types of every named tensor in the top-level graph (initializers, inputs, node outputs). */
export function tensorTypes(graph: GraphProto): Map<string, TensorType> {
  const types = new Map<string, TensorType>();
  for (const init of graph.initializer) {
    types.set(init.name, { elemType: init.dataType || undefined, shape: init.dims.map(Number) });
  }
  // Declared types win over initializer guesses; later lists refine earlier ones.
  const declare = (vi: ValueInfoProto) => {
    const t = fromTypeProto(vi.type);
    const old = types.get(vi.name);
    types.set(vi.name, { elemType: t.elemType ?? old?.elemType, shape: t.shape ?? old?.shape ?? null });
  };
  graph.input.forEach(declare);
  graph.valueInfo.forEach(declare);
  graph.output.forEach(declare);

  const typeOf = (name: string | undefined) => (name ? types.get(name)?.elemType : undefined);
  // Nodes are topologically sorted in valid ONNX, so one pass normally suffices; repeat while it
  // still makes progress in case a file is not.
  for (let changed = true; changed; ) {
    changed = false;
    for (const node of graph.node) {
      node.output.forEach((name, k) => {
        if (!name) return; // optional output left unnamed
        const known = types.get(name);
        if (known?.elemType !== undefined) return;
        const elemType = outputType(node, k, typeOf);
        if (elemType === undefined && known) return;
        types.set(name, { elemType, shape: known?.shape ?? null });
        if (elemType !== undefined) changed = true;
      });
    }
  }
  return types;
}
