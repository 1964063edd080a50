// Reads float32 weight tensors out of an ONNX model's initializers by name. Writers store them
// either as little-endian raw_data bytes (the common case, and what the demo builder writes) or
// as the repeated float_data field; both are handled. External data (weights in a side file) is
// not: such a tensor is reported as unreadable rather than misread.
import { TensorProto_DataType, type ModelProto, type TensorProto } from 'onnx-buf';
import { decodeModel, type ModelSource } from '../model/onnx-graph.js';

export interface FloatTensor {
  dims: number[];
  data: Float32Array;
}

export type InitializerResult = { ok: true; tensor: FloatTensor } | { ok: false; reason: string };

/** Initializers of the top-level graph by name (later duplicates lose, as ORT resolves them). */
export function initializerIndex(model: ModelSource): Map<string, TensorProto> {
  const proto: ModelProto = decodeModel(model);
  const index = new Map<string, TensorProto>();
  for (const t of proto.graph?.initializer ?? []) if (!index.has(t.name)) index.set(t.name, t);
  return index;
}

export function readFloatInitializer(index: Map<string, TensorProto>, name: string): InitializerResult {
  const t = index.get(name);
  if (!t) return { ok: false, reason: `not available: missing initializer ${name}` };
  if (t.dataType !== TensorProto_DataType.FLOAT) {
    return { ok: false, reason: `not available: initializer ${name} has data type ${TensorProto_DataType[t.dataType] ?? t.dataType}, expected FLOAT` };
  }
  const dims = t.dims.map(Number);
  const count = dims.reduce((a, b) => a * b, 1);
  let data: Float32Array;
  if (t.rawData.length > 0) {
    if (t.rawData.length !== count * 4) {
      return { ok: false, reason: `not available: initializer ${name} has ${t.rawData.length} raw bytes, dims ${JSON.stringify(dims)} need ${count * 4}` };
    }
    // DataView reads little-endian whatever the host order, and tolerates unaligned byte offsets.
    const view = new DataView(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength);
    data = new Float32Array(count);
    for (let i = 0; i < count; i++) data[i] = view.getFloat32(i * 4, true);
  } else if (t.floatData.length === count) {
    data = Float32Array.from(t.floatData);
  } else {
    const external = t.externalData.length > 0 ? ' (stored as external data, which is not read)' : '';
    return { ok: false, reason: `not available: initializer ${name} holds ${t.floatData.length} floats, dims ${JSON.stringify(dims)} need ${count}${external}` };
  }
  return { ok: true, tensor: { dims, data } };
}
