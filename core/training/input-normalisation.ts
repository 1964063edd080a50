// Optional input normalisation (config `normalise`): training inputs are multiplied by one scalar
// s that makes their mean squared norm d_in, so λ means the same whatever the hook's scale. The
// scalar is measured once, before step 1, on a seeded sample of parts, kept in every checkpoint
// (a resume never re-measures it), and folded into the saved weights, so the stored dictionary —
// like SAELens' after fold_activation_norm_scaling_factor — takes raw activations and produces the
// same feature activations as the trained one did on scaled inputs:
//   W_enc' = s·W_enc,  W_dec' = W_dec / s,  b_dec' = b_dec / s,  b_enc' = b_enc.
// (Decoder rows then have norm 1/s instead of 1; cfg.json records s.)
import { SeededRandom } from '../random/seeded-random.js';
import { readActivationPart } from '../parquet/activation-part.js';
import { cloneWeights, type SaeWeights } from '../sae/sae-weights.js';
import type { ObjectStore } from '../storage/object-store.js';
import { normalisingScale, type PartRef } from './activation-stream.js';

/** Rows the scale is measured on (whole parts are read until at least this many). */
export const SCALE_SAMPLE_ROWS = 16_384;
/** SeededRandom.derived purpose tag: the sample's part order, independent of the training order. */
const SCALE_STREAM = 7;

export async function measureInputScale(
  store: ObjectStore, bucket: string, parts: PartRef[], width: number, seed: number, signal?: AbortSignal,
): Promise<number> {
  const order = SeededRandom.derived(seed, SCALE_STREAM).shuffle([...parts]);
  const blocks: Float32Array[] = [];
  let rows = 0;
  for (const p of order) {
    if (rows >= SCALE_SAMPLE_ROWS) break;
    const { cols } = await readActivationPart(await store.getBytes(bucket, p.key, signal));
    blocks.push(cols.values);
    rows += cols.values.length / width;
  }
  const sample = new Float32Array(rows * width);
  let at = 0;
  for (const b of blocks) {
    sample.set(b, at);
    at += b.length;
  }
  return normalisingScale(sample, width);
}

/** The dictionary for raw inputs, from one trained on inputs × scale. */
export function foldInputScale(w: SaeWeights, scale: number): SaeWeights {
  const out = cloneWeights(w);
  if (scale === 1) return out;
  for (let i = 0; i < out.W_enc.length; i++) out.W_enc[i] *= scale;
  for (let i = 0; i < out.W_dec.length; i++) out.W_dec[i] /= scale;
  for (let i = 0; i < out.b_dec.length; i++) out.b_dec[i] /= scale;
  return out;
}
