import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SeededRandom } from '../core/random/seeded-random.js';
import { encodeActivationPart } from '../core/parquet/activation-part.js';
import type { ObjectStore } from '../core/storage/object-store.js';
import { activationBatches, normalisingScale, type PartRef } from '../core/training/activation-stream.js';
import { ShuffleBuffer } from '../core/training/shuffle-buffer.js';
import { openS3Stack, type S3Stack } from './test-support.js';

const WIDTH = 3;

describe('ShuffleBuffer', () => {
  it('draws every row exactly once, in a mixed order', () => {
    const buf = new ShuffleBuffer(2, 10, new SeededRandom(1));
    const block = new Float32Array(20).map((_, i) => Math.floor(i / 2));
    buf.push(block, 0, 10);
    assert.throws(() => buf.push(block, 0, 1), /room for 0 rows/);
    const out = new Float32Array(20);
    buf.take(10, out);
    const ids = [...Array(10).keys()].map((r) => out[r * 2]);
    assert.deepEqual([...ids].sort((a, b) => a - b), [...Array(10).keys()]);
    assert.notDeepEqual(ids, [...Array(10).keys()]);
    for (let r = 0; r < 10; r++) assert.equal(out[r * 2], out[r * 2 + 1], 'rows stay whole');
    assert.throws(() => buf.take(1), /holds 0 rows/);
  });
});

describe('activationBatches over real S3', () => {
  let s3: S3Stack;
  let store: ObjectStore;
  let bucket: string;
  const parts: PartRef[] = [];
  const TOTAL = 6 * 50;

  before(async () => {
    s3 = await openS3Stack('stream');
    ({ store, bucket } = s3);
    // Six parts of 50 rows; row r of part p holds the global id p*50+r in every column.
    for (let p = 0; p < 6; p++) {
      const n = 50;
      const ids = Int32Array.from({ length: n }, (_, r) => p * n + r);
      const values = new Float32Array(n * WIDTH).map((_, i) => ids[Math.floor(i / WIDTH)]);
      const bytes = encodeActivationPart(
        { runId: 'r', hook: 'h', modelSha256: 'a'.repeat(64), dtype: 'fp32', width: WIDTH, shard: p, part: 0 },
        { doc: ids, context: ids, position: ids, token: ids, values },
      );
      const key = `stream/part-${p}.parquet`;
      await store.put(bucket, key, bytes);
      parts.push({ key, rows: n });
    }
  });
  after(() => s3?.close());

  const opts = () => ({ store, bucket, parts, width: WIDTH, batchSize: 16, bufferRows: 64, seed: 9 });

  async function take(n: number, from?: { epoch: number; batchInEpoch: number }) {
    const out: { ids: number[]; epoch: number; batchInEpoch: number }[] = [];
    for await (const { batch, position } of activationBatches(opts(), from)) {
      out.push({ ids: [...Array(16).keys()].map((r) => batch[r * WIDTH]), ...position });
      if (out.length === n) break;
    }
    return out;
  }

  it('covers an epoch without replacement, mixing parts within batches', async () => {
    const perEpoch = Math.floor(TOTAL / 16);
    const batches = await take(perEpoch + 2);
    const epoch0 = batches.filter((b) => b.epoch === 0);
    assert.equal(epoch0.length, perEpoch);
    const seen = epoch0.flatMap((b) => b.ids);
    assert.equal(new Set(seen).size, seen.length, 'no row twice in an epoch');
    assert.equal(seen.length, perEpoch * 16);
    const partsPerBatch = epoch0.map((b) => new Set(b.ids.map((id) => Math.floor(id / 50))).size);
    assert.ok(Math.max(...partsPerBatch) >= 2, `batches mix parts (${partsPerBatch})`);
    assert.equal(batches[perEpoch].epoch, 1);
  });

  it('is reproducible and resumes exactly from a position', async () => {
    const all = await take(12);
    assert.deepEqual(await take(12), all);
    const resumed = await take(5, { epoch: all[6].epoch, batchInEpoch: all[6].batchInEpoch });
    assert.deepEqual(resumed, all.slice(7, 12));
  });

  it('a part fetch that fails while the stream waits at a batch surfaces in order, never as an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => void unhandled.push(reason);
    process.on('unhandledRejection', record);
    try {
      let calls = 0;
      // The first part loads; the prefetched ones fail soon after (as S3 requests aborted by a stopping worker do).
      const failing = {
        getBytes: async (bucket: string, key: string, signal?: AbortSignal) => {
          if (calls++ === 0) return store.getBytes(bucket, key, signal);
          await sleep(5);
          throw new Error(`fetch of ${key} aborted`);
        },
      } as unknown as ObjectStore;
      const stream = activationBatches({ ...opts(), store: failing, bufferRows: 16, prefetch: 3 });
      assert.equal((await stream.next()).done, false);
      await sleep(100); // the prefetched fetches fail while nobody is waiting on them
      let batches = 1;
      await assert.rejects(async () => {
        for (;;) if (!(await stream.next()).done) batches++;
      }, /fetch of stream\/part-\d\.parquet aborted/);
      assert.equal(batches, 3, "the first part's 50 rows give 3 batches of 16 before the failure");
      await sleep(20);
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', record);
    }
  });

  it('with a buffer of one to two batches, still covers an epoch without replacement', async () => {
    for (const bufferRows of [16, 17, 31]) {
      const seen: number[] = [];
      for await (const { batch, position } of activationBatches({ ...opts(), bufferRows })) {
        if (position.epoch > 0) break;
        for (let r = 0; r < 16; r++) seen.push(batch[r * WIDTH]);
      }
      assert.equal(new Set(seen).size, seen.length, `bufferRows ${bufferRows}: no row twice`);
      assert.ok(seen.length >= TOTAL - 31, `bufferRows ${bufferRows}: ${seen.length} of ${TOTAL} rows drawn in the epoch`);
    }
  });

  it('refuses a buffer smaller than a batch', async () => {
    await assert.rejects(activationBatches({ ...opts(), bufferRows: 8 }).next(), /bufferRows \(8\) must be at least batchSize \(16\)/);
  });
});

describe('normalisingScale', () => {
  it('makes the mean squared norm equal the width', () => {
    const x = new Float32Array([3, 4, 0, 0, 6, 8]);
    const s = normalisingScale(x, 2);
    const meanSq = ((9 + 16) * s * s + (36 + 64) * s * s) / 3;
    assert.ok(Math.abs(meanSq - 2) < 1e-9);
  });
});
