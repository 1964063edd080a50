// Fixtures shared by the statistics tests. Not a test file.
import { SeededRandom } from '../core/random/seeded-random.js';
import { zeroWeights, type SaeWeights } from '../core/sae/sae-weights.js';
import type { FeatureSummary } from '../core/stats/feature-summary.js';

/**
 * Everything a FeatureSummary says, as plain data, for tests that compare summaries built in
 * different ways (merged vs one pass, decoded vs original). Summaries that agree here can still
 * differ in their bytes: a merge may leave the interval samples in other slots.
 */
export function summaryViews(s: FeatureSummary): unknown {
  return {
    options: s.options,
    tokens: s.tokens,
    labels: s.labels().map((l) => ({ ...l, firing: Array.from(l.firing) })),
    features: Array.from({ length: s.dSae }, (_, i) => s.view(i)),
  };
}

/**
 * An L1 dictionary with dyadic encoder weights (eighths) and biases (quarters): with inputs on a
 * dyadic grid, ORT's float32 activations equal the reference encoder's bit for bit.
 */
export function dyadicDictionary(dIn: number, dSae: number, seed: number): SaeWeights {
  const rng = new SeededRandom(seed);
  const w = zeroWeights(dIn, dSae);
  for (let k = 0; k < w.W_enc.length; k++) w.W_enc[k] = rng.int(-8, 9) / 8;
  for (let i = 0; i < dSae; i++) w.b_enc[i] = -rng.int(0, 8) / 4;
  return w;
}
