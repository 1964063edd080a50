// The per-feature statistics file round-trips: one row per feature, equal to the summary's views.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeFeatureStats, readFeatureStats } from '../core/stats/feature-stats-parquet.js';
import { FeatureSummary } from '../core/stats/feature-summary.js';
import { syntheticPart } from '../core/stats/synthetic-encoded-part.js';

describe('feature stats parquet', () => {
  it('round-trips every statistic of every feature', async () => {
    const dSae = 7;
    const s = new FeatureSummary({ dSae, topK: 4, reservoirPerBucket: 2 });
    const part = syntheticPart(3, 5, 400, dSae, 0.2, 8);
    for (let r = 0; r < 400; r++) part.acts[r * dSae + 6] = 0; // one dead feature
    s.add(part.acts, part.rows);
    const bytes = encodeFeatureStats(s, { kvMetadata: { 'thresher.run': 'r1' } });
    const file = await readFeatureStats(bytes);
    assert.equal(file.tokens, 400);
    assert.deepEqual(file.binLowerEdges, s.binLowerEdges);
    assert.equal(file.rows.length, dSae);
    for (let i = 0; i < dSae; i++) assert.deepEqual(file.rows[i], s.view(i), `feature ${i}`);
    assert.equal(file.rows[6].firingCount, 0);
  });

  it('refuses a Parquet file that is not a feature-stats file', async () => {
    const { parquetWriteBuffer } = await import('hyparquet-writer');
    const other = new Uint8Array(parquetWriteBuffer({ columnData: [{ name: 'x', data: Int32Array.from([1]) }] }));
    await assert.rejects(readFeatureStats(other), /not a feature-stats file/);
  });
});
