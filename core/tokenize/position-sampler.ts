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
  const rand = mulberry32(mix(mix(mix(0x9e3779b9, seed), shard), context));
  // Partial Fisher–Yates: the first `keep` slots become a uniform sample without replacement.
  for (let i = 0; i < keep; i++) {
    const j = i + Math.floor(rand() * (eligible - i));
    const t = all[i];
    all[i] = all[j];
    all[j] = t;
  }
  return all.slice(0, keep).sort();
}

function mix(h: number, v: number): number {
  h = Math.imul(h ^ v, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function mulberry32(a: number): () => number {
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
