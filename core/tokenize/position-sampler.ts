import { SeededRandom } from '../random/seeded-random.js';

/**
 * Chooses which positions of a context are kept (the paper kept 250 random positions per
 * context). The choice depends only on (seed, shard, context), never on attempt or worker, so a
 * retried shard writes exactly the same rows.
 */
export function samplePositions(
  seed: number,
  shard: number,
  context: number,
  length: number,
  keep: number | undefined,
  skipFirst: boolean,
): Int32Array {
  const first = skipFirst ? 1 : 0;
  const eligible = Math.max(0, length - first);
  const all = new Int32Array(eligible);
  for (let i = 0; i < eligible; i++) all[i] = i + first;
  if (keep === undefined || keep >= eligible) return all;
  const rng = SeededRandom.derived(seed, shard, context);
  // Partial Fisher–Yates: the first `keep` slots become a uniform sample without replacement.
  for (let i = 0; i < keep; i++) {
    const j = rng.int(i, eligible);
    const t = all[i];
    all[i] = all[j];
    all[j] = t;
  }
  return all.slice(0, keep).sort();
}
