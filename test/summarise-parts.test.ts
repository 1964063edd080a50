// summariseParts, the statistics stage's read → encode → add loop (shared by the summarisePart
// activity and bench:stats): the summary equals a one-pass summary of the same rows, batches are
// pipelined but never more than maxInFlight are outstanding, callbacks report parts and batches,
// and failures (bad width, a failed fetch or encode, an abort) reject cleanly. Last, the real
// encoder worker (encoder.onnx in a thread) gives the same summary as the reference encoder.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeActivationPart, readActivationPart } from '../core/parquet/activation-part.js';
import { SeededRandom } from '../core/random/seeded-random.js';
import { buildSaeEncoderModel } from '../core/sae/sae-encoder-model.js';
import { zeroWeights, type SaeWeights } from '../core/sae/sae-weights.js';
import { openEncoderWorker, type EncodedBatch } from '../core/stats/encoder-worker.js';
import { encodeRows, FeatureSummary } from '../core/stats/feature-summary.js';
import { defaultEncodeBatchRows, ENCODE_BATCH_BYTES, summariseParts } from '../core/stats/summarise-parts.js';
import { encodeSummary } from '../core/stats/summary-codec.js';

const D_IN = 6;
const D_SAE = 10;

/** Dyadic weights: ORT's float32 results equal the reference encoder's bit for bit. */
function dictionary(): SaeWeights {
  const rng = new SeededRandom(3);
  const w = zeroWeights(D_IN, D_SAE);
  for (let k = 0; k < w.W_enc.length; k++) w.W_enc[k] = rng.int(-8, 9) / 8;
  for (let i = 0; i < D_SAE; i++) w.b_enc[i] = -rng.int(0, 8) / 4;
  return w;
}

/** Parts of the given row counts (labelled), keyed like a run's parts; all on a 1/16 grid. */
function makeParts(rowCounts: number[], width = D_IN): Map<string, Uint8Array> {
  const rng = new SeededRandom(11);
  const parts = new Map<string, Uint8Array>();
  rowCounts.forEach((n, p) => {
    const ids = (f: (r: number) => number) => Int32Array.from({ length: n }, (_, r) => f(r));
    const values = Float32Array.from({ length: n * width }, () => rng.int(0, 48) / 16);
    const label = Array.from({ length: n }, () => rng.pick(['a', 'b', 'c']));
    parts.set(`part-${p}`, encodeActivationPart(
      { runId: 'r', hook: 'h', modelSha256: '0'.repeat(64), dtype: 'fp32', width, shard: p, part: 0 },
      { doc: ids((r) => r >> 3), context: ids((r) => r >> 4), position: ids((r) => r & 15), token: ids((r) => r * 7), label, values },
    ));
  });
  return parts;
}

/** The summary of every row of `parts`, in one add() per part with the reference encoder. */
async function onePass(parts: Map<string, Uint8Array>, w: SaeWeights): Promise<FeatureSummary> {
  const s = new FeatureSummary({ dSae: D_SAE, topK: 3 });
  for (const bytes of parts.values()) {
    const { meta, cols } = await readActivationPart(bytes);
    s.add(encodeRows(w, cols.values), { shard: meta.shard, doc: cols.doc, context: cols.context, position: cols.position, token: cols.token, ...(cols.label && { label: cols.label }) });
  }
  return s;
}

/** A reference encoder that answers after a random delay and logs what happened when. */
function fakeEncoder(w: SaeWeights, log: string[], fail?: (call: number) => boolean) {
  const rng = new SeededRandom(5);
  let calls = 0;
  return {
    encodeTimed(x: Float32Array, rows: number): Promise<EncodedBatch> {
      const call = calls++;
      log.push(`encode ${call}`);
      const acts = encodeRows(w, x.slice());
      assert.equal(acts.length, rows * D_SAE);
      return new Promise((resolve, reject) => setTimeout(() => {
        if (fail?.(call)) reject(new Error(`encoder failed on call ${call}`));
        else resolve({ acts, seconds: 0.001 * (call + 1) });
      }, rng.int(0, 4)));
    },
  };
}

describe('summariseParts', () => {
  const w = dictionary();
  const rowCounts = [37, 64, 5, 100];

  for (const maxInFlight of [1, 2, 3]) {
    it(`equals a one-pass summary, with at most ${maxInFlight} batch(es) outstanding`, async () => {
      const parts = makeParts(rowCounts);
      const log: string[] = [];
      const summary = new FeatureSummary({ dSae: D_SAE, topK: 3 });
      const partEvents: unknown[] = [];
      const result = await summariseParts({
        partKeys: [...parts.keys()],
        fetchPart: async (key) => parts.get(key)!,
        encoder: fakeEncoder(w, log),
        summary, dIn: D_IN, batchRows: 16, maxInFlight,
        onBatch: (e) => log.push(`added ${e.rows} ${e.encodeSeconds}`),
        onPart: (e) => partEvents.push(e),
      });
      assert.deepEqual(result, { parts: 4, rows: 206 });
      assert.deepEqual(Buffer.from(encodeSummary(summary)), Buffer.from(encodeSummary(await onePass(parts, w))));
      assert.deepEqual(partEvents, [
        { key: 'part-0', rows: 37, partsDone: 1, rowsDone: 37 },
        { key: 'part-1', rows: 64, partsDone: 2, rowsDone: 101 },
        { key: 'part-2', rows: 5, partsDone: 3, rowsDone: 106 },
        { key: 'part-3', rows: 100, partsDone: 4, rowsDone: 206 },
      ]);
      // Batches of ≤ 16 rows that never span parts: 3 + 4 + 1 + 7.
      const batches = log.filter((l) => l.startsWith('added')).map((l) => Number(l.split(' ')[1]));
      assert.deepEqual(batches, [16, 16, 5, 16, 16, 16, 16, 5, 16, 16, 16, 16, 16, 16, 4]);
      // Outstanding = submitted − added, at each submission: never above the bound, and it is reached.
      let submitted = 0;
      let added = 0;
      let most = 0;
      for (const l of log) {
        if (l.startsWith('encode')) most = Math.max(most, ++submitted - added);
        else added++;
      }
      assert.equal(most, maxInFlight);
      // Pipelined: with room for two, the second batch is submitted before the first is added.
      assert.equal(log.indexOf('encode 1') < log.findIndex((l) => l.startsWith('added')), maxInFlight > 1);
    });
  }

  it('without batchRows, batches hold at most 4,096 rows and 64 MiB of activations', async () => {
    assert.deepEqual([1024, 4096, 16_384, 131_072, 1 << 20, 1 << 30].map(defaultEncodeBatchRows), [1024, 1024, 1024, 128, 16, 1]);
    for (const dSae of [4096, 16_384, 131_072, 1 << 20]) assert.ok(defaultEncodeBatchRows(dSae) * dSae * 4 <= ENCODE_BATCH_BYTES);
    // The default reaches summariseParts: a 131,072-feature summary is fed 128-row batches.
    const dSae = 131_072;
    const sizes: number[] = [];
    const parts = makeParts([300]);
    await summariseParts({
      partKeys: [...parts.keys()],
      fetchPart: async (key) => parts.get(key)!,
      encoder: { encodeTimed: async (_x: Float32Array, rows: number) => (sizes.push(rows), { acts: new Float32Array(rows * dSae), seconds: 0 }) },
      summary: new FeatureSummary({ dSae, topK: 1, reservoirPerBucket: 1 }),
      dIn: D_IN,
    });
    assert.deepEqual(sizes, [128, 128, 44]);
  });

  it('rejects a part whose width is not d_in, naming it', async () => {
    const parts = new Map([...makeParts([20]), ...[...makeParts([8, 8], D_IN + 1)].map(([k, v]) => [`wide-${k}`, v] as const)]);
    const summary = new FeatureSummary({ dSae: D_SAE });
    await assert.rejects(
      summariseParts({ partKeys: [...parts.keys()], fetchPart: async (k) => parts.get(k)!, encoder: fakeEncoder(w, []), summary, dIn: D_IN, batchRows: 8 }),
      (err: Error) => err.name === 'ConfigError' && /part wide-part-0 has width 7, dictionary has d_in 6/.test(err.message),
    );
  });

  it('a failed fetch, a failed encode and an abort reject; no unhandled rejection follows', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const parts = makeParts([40, 40, 40]);
      const base = { partKeys: [...parts.keys()], dIn: D_IN, batchRows: 8 };
      const fetchPart = async (key: string) => parts.get(key)!;
      await assert.rejects(summariseParts({
        ...base, summary: new FeatureSummary({ dSae: D_SAE }), encoder: fakeEncoder(w, []),
        fetchPart: async (key) => { if (key === 'part-1') throw new Error('S3 said no'); return parts.get(key)!; },
      }), /S3 said no/);
      await assert.rejects(summariseParts({
        ...base, summary: new FeatureSummary({ dSae: D_SAE }), encoder: fakeEncoder(w, [], (call) => call === 3), fetchPart,
      }), /encoder failed on call 3/);
      const abort = new AbortController();
      let batches = 0;
      await assert.rejects(summariseParts({
        ...base, summary: new FeatureSummary({ dSae: D_SAE }), encoder: fakeEncoder(w, []), fetchPart, signal: abort.signal,
        onBatch: () => { if (++batches === 2) abort.abort(); },
      }), (err: Error) => err.name === 'AbortError');
      assert.equal(batches, 2, 'nothing is added after the abort');
      await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('with the real encoder worker (encoder.onnx in a thread) the summary equals the reference', async () => {
    const parts = makeParts(rowCounts);
    const encoder = await openEncoderWorker({ model: buildSaeEncoderModel(w, { arch: 'l1' }), dIn: D_IN });
    try {
      const summary = new FeatureSummary({ dSae: D_SAE, topK: 3 });
      const seconds: number[] = [];
      const result = await summariseParts({
        partKeys: [...parts.keys()], fetchPart: async (key) => parts.get(key)!, encoder, summary, dIn: D_IN, batchRows: 32,
        onBatch: (e) => seconds.push(e.encodeSeconds),
      });
      assert.deepEqual(result, { parts: 4, rows: 206 });
      assert.deepEqual(Buffer.from(encodeSummary(summary)), Buffer.from(encodeSummary(await onePass(parts, w))));
      assert.equal(seconds.length, 2 + 2 + 1 + 4);
      assert.ok(seconds.every((s) => s > 0 && s < 10), `session seconds per batch: ${seconds.join(', ')}`);
    } finally {
      await encoder.close();
    }
  });
});
