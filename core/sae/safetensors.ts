// Minimal safetensors encoder and decoder for float32 tensors — the format SAELens, sparsify and
// Hugging Face use for dictionaries, so files written here load there (and the reverse).
//
// Layout: an unsigned 64-bit little-endian N, then N bytes of JSON
//   { "<name>": { "dtype": "F32", "shape": [...], "data_offsets": [begin, end] }, ...,
//     "__metadata__": { "<key>": "<string>" } }
// then the tensor bytes, little-endian, offsets relative to the end of the header. The JSON is
// padded with spaces to a multiple of 8 bytes so every tensor starts 8-byte aligned (the
// reference implementation does the same; readers may then map tensors without copying).

export interface SafetensorsTensor {
  shape: number[];
  data: Float32Array;
}

export interface SafetensorsFile {
  tensors: Record<string, SafetensorsTensor>;
  /** String-to-string metadata (safetensors allows nothing else there). */
  metadata: Record<string, string>;
}

export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Tensors are written in the given key order. */
export function encodeSafetensors(file: SafetensorsFile): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(file.metadata).length) header.__metadata__ = file.metadata;
  let offset = 0;
  const entries = Object.entries(file.tensors);
  for (const [name, t] of entries) {
    if (name === '__metadata__') throw new SafetensorsError('"__metadata__" cannot be a tensor name');
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new SafetensorsError(`tensor ${name}: shape ${JSON.stringify(t.shape)} needs ${count} values, got ${t.data.length}`);
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.length * 4] };
    offset += t.data.length * 4;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const [, t] of entries) {
    writeFloat32LE(out, at, t.data);
    at += t.data.length * 4;
  }
  return out;
}

export function decodeSafetensors(bytes: Uint8Array): SafetensorsFile {
  if (bytes.length < 8) throw new SafetensorsError(`safetensors file of ${bytes.length} bytes has no header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (8 + headerLength > bytes.length) throw new SafetensorsError(`header length ${headerLength} exceeds the file (${bytes.length} bytes)`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as Record<string, unknown>;
  } catch (e) {
    throw new SafetensorsError(`header is not JSON: ${(e as Error).message}`);
  }
  const dataStart = 8 + headerLength;
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  const tensors: Record<string, SafetensorsTensor> = {};
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const info = raw as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
    if (info.dtype !== 'F32') throw new SafetensorsError(`tensor ${name}: dtype ${info.dtype} is not supported (only F32)`);
    const [begin, end] = info.data_offsets ?? [NaN, NaN];
    const shape = info.shape ?? [];
    const count = shape.reduce((a, b) => a * b, 1);
    if (!(begin >= 0 && end - begin === count * 4 && dataStart + end <= bytes.length)) {
      throw new SafetensorsError(`tensor ${name}: offsets ${JSON.stringify(info.data_offsets)} do not fit shape ${JSON.stringify(shape)} in a ${bytes.length}-byte file`);
    }
    tensors[name] = { shape, data: readFloat32LE(bytes, dataStart + begin, count) };
  }
  return { tensors, metadata };
}

function writeFloat32LE(out: Uint8Array, at: number, data: Float32Array): void {
  if (LITTLE_ENDIAN_HOST) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    return;
  }
  const view = new DataView(out.buffer, out.byteOffset);
  for (let i = 0; i < data.length; i++) view.setFloat32(at + i * 4, data[i], true);
}

/** Always a fresh, aligned copy: the tensor may sit at an unaligned offset of a shared buffer. */
function readFloat32LE(bytes: Uint8Array, at: number, count: number): Float32Array {
  const out = new Float32Array(count);
  if (LITTLE_ENDIAN_HOST) {
    new Uint8Array(out.buffer).set(bytes.subarray(at, at + count * 4));
    return out;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  for (let i = 0; i < count; i++) out[i] = view.getFloat32(at + i * 4, true);
  return out;
}
