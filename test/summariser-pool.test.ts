// The summariser pool: real lanes (worker threads, each with encoder.onnx in ORT and its own
// FeatureSummary). With 1, 2, 3 or 6 lanes, summariseParts into the pool gives exactly the reference
// encoder's one-pass summary (merged in a tree of lanes, encoded in lane 0); the lanes' times come back; a lane's
// error rejects its batch by name and the pool stays usable; nothing follows finish(); closing
// fails what is outstanding; the inputs move to the lanes and the caller's row columns stay; a
// finished pool's threads wait, warm, for the next pool, which starts from nothing of the last. Also the lanes' execution provider (named, missing here, unknown)
// and the default number of lanes.
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { describe, it } from 'node:test';
import { checkProviderForWorkers } from '../core/config/provider-check.js';
import { ConfigError } from '../core/config/run-config.js';
import { providerAvailability } from '../core/model/execution-provider.js';
import { encodeActivationPart, readActivationPart } from '../core/parquet/activation-part.js';
import { SeededRandom } from '../core/random/seeded-random.js';
import { buildSaeEncoderModel } from '../core/sae/sae-encoder-model.js';
import type { SaeWeights } from '../core/sae/sae-weights.js';
import { encodeRows, FeatureSummary } from '../core/stats/feature-summary.js';
import { summariseParts } from '../core/stats/summarise-parts.js';
import { defaultSummariserLanes, idleSummariserThreads, LANE_SUMMARIES_BYTES, openSummariserPool, summaryBytes } from '../core/stats/summariser-pool.js';
import { decodeSummary, encodeSummary } from '../core/stats/summary-codec.js';
import { quietLog } from './test-support.js';
import { dyadicDictionary, summaryViews } from './stats-fixtures.js';

const D_IN = 8;
const D_SAE = 12;

const dictionary = (): SaeWeights => dyadicDictionary(D_IN, D_SAE, 7);

/** Labelled parts (one of them fp16, one empty) of the given row counts. */
function makeParts(rowCounts: number[]): Map<string, Uint8Array> {
  const rng = new SeededRandom(11);
  const parts = new Map<string, Uint8Array>();
  rowCounts.forEach((n, p) => {
    const ids = (f: (r: number) => number) => Int32Array.from({ length: n }, (_, r) => f(r));
    const label = Array.from({ length: n }, (_, r) => ['a', 'b'][(r >> 3) & 1]);
    const values = Float32Array.from({ length: n * D_IN }, () => rng.int(-32, 48) / 16);
    parts.set(`part-${p}`, encodeActivationPart(
      { runId: 'r', hook: 'h', modelSha256: '0'.repeat(64), dtype: p === 2 ? 'fp16' : 'fp32', width: D_IN, shard: p, part: 0 },
      { doc: ids((r) => r >> 3), context: ids((r) => r >> 4), position: ids((r) => r & 15), token: ids((r) => rng.int(0, 1000)), label, values },
    ));
  });
  return parts;
}

async function onePass(parts: Map<string, Uint8Array>, w: SaeWeights): Promise<FeatureSummary> {
  const s = new FeatureSummary({ dSae: D_SAE, topK: 3, reservoirPerBucket: 2 });
  for (const bytes of parts.values()) {
    const { meta, cols } = await readActivationPart(bytes);
    if (cols.doc.length) s.add(encodeRows(w, cols.values), { shard: meta.shard, ...cols });
  }
  return s;
}

describe('summariser pool', () => {
  const w = dictionary();
  const model = buildSaeEncoderModel(w, { arch: 'l1' });
  const options = { dSae: D_SAE, topK: 3, reservoirPerBucket: 2 };

  // 6 lanes merge in a tree (lane 0 takes 1, 2 and 4; lane 2 takes 3; lane 4 takes 5). Batches of
  // 16 rows are encoded in calls of callRows rows (the default, 128, makes one call of a batch).
  for (const [lanes, callRows] of [[1, undefined], [2, 5], [3, 1], [6, 16]]) {
    it(`${lanes} lane(s), ${callRows ?? 'default'} rows per encoder call: summariseParts into the pool gives the reference one-pass summary`, async () => {
      const parts = makeParts([70, 0, 33, 64, 9]);
      const pool = await openSummariserPool({ model, dIn: D_IN, summary: options, lanes, ...(callRows && { callRows }) });
      try {
        assert.equal(pool.lanes, lanes);
        const seconds: number[] = [];
        const result = await summariseParts({
          partKeys: [...parts.keys()], fetchPart: async (key) => parts.get(key)!, summariser: pool, dIn: D_IN, dSae: D_SAE, batchRows: 16,
          onBatch: (e) => seconds.push(e.encodeSeconds),
        });
        assert.deepEqual(result, { parts: 5, rows: 176 });
        const { bytes, tokens } = await pool.finish();
        assert.equal(tokens, 176);
        assert.deepEqual(summaryViews(decodeSummary(bytes)), summaryViews(await onePass(parts, w)));
        assert.equal(seconds.length, 5 + 0 + 3 + 4 + 1);
        assert.ok(seconds.every((s) => s > 0 && s < 10), `session seconds per batch: ${seconds.join(', ')}`);
      } finally {
        await pool.close();
      }
    });
  }

  it('inputs move to the lane, the row columns are copied; a bad batch fails by name and the pool goes on; nothing follows finish', async () => {
    const pool = await openSummariserPool({ model, dIn: D_IN, summary: options, lanes: 2 });
    try {
      const rng = new SeededRandom(3);
      const x = pool.inputBuffer(4 * D_IN);
      x.set(Float32Array.from({ length: 4 * D_IN }, () => rng.int(-16, 32) / 8));
      const inputs = x.slice();
      const doc = Int32Array.from([1, 1, 2, 2]);
      const t = await pool.summarise(1, x, 4, { shard: 0, doc, context: doc, position: Int32Array.from([1, 2, 3, 4]), token: doc });
      assert.equal(x.length, 0, 'the inputs moved to the lane');
      assert.deepEqual(Array.from(doc), [1, 1, 2, 2], 'the caller keeps its columns');
      assert.ok(t.encodeSeconds > 0 && t.addSeconds > 0);
      // The lane's summary rejects provenance of the wrong length, by name; nothing of it is added.
      await assert.rejects(pool.summarise(0, pool.inputBuffer(2 * D_IN), 2, { shard: 0, doc: [1], context: [1], position: [1], token: [1] }),
        (e: Error) => e.name === 'RangeError' && /rows\.doc has 1 entries, the scanner scanned 2 rows/.test(e.message));
      await assert.rejects(pool.summarise(2, pool.inputBuffer(D_IN), 1, { shard: 0, doc: [1], context: [1], position: [1], token: [1] }), /lane 2 is outside \[0, 2\)/);
      await assert.rejects(pool.summarise(0, new Float32Array(D_IN - 1), 1, { shard: 0, doc: [1], context: [1], position: [1], token: [1] }), /x has 7 values, 1 rows × d_in 8 need 8/);
      // Labels cross as one byte per row: a batch with more distinct labels than that is refused here, by name.
      const many = Array.from({ length: 257 }, (_, r) => r);
      await assert.rejects(pool.summarise(0, pool.inputBuffer(257 * D_IN), 257, { shard: 0, doc: many, context: many, position: many, token: many, label: many.map((r) => `doc-${r}`) }),
        (e: Error) => e.name === 'ConfigError' && /257 rows has more than 256 distinct labels/.test(e.message) && /"labels": false/.test(e.message));
      const summary = decodeSummary((await pool.finish()).bytes);
      const want = new FeatureSummary(options);
      want.add(encodeRows(w, inputs), { shard: 0, doc, context: doc, position: [1, 2, 3, 4], token: doc });
      assert.deepEqual(summaryViews(summary), summaryViews(want));
      // The lanes are gone after finish: nothing more is taken, and close() is quiet.
      await assert.rejects(pool.summarise(0, pool.inputBuffer(D_IN), 1, { shard: 0, doc: [5], context: [5], position: [5], token: [5] }), /no batch can follow finish\(\)/);
      await assert.rejects(pool.finish(), /finish\(\) is called once/);
      await pool.close();
    } finally {
      await pool.close();
    }
  });

  it('encodeOnly encodes every batch, in calls, and adds nothing; callRows must be a positive integer', async () => {
    await assert.rejects(openSummariserPool({ model, dIn: D_IN, summary: options, lanes: 1, callRows: 0 }), /callRows must be a positive integer, got 0/);
    const pool = await openSummariserPool({ model, dIn: D_IN, summary: options, lanes: 1, callRows: 3, encodeOnly: true });
    try {
      const doc = Int32Array.from({ length: 10 }, (_, r) => r);
      const t = await pool.summarise(0, pool.inputBuffer(10 * D_IN).fill(1), 10, { shard: 0, doc, context: doc, position: doc, token: doc });
      assert.ok(t.encodeSeconds > 0);
      const { bytes, tokens } = await pool.finish();
      assert.equal(tokens, 0);
      assert.deepEqual(summaryViews(decodeSummary(bytes)), summaryViews(new FeatureSummary(options)));
    } finally {
      await pool.close();
    }
  });

  it('a finished pool leaves its threads warm and idle; the next pool takes them, with nothing of the last one', async () => {
    const run = async (parts: Map<string, Uint8Array>, opts: typeof options) => {
      const before = idleSummariserThreads();
      const pool = await openSummariserPool({ model, dIn: D_IN, summary: opts, lanes: 2 });
      const left = idleSummariserThreads();
      assert.equal(left, before - Math.min(2, before), 'idle threads are taken first');
      try {
        await summariseParts({ partKeys: [...parts.keys()], fetchPart: async (key) => parts.get(key)!, summariser: pool, dIn: D_IN, dSae: D_SAE, batchRows: 8 });
        return decodeSummary((await pool.finish()).bytes);
      } finally {
        await pool.close();
        // Both handed back, up to one idle thread per core.
        assert.equal(idleSummariserThreads(), Math.min(left + 2, availableParallelism()));
      }
    };
    const first = makeParts([50, 20]);
    await run(first, options);
    assert.ok(idleSummariserThreads() >= Math.min(2, availableParallelism()));
    // Other parts and other settings: the summary is of these parts alone, with these settings.
    const second = new Map([...makeParts([9, 31, 3])].map(([k, v]) => [`second-${k}`, v] as const));
    const other = { dSae: D_SAE, topK: 2, reservoirPerBucket: 1 };
    const got = await run(second, other);
    const want = new FeatureSummary(other);
    for (const bytes of second.values()) {
      const { meta, cols } = await readActivationPart(bytes);
      want.add(encodeRows(w, cols.values), { shard: meta.shard, ...cols });
    }
    assert.deepEqual(summaryViews(got), summaryViews(want));
  });

  it('close() fails the batches still outstanding', async () => {
    const pool = await openSummariserPool({ model, dIn: D_IN, summary: options, lanes: 1 });
    try {
      const late = pool.summarise(0, pool.inputBuffer(D_IN), 1, { shard: 0, doc: [5], context: [5], position: [5], token: [5] });
      const refused = assert.rejects(late, /summariser pool closed/);
      await pool.close();
      await refused;
      await assert.rejects(pool.finish(), /summariser pool closed/);
    } finally {
      await pool.close();
    }
  });

  it('one lane per core by default, fewer when the summaries would pass 1 GiB, never none', () => {
    assert.equal(defaultSummariserLanes({ dSae: 4096 }), availableParallelism());
    const perFeature = summaryBytes({ dSae: 1000 }) / 1000;
    assert.ok(perFeature > 6000 && perFeature < 7000, `${perFeature} bytes per feature at the default settings`);
    const wide = 1 << 20; // ~6.6 GB a summary
    assert.equal(defaultSummariserLanes({ dSae: wide }), 1);
    const two = Math.floor(LANE_SUMMARIES_BYTES / 2 / perFeature);
    assert.equal(defaultSummariserLanes({ dSae: two }), Math.min(2, availableParallelism()));
    // Fewer examples per interval: a smaller summary, so more lanes fit.
    assert.ok(summaryBytes({ dSae: 1000, reservoirPerBucket: 1 }) < summaryBytes({ dSae: 1000 }) / 2);
  });
});

describe('summariser pool: execution provider', () => {
  const cudaInstalled = providerAvailability().some((p) => p.name === 'cuda' && p.installed);
  const model = buildSaeEncoderModel(dictionary(), { arch: 'l1' });

  it('"CPUExecutionProvider" names the default provider: the same summary', async () => {
    const parts = makeParts([40, 25]);
    const run = async (executionProvider?: string) => {
      const pool = await openSummariserPool({ model, dIn: D_IN, summary: { dSae: D_SAE }, lanes: 2, ...(executionProvider && { executionProvider }) });
      try {
        await summariseParts({ partKeys: [...parts.keys()], fetchPart: async (key) => parts.get(key)!, summariser: pool, dIn: D_IN, dSae: D_SAE, batchRows: 8 });
        return (await pool.finish()).bytes;
      } finally {
        await pool.close();
      }
    };
    // Compared as summaries, not bytes: which lane takes which batch depends on timing, and with
    // it where each example sits in the slots (the summaries, and what is written from them, are the same).
    assert.deepEqual(summaryViews(decodeSummary(await run('CPUExecutionProvider'))), summaryViews(decodeSummary(await run())));
  });

  it('a provider whose library is missing fails at open, by name, so the activity fails for good', { skip: cudaInstalled && 'CUDA provider is installed here' }, async () => {
    await assert.rejects(openSummariserPool({ model, dIn: D_IN, summary: { dSae: D_SAE }, lanes: 2, executionProvider: 'cuda' }), (e: Error) => {
      assert.equal(e.name, 'ExecutionProviderError');
      assert.match(e.message, /"cuda" is not installed/);
      return true;
    });
  });

  it('the up-front check refuses an unknown provider, naming the field, and only warns for a known one missing here', () => {
    const warnings: unknown[] = [];
    const log = { ...quietLog, warn: (...args: unknown[]) => void warnings.push(args) };
    assert.throws(() => checkProviderForWorkers('nonsense', 'stats.executionProvider', log),
      (e: Error) => e instanceof ConfigError && /^stats\.executionProvider: Unknown execution provider "nonsense"/.test(e.message));
    checkProviderForWorkers('cpu', 'stats.executionProvider', log);
    assert.equal(warnings.length, 0);
    if (!cudaInstalled) {
      checkProviderForWorkers('cuda', 'stats.executionProvider', log);
      assert.equal(warnings.length, 1);
    }
  });
});
