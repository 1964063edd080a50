// Synthetic encoded activations with provenance, for tests and benchmarks of the statistics stage.
import { SeededRandom } from '../random/seeded-random.js';
import type { RowProvenance } from './feature-summary.js';

export interface SyntheticPart {
  acts: Float32Array;
  rows: RowProvenance;
}

/**
 * `n` rows of `dSae` activations for shard `shard`: each feature fires with probability `density`,
 * at a multiple of 1/64 in (0, maxAct] — dyadic values, so float sums are exact in any order and
 * merged summaries can be compared exactly with a one-pass one.
 */
export function syntheticPart(seed: number, shard: number, n: number, dSae: number, density = 0.3, maxAct = 4, labels?: string[]): SyntheticPart {
  const rng = new SeededRandom(seed);
  const acts = new Float32Array(n * dSae);
  for (let k = 0; k < acts.length; k++) if (rng.chance(density)) acts[k] = rng.int(1, maxAct * 64 + 1) / 64;
  const doc = new Int32Array(n);
  const context = new Int32Array(n);
  const position = new Int32Array(n);
  const token = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    context[r] = Math.floor(r / 16);
    position[r] = r % 16;
    doc[r] = Math.floor(r / 40);
    token[r] = rng.int(0, 500);
  }
  return { acts, rows: { shard, doc, context, position, token, ...(labels && { label: Array.from({ length: n }, () => rng.pick(labels)) }) } };
}
