// The summary codec: decode(encode(s)) equals s in every view, merging decoded partials equals a
// one-pass summary, a decoded summary keeps accepting rows and merges, and foreign bytes are refused.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { FeatureSummary } from '../core/stats/feature-summary.js';
import { decodeSummary, encodeSummary, gzipSummary, SUMMARY_GZIP_OPTIONS } from '../core/stats/summary-codec.js';
import { syntheticPart } from '../core/stats/synthetic-encoded-part.js';
import { summaryViews } from './stats-fixtures.js';


const LABELS = ['dna', 'json', 'code'];

describe('summary codec', () => {
  it('round-trips a summary exactly, labels included', async () => {
    const s = new FeatureSummary({ dSae: 24, topK: 5, reservoirPerBucket: 3 });
    for (let shard = 0; shard < 3; shard++) {
      const p = syntheticPart(11 + shard, shard, 300, 24, 0.2, 4, LABELS);
      s.add(p.acts, p.rows);
    }
    const bytes = await gzipSummary(encodeSummary(s));
    const back = decodeSummary(bytes);
    assert.deepEqual(summaryViews(back), summaryViews(s));
    assert.deepEqual(Array.from(back.firing), Array.from(s.firing));
    assert.deepEqual(Array.from(back.histogram), Array.from(s.histogram));
    // Uncompressed (how a summariser lane hands its summary over) reads back the same.
    const raw = encodeSummary(s);
    assert.deepEqual(summaryViews(decodeSummary(raw)), summaryViews(s));
    assert.ok(raw.byteLength > bytes.byteLength);
    // Compact: far below the in-memory size.
    assert.ok(bytes.byteLength < s.byteLength / 2, `${bytes.byteLength} bytes encoded vs ${s.byteLength} in memory`);
    // A decoded summary keeps working: more rows, then an exact re-encode.
    const more = syntheticPart(99, 5, 100, 24, 0.2, 4, LABELS);
    back.add(more.acts, more.rows);
    s.add(more.acts, more.rows);
    assert.deepEqual(summaryViews(decodeSummary(encodeSummary(back))), summaryViews(s));
  });

  it('round-trips an empty summary and one without labels', () => {
    const empty = new FeatureSummary({ dSae: 4 });
    assert.deepEqual(summaryViews(decodeSummary(encodeSummary(empty))), summaryViews(empty));
    const s = new FeatureSummary({ dSae: 8, histogram: { minExp: -2, maxExp: 1, binsPerDecade: 3 } });
    const p = syntheticPart(3, 0, 50, 8);
    s.add(p.acts, p.rows);
    const back = decodeSummary(encodeSummary(s));
    assert.deepEqual(summaryViews(back), summaryViews(s));
    assert.deepEqual(back.labels(), []);
  });

  it('merging decoded partials in a tree equals one pass', () => {
    const opts = { dSae: 16, topK: 4, reservoirPerBucket: 2 };
    const one = new FeatureSummary(opts);
    const partials: Uint8Array[] = [];
    for (let shard = 0; shard < 7; shard++) {
      const p = syntheticPart(40 + shard, shard, 120, 16, 0.25, 4, LABELS);
      one.add(p.acts, p.rows);
      const s = new FeatureSummary(opts);
      s.add(p.acts, p.rows);
      partials.push(encodeSummary(s));
    }
    let level = partials;
    while (level.length > 1) {
      const next: Uint8Array[] = [];
      for (let i = 0; i < level.length; i += 3) {
        const acc = decodeSummary(level[i]);
        for (const b of level.slice(i + 1, i + 3)) acc.mergeFrom(decodeSummary(b));
        next.push(encodeSummary(acc));
      }
      level = next;
    }
    assert.deepEqual(summaryViews(decodeSummary(level[0])), summaryViews(one));
  });

  it('gzips in members of a fixed size: the same bytes every time, and gunzip reads them as one', async () => {
    const s = new FeatureSummary({ dSae: 24, topK: 5, reservoirPerBucket: 3 });
    const p = syntheticPart(7, 0, 300, 24, 0.2, 4, LABELS);
    s.add(p.acts, p.rows);
    const raw = encodeSummary(s);
    const piece = 1000;
    const pieces = Math.ceil(raw.byteLength / piece);
    assert.ok(pieces > 3, `${raw.byteLength} raw bytes make ${pieces} pieces`);
    const stored = await gzipSummary(raw, piece);
    assert.deepEqual(Buffer.from(await gzipSummary(raw, piece)), Buffer.from(stored));
    // One gzip member per piece, in order.
    const members = Array.from({ length: pieces }, (_, k) => gzipSync(raw.subarray(k * piece, (k + 1) * piece), SUMMARY_GZIP_OPTIONS));
    assert.deepEqual(Buffer.from(stored), Buffer.concat(members));
    assert.deepEqual(Buffer.from(gunzipSync(stored)), Buffer.from(raw));
    assert.deepEqual(summaryViews(decodeSummary(stored)), summaryViews(s));
    await assert.rejects(gzipSummary(raw, 0), /pieceBytes must be a positive integer, got 0/);
  });

  it('refuses bytes that are not a summary', async () => {
    assert.throws(() => decodeSummary(Uint8Array.from([1, 2, 3])), /not a feature summary \(neither gzip nor raw\)/);
    const good = await gzipSummary(encodeSummary(new FeatureSummary({ dSae: 2 })));
    // Raw (the lanes' form) is checked the same way when cut short.
    const raw = encodeSummary(new FeatureSummary({ dSae: 2 }));
    assert.throws(() => decodeSummary(raw.subarray(0, raw.byteLength - 8)), /header implies/);
    const truncated = decodeSummaryRaw(good, (raw) => raw.subarray(0, raw.byteLength - 8));
    assert.throws(() => decodeSummary(truncated), /header implies/);
  });
});

function decodeSummaryRaw(bytes: Uint8Array, edit: (raw: Buffer) => Buffer): Uint8Array {
  return gzipSync(edit(gunzipSync(bytes)));
}
