// A training checkpoint's data object: everything SaeTrainer.load() needs, as one safetensors file
// (so Python can open it too): the four parameters, Adam's two moments of each, and the per-feature
// "tokens since fired" counters (F64: token counts pass float32's exact range early, at 2^24).
// Scalars (Adam step, tokens) and the stream cursor go in the metadata, as strings.
import { zeroAdamState, type ParamTensors } from '../sae/adam-state.js';
import type { SaeTrainerState } from '../sae/sae-trainer.js';
import { SAE_PARAM_NAMES, paramShape, zeroWeights } from '../sae/sae-weights.js';

export const CHECKPOINT_FORMAT = 'thresher.sae-checkpoint/v1';

type Tensor = { shape: number[]; data: Float32Array | Float64Array };

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

export function encodeCheckpoint(state: SaeTrainerState, metadata: Record<string, string>): Uint8Array {
  if (!LITTLE_ENDIAN_HOST) throw new CheckpointError('checkpoints are written on little-endian hosts only');
  const { dIn, dSae } = state.weights;
  const tensors: Record<string, Tensor> = {};
  for (const n of SAE_PARAM_NAMES) tensors[n] = { shape: paramShape(n, dIn, dSae), data: state.weights[n] };
  for (const n of SAE_PARAM_NAMES) tensors[`adam.m.${n}`] = { shape: paramShape(n, dIn, dSae), data: state.adam.m[n] };
  for (const n of SAE_PARAM_NAMES) tensors[`adam.v.${n}`] = { shape: paramShape(n, dIn, dSae), data: state.adam.v[n] };
  tensors.tokens_since_fired = { shape: [dSae], data: state.tokensSinceFired ?? new Float64Array(dSae) };

  const header: Record<string, unknown> = {
    __metadata__: {
      ...metadata,
      format: CHECKPOINT_FORMAT,
      d_in: String(dIn),
      d_sae: String(dSae),
      adam_step: String(state.adam.step),
      tokens: String(state.tokens ?? 0),
    },
  };
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = { dtype: t.data instanceof Float64Array ? 'F64' : 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  // Pad the JSON to 8 bytes so F64 tensors start aligned (safetensors' own rule).
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLength + offset).fill(0x20, 8, 8 + headerLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  let at = 8 + headerLength;
  for (const t of Object.values(tensors)) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}

export function decodeCheckpoint(bytes: Uint8Array): { state: SaeTrainerState; metadata: Record<string, string> } {
  if (bytes.length < 8) throw new CheckpointError(`checkpoint of ${bytes.length} bytes has no header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (8 + headerLength > bytes.length) throw new CheckpointError('checkpoint header runs past the end of the file');
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as Record<string, unknown>;
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  if (metadata.format !== CHECKPOINT_FORMAT) throw new CheckpointError(`checkpoint format ${metadata.format}, expected ${CHECKPOINT_FORMAT}`);
  const dIn = Number(metadata.d_in);
  const dSae = Number(metadata.d_sae);
  const start = 8 + headerLength;
  const read = (name: string, expected: number[], dtype: 'F32' | 'F64'): Float32Array | Float64Array => {
    const info = header[name] as { dtype: string; shape: number[]; data_offsets: [number, number] } | undefined;
    if (!info) throw new CheckpointError(`checkpoint has no tensor ${name}`);
    if (info.dtype !== dtype || JSON.stringify(info.shape) !== JSON.stringify(expected)) {
      throw new CheckpointError(`checkpoint tensor ${name} is ${info.dtype}${JSON.stringify(info.shape)}, expected ${dtype}${JSON.stringify(expected)}`);
    }
    const [b, e] = info.data_offsets;
    if (start + e > bytes.length) throw new CheckpointError(`checkpoint tensor ${name} runs past the end of the file`);
    // A copy: aligned, and independent of the downloaded buffer.
    const copy = bytes.slice(start + b, start + e);
    return dtype === 'F64' ? new Float64Array(copy.buffer) : new Float32Array(copy.buffer);
  };
  const weights = zeroWeights(dIn, dSae);
  const adam = zeroAdamState(dIn, dSae);
  for (const n of SAE_PARAM_NAMES) {
    weights[n] = read(n, paramShape(n, dIn, dSae), 'F32') as Float32Array;
    (adam.m as ParamTensors)[n] = read(`adam.m.${n}`, paramShape(n, dIn, dSae), 'F32') as Float32Array;
    (adam.v as ParamTensors)[n] = read(`adam.v.${n}`, paramShape(n, dIn, dSae), 'F32') as Float32Array;
  }
  adam.step = Number(metadata.adam_step);
  const tokensSinceFired = read('tokens_since_fired', [dSae], 'F64') as Float64Array;
  return { state: { weights, adam, tokensSinceFired, tokens: Number(metadata.tokens) }, metadata };
}
