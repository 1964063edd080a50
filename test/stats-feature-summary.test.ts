// The per-feature summary: hand-checked counts, top-k against brute force, interval examples
// inside their intervals, merge equal to one pass in any grouping/order, and memory that does not
// grow with the rows seen.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { histogramBin, histogramLowerEdges, DEFAULT_HISTOGRAM } from '../core/stats/activation-histogram.js';
import { encodeRows, FeatureSummary, MAX_SUMMARY_LABELS, mergeSummaries } from '../core/stats/feature-summary.js';
import { syntheticPart } from '../core/stats/synthetic-encoded-part.js';
import { zeroWeights } from '../core/sae/sae-weights.js';

function snapshot(s: FeatureSummary): unknown {
  return {
    tokens: s.tokens,
    labels: s.labels().map((l) => ({ ...l, firing: Array.from(l.firing) })),
    features: Array.from({ length: s.dSae }, (_, i) => s.view(i)),
  };
}

const ints = (...v: number[]) => Int32Array.from(v);

describe('feature summary', () => {
  it('counts, density, mean, max and histogram by hand', () => {
    const s = new FeatureSummary({ dSae: 3, topK: 2 });
    // rows × 3 features; feature 1 never fires, -1 is not a firing.
    const acts = Float32Array.from([
      0.5, 0, 2,
      0, -1, 4,
      0.25, 0, 0,
      1, 0, 0.001,
    ]);
    s.add(acts, { shard: 7, doc: ints(0, 0, 1, 1), context: ints(0, 0, 1, 1), position: ints(0, 1, 0, 1), token: ints(10, 11, 12, 13) });
    assert.equal(s.tokens, 4);
    const [f0, f1, f2] = [0, 1, 2].map((i) => s.view(i));
    assert.equal(f0.firingCount, 3);
    assert.equal(f0.density, 0.75);
    assert.ok(Math.abs(f0.meanAct - 1.75 / 3) < 1e-12);
    assert.equal(f0.maxAct, 1);
    assert.deepEqual(f1, { feature: 1, firingCount: 0, density: 0, meanAct: 0, maxAct: 0, histogram: new Array(s.bins).fill(0), top: [], intervals: f1.intervals });
    assert.ok(f1.intervals.every((iv) => iv.examples.length === 0));
    assert.equal(f2.firingCount, 3);
    assert.equal(f2.maxAct, 4);

    // Default edges 1e-4 … 1e2 at 5 bins per decade: 32 bins incl. under/overflow.
    assert.equal(s.bins, 32);
    const edges = s.binLowerEdges;
    assert.equal(edges[0], 0);
    assert.ok(Math.abs(edges[1] - 1e-4) < 1e-18);
    assert.equal(edges[21], 1);
    // 0.25 → [10^-0.8, 10^-0.6) = bin 17; 0.5 → [10^-0.4, 10^-0.2) = bin 19; 1 → [1, 10^0.2) = bin 21.
    const expected0 = new Array(32).fill(0);
    expected0[17] = 1; expected0[19] = 1; expected0[21] = 1;
    assert.deepEqual(f0.histogram, expected0);
    for (const [a, bin] of [[2, 22], [4, 24], [0.001, 6], [1e-5, 0], [100, 31], [1e9, 31]] as const) {
      assert.equal(histogramBin(DEFAULT_HISTOGRAM, a), bin, `activation ${a}`);
    }
    // Every bin's own lower edge falls in it, and the value just below falls in the one before.
    const e = histogramLowerEdges(DEFAULT_HISTOGRAM);
    for (let b = 1; b < e.length; b++) {
      assert.equal(histogramBin(DEFAULT_HISTOGRAM, e[b] * (1 + 1e-12)), b);
      assert.equal(histogramBin(DEFAULT_HISTOGRAM, e[b] * (1 - 1e-12)), b - 1);
    }

    // Top-2 of feature 2, strongest first, with provenance.
    assert.deepEqual(f2.top, [
      { act: 4, shard: 7, doc: 0, context: 0, position: 1, token: 11 },
      { act: 2, shard: 7, doc: 0, context: 0, position: 0, token: 10 },
    ]);
  });

  it('keeps exactly the top-k, ties broken by token identity', () => {
    const dSae = 5;
    const k = 7;
    const part = syntheticPart(11, 3, 900, dSae, 0.4, 1); // values on a 1/64 grid: many ties
    const s = new FeatureSummary({ dSae, topK: k });
    for (let start = 0; start < 900; start += 100) {
      const sl = (a: ArrayLike<number>) => Int32Array.from(a).subarray(start, start + 100);
      const { doc, context, position, token } = part.rows;
      s.add(part.acts.subarray(start * dSae, (start + 100) * dSae), { shard: 3, doc: sl(doc), context: sl(context), position: sl(position), token: sl(token) });
    }
    for (let i = 0; i < dSae; i++) {
      const all = [];
      for (let r = 0; r < 900; r++) {
        const act = part.acts[r * dSae + i];
        if (act > 0) all.push({ act, shard: 3, doc: part.rows.doc[r], context: part.rows.context[r], position: part.rows.position[r], token: part.rows.token[r] });
      }
      all.sort((a, b) => b.act - a.act || a.context - b.context || a.position - b.position);
      assert.deepEqual(s.topExamples(i), all.slice(0, k), `feature ${i}`);
    }
  });

  it('interval examples fall inside their intervals and point at real tokens', () => {
    const dSae = 4;
    const part = syntheticPart(5, 2, 4000, dSae, 0.5, 3);
    const s = new FeatureSummary({ dSae, reservoirPerBucket: 3 });
    s.add(part.acts, part.rows);
    for (let i = 0; i < dSae; i++) {
      const view = s.view(i);
      assert.equal(view.intervals.length, 11);
      assert.ok(Math.abs(view.intervals[10].hi - view.maxAct) < 1e-12);
      let filled = 0;
      for (const [j, iv] of view.intervals.entries()) {
        assert.ok(iv.examples.length <= 3);
        if (iv.examples.length > 0) filled++;
        assert.ok(Math.abs(iv.lo - (j * view.maxAct) / 11) < 1e-12);
        for (const ex of iv.examples) {
          assert.ok(ex.act >= iv.lo && (j === 10 ? ex.act <= iv.hi : ex.act < iv.hi), `feature ${i} interval ${j}: ${ex.act} not in [${iv.lo}, ${iv.hi})`);
          const r = ex.context * 16 + ex.position;
          assert.equal(part.acts[r * dSae + i], ex.act);
          assert.equal(part.rows.token[r], ex.token);
        }
      }
      // ~2000 firings spread evenly over (0, 3]: every interval should have candidates.
      assert.ok(filled >= 10, `feature ${i}: only ${filled} of 11 intervals have examples`);
    }
  });

  it('merge is associative, commutative and equals one pass; inputs are unchanged', () => {
    const dSae = 6;
    const labels = ['dna', 'json', 'code'];
    // Different activation ranges, so merging has to coalesce reservoir buckets of different widths.
    const parts = [syntheticPart(1, 0, 300, dSae, 0.3, 0.5, labels), syntheticPart(2, 1, 250, dSae, 0.3, 4, labels), syntheticPart(3, 2, 200, dSae, 0.3, 32, ['dna', 'http'])];
    const opts = { dSae, topK: 5, reservoirPerBucket: 2 };
    const [a, b, c] = parts.map((p) => { const s = new FeatureSummary(opts); s.add(p.acts, p.rows); return s; });
    const onePass = new FeatureSummary(opts);
    for (const p of parts) onePass.add(p.acts, p.rows);
    const before = snapshot(a);

    const want = snapshot(onePass);
    assert.deepEqual(snapshot(mergeSummaries(mergeSummaries(a, b), c)), want);
    assert.deepEqual(snapshot(mergeSummaries(a, mergeSummaries(b, c))), want);
    assert.deepEqual(snapshot(mergeSummaries(mergeSummaries(c, a), b)), want);
    assert.deepEqual(snapshot(mergeSummaries(a, b)), snapshot(mergeSummaries(b, a)));
    assert.deepEqual(snapshot(a), before);
    assert.deepEqual(onePass.labels().map((l) => l.label), ['code', 'dna', 'http', 'json']);
    assert.equal(onePass.labels().reduce((n, l) => n + l.tokens, 0), 750);

    assert.throws(() => mergeSummaries(a, new FeatureSummary({ ...opts, topK: 4 })), /different options/);
  });

  it('interval samples do not depend on the order rows arrive in', () => {
    const dSae = 3;
    const part = syntheticPart(21, 4, 600, dSae, 0.6, 50);
    // Same rows sorted by feature 0's activation, ascending: every new maximum forces a coalesce.
    const order = Array.from({ length: 600 }, (_, r) => r).sort((a, b) => part.acts[a * dSae] - part.acts[b * dSae] || a - b);
    const pick = (a: ArrayLike<number>) => Int32Array.from(order, (r) => a[r]);
    const sortedActs = new Float32Array(600 * dSae);
    order.forEach((r, n) => sortedActs.set(part.acts.subarray(r * dSae, (r + 1) * dSae), n * dSae));
    const x = new FeatureSummary({ dSae, reservoirPerBucket: 2 });
    x.add(part.acts, part.rows);
    const y = new FeatureSummary({ dSae, reservoirPerBucket: 2 });
    const { doc, context, position, token } = part.rows;
    y.add(sortedActs, { shard: 4, doc: pick(doc), context: pick(context), position: pick(position), token: pick(token) });
    assert.deepEqual(snapshot(y), snapshot(x));
  });

  it('memory does not grow with the rows seen', () => {
    const dSae = 8;
    const s = new FeatureSummary({ dSae, topK: 10, reservoirPerBucket: 4 });
    const small = syntheticPart(9, 0, 20, dSae, 0.5, 4, ['x', 'y']);
    s.add(small.acts, small.rows);
    const bytes = s.byteLength;
    // d_sae × (k + 44·R) example slots of 32 bytes, 44 buckets' fill (1 byte) and admission key
    // (4 bytes), plus counters: fixed at construction.
    assert.ok(bytes <= dSae * ((10 + 44 * 4) * 32 + 44 * 5 + s.bins * 8 + 100) + 2 * dSae * 8, `${bytes} bytes`);
    for (let shard = 1; shard <= 20; shard++) {
      const p = syntheticPart(100 + shard, shard, 2000, dSae, 0.5, 100, ['x', 'y']);
      s.add(p.acts, p.rows);
    }
    assert.equal(s.tokens, 40_020);
    assert.equal(s.byteLength, bytes);
  });

  it('encodeRows applies the SAE encoder (reference forward)', () => {
    const w = zeroWeights(2, 3);
    // feature 0 = x0, feature 1 = x1 − 1, feature 2 = −x0.
    w.W_enc.set([1, 0, -1, 0, 1, 0]);
    w.b_enc.set([0, -1, 0]);
    const acts = encodeRows(w, Float32Array.from([2, 3, -1, 0.5]));
    assert.deepEqual(Array.from(acts), [2, 2, 0, 0, 0, 1]);
  });

  it('rejects inputs of the wrong shape', () => {
    const s = new FeatureSummary({ dSae: 2 });
    assert.throws(() => s.add(new Float32Array(3), { shard: 0, doc: ints(0, 1), context: ints(0, 1), position: ints(0, 1), token: ints(0, 1) }), /d_sae 2/);
    assert.throws(() => new FeatureSummary({ dSae: 2, topK: 0 }), /topK/);
  });

  it(`counts firings for at most ${MAX_SUMMARY_LABELS} distinct labels, in add and in merges, and says which field to change`, () => {
    const dSae = 3;
    const rowsLabelled = (labels: string[]) => {
      const n = labels.length;
      const ids = Int32Array.from({ length: n }, (_, r) => r);
      return { acts: new Float32Array(n * dSae).fill(1), rows: { shard: 0, doc: ids, context: ids, position: ids, token: ids, label: labels } };
    };
    const names = (from: number, count: number) => Array.from({ length: count }, (_, k) => `site-${from + k}`);
    const full = new FeatureSummary({ dSae });
    const a = rowsLabelled(names(0, MAX_SUMMARY_LABELS));
    full.add(a.acts, a.rows);
    assert.equal(full.labels().length, MAX_SUMMARY_LABELS);
    // Labels it already has are fine; one more is refused, naming it and the field to change.
    full.add(a.acts, a.rows);
    const b = rowsLabelled(['site-0', 'site-999']);
    const counted = JSON.stringify(full.labels().map((x) => [x.label, x.tokens])) + full.tokens;
    assert.throws(() => full.add(b.acts, b.rows), (e: Error) =>
      e.name === 'ConfigError' && e.message.includes(`more than ${MAX_SUMMARY_LABELS} distinct values`) && e.message.includes('"site-999"') && e.message.includes('corpus.labelField') && e.message.includes('"labels": false'));
    // A call with more distinct labels than a byte holds is refused the same way; neither refusal counts anything.
    const c = rowsLabelled([...names(0, 10), ...names(1000, 300)]);
    assert.throws(() => full.add(c.acts, c.rows), /more than 64 distinct values \(one past the limit: "site-1000"\)/);
    assert.equal(JSON.stringify(full.labels().map((x) => [x.label, x.tokens])) + full.tokens, counted);
    const fresh = new FeatureSummary({ dSae });
    assert.throws(() => fresh.add(c.acts, c.rows), /one past the limit: "site-1054"/);
    assert.deepEqual([fresh.labels().length, fresh.tokens], [0, 0]);

    // Merging: the union counts, and a refused merge changes nothing.
    const left = new FeatureSummary({ dSae });
    const l = rowsLabelled(names(0, 40));
    left.add(l.acts, l.rows);
    const right = new FeatureSummary({ dSae });
    const r = rowsLabelled(names(30, 40)); // 30 new labels: 70 in all
    right.add(r.acts, r.rows);
    const before = JSON.stringify(left.labels().map((x) => [x.label, x.tokens])) + left.tokens;
    assert.throws(() => left.mergeFrom(right), /more than 64 distinct values \(one past the limit: "site-64"\)/);
    assert.equal(JSON.stringify(left.labels().map((x) => [x.label, x.tokens])) + left.tokens, before);
    const small = new FeatureSummary({ dSae });
    const r2 = rowsLabelled(names(30, 34)); // 24 new labels: 64 in all
    small.add(r2.acts, r2.rows);
    left.mergeFrom(small);
    assert.equal(left.labels().length, MAX_SUMMARY_LABELS);
  });
});
