// summariseParts, the statistics stage's read → batch → lane loop (shared by the summarisePart
// activity and bench:stats), against stand-in lanes on this thread: the lanes' merged summaries
// equal a one-pass summary of the same rows, each batch goes to the lane with the fewest
// outstanding (so a slow lane does not hold back the others), batches are pipelined but never
// more than perLane are outstanding in a lane, callbacks report parts and batches in send order,
// and failures (bad width, a failed fetch or lane, an abort) reject cleanly.
// The real lanes (worker threads) are tested in summariser-pool.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeActivationPart, readActivationPart } from '../core/parquet/activation-part.js';
import { SeededRandom } from '../core/random/seeded-random.js';
import type { SaeWeights } from '../core/sae/sae-weights.js';
import { encodeRows, FeatureSummary, type RowProvenance } from '../core/stats/feature-summary.js';
import { defaultEncodeBatchRows, ENCODE_BATCH_BYTES, summariseParts } from '../core/stats/summarise-parts.js';
import type { BatchSummariser, LaneBatchResult } from '../core/stats/summariser-pool.js';
import { dyadicDictionary, summaryViews } from './stats-fixtures.js';

const D_IN = 6;
const D_SAE = 10;

const dictionary = (): SaeWeights => dyadicDictionary(D_IN, D_SAE, 3);

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

/**
 * Stand-in lanes on this thread: each has a summary fed by the reference encoder, answers after a
 * random delay (or `delayMs(lane)`), and logs what happened when ("send i lane l", "done i").
 */
function fakeLanes(w: SaeWeights, lanes: number, log: string[], fail?: (call: number) => boolean, delayMs?: (lane: number) => number) {
  const rng = new SeededRandom(5);
  const summaries = Array.from({ length: lanes }, () => new FeatureSummary({ dSae: D_SAE, topK: 3 }));
  let calls = 0;
  const summariser: BatchSummariser = {
    lanes,
    inputBuffer: (length) => new Float32Array(length + 3), // larger than asked, as a reused buffer may be
    summarise(lane: number, x: Float32Array, rows: number, provenance: RowProvenance): Promise<LaneBatchResult> {
      const call = calls++;
      log.push(`send ${call} lane ${lane}`);
      const inputs = x.slice(0, rows * D_IN);
      const copy = { ...provenance, doc: Int32Array.from(provenance.doc), context: Int32Array.from(provenance.context), position: Int32Array.from(provenance.position), token: Int32Array.from(provenance.token) };
      return new Promise((resolve, reject) => setTimeout(() => {
        if (fail?.(call)) return reject(new Error(`lane failed on call ${call}`));
        summaries[lane].add(encodeRows(w, inputs), copy);
        log.push(`done ${call}`);
        resolve({ encodeSeconds: 0.001 * (call + 1), addSeconds: 0 });
      }, delayMs ? delayMs(lane) : rng.int(0, 4)));
    },
  };
  const merged = () => summaries.reduce((acc, s) => acc.mergeFrom(s), new FeatureSummary({ dSae: D_SAE, topK: 3 }));
  return { summariser, merged };
}

describe('summariseParts', () => {
  const w = dictionary();
  const rowCounts = [37, 64, 5, 100];

  for (const [lanes, perLane] of [[1, 1], [1, 2], [2, 2], [3, 1]]) {
    it(`equals a one-pass summary with ${lanes} lane(s), at most ${perLane} batch(es) outstanding in each`, async () => {
      const parts = makeParts(rowCounts);
      const log: string[] = [];
      const { summariser, merged } = fakeLanes(w, lanes, log);
      const partEvents: unknown[] = [];
      const batches: number[] = [];
      const result = await summariseParts({
        partKeys: [...parts.keys()],
        fetchPart: async (key) => parts.get(key)!,
        summariser, dIn: D_IN, dSae: D_SAE, batchRows: 16, perLane,
        onBatch: (e) => {
          batches.push(e.rows);
          log.push(`reported ${e.rows} ${e.encodeSeconds}`);
        },
        onPart: (e) => partEvents.push(e),
      });
      assert.deepEqual(result, { parts: 4, rows: 206 });
      assert.deepEqual(summaryViews(merged()), summaryViews(await onePass(parts, w)));
      assert.deepEqual(partEvents, [
        { key: 'part-0', rows: 37, partsDone: 1, rowsDone: 37 },
        { key: 'part-1', rows: 64, partsDone: 2, rowsDone: 101 },
        { key: 'part-2', rows: 5, partsDone: 3, rowsDone: 106 },
        { key: 'part-3', rows: 100, partsDone: 4, rowsDone: 206 },
      ]);
      // Batches of ≤ 16 rows that never span parts (3 + 4 + 1 + 7), reported in order with their own encode times.
      assert.deepEqual(batches, [16, 16, 5, 16, 16, 16, 16, 5, 16, 16, 16, 16, 16, 16, 4]);
      assert.deepEqual(log.filter((l) => l.startsWith('reported')).map((l) => Number(l.split(' ')[2])), batches.map((_, i) => 0.001 * (i + 1)));
      // Outstanding per lane = sent − finished, at each send: each batch went to a lane with the
      // fewest outstanding (the lowest-numbered of those), never above perLane, and perLane was reached.
      const sends = log.filter((l) => l.startsWith('send')).map((l) => l.split(' ').map(Number));
      const laneOf = new Map(sends.map(([, i, , lane]) => [i, lane]));
      const outstanding = new Array(lanes).fill(0);
      let most = 0;
      for (const l of log) {
        const [what, id] = l.split(' ');
        if (what === 'send') {
          const lane = laneOf.get(Number(id))!;
          assert.equal(lane, outstanding.indexOf(Math.min(...outstanding)), `${l}: outstanding ${outstanding.join(',')}`);
          most = Math.max(most, ++outstanding[lane]);
        } else if (what === 'done') outstanding[laneOf.get(Number(id))!]--;
      }
      assert.equal(most, perLane);
      // Pipelined: with room for two, the second batch is sent before the first is finished.
      assert.equal(log.indexOf('send 1 lane ' + laneOf.get(1)) < log.indexOf('done 0'), lanes * perLane > 1);
    });
  }

  it('parts decoded into reused buffers (equal sizes, prefetched) still give the one-pass summary', async () => {
    // Equal parts fit each other's buffers, so every part after the second decodes into the array
    // of the part two before it, while the part before it is still being dealt out.
    const parts = makeParts([24, 24, 24, 24, 24, 24, 24]);
    for (const [lanes, perLane, batchRows] of [[2, 2, 8], [1, 1, 24], [3, 2, 5]]) {
      const { summariser, merged } = fakeLanes(w, lanes, []);
      await summariseParts({ partKeys: [...parts.keys()], fetchPart: async (key) => parts.get(key)!, summariser, dIn: D_IN, dSae: D_SAE, batchRows, perLane });
      assert.deepEqual(summaryViews(merged()), summaryViews(await onePass(parts, w)), `${lanes} lanes, ${perLane} per lane, ${batchRows}-row batches`);
    }
  });

  it('a fetchPart that returns the same buffer for every part (as the activity\'s S3 reader does) is safe', async () => {
    const parts = makeParts([37, 64, 5, 100, 64]);
    const largest = Math.max(...[...parts.values()].map((b) => b.byteLength));
    const shared = new Uint8Array(largest);
    const { summariser, merged } = fakeLanes(w, 2, []);
    await summariseParts({
      partKeys: [...parts.keys()], summariser, dIn: D_IN, dSae: D_SAE, batchRows: 16, perLane: 2,
      // Writes the buffer as soon as it is called and answers a little later: a fetch started
      // before the previous part was decoded would overwrite that part's bytes under it.
      fetchPart: async (key) => {
        const bytes = parts.get(key)!;
        shared.fill(0xee).set(bytes);
        await new Promise((r) => setTimeout(r, 1));
        return shared.subarray(0, bytes.byteLength);
      },
    });
    assert.deepEqual(summaryViews(merged()), summaryViews(await onePass(parts, w)));
  });

  it('a slow lane does not hold back a fast one: batches go to whichever lane has room', async () => {
    // Lane 0 takes 12 ms a batch, lane 1 1 ms. Dealt in turn, each would get half the batches and
    // lane 1 would wait on lane 0; given to the lane with room, lane 1 takes most of them.
    const parts = makeParts([64, 64, 64]);
    const log: string[] = [];
    const { summariser, merged } = fakeLanes(w, 2, log, undefined, (lane) => (lane === 0 ? 12 : 1));
    const reported: number[] = [];
    const result = await summariseParts({
      partKeys: [...parts.keys()], fetchPart: async (key) => parts.get(key)!, summariser, dIn: D_IN, dSae: D_SAE, batchRows: 4, perLane: 2,
      onBatch: (e) => reported.push(e.encodeSeconds),
    });
    assert.deepEqual(result, { parts: 3, rows: 192 });
    const perLane = [0, 1].map((lane) => log.filter((l) => l.startsWith('send') && l.endsWith(`lane ${lane}`)).length);
    assert.equal(perLane[0] + perLane[1], 48);
    assert.ok(perLane[1] >= 3 * perLane[0], `lane 1 (fast) took ${perLane[1]} batches, lane 0 (slow) ${perLane[0]}`);
    // Reported in send order all the same (each batch's encodeSeconds is 0.001 × (its call + 1)).
    assert.deepEqual(reported, reported.map((_, i) => 0.001 * (i + 1)));
    assert.deepEqual(summaryViews(merged()), summaryViews(await onePass(parts, w)));
  });

  it('without batchRows, batches hold at most 1,024 rows and 64 MiB of activations', async () => {
    assert.deepEqual([1024, 4096, 16_384, 131_072, 1 << 20, 1 << 30].map(defaultEncodeBatchRows), [1024, 1024, 1024, 128, 16, 1]);
    for (const dSae of [4096, 16_384, 131_072, 1 << 20]) assert.ok(defaultEncodeBatchRows(dSae) * dSae * 4 <= ENCODE_BATCH_BYTES);
    // The default reaches summariseParts: a 131,072-feature dictionary is fed 128-row batches.
    const sizes: number[] = [];
    const parts = makeParts([300]);
    await summariseParts({
      partKeys: [...parts.keys()],
      fetchPart: async (key) => parts.get(key)!,
      summariser: { lanes: 2, inputBuffer: (n) => new Float32Array(n), summarise: async (_lane, _x, rows) => (sizes.push(rows), { encodeSeconds: 0, addSeconds: 0 }) },
      dIn: D_IN, dSae: 131_072,
    });
    assert.deepEqual(sizes, [128, 128, 44]);
  });

  it('rejects a part whose width is not d_in, naming it', async () => {
    const parts = new Map([...makeParts([20]), ...[...makeParts([8, 8], D_IN + 1)].map(([k, v]) => [`wide-${k}`, v] as const)]);
    await assert.rejects(
      summariseParts({ partKeys: [...parts.keys()], fetchPart: async (k) => parts.get(k)!, summariser: fakeLanes(w, 2, []).summariser, dIn: D_IN, dSae: D_SAE, batchRows: 8 }),
      (err: Error) => err.name === 'ConfigError' && /part wide-part-0 has width 7, dictionary has d_in 6/.test(err.message),
    );
  });

  it('a failed fetch, a failed lane and an abort reject; no unhandled rejection follows', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const parts = makeParts([40, 40, 40]);
      const base = { partKeys: [...parts.keys()], dIn: D_IN, dSae: D_SAE, batchRows: 8 };
      const fetchPart = async (key: string) => parts.get(key)!;
      await assert.rejects(summariseParts({
        ...base, summariser: fakeLanes(w, 2, []).summariser,
        fetchPart: async (key) => { if (key === 'part-1') throw new Error('S3 said no'); return parts.get(key)!; },
      }), /S3 said no/);
      await assert.rejects(summariseParts({
        ...base, summariser: fakeLanes(w, 2, [], (call) => call === 3).summariser, fetchPart,
      }), /lane failed on call 3/);
      const abort = new AbortController();
      let batches = 0;
      await assert.rejects(summariseParts({
        ...base, summariser: fakeLanes(w, 2, []).summariser, fetchPart, signal: abort.signal,
        onBatch: () => { if (++batches === 2) abort.abort(); },
      }), (err: Error) => err.name === 'AbortError');
      assert.equal(batches, 2, 'nothing is reported after the abort');
      await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
