/**
 * Thin constructors over onnx-buf messages, so graph code reads as a list of operators rather
 * than protobuf plumbing. Tensor bytes are written little-endian explicitly, as ONNX raw_data
 * requires, instead of trusting the host's typed-array byte order.
 */

import { create } from '@bufbuild/protobuf';
import {
  AttributeProtoSchema, AttributeProto_AttributeType, NodeProtoSchema, TensorProtoSchema,
  TensorProto_DataType, TensorShapeProtoSchema, TensorShapeProto_DimensionSchema, TypeProtoSchema,
  TypeProto_TensorSchema, ValueInfoProtoSchema,
  type AttributeProto, type NodeProto, type TensorProto, type ValueInfoProto,
} from 'onnx-buf';

/** A concrete size, or a symbolic name such as "batch". */
export type Dim = number | string;

export function floatTensor(name: string, dims: readonly number[], values: ArrayLike<number>): TensorProto {
  assertElementCount(name, dims, values.length);
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
  return create(TensorProtoSchema, {
    name, dims: dims.map(BigInt), dataType: TensorProto_DataType.FLOAT, rawData: bytes,
  });
}

export function int64Tensor(name: string, dims: readonly number[], values: readonly number[]): TensorProto {
  assertElementCount(name, dims, values.length);
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
  return create(TensorProtoSchema, {
    name, dims: dims.map(BigInt), dataType: TensorProto_DataType.INT64, rawData: bytes,
  });
}

function assertElementCount(name: string, dims: readonly number[], count: number): void {
  const expected = dims.reduce((a, b) => a * b, 1);
  if (expected !== count) throw new Error(`tensor ${name}: dims ${JSON.stringify(dims)} need ${expected} values, got ${count}`);
}

export type AttributeValue = number | number[] | TensorProto | { float: number };

/** Integers become INT/INTS; wrap a float as `{ float: x }` so 1.0 is not mistaken for an int. */
export function attribute(name: string, value: AttributeValue): AttributeProto {
  if (typeof value === 'number') {
    return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.INT, i: BigInt(value) });
  }
  if (Array.isArray(value)) {
    return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.INTS, ints: value.map(BigInt) });
  }
  if ('float' in value) {
    return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.FLOAT, f: value.float });
  }
  return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.TENSOR, t: value });
}

export function node(
  opType: string,
  inputs: string[],
  outputs: string[],
  name: string,
  attributes: Record<string, AttributeValue> = {},
): NodeProto {
  return create(NodeProtoSchema, {
    opType, input: inputs, output: outputs, name,
    attribute: Object.entries(attributes).map(([key, value]) => attribute(key, value)),
  });
}

/** A Constant node holding a tensor, for graph-internal constants that are not weights. */
export function constantNode(output: string, tensor: TensorProto): NodeProto {
  return node('Constant', [], [output], output, { value: tensor });
}

export function tensorValueInfo(name: string, elemType: TensorProto_DataType, dims: readonly Dim[]): ValueInfoProto {
  return create(ValueInfoProtoSchema, {
    name,
    type: create(TypeProtoSchema, {
      value: {
        case: 'tensorType',
        value: create(TypeProto_TensorSchema, {
          elemType,
          shape: create(TensorShapeProtoSchema, {
            dim: dims.map((d) => create(TensorShapeProto_DimensionSchema, {
              value: typeof d === 'number' ? { case: 'dimValue', value: BigInt(d) } : { case: 'dimParam', value: d },
            })),
          }),
        }),
      },
    }),
  });
}

export { TensorProto_DataType };
