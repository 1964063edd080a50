// Initial weights: Kaiming-uniform, untied encoder and decoder (the 2023 paper), or the encoder as
// the decoder's transpose for TopK (OpenAI 2024: it greatly reduces dead latents). Decoder rows
// (the paper's decoder columns) start at unit norm because the training constraint assumes it.
import { SeededRandom } from '../random/seeded-random.js';
import { geometricMedian } from './geometric-median.js';
import type { SaeArch } from './sae-config.js';
import { normaliseDecoderRows } from './decoder-norm.js';
import { zeroWeights, type SaeWeights } from './sae-weights.js';

export interface SaeInitOptions {
  dIn: number;
  dSae: number;
  arch: SaeArch;
  seed: number;
  /** Row-major [n × d_in] sample whose geometric median becomes b_dec; b_dec stays 0 without one. */
  sample?: Float32Array;
}

// Purpose tags for SeededRandom.derived, so each tensor has its own stream and changing one
// tensor's size never shifts another's values.
const STREAM_W_DEC = 1;
const STREAM_W_ENC = 2;

/**
 * Kaiming-uniform with the ReLU gain: U(−√(6/fan_in), √(6/fan_in)). For the encoder
 * (d_in → d_sae) fan_in is d_in; the decoder's scale is irrelevant since its rows are normalised.
 */
function kaimingUniform(out: Float32Array, fanIn: number, rng: SeededRandom): void {
  const bound = Math.sqrt(6 / fanIn);
  for (let i = 0; i < out.length; i++) out[i] = rng.uniform(-bound, bound);
}

export function initSaeWeights(o: SaeInitOptions): SaeWeights {
  const w = zeroWeights(o.dIn, o.dSae);
  kaimingUniform(w.W_dec, o.dSae, SeededRandom.derived(o.seed, STREAM_W_DEC));
  normaliseDecoderRows(w.W_dec, o.dSae, o.dIn);
  if (o.arch === 'topk') {
    // W_enc [d_in × d_sae] = W_decᵀ.
    for (let i = 0; i < o.dSae; i++) for (let j = 0; j < o.dIn; j++) w.W_enc[j * o.dSae + i] = w.W_dec[i * o.dIn + j];
  } else {
    kaimingUniform(w.W_enc, o.dIn, SeededRandom.derived(o.seed, STREAM_W_ENC));
  }
  if (o.sample) w.b_dec.set(geometricMedian(o.sample, o.dIn).median);
  return w;
}
