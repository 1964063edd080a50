// Dead-feature resampling (Towards Monosemanticity, "Neuron Resampling"): give each dead feature
// the direction of an input the dictionary reconstructs badly, so it has something to learn.
// A pure function over weights + optimizer state + inputs + a seeded RNG: it returns new objects
// and never touches its arguments, which keeps it testable and safe to run between steps.
import { cloneAdamState, type AdamState } from './adam-state.js';
import { cloneWeights, type SaeWeights } from './sae-weights.js';

/** Paper: the new encoder row's norm is this × the mean encoder-row norm of live features. */
export const RESAMPLE_ENCODER_NORM_FACTOR = 0.2;

export interface ResampleRequest {
  weights: SaeWeights;
  adam: AdamState;
  /** Indices of the features to resample. */
  dead: readonly number[];
  /** Candidate inputs, [n × d_in] row-major (the paper used ~819k random ones). */
  inputs: Float32Array;
  /**
   * The current model's loss on each input, [n]. Inputs are drawn with probability ∝ loss²; the
   * trainer passes the squared reconstruction error ‖x − x̂‖² (resampleLosses in
   * sae-encoder-model.ts computes it with ONNX).
   */
  losses: ArrayLike<number>;
  /** Uniform [0, 1) source, e.g. `() => seededRandom.next()`; only called once per dead feature. */
  random: () => number;
  /** Default RESAMPLE_ENCODER_NORM_FACTOR. */
  encoderNormFactor?: number;
}

export interface ResampleResult {
  weights: SaeWeights;
  adam: AdamState;
  /** For each entry of `dead`, the index of the input it was given. */
  chosenInputs: number[];
  /** Mean encoder-row norm of the live features that the new rows were scaled against. */
  liveEncoderNorm: number;
}

export function resampleDeadFeatures(req: ResampleRequest): ResampleResult {
  const { dIn, dSae } = req.weights;
  const n = req.inputs.length / dIn;
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`resample: ${req.inputs.length} input values are not a whole number (>= 1) of ${dIn}-vectors`);
  if (req.losses.length !== n) throw new RangeError(`resample: ${req.losses.length} losses for ${n} inputs`);
  for (const i of req.dead) if (!Number.isInteger(i) || i < 0 || i >= dSae) throw new RangeError(`resample: feature index ${i} outside [0, ${dSae})`);

  const weights = cloneWeights(req.weights);
  const adam = cloneAdamState(req.adam);
  if (req.dead.length === 0) return { weights, adam, chosenInputs: [], liveEncoderNorm: liveEncoderNorm(weights, new Set()) };

  const liveNorm = liveEncoderNorm(weights, new Set(req.dead));
  const targetNorm = (req.encoderNormFactor ?? RESAMPLE_ENCODER_NORM_FACTOR) * liveNorm;
  const pick = lossSquaredSampler(req.losses, req.random);
  const chosenInputs: number[] = [];

  for (const i of req.dead) {
    const c = pick();
    chosenInputs.push(c);
    let n2 = 0;
    for (let j = 0; j < dIn; j++) n2 += req.inputs[c * dIn + j] ** 2;
    // An all-zero input gives no direction; leave such a feature as it is rather than write NaN.
    if (n2 === 0) continue;
    const inv = 1 / Math.sqrt(n2);
    for (let j = 0; j < dIn; j++) {
      const unit = req.inputs[c * dIn + j] * inv;
      weights.W_dec[i * dIn + j] = unit; // paper's decoder column i
      weights.W_enc[j * dSae + i] = unit * targetNorm; // paper's encoder row i
    }
    weights.b_enc[i] = 0;
    // Fresh Adam moments: stale ones would push the new direction with the old feature's history.
    for (let j = 0; j < dIn; j++) {
      adam.m.W_dec[i * dIn + j] = 0;
      adam.v.W_dec[i * dIn + j] = 0;
      adam.m.W_enc[j * dSae + i] = 0;
      adam.v.W_enc[j * dSae + i] = 0;
    }
    adam.m.b_enc[i] = 0;
    adam.v.b_enc[i] = 0;
  }
  return { weights, adam, chosenInputs, liveEncoderNorm: liveNorm };
}

/**
 * Mean L2 norm of the encoder rows (columns of W_enc) of features not in `dead`. With every
 * feature dead there is nothing to match, so 1 is used (the new rows then have norm 0.2).
 */
function liveEncoderNorm(w: SaeWeights, dead: Set<number>): number {
  let total = 0;
  let count = 0;
  for (let i = 0; i < w.dSae; i++) {
    if (dead.has(i)) continue;
    let n2 = 0;
    for (let j = 0; j < w.dIn; j++) n2 += w.W_enc[j * w.dSae + i] ** 2;
    total += Math.sqrt(n2);
    count++;
  }
  return count ? total / count : 1;
}

/** Draws input indices with probability ∝ loss² (uniformly if every loss is 0), with replacement. */
function lossSquaredSampler(losses: ArrayLike<number>, random: () => number): () => number {
  const cumulative = new Float64Array(losses.length);
  let total = 0;
  for (let i = 0; i < losses.length; i++) {
    const l = losses[i];
    total += Number.isFinite(l) ? l * l : 0;
    cumulative[i] = total;
  }
  if (total === 0) return () => Math.min(losses.length - 1, Math.floor(random() * losses.length));
  return () => {
    const target = random() * total;
    // First index whose cumulative weight exceeds target: zero-loss inputs are never chosen.
    let lo = 0;
    let hi = losses.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid] > target) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
}
