// FeatureSummary.add applies firings feature by feature (and the reservoir decides full buckets on
// keys alone where it can) for speed. These tests hold it to a brute-force, row-by-row reference
// of the same definitions: counts, sums in row order, max, histogram bins (histogramBin), label
// counts, the top-k by strongest-first order and the reservoir's bottom-R per bucket of the final
// power-of-two range; across several add() calls, batches large enough to apply their firings in
// several rounds, and awkward values (NaN, ±0, negatives, Infinity, tiny and huge activations).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_HISTOGRAM, histogramBin } from '../core/stats/activation-histogram.js';
import { ExampleSlots, lowestKeyFirst, offer, tokenKey, type ExampleRef } from '../core/stats/example-slots.js';
import { FeatureSummary, type RowProvenance } from '../core/stats/feature-summary.js';
import { IntervalReservoir, RESERVOIR_BUCKETS } from '../core/stats/interval-reservoir.js';
import { SeededRandom } from '../core/random/seeded-random.js';

interface Batch {
  acts: Float32Array;
  rows: RowProvenance;
}

type Keyed = ExampleRef & { key: number };

const byToken = (a: Keyed, b: Keyed) => a.shard - b.shard || a.context - b.context || a.position - b.position || a.doc - b.doc;
const byKey = (a: Keyed, b: Keyed) => a.key - b.key || byToken(a, b);

/**
 * Activations with every kind of value the encoder could hand over; most are exactly 0. Infinity
 * only in feature 0 (it would make every sum Infinity, hiding the order sums are taken in).
 */
function awkwardBatch(rng: SeededRandom, shard: number, firstContext: number, n: number, dSae: number, density: number, labels: string[]): Batch {
  const acts = new Float32Array(n * dSae);
  for (let k = 0; k < acts.length; k++) {
    if (!rng.chance(density)) continue;
    const u = rng.next();
    acts[k] = u < 0.6 ? rng.uniform(0, 3) : u < 0.75 ? 10 ** rng.uniform(-9, 9) : u < 0.8 ? rng.int(1, 64) / 16 : u < 0.85 ? -rng.uniform(0, 1)
      : u < 0.9 ? -0 : u < 0.93 ? NaN : u < 0.95 ? (k % dSae === 0 ? Infinity : 0) : rng.uniform(0, 1e-4);
  }
  const ids = (f: (r: number) => number) => Int32Array.from({ length: n }, (_, r) => f(r));
  return {
    acts,
    rows: {
      shard,
      doc: ids((r) => Math.floor(r / 37)),
      context: ids((r) => firstContext + Math.floor(r / 16)),
      position: ids((r) => r % 16),
      token: ids(() => rng.int(0, 1000)),
      ...(labels.length && { label: Array.from({ length: n }, () => rng.pick(labels)) }),
    },
  };
}

/** The e with 2^(e−1) ≤ act < 2^e. */
function exponentAbove(act: number): number {
  let e = Math.floor(Math.log2(act)) + 1;
  while (2 ** (e - 1) > act) e--;
  while (2 ** e <= act) e++;
  return e;
}

function checkAgainstReference(s: FeatureSummary, batches: Batch[]): void {
  const { dSae, topK, reservoirPerBucket: R } = s;
  const firing = new Float64Array(dSae);
  const sum = new Float64Array(dSae);
  const max = new Float64Array(dSae);
  const histogram = new Float64Array(dSae * s.bins);
  const labelTokens = new Map<string, number>();
  const labelFiring = new Map<string, Float64Array>();
  const fires: Keyed[][] = Array.from({ length: dSae }, () => []);
  let tokens = 0;
  for (const { acts, rows } of batches) {
    for (let r = 0; r < rows.doc.length; r++) {
      tokens++;
      const label = rows.label?.[r];
      if (label !== undefined) {
        labelTokens.set(label, (labelTokens.get(label) ?? 0) + 1);
        if (!labelFiring.has(label)) labelFiring.set(label, new Float64Array(dSae));
      }
      for (let i = 0; i < dSae; i++) {
        const a = acts[r * dSae + i];
        if (!(a > 0)) continue;
        firing[i]++;
        sum[i] += a;
        if (a > max[i]) max[i] = a;
        histogram[i * s.bins + histogramBin(DEFAULT_HISTOGRAM, a)]++;
        if (label !== undefined) labelFiring.get(label)![i]++;
        const t = { shard: rows.shard, doc: rows.doc[r], context: rows.context[r], position: rows.position[r], token: rows.token[r] };
        fires[i].push({ act: a, ...t, key: tokenKey(i, t.shard, t.doc, t.context, t.position) });
      }
    }
  }
  assert.equal(s.tokens, tokens);
  assert.deepEqual(s.firing, firing);
  assert.deepEqual(s.sum, sum, 'sums accumulate in row order, bit for bit');
  assert.deepEqual(s.max, max);
  assert.deepEqual(s.histogram, histogram);
  assert.deepEqual(s.labels().map((l) => [l.label, l.tokens, Array.from(l.firing)]),
    [...labelTokens.keys()].sort().map((l) => [l, labelTokens.get(l), Array.from(labelFiring.get(l)!)]));

  const reservoir = (s as unknown as { reservoir: IntervalReservoir }).reservoir;
  for (let i = 0; i < dSae; i++) {
    const strongest = [...fires[i]].sort((a, b) => b.act - a.act || byToken(a, b)).slice(0, topK).map(({ key: _, ...ref }) => ref);
    assert.deepEqual(s.topExamples(i), strongest, `feature ${i}: top-k`);

    // Bottom-R by (key, token) in each of the 44 buckets of [0, M), M the power of two above every finite activation.
    const finite = fires[i].filter((f) => f.act < Infinity);
    const want: Keyed[] = [];
    if (finite.length) {
      const M = 2 ** Math.max(...finite.map((f) => exponentAbove(f.act)));
      const buckets: Keyed[][] = Array.from({ length: RESERVOIR_BUCKETS }, () => []);
      for (const f of finite) buckets[Math.min(Math.floor((f.act * RESERVOIR_BUCKETS) / M), RESERVOIR_BUCKETS - 1)].push(f);
      for (const b of buckets) want.push(...b.sort(byKey).slice(0, R));
    }
    const got = reservoir.samples(i).map((slot) => ({ ...reservoir.examples.ref(slot), key: reservoir.examples.key[slot] }));
    assert.deepEqual(got.sort(byKey), want.sort(byKey), `feature ${i}: reservoir samples`);
  }
}

describe('feature summary hot path', () => {
  it('equals a row-by-row reference over several add() calls with awkward values', () => {
    const rng = new SeededRandom(42);
    const dSae = 37;
    const s = new FeatureSummary({ dSae, topK: 6, reservoirPerBucket: 3 });
    const batches = [
      awkwardBatch(rng, 0, 0, 1, dSae, 0.5, ['a', 'b']),
      awkwardBatch(rng, 0, 10, 700, dSae, 0.2, ['a', 'b', 'c']),
      awkwardBatch(rng, 3, 0, 1500, dSae, 0.05, []),
      awkwardBatch(rng, 3, 500, 300, dSae, 0.9, ['c', 'd']),
    ];
    // The last one as a plain array (add takes any ArrayLike; Float32Array has a faster scan).
    for (const [k, b] of batches.entries()) s.add(k === batches.length - 1 ? Array.from(b.acts) : b.acts, b.rows);
    checkAgainstReference(s, batches);
  });

  it('equals the reference when one add() holds more firings than it gathers at once', () => {
    const rng = new SeededRandom(7);
    const dSae = 64;
    // 6,000 × 64 × 0.8 ≈ 307k firings, more than the 2^18 add() applies in one round.
    const batch = awkwardBatch(rng, 1, 0, 6000, dSae, 0.8, ['x', 'y']);
    const s = new FeatureSummary({ dSae, topK: 4, reservoirPerBucket: 2 });
    s.add(batch.acts, batch.rows);
    checkAgainstReference(s, [batch]);
  });

  it('a full reservoir bucket keeps exactly what offer() keeps, ties and repeated tokens included', () => {
    for (const R of [1, 2, 4]) {
      const rng = new SeededRandom(100 + R);
      const n = 400;
      // One feature, one bucket (every act 1.5), keys from a tiny range and tokens from a small set:
      // equal keys, equal tokens and exact repeats all happen.
      const from = new ExampleSlots(n);
      for (let j = 0; j < n; j++) {
        from.act[j] = 1.5;
        from.key[j] = rng.int(0, 6);
        from.doc[j] = rng.int(0, 2);
        from.context[j] = rng.int(0, 3);
        from.position[j] = rng.int(0, 2);
        from.token[j] = from.position[j];
      }
      const reservoir = new IntervalReservoir(1, R);
      const reference = new ExampleSlots(R);
      let fill = 0;
      for (let j = 0; j < n; j++) {
        reservoir.offer(0, from, j);
        fill = offer(reference, 0, fill, R, from, j, lowestKeyFirst);
        const got = reservoir.samples(0).map((slot) => [reservoir.examples.key[slot], reservoir.examples.ref(slot)]);
        const want = Array.from({ length: fill }, (_, k) => [reference.key[k], reference.ref(k)]);
        assert.deepEqual(got, want, `R ${R}, after offer ${j}`);
      }
    }
  });
});
