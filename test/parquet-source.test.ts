// Parquet files read by byte range: ObjectStore.getRange against the local S3, and a feature-stats
// file opened from S3 giving what the same bytes give in memory, with one GET per row group read
// (not one per column chunk: features.parquet has about 40 columns).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AsyncBuffer } from 'hyparquet';
import { bytesSource, objectSource } from '../core/parquet/parquet-source.js';
import { encodeFeatureStats, FEATURES_PER_STATS_ROW_GROUP, openFeatureStats } from '../core/stats/feature-stats-parquet.js';
import { FeatureSummary } from '../core/stats/feature-summary.js';
import { syntheticPart } from '../core/stats/synthetic-encoded-part.js';
import { openS3Stack, type S3Stack } from './test-support.js';

let s3: S3Stack;
before(async () => {
  s3 = await openS3Stack('parquet-source');
});
after(() => s3?.close());

/** A features.parquet of three row groups. */
function wideFeatureStats(): Uint8Array {
  const dSae = 2 * FEATURES_PER_STATS_ROW_GROUP + 3;
  const s = new FeatureSummary({ dSae, topK: 2, reservoirPerBucket: 1 });
  const part = syntheticPart(9, 1, 30, dSae, 0.05, 4);
  s.add(part.acts, part.rows);
  return encodeFeatureStats(s);
}

/** `file`, counting its slices. */
function counting(file: AsyncBuffer): AsyncBuffer & { slices: number } {
  const counted = { byteLength: file.byteLength, slices: 0, slice: (start: number, end?: number) => (counted.slices++, file.slice(start, end)) };
  return counted;
}

describe('parquet sources', () => {
  it('getRange returns exactly the bytes asked for, and refuses an empty or reversed range', async () => {
    const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) % 251);
    await s3.store.put(s3.bucket, 'ranges/blob.bin', bytes);
    assert.deepEqual(await s3.store.getRange(s3.bucket, 'ranges/blob.bin', 0, 1), bytes.subarray(0, 1));
    assert.deepEqual(await s3.store.getRange(s3.bucket, 'ranges/blob.bin', 250, 700), bytes.subarray(250, 700));
    assert.deepEqual(await s3.store.getRange(s3.bucket, 'ranges/blob.bin', 990, 1000), bytes.subarray(990));
    await assert.rejects(s3.store.getRange(s3.bucket, 'ranges/blob.bin', 5, 5), /not a non-empty range/);
    await assert.rejects(s3.store.getRange(s3.bucket, 'ranges/blob.bin', 9, 3), /not a non-empty range/);
  });

  it('a feature-stats file opened from S3 by range reads as the same bytes in memory do, one slice per row group', async () => {
    const bytes = wideFeatureStats();
    await s3.store.put(s3.bucket, 'ranges/features.parquet', bytes);
    const remote = counting(objectSource(s3.store, s3.bucket, 'ranges/features.parquet', bytes.byteLength));
    const fromS3 = await openFeatureStats(remote);
    const inMemory = await openFeatureStats(bytes);
    assert.equal(fromS3.features, inMemory.features);
    assert.equal(fromS3.tokens, inMemory.tokens);
    const footerSlices = remote.slices;
    assert.ok(footerSlices >= 1 && footerSlices <= 2, `footer read in ${footerSlices} slices`);

    // Two ranges inside the second row group, then one reaching into the third: two group reads.
    const second = FEATURES_PER_STATS_ROW_GROUP;
    assert.deepEqual(await fromS3.rows(second, second + 10), await inMemory.rows(second, second + 10));
    assert.deepEqual(await fromS3.rows(second + 10, second + 20), await inMemory.rows(second + 10, second + 20));
    assert.equal(remote.slices - footerSlices, 1, 'the second group in one slice, decoded once for both ranges');
    assert.deepEqual(await fromS3.rows(2 * second - 1, 2 * second + 3), await inMemory.rows(2 * second - 1, 2 * second + 3));
    assert.equal(remote.slices - footerSlices, 2, 'and the third group in one more');
  });

  it('bytesSource serves any slice of a view into a larger buffer', () => {
    const backing = Uint8Array.from({ length: 64 }, (_, i) => i);
    const view = backing.subarray(10, 30);
    const source = bytesSource(view);
    assert.equal(source.byteLength, 20);
    assert.deepEqual(new Uint8Array(source.slice(2, 5) as ArrayBuffer), Uint8Array.of(12, 13, 14));
    assert.deepEqual(new Uint8Array(source.slice(18) as ArrayBuffer), Uint8Array.of(28, 29));
  });
});
