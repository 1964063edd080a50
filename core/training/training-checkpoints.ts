// Checkpoints of one dictionary in S3, written so that a reader never sees a half checkpoint:
// the data object first (its key names its step), then the small pointer JSON that names it.
// A worker killed between the two leaves the previous pointer in place, still valid. The newest
// two data objects are kept (the pointer's and the one before), older ones deleted.
import { sha256Hex, type ObjectStore } from '../storage/object-store.js';
import type { RunLayout } from '../storage/run-layout.js';
import type { SaeTrainerState } from '../sae/sae-trainer.js';
import type { StreamPosition } from './activation-stream.js';
import { CheckpointError, decodeCheckpoint, encodeCheckpoint } from './checkpoint-codec.js';

export const POINTER_FORMAT = 'thresher.sae-checkpoint-pointer/v1';

/** Everything besides the trainer state that a resume needs: the data cursor, RNG seed and counters. */
export interface CheckpointInfo {
  step: number;
  tokens: number;
  /** Stream position after the last batch consumed (training or resampling sample). */
  position: StreamPosition;
  /**
   * The stream's and the resampler's RNGs are pure functions of (seed, epoch) and (seed, step),
   * so the seed plus `position` and `step` is their whole state.
   */
  seed: number;
  /** Input scale (normalisation) in use; fixed for the whole training. */
  scale: number;
  /** trainingFingerprint() of the settings: a resume with other settings is refused. */
  fingerprint: string;
  resampleEvents: number;
  resampledFeatures: number;
}

export interface CheckpointPointer extends CheckpointInfo {
  format: typeof POINTER_FORMAT;
  trainingId: string;
  key: string;
  sha256: string;
  bytes: number;
  /** The data object of the checkpoint before this one (kept; the one before that is deleted). */
  previousKey?: string;
  writtenAt: string;
}

export function readCheckpointPointer(store: ObjectStore, layout: RunLayout, trainingId: string, signal?: AbortSignal): Promise<CheckpointPointer | undefined> {
  return store.getJsonIfExists<CheckpointPointer>(layout.bucket, layout.checkpointPointerKey(trainingId), signal);
}

export async function loadCheckpoint(store: ObjectStore, layout: RunLayout, pointer: CheckpointPointer, signal?: AbortSignal): Promise<SaeTrainerState> {
  const bytes = await store.getBytes(layout.bucket, pointer.key, signal);
  const sha = sha256Hex(bytes);
  if (sha !== pointer.sha256) throw new CheckpointError(`checkpoint ${pointer.key} has sha256 ${sha}, its pointer says ${pointer.sha256}`);
  const { state } = decodeCheckpoint(bytes);
  if (state.adam.step !== pointer.step) throw new CheckpointError(`checkpoint ${pointer.key} holds step ${state.adam.step}, its pointer says ${pointer.step}`);
  return state;
}

/** Writes data, then pointer; returns the new pointer. `previous` is the pointer it replaces. */
export async function writeCheckpoint(
  store: ObjectStore, layout: RunLayout, trainingId: string, state: SaeTrainerState, info: CheckpointInfo,
  previous: CheckpointPointer | undefined, signal?: AbortSignal,
): Promise<CheckpointPointer> {
  const key = layout.checkpointKey(trainingId, info.step);
  const bytes = encodeCheckpoint(state, { training_id: trainingId, info: JSON.stringify(info) });
  const sha256 = await store.put(layout.bucket, key, bytes, { contentType: 'application/octet-stream', signal });
  const pointer: CheckpointPointer = {
    format: POINTER_FORMAT,
    trainingId,
    ...info,
    key,
    sha256,
    bytes: bytes.byteLength,
    ...(previous && previous.key !== key && { previousKey: previous.key }),
    writtenAt: new Date().toISOString(),
  };
  await store.putJson(layout.bucket, layout.checkpointPointerKey(trainingId), pointer, signal);
  const stale = previous?.previousKey;
  if (stale && stale !== key && stale !== pointer.previousKey) await store.delete(layout.bucket, stale).catch(() => undefined);
  return pointer;
}
