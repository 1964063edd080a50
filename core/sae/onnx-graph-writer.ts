// A small accumulator for hand-written ONNX graphs: each call appends one node and returns its
// output name, so graph code reads like the math it implements. Names are generated unless given,
// which keeps the training and encoder graphs free of bookkeeping.
import { create, toBinary } from '@bufbuild/protobuf';
import {
  GraphProtoSchema, ModelProtoSchema, OperatorSetIdProtoSchema, StringStringEntryProtoSchema,
  type NodeProto, type TensorProto, type ValueInfoProto,
} from 'onnx-buf';
import {
  floatTensor, int64Tensor, node, tensorValueInfo, TensorProto_DataType, type AttributeValue, type Dim,
} from '../demo/onnx-proto-builder.js';

/** Opset 17: Reduce* except ReduceSum still take `axes` as an attribute there. */
export const SAE_OPSET = 17;
export const SAE_IR_VERSION = 8;

export { TensorProto_DataType };

export class OnnxGraphWriter {
  private readonly nodes: NodeProto[] = [];
  private readonly initializers: TensorProto[] = [];
  private readonly inputs: ValueInfoProto[] = [];
  private readonly outputs: ValueInfoProto[] = [];
  private readonly constants = new Map<string, string>();
  private counter = 0;

  constructor(private readonly name: string) {}

  input(name: string, dims: readonly Dim[], elemType = TensorProto_DataType.FLOAT): string {
    this.inputs.push(tensorValueInfo(name, elemType, dims));
    return name;
  }

  /** Declares an existing tensor as a graph output. */
  output(name: string, dims: readonly Dim[], elemType = TensorProto_DataType.FLOAT): string {
    this.outputs.push(tensorValueInfo(name, elemType, dims));
    return name;
  }

  /** Appends a node with one output; `out` names it (needed for graph outputs). */
  op(opType: string, inputs: string[], attrs: Record<string, AttributeValue> = {}, out?: string): string {
    return this.opMulti(opType, inputs, 1, attrs, out ? [out] : undefined)[0];
  }

  opMulti(opType: string, inputs: string[], outputs: number, attrs: Record<string, AttributeValue> = {}, names?: string[]): string[] {
    const id = this.counter++;
    const outs = names ?? Array.from({ length: outputs }, (_, k) => `_${opType}${id}_${k}`);
    this.nodes.push(node(opType, inputs, outs, `${opType}_${id}`, attrs));
    return outs;
  }

  /** A float32 scalar (shape []) constant, shared between uses of the same value. */
  scalar(value: number): string {
    return this.constant(`f:${Object.is(value, -0) ? '-0' : value}`, (name) => floatTensor(name, [], [value]));
  }

  /** An int64 vector constant (axes, shapes, k). */
  ints(values: readonly number[]): string {
    return this.constant(`i:${values.join(',')}`, (name) => int64Tensor(name, [values.length], [...values]));
  }

  /** A named float initializer (weights of an inference model). */
  weight(name: string, dims: readonly number[], values: ArrayLike<number>): string {
    this.initializers.push(floatTensor(name, dims, values));
    return name;
  }

  private constant(key: string, make: (name: string) => TensorProto): string {
    const known = this.constants.get(key);
    if (known) return known;
    const name = `_const${this.constants.size}`;
    this.initializers.push(make(name));
    this.constants.set(key, name);
    return name;
  }

  toBytes(docString: string, metadata: Record<string, string> = {}): Uint8Array {
    const graph = create(GraphProtoSchema, {
      name: this.name, node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs, docString,
    });
    return toBinary(ModelProtoSchema, create(ModelProtoSchema, {
      irVersion: BigInt(SAE_IR_VERSION),
      opsetImport: [create(OperatorSetIdProtoSchema, { domain: '', version: BigInt(SAE_OPSET) })],
      producerName: 'thresher-sae',
      producerVersion: '1',
      graph,
      metadataProps: Object.entries(metadata).map(([key, value]) => create(StringStringEntryProtoSchema, { key, value })),
    }));
  }
}
