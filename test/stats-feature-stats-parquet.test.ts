// The per-feature statistics file round-trips: one row per feature, equal to the summary's views,
// in row groups that a reader decodes by feature range.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tableFromIPC } from 'apache-arrow';
import { readParquet } from 'parquet-wasm';
import { encodeExampleWindows } from '../core/stats/example-windows.js';
import { parquetMetadata } from 'hyparquet';
import { encodeFeatureStats, FEATURES_PER_STATS_ROW_GROUP, openFeatureStats, readFeatureStats } from '../core/stats/feature-stats-parquet.js';
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
    for (let i = 0; i < dSae; i++) assert.deepEqual(file.rows[i], { ...s.view(i), labelFiring: {} }, `feature ${i}`);
    assert.equal(file.rows[6].firingCount, 0);
  });

  it('a wide dictionary is written in row groups of FEATURES_PER_STATS_ROW_GROUP features and read back by range', async () => {
    const dSae = 2 * FEATURES_PER_STATS_ROW_GROUP + 5;
    const s = new FeatureSummary({ dSae, topK: 2, reservoirPerBucket: 1 });
    const part = syntheticPart(4, 2, 40, dSae, 0.05, 4);
    s.add(part.acts, part.rows);
    const bytes = encodeFeatureStats(s);
    const groups = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer).row_groups;
    assert.deepEqual(groups.map((g) => Number(g.num_rows)), [FEATURES_PER_STATS_ROW_GROUP, FEATURES_PER_STATS_ROW_GROUP, 5]);
    const reader = await openFeatureStats(bytes);
    assert.equal(reader.features, dSae);
    assert.equal(reader.tokens, 40);
    const view = (i: number) => ({ ...s.view(i), labelFiring: {} });
    // A range across a group boundary, one inside the last group, one past the end, one empty.
    const from = FEATURES_PER_STATS_ROW_GROUP - 3;
    assert.deepEqual(await reader.rows(from, from + 6), [0, 1, 2, 3, 4, 5].map((k) => view(from + k)));
    assert.deepEqual(await reader.rows(dSae - 2, dSae + 10), [view(dSae - 2), view(dSae - 1)]);
    assert.deepEqual(await reader.rows(7, 7), []);
    const whole = await readFeatureStats(bytes);
    assert.deepEqual(whole.rows.map((r) => r.feature), Array.from({ length: dSae }, (_, i) => i));
  });

  it('stores each feature\'s co-firing with the corpus labels', async () => {
    const dSae = 4;
    const s = new FeatureSummary({ dSae });
    const part = syntheticPart(1, 0, 300, dSae, 0.4, 2, ['dna', 'json', 'code']);
    for (let r = 0; r < 300; r++) part.acts[r * dSae + 3] = 0; // never fires: no labels
    s.add(part.acts, part.rows);
    const file = await readFeatureStats(encodeFeatureStats(s));
    for (let i = 0; i < dSae; i++) {
      const expected: Record<string, number> = {};
      for (let r = 0; r < 300; r++) if (part.acts[r * dSae + i] > 0) expected[part.rows.label![r]] = (expected[part.rows.label![r]] ?? 0) + 1;
      assert.deepEqual(file.rows[i].labelFiring, expected, `feature ${i}`);
    }
    assert.deepEqual(file.rows[3].labelFiring, {});
  });

  it('refuses a Parquet file that is not a feature-stats file', async () => {
    const { parquetWriteBuffer } = await import('hyparquet-writer');
    const other = new Uint8Array(parquetWriteBuffer({ columnData: [{ name: 'x', data: Int32Array.from([1]) }] }));
    await assert.rejects(readFeatureStats(other), /not a feature-stats file/);
  });

  it('an independent reader (parquet-wasm, the Rust parquet crate, into Arrow) reads features.parquet and examples.parquet as plain columns', () => {
    const dSae = 5;
    const s = new FeatureSummary({ dSae, topK: 3 });
    const part = syntheticPart(2, 1, 300, dSae, 0.3, 4);
    s.add(part.acts, part.rows);
    const features = tableFromIPC(readParquet(encodeFeatureStats(s)).intoIPCStream());
    assert.equal(features.numRows, dSae);
    const names = features.schema.fields.map((f) => f.name);
    for (const n of ['feature', 'firing_count', 'density', 'mean_act', 'max_act', 'hist_00', 'top_examples', 'interval_examples']) assert.ok(names.includes(n), n);
    for (let i = 0; i < dSae; i++) {
      const v = s.view(i);
      assert.equal(features.getChild('feature')!.get(i), i);
      assert.equal(Number(features.getChild('firing_count')!.get(i)), v.firingCount);
      assert.equal(features.getChild('density')!.get(i), v.density);
      assert.deepEqual(JSON.parse(features.getChild('top_examples')!.get(i) as string), v.top);
    }

    const rows = [
      { feature: 0, kind: 'top' as const, group: 0, act: 2.5, shard: 1, doc: 3, context: 4, position: 5, label: 'dna', center: 1, tokens: [7, 8, 9], texts: ['A', '<b>', 'C'], acts: [0, 2.5, 1] },
      { feature: 2, kind: 'interval' as const, group: 3, act: 0.5, shard: 0, doc: 1, context: 0, position: 0, label: null, center: 0, tokens: [4], texts: ['"'], acts: [0.5] },
    ];
    const examples = tableFromIPC(readParquet(encodeExampleWindows({ radius: 4, rows })).intoIPCStream());
    assert.equal(examples.numRows, 2);
    assert.deepEqual([...examples.getChild('kind')!.toArray()], ['top', 'interval']);
    assert.deepEqual([examples.getChild('label')!.get(0), examples.getChild('label')!.get(1)], ['dna', null]);
    assert.deepEqual(JSON.parse(examples.getChild('texts')!.get(0) as string), ['A', '<b>', 'C']);
    assert.deepEqual(JSON.parse(examples.getChild('acts')!.get(0) as string), [0, 2.5, 1]);
  });
});
