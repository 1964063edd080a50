// Genre scores: a feature planted to fire exactly on one label scores precision 1 and recall 1;
// hand-checked precision/recall for a partial detector; labels no feature fires on.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FeatureSummary } from '../core/stats/feature-summary.js';
import { genreScores, genreScoresFromCounts } from '../core/stats/genre-scores.js';
import { syntheticPart } from '../core/stats/synthetic-encoded-part.js';

describe('genre scores', () => {
  it('a feature that fires exactly on one label gets precision 1 and recall 1', () => {
    const dSae = 6;
    const part = syntheticPart(4, 0, 600, dSae, 0.3, 2, ['dna', 'json', 'code', 'hebrew']);
    const labels = part.rows.label!;
    // Plant feature 4 = exactly the 'json' tokens; feature 5 = 'code' tokens plus every tenth other token;
    // nothing fires on 'hebrew'.
    for (let r = 0; r < 600; r++) {
      part.acts[r * dSae + 4] = labels[r] === 'json' ? 1.5 : 0;
      part.acts[r * dSae + 5] = labels[r] === 'code' || (labels[r] !== 'json' && r % 10 === 0) ? 0.5 : 0;
      if (labels[r] === 'hebrew') for (let i = 0; i < 4; i++) part.acts[r * dSae + i] = 0;
    }
    const s = new FeatureSummary({ dSae });
    s.add(part.acts, part.rows);
    const table = genreScores(s);
    assert.deepEqual(table.map((t) => t.label), ['code', 'dna', 'hebrew', 'json']);

    const json = table.find((t) => t.label === 'json')!;
    const jsonTokens = labels.filter((l) => l === 'json').length;
    assert.deepEqual(json, {
      label: 'json', tokens: jsonTokens, feature: 4, precision: 1, recall: 1, f1: 1, firingWithLabel: jsonTokens, firingLabelled: jsonTokens,
      atTarget: { feature: 4, precision: 1, recall: 1 },
    });

    const code = table.find((t) => t.label === 'code')!;
    const codeTokens = labels.filter((l) => l === 'code').length;
    const extra = labels.filter((l, r) => l !== 'json' && l !== 'code' && r % 10 === 0).length;
    assert.equal(code.feature, 5);
    assert.equal(code.recall, 1);
    assert.equal(code.precision, codeTokens / (codeTokens + extra));

    const hebrew = table.find((t) => t.label === 'hebrew')!;
    // Only feature 5 (every tenth token) fires on hebrew: low precision, low recall.
    assert.equal(hebrew.feature, 5);
    assert.ok(hebrew.recall < 0.2);
  });

  it('gives no rows without labels, and feature null for a label nothing fires on', () => {
    const s = new FeatureSummary({ dSae: 2 });
    const part = syntheticPart(1, 0, 50, 2);
    s.add(part.acts, part.rows);
    assert.deepEqual(genreScores(s), []);
    const t = new FeatureSummary({ dSae: 2 });
    t.add(new Float32Array(4), { shard: 0, doc: [0, 0], context: [0, 0], position: [0, 1], token: [1, 2], label: ['a', 'b'] });
    assert.deepEqual(genreScores(t).map((r) => [r.label, r.tokens, r.feature]), [['a', 1, null], ['b', 1, null]]);
  });

  it('atTarget is the best feature at precision ≥ 0.9 and recall ≥ 0.5, even when another has a higher F1', () => {
    // 100 tokens per label. Feature 0: every 'a' token and 10 of each other label's (P 100/120,
    // R 1, F1 0.91). Feature 1: 60 'a' tokens only (P 1, R 0.6, F1 0.75). Feature 2: 95 'b' tokens
    // and 11 'a' tokens (P 0.896: just under the bar).
    const counts = (a: number[], b: number[], c: number[]) => [
      { label: 'a', tokens: 100, firing: Float64Array.from(a) },
      { label: 'b', tokens: 100, firing: Float64Array.from(b) },
      { label: 'c', tokens: 100, firing: Float64Array.from(c) },
    ];
    const [a, b] = genreScoresFromCounts(3, counts([100, 60, 11], [10, 0, 95], [10, 0, 0]));
    assert.equal(a.feature, 0);
    assert.ok(Math.abs(a.f1 - (2 * (100 / 120) * 1) / (100 / 120 + 1)) < 1e-12);
    assert.deepEqual(a.atTarget, { feature: 1, precision: 1, recall: 0.6 });
    assert.equal(b.feature, 2);
    assert.ok(b.precision < 0.9);
    assert.equal(b.atTarget, null);
  });
});
