// Messages between openTrainerThread (main thread, trainer-client.ts) and trainer-thread.ts. The
// thread owns the SaeTrainer, because session.run() blocks its thread for a whole training step
// and a blocked main thread cannot heartbeat to Temporal or notice cancellation. Requests carry
// an id and are answered in order; typed-array buffers are transferred, never copied.
import type { SerializedError } from '../model/inference-protocol.js';
import type { CreateSaeTrainerOptions, ResampleOptions, SaeTrainerState, StepOptions } from '../sae/sae-trainer.js';

export type ToTrainer =
  | { id: number; method: 'init'; options: CreateSaeTrainerOptions }
  | { id: number; method: 'step'; batch: Float32Array; options?: StepOptions }
  | { id: number; method: 'state' }
  | { id: number; method: 'load'; state: SaeTrainerState }
  | { id: number; method: 'resample'; options: ResampleOptions }
  | { id: number; method: 'weights' }
  | { id: number; method: 'close' };

export type FromTrainer = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: SerializedError };

/**
 * The ArrayBuffers under every typed array in `value` (objects and arrays walked), for the
 * transfer list. Only ever called on freshly copied data (trainer.state()/weights() copy), so
 * detaching them on this side loses nothing.
 */
export function buffersOf(value: unknown, out = new Set<ArrayBuffer>(), depth = 0): ArrayBuffer[] {
  if (depth > 4 || value === null || typeof value !== 'object') return [...out];
  if (ArrayBuffer.isView(value)) {
    if (value.buffer instanceof ArrayBuffer && value.buffer.byteLength > 0) out.add(value.buffer);
    return [...out];
  }
  for (const v of Object.values(value)) buffersOf(v, out, depth + 1);
  return [...out];
}
