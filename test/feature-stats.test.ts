// The statistics stage on the real stack (Temporal dev server + SeaweedFS): a small labelled run
// written straight to S3 and a hand-made dictionary whose features fire on known labels; the
// FeatureStats workflow summarises groups of parts through encoder.onnx, merges the partial
// summaries in a tree and finalises. Densities are checked against a direct count, the merged
// summary against a one-pass summary, and the genre table must find the planted features.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { MANIFEST_FORMAT, type PartRecord, type ShardManifest } from '../core/harvest/shard-manifest.js';
import { providerAvailability } from '../core/model/execution-provider.js';
import { encodeActivationPart, readActivationPart } from '../core/parquet/activation-part.js';
import { encodeDictionaryWeights } from '../core/sae/sae-dictionary-files.js';
import { buildSaeEncoderModel } from '../core/sae/sae-encoder-model.js';
import { zeroWeights, type SaeWeights } from '../core/sae/sae-weights.js';
import { readFeatureStats } from '../core/stats/feature-stats-parquet.js';
import { encodeRows, FeatureSummary, MAX_SUMMARY_LABELS } from '../core/stats/feature-summary.js';
import type { GenreScore, GenresFile } from '../core/stats/genre-scores.js';
import { featureLogitEffects, loadLogitWeights } from '../core/stats/logit-effects.js';
import { decodeSummary } from '../core/stats/summary-codec.js';
import { readGroupPartKeys } from '../core/stats/stats-plan.js';
import { SeededRandom } from '../core/random/seeded-random.js';
import { sha256Hex } from '../core/storage/object-store.js';
import { RunLayout } from '../core/storage/run-layout.js';
import { ORCHESTRATION_QUEUE } from '../workflows/harvest-types.js';
import { statsWorkflowId, type FeatureStatsInput, type StatsProgress, type StatsResult } from '../workflows/stats-types.js';
import { describeStatsProgress, describeStatsStatus, statsStatus } from '../cli/stats-commands.js';
import { DEMO_MODEL, openHarness, withTimeout, type Harness } from './test-support.js';
import { summaryViews } from './stats-fixtures.js';

let h: Harness | undefined;
let output: string;

before(async () => {
  h = await openHarness('feature-stats');
  await h.startWorkers(['orchestration', 'training']);
  output = `s3://${h.bucket}/runs`;
}, { timeout: 120_000 });

after(async () => {
  await h?.close();
});

const HOOK = 'blocks.0.mlp.hook_post';
const WIDTH = 8;
const D_SAE = 6;
const LABELS = ['code', 'dna', 'json'];
const SHARDS = 3;
const PARTS_PER_SHARD = 2;
const ROWS = 200;

/**
 * Features 0–2 read input dims 0–2 with threshold 0.5; a row labelled LABELS[l] has dim l in
 * [1, 2) and the other two in [0, 0.25], so feature l fires exactly on that label. Features 3–4
 * read dims 3–4 (label-blind noise), feature 5 never fires. Weights and inputs are dyadic, so
 * ORT's activations equal the reference encode bit for bit.
 */
function dictionary(): SaeWeights {
  const w = zeroWeights(WIDTH, D_SAE);
  for (let i = 0; i < D_SAE; i++) {
    if (i < 5) w.W_enc[i * D_SAE + i] = 1;
    w.b_enc[i] = i < 5 ? -0.5 : -1;
    w.W_dec[i * WIDTH + i] = 1;
  }
  return w;
}

async function writeLabelledRun(runId: string, { shards = SHARDS, partsPerShard = PARTS_PER_SHARD } = {}): Promise<RunLayout> {
  const { store } = h!;
  const layout = new RunLayout(output, runId);
  const rng = new SeededRandom(7);
  const dyadic = (lo: number, hi: number) => lo + rng.int(0, Math.round((hi - lo) * 64)) / 64;
  for (let shard = 0; shard < shards; shard++) {
    const parts: PartRecord[] = [];
    for (let part = 0; part < partsPerShard; part++) {
      const values = new Float32Array(ROWS * WIDTH);
      const label: string[] = [];
      for (let r = 0; r < ROWS; r++) {
        const l = rng.int(0, LABELS.length);
        label.push(LABELS[l]);
        for (let j = 0; j < WIDTH; j++) values[r * WIDTH + j] = j === l ? dyadic(1, 1.98) : j < 3 ? dyadic(0, 0.25) : dyadic(0, 1.5);
      }
      const idx = (f: (r: number) => number) => Int32Array.from({ length: ROWS }, (_, r) => f(r));
      const bytes = encodeActivationPart(
        { runId, hook: HOOK, modelSha256: 'a'.repeat(64), dtype: 'fp32', width: WIDTH, shard, part },
        { doc: idx((r) => Math.floor(r / 50)), context: idx((r) => part * 100 + Math.floor(r / 20)), position: idx((r) => r % 20), token: idx((r) => (r * 7 + shard) % 97), label, values },
      );
      const key = layout.partKey(HOOK, shard, part);
      await store.put(layout.bucket, key, bytes);
      parts.push({ part, hook: HOOK, key, rows: ROWS, bytes: bytes.byteLength, sha256: sha256Hex(bytes) });
    }
    const manifest: ShardManifest = {
      format: MANIFEST_FORMAT, runId, shard, source: `synthetic://${shard}`, modelSha256: 'a'.repeat(64), dtype: 'fp32',
      hooks: { [HOOK]: { width: WIDTH } }, documents: 0, contexts: 0, tokens: partsPerShard * ROWS, rows: partsPerShard * ROWS,
      bytes: parts.reduce((a, p) => a + p.bytes, 0), parts,
    };
    await store.putJson(layout.bucket, layout.manifestKey(shard), manifest);
  }
  const rows = shards * partsPerShard * ROWS;
  await store.putJson(layout.bucket, layout.summaryKey, { runId, outputUri: output, status: 'completed', shards, failedShards: 0, tokens: rows, rows, bytes: 0 });
  return layout;
}

async function writeDictionary(layout: RunLayout, trainingId: string, w: SaeWeights): Promise<void> {
  const { store } = h!;
  await store.put(layout.bucket, layout.dictionaryWeightsKey(trainingId), encodeDictionaryWeights(w));
  await store.put(layout.bucket, layout.dictionaryEncoderKey(trainingId), buildSaeEncoderModel(w, { arch: 'l1' }));
  await store.putJson(layout.bucket, layout.dictionaryConfigKey(trainingId), { architecture: 'standard', d_in: WIDTH, d_sae: D_SAE, hook_name: HOOK });
}


test('FeatureStats summarises, merges in a tree and finalises: densities, one-pass equality, planted genres', { timeout: 150_000 }, async (t) => {
  const runId = 'stats-run';
  const trainingId = 'planted-d6';
  const layout = await writeLabelledRun(runId);
  const w = dictionary();
  await writeDictionary(layout, trainingId, w);

  // The parts are synthetic (no corpus, model or training behind them), so there are no context
  // windows to cut and no complete run to browse; training-run.test.ts covers both on a real run.
  const input: FeatureStatsInput = {
    runId, outputUri: output, trainingId, partsPerGroup: 1, fanIn: 2, concurrency: 3, encodeBatchRows: 64, exampleWindows: false, featureBrowser: false,
    // Not the default (4): the one-pass summary below must be built the same way to be equal.
    intervalExamples: 2,
    // Three summariser lanes per activity, whatever the machine's cores: their merged summaries must still equal one pass.
    summariseThreads: 3,
  };
  const handle = await h!.client.workflow.start('featureStats', { taskQueue: ORCHESTRATION_QUEUE, workflowId: statsWorkflowId(runId, trainingId), args: [input] });
  h!.track(handle);
  const t0 = Date.now();
  const result = await withTimeout('the statistics workflow', 120_000, handle.result()) as StatsResult;
  t.diagnostic(`FeatureStats over ${SHARDS * PARTS_PER_SHARD} parts took ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  const keys = layout.statsKeys(trainingId);
  assert.deepEqual(result.keys, keys);
  assert.equal(result.tokens, SHARDS * PARTS_PER_SHARD * ROWS);
  assert.equal(result.parts, SHARDS * PARTS_PER_SHARD);
  assert.equal(result.dSae, D_SAE);
  assert.equal(result.liveFeatures, 5);
  assert.equal(result.labels, 3);
  assert.match(result.logitEffects, /^not available/);
  assert.deepEqual(await h!.store.getJson(layout.bucket, keys.result), result);

  const progress = await handle.query<StatsProgress>('progress');
  assert.equal(progress.phase, 'done');
  assert.equal(progress.groups, 6);
  assert.equal(progress.groupsDone, 6);
  assert.equal(progress.tokensSummarised, result.tokens);
  // 6 partials → 3 (three merges) → 2 (one merge, one passes through) → 1 (one merge).
  assert.equal(progress.mergesDone, 5);
  const partialKeys: string[] = [];
  for await (const o of h!.store.list(layout.bucket, `${layout.statsPrefix(trainingId)}partials/`)) partialKeys.push(o.key);
  assert.deepEqual(partialKeys.map((k) => k.slice(layout.statsPrefix(trainingId).length)).sort(), [
    ...[0, 1, 2, 3, 4, 5].map((i) => `partials/level-00/summary-00000${i}.bin`),
    ...[0, 1, 2].map((i) => `partials/level-01/summary-00000${i}.bin`),
    'partials/level-02/summary-000000.bin',
    'partials/level-03/summary-000000.bin',
  ]);

  // Direct computation from the stored parts: hand encode (float64), count firings, and a
  // one-pass summary with the reference encoder.
  const firing = new Array<number>(D_SAE).fill(0);
  const onePass = new FeatureSummary({ dSae: D_SAE, reservoirPerBucket: 2 });
  let tokens = 0;
  for (let shard = 0; shard < SHARDS; shard++) {
    for (let part = 0; part < PARTS_PER_SHARD; part++) {
      const { meta, cols } = await readActivationPart(await h!.store.getBytes(layout.bucket, layout.partKey(HOOK, shard, part)));
      const n = cols.doc.length;
      tokens += n;
      for (let r = 0; r < n; r++) {
        for (let i = 0; i < D_SAE; i++) {
          let s = w.b_enc[i];
          for (let j = 0; j < WIDTH; j++) s += (cols.values[r * WIDTH + j] - w.b_dec[j]) * w.W_enc[j * D_SAE + i];
          if (s > 0) firing[i]++;
        }
      }
      onePass.add(encodeRows(w, cols.values), { shard: meta.shard, doc: cols.doc, context: cols.context, position: cols.position, token: cols.token, label: cols.label });
    }
  }

  const stats = await readFeatureStats(await h!.store.getBytes(layout.bucket, keys.features));
  assert.equal(stats.tokens, tokens);
  assert.deepEqual(stats.rows.map((r) => r.feature), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(stats.rows.map((r) => r.firingCount), firing);
  assert.deepEqual(stats.rows.map((r) => r.density), firing.map((f) => f / tokens));
  assert.equal(firing[5], 0);
  assert.ok(firing.slice(0, 5).every((f) => f > 0));
  // Co-firing with the labels: each planted feature fires on its own label only, every time.
  for (let l = 0; l < LABELS.length; l++) assert.deepEqual(stats.rows[l].labelFiring, { [LABELS[l]]: firing[l] }, `feature ${l}`);

  // The tree-merged summary equals the one-pass summary in every view (exact: dyadic values).
  const merged = decodeSummary(await h!.store.getBytes(layout.bucket, keys.summary));
  assert.deepEqual(summaryViews(merged), summaryViews(onePass));
  assert.deepEqual(stats.rows.map((r) => r.top), Array.from({ length: D_SAE }, (_, i) => onePass.topExamples(i)));

  // The genre table finds the planted feature of each label, with precision and recall 1.
  const genres = await h!.store.getJson<{ tokens: number; genres: GenreScore[] }>(layout.bucket, keys.genres);
  assert.equal(genres.tokens, tokens);
  assert.deepEqual(genres.genres.map((g) => [g.label, g.feature, g.precision, g.recall]), LABELS.map((l, i) => [l, i, 1, 1]));

  const logit = await h!.store.getJson<{ available: boolean; note: string }>(layout.bucket, keys.logitEffects);
  assert.equal(logit.available, false);
  assert.match(logit.note, /not available: the run's model could not be read/);
});

test('FeatureStats refuses a dictionary that does not exist, before any work', { timeout: 60_000 }, async () => {
  const runId = 'stats-run';
  const handle = await h!.client.workflow.start('featureStats', {
    taskQueue: ORCHESTRATION_QUEUE, workflowId: statsWorkflowId(runId, 'missing'), args: [{ runId, outputUri: output, trainingId: 'missing' } satisfies FeatureStatsInput],
  });
  h!.track(handle);
  await assert.rejects(withTimeout('the refused workflow', 30_000, handle.result()), (err: Error) => {
    let e: { message?: string; cause?: unknown } | undefined = err;
    const messages: string[] = [];
    while (e) { messages.push(e.message ?? ''); e = e.cause as typeof e; }
    assert.ok(messages.some((m) => /missing of run stats-run has no cfg\.json/.test(m)), messages.join(' | '));
    return true;
  });
});

test('logit effects come from the run model\'s initializers when the hook is the MLP hidden layer; no labels, no genres', { timeout: 90_000 }, async () => {
  const { store } = h!;
  const runId = 'stats-logit';
  const trainingId = 'demo-d4';
  const layout = new RunLayout(output, runId);
  const width = 512;
  const rows = 40;
  const rng = new SeededRandom(3);
  const values = Float32Array.from({ length: rows * width }, () => rng.int(0, 64) / 64);
  const ids = Int32Array.from({ length: rows }, (_, r) => r);
  const bytes = encodeActivationPart({ runId, hook: HOOK, modelSha256: 'a'.repeat(64), dtype: 'fp32', width, shard: 0, part: 0 }, { doc: ids, context: ids, position: ids, token: ids, values });
  const key = layout.partKey(HOOK, 0, 0);
  await store.put(layout.bucket, key, bytes);
  await store.putJson(layout.bucket, layout.manifestKey(0), {
    format: MANIFEST_FORMAT, runId, shard: 0, source: 'synthetic://0', modelSha256: 'a'.repeat(64), dtype: 'fp32', hooks: { [HOOK]: { width } },
    documents: 0, contexts: 0, tokens: rows, rows, bytes: bytes.byteLength, parts: [{ part: 0, hook: HOOK, key, rows, bytes: bytes.byteLength, sha256: sha256Hex(bytes) }],
  } satisfies ShardManifest);
  // Only the model location matters to the stage.
  await store.putJson(layout.bucket, layout.configKey, { runId, model: { path: DEMO_MODEL } });
  const w = zeroWeights(width, 4);
  for (let i = 0; i < 4; i++) {
    w.W_enc[i * 4 + i] = 1;
    w.b_enc[i] = -0.25;
    for (let j = 0; j < width; j++) w.W_dec[i * width + j] = rng.int(-64, 65) / 64;
  }
  await store.put(layout.bucket, layout.dictionaryWeightsKey(trainingId), encodeDictionaryWeights(w));
  await store.put(layout.bucket, layout.dictionaryEncoderKey(trainingId), buildSaeEncoderModel(w, { arch: 'l1' }));
  await store.putJson(layout.bucket, layout.dictionaryConfigKey(trainingId), { architecture: 'standard', d_in: width, d_sae: 4, hook_name: HOOK });

  const handle = await h!.client.workflow.start('featureStats', {
    taskQueue: ORCHESTRATION_QUEUE, workflowId: statsWorkflowId(runId, trainingId), args: [{ runId, outputUri: output, trainingId, exampleWindows: false, featureBrowser: false } satisfies FeatureStatsInput],
  });
  h!.track(handle);
  const result = await withTimeout('the statistics workflow', 60_000, handle.result()) as StatsResult;
  assert.equal(result.logitEffects, 'available');
  assert.equal(result.tokens, rows);
  assert.equal(result.labels, 0);

  const logit = await store.getJson<{ available: boolean; features: unknown[] }>(layout.bucket, result.keys.logitEffects);
  assert.equal(logit.available, true);
  const lw = loadLogitWeights(await readFile(DEMO_MODEL));
  assert.ok(lw.ok);
  assert.deepEqual(logit.features, [0, 1, 2, 3].map((i) => JSON.parse(JSON.stringify({ feature: i, ...featureLogitEffects(lw.weights, w, i) }))));

  const genres = await store.getJson<{ genres: unknown[]; note: string }>(layout.bucket, result.keys.genres);
  assert.deepEqual(genres.genres, []);
  assert.match(genres.note, /no labels/);
});

/** Every payload of a history, decoded as text (the JSON converter's payloads are UTF-8 JSON). */
function payloadTexts(node: unknown, out: string[] = []): string[] {
  if (node instanceof Uint8Array) return out;
  if (Array.isArray(node)) {
    for (const v of node) payloadTexts(v, out);
  } else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === 'data' && v instanceof Uint8Array) out.push(Buffer.from(v).toString('utf8'));
      else payloadTexts(v, out);
    }
  }
  return out;
}

test('FeatureStats continues as new through summarising and merging, with part keys only in S3, and gets the one-pass summary', { timeout: 150_000 }, async () => {
  const runId = 'stats-chain';
  const trainingId = 'planted-d6';
  const layout = await writeLabelledRun(runId);
  const w = dictionary();
  await writeDictionary(layout, trainingId, w);
  // 6 summarise + 5 merge activities, 2 per execution: the chain crosses from summarising into
  // merging and continues in the middle of the tree.
  const input: FeatureStatsInput = {
    runId, outputUri: output, trainingId, partsPerGroup: 1, fanIn: 2, concurrency: 2, activitiesPerExecution: 2, exampleWindows: false, featureBrowser: false,
  };
  const workflowId = statsWorkflowId(runId, trainingId);
  const handle = await h!.client.workflow.start('featureStats', { taskQueue: ORCHESTRATION_QUEUE, workflowId, args: [input] });
  h!.track(handle);
  const result = await withTimeout('the chained statistics workflow', 120_000, handle.result()) as StatsResult;
  assert.equal(result.parts, SHARDS * PARTS_PER_SHARD);
  assert.equal(result.tokens, SHARDS * PARTS_PER_SHARD * ROWS);

  const runIds = [handle.firstExecutionRunId];
  const texts: string[] = [];
  for (;;) {
    const history = await h!.client.workflow.getHandle(workflowId, runIds.at(-1)).fetchHistory();
    payloadTexts(history.events, texts);
    const next = history.events?.find((e) => e.workflowExecutionContinuedAsNewEventAttributes)?.workflowExecutionContinuedAsNewEventAttributes;
    if (!next?.newExecutionRunId) break;
    runIds.push(next.newExecutionRunId);
    assert.ok(runIds.length < 20, 'the chain ends');
  }
  // Summarise 0–1 | 2–3 | 4–5 | merges (1,0) (1,1) | (1,2) (2,0) | (3,0).
  assert.equal(runIds.length, 6, `executions: ${runIds.join(', ')}`);
  assert.ok(texts.length > 20, `history payloads were read (${texts.length})`);
  assert.deepEqual(texts.filter((t) => t.includes(layout.activationPrefix(HOOK))), [], 'no activation part key in any history');
  const page = await h!.store.getJson<{ firstGroup: number; groups: string[][] }>(layout.bucket, layout.statsPlanPageKey(trainingId, 0));
  assert.deepEqual(page.groups, Array.from({ length: SHARDS * PARTS_PER_SHARD }, (_, i) => [layout.partKey(HOOK, Math.floor(i / PARTS_PER_SHARD), i % PARTS_PER_SHARD)]));

  const progress = await h!.client.workflow.getHandle(workflowId).query<StatsProgress>('progress');
  assert.deepEqual(
    { phase: progress.phase, groups: progress.groups, groupsDone: progress.groupsDone, mergesDone: progress.mergesDone, tokens: progress.tokensSummarised },
    { phase: 'done', groups: 6, groupsDone: 6, mergesDone: 5, tokens: result.tokens },
  );
  const first = await h!.client.workflow.getHandle(workflowId, runIds[0]).fetchHistory();
  const firstStart = Number(first.events![0].eventTime!.seconds) * 1000;
  assert.ok(Math.abs(progress.startedAt - firstStart) < 5_000, 'the start time is the first execution\'s');

  // Identical to a one-pass summary of every part (exact: dyadic values).
  const onePass = new FeatureSummary({ dSae: D_SAE });
  for (let shard = 0; shard < SHARDS; shard++) {
    for (let part = 0; part < PARTS_PER_SHARD; part++) {
      const { meta, cols } = await readActivationPart(await h!.store.getBytes(layout.bucket, layout.partKey(HOOK, shard, part)));
      onePass.add(encodeRows(w, cols.values), { shard: meta.shard, doc: cols.doc, context: cols.context, position: cols.position, token: cols.token, label: cols.label });
    }
  }
  assert.deepEqual(summaryViews(decodeSummary(await h!.store.getBytes(layout.bucket, result.keys.summary))), summaryViews(onePass));
});

test('without partsPerGroup, parts are grouped by rows (64 per feature, or 1/concurrency of them; at least 8 parts) and plan pages sized to the groups', { timeout: 90_000 }, async () => {
  const runId = 'stats-by-rows';
  const trainingId = 'wide-d30';
  // 20 parts of 200 rows; 30 features want 64 × 30 = 1,920 rows a group, and concurrency 2 allows
  // up to 4,000 / 2: 10 parts a group (8 hold only 1,600). At the default concurrency (8) the run
  // would be too small for that, and get 8-part groups.
  const layout = await writeLabelledRun(runId, { shards: 5, partsPerShard: 4 });
  const dSae = 30;
  const w = zeroWeights(WIDTH, dSae);
  await h!.store.put(layout.bucket, layout.dictionaryWeightsKey(trainingId), encodeDictionaryWeights(w));
  await h!.store.put(layout.bucket, layout.dictionaryEncoderKey(trainingId), buildSaeEncoderModel(w, { arch: 'l1' }));
  await h!.store.putJson(layout.bucket, layout.dictionaryConfigKey(trainingId), { architecture: 'standard', d_in: WIDTH, d_sae: dSae, hook_name: HOOK });
  const workflowId = statsWorkflowId(runId, trainingId);
  const input: FeatureStatsInput = { runId, outputUri: output, trainingId, concurrency: 2, exampleWindows: false, featureBrowser: false };
  const handle = await h!.client.workflow.start('featureStats', { taskQueue: ORCHESTRATION_QUEUE, workflowId, args: [input] });
  h!.track(handle);
  const result = await withTimeout('the statistics workflow', 60_000, handle.result()) as StatsResult;
  assert.deepEqual([result.parts, result.tokens], [20, 20 * ROWS]);
  const progress = await h!.client.workflow.getHandle(workflowId).query<StatsProgress>('progress');
  assert.deepEqual([progress.groups, progress.groupsDone], [2, 2]);
  // Both groups on one page (800 keys a page: 80 groups of 10), in part order.
  const page = await h!.store.getJson<{ firstGroup: number; groups: string[][] }>(layout.bucket, layout.statsPlanPageKey(trainingId, 0));
  const keys = Array.from({ length: 20 }, (_, i) => layout.partKey(HOOK, Math.floor(i / 4), i % 4));
  assert.deepEqual(page.groups, [keys.slice(0, 10), keys.slice(10)]);
});

test('a run labelled by a field with too many values fails the statistics once, naming the limit and the field', { timeout: 60_000 }, async () => {
  const { store } = h!;
  const runId = 'stats-many-labels';
  const trainingId = 'planted-d6';
  const layout = new RunLayout(output, runId);
  const rows = MAX_SUMMARY_LABELS + 1;
  const ids = Int32Array.from({ length: rows }, (_, r) => r);
  // One document per row, each labelled by its own URL: one label more than a summary counts.
  const label = Array.from({ length: rows }, (_, r) => `https://example.com/page/${r}`);
  const bytes = encodeActivationPart({ runId, hook: HOOK, modelSha256: 'a'.repeat(64), dtype: 'fp32', width: WIDTH, shard: 0, part: 0 },
    { doc: ids, context: ids, position: ids, token: ids, label, values: new Float32Array(rows * WIDTH).fill(1) });
  const key = layout.partKey(HOOK, 0, 0);
  await store.put(layout.bucket, key, bytes);
  await store.putJson(layout.bucket, layout.manifestKey(0), {
    format: MANIFEST_FORMAT, runId, shard: 0, source: 'synthetic://0', modelSha256: 'a'.repeat(64), dtype: 'fp32', hooks: { [HOOK]: { width: WIDTH } },
    documents: rows, contexts: rows, tokens: rows, rows, bytes: bytes.byteLength, parts: [{ part: 0, hook: HOOK, key, rows, bytes: bytes.byteLength, sha256: sha256Hex(bytes) }],
  } satisfies ShardManifest);
  await store.putJson(layout.bucket, layout.summaryKey, { runId, outputUri: output, status: 'completed', shards: 1, failedShards: 0, tokens: rows, rows, bytes: 0 });
  await writeDictionary(layout, trainingId, dictionary());
  const handle = await h!.client.workflow.start('featureStats', {
    taskQueue: ORCHESTRATION_QUEUE, workflowId: statsWorkflowId(runId, trainingId),
    args: [{ runId, outputUri: output, trainingId, exampleWindows: false, featureBrowser: false } satisfies FeatureStatsInput],
  });
  h!.track(handle);
  await assert.rejects(withTimeout('the statistics workflow', 45_000, handle.result()), (err: Error) => {
    const chain: string[] = [];
    for (let e: unknown = err; e instanceof Error; e = e.cause) chain.push(`${e.name}: ${e.message}`);
    assert.ok(chain.some((m) => m.includes(`more than ${MAX_SUMMARY_LABELS} distinct values`) && m.includes('corpus.labelField')), chain.join(' <- '));
    return true;
  });
  const history = await handle.fetchHistory();
  const attempts = history.events?.filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!.attempt) ?? [];
  assert.ok(attempts.every((a) => a === 1), `no retries: attempts ${attempts.join(', ')}`);
  assert.equal(await store.head(layout.bucket, layout.statsKeys(trainingId).result), undefined, 'no result.json: the statistics do not look complete');

  // As the error suggests: the same run with `labels: false` gets its statistics, without a genre table.
  const again = await h!.client.workflow.start('featureStats', {
    taskQueue: ORCHESTRATION_QUEUE, workflowId: `${statsWorkflowId(runId, trainingId)}-no-labels`,
    args: [{ runId, outputUri: output, trainingId, labels: false, exampleWindows: false, featureBrowser: false } satisfies FeatureStatsInput],
  });
  h!.track(again);
  const result = await withTimeout('the statistics workflow without labels', 45_000, again.result()) as StatsResult;
  assert.deepEqual([result.tokens, result.labels], [rows, 0]);
  const genres = await store.getJson<GenresFile>(layout.bucket, layout.statsKeys(trainingId).genres);
  assert.deepEqual([genres.labels, genres.genres], [[], []]);
  assert.match(genres.note ?? '', /left the labels out/);
});

test('a summarise task whose plan page is missing fails naming the page', { timeout: 30_000 }, async () => {
  const layout = new RunLayout(output, 'stats-no-plan');
  await assert.rejects(readGroupPartKeys(h!.store, layout, 'gone', 1234, 1000), (err: Error) =>
    err.name === 'ConfigError' && err.message.includes(`s3://${layout.bucket}/${layout.statsPlanPageKey('gone', 1)}`) && err.message.includes('part group 1234'));
});

test('`thresher stats status`: the result of a finished workflow, the reason of a failed one, a clear error for an unknown one', { timeout: 30_000 }, async () => {
  const done = await statsStatus(h!.client, 'stats-run', 'planted-d6');
  assert.equal(done.state, 'COMPLETED');
  assert.deepEqual(done.result, await h!.client.workflow.getHandle(statsWorkflowId('stats-run', 'planted-d6')).result());
  assert.match(describeStatsStatus(done), /^statistics stats-run\/planted-d6: COMPLETED\nstatistics planted-d6: 1,200 tokens over 6 parts/);

  const failed = await statsStatus(h!.client, 'stats-run', 'missing');
  assert.equal(failed.state, 'FAILED');
  assert.match(failed.failure ?? '', /dictionary missing of run stats-run has no cfg\.json/);

  await assert.rejects(statsStatus(h!.client, 'stats-run', 'never-started'), (err: Error) =>
    err.name === 'ConfigError' && /no feature statistics of stats-run\/never-started are known/.test(err.message));

  const line = describeStatsProgress({
    runId: 'r', outputUri: output, trainingId: 't', phase: 'examples', groups: 12_500, groupsDone: 12_500, tokensSummarised: 1_234_567,
    mergesDone: 835, windowTasks: 40, windowTasksDone: 7, startedAt: 1_000,
  }, 61_000);
  assert.equal(line, 'examples: part groups 12,500/12,500, 1,234,567 tokens, 835 merges, example-window tasks 7/40, 60 s since start');
});

test('FeatureStats refuses bad numbers in its input before any work, naming each', { timeout: 30_000 }, async () => {
  const runId = 'stats-run';
  const trainingId = 'planted-d6';
  const handle = await h!.client.workflow.start('featureStats', {
    taskQueue: ORCHESTRATION_QUEUE, workflowId: `${statsWorkflowId(runId, trainingId)}-bad`,
    args: [{ runId, outputUri: output, trainingId, fanIn: 1, partsPerGroup: 0, concurrency: 2.5, summariseThreads: 0, intervalExamples: 256 } satisfies FeatureStatsInput],
  });
  h!.track(handle);
  await assert.rejects(withTimeout('the refused workflow', 20_000, handle.result()), (err: Error) => {
    const m = (err.cause as Error | undefined)?.message ?? '';
    assert.match(m, /partsPerGroup must be an integer ≥ 1, got 0; concurrency must be an integer ≥ 1, got 2\.5; fanIn must be an integer ≥ 2, got 1; summariseThreads must be an integer in \[1, 256\], got 0; intervalExamples must be an integer in \[1, 255\], got 256/);
    return true;
  });
  const history = await handle.fetchHistory();
  assert.ok(!history.events?.some((e) => e.activityTaskScheduledEventAttributes), 'no activity was scheduled');
});

test('FeatureStats with an encoder provider the workers lack fails once, naming it, without retrying', { timeout: 60_000 }, async (t) => {
  if (providerAvailability().some((p) => p.name === 'cuda' && p.installed)) return t.skip('the CUDA provider is installed here');
  const runId = 'stats-run';
  const trainingId = 'planted-d6';
  const handle = await h!.client.workflow.start('featureStats', {
    taskQueue: ORCHESTRATION_QUEUE, workflowId: `${statsWorkflowId(runId, trainingId)}-cuda`,
    args: [{ runId, outputUri: output, trainingId, executionProvider: 'cuda', exampleWindows: false, featureBrowser: false } satisfies FeatureStatsInput],
  });
  h!.track(handle);
  await assert.rejects(withTimeout('the statistics workflow', 45_000, handle.result()), (err: Error) => {
    const chain: string[] = [];
    for (let e: unknown = err; e instanceof Error; e = e.cause) chain.push(`${e.name}: ${e.message}`);
    assert.ok(chain.some((m) => /"cuda" is not installed/.test(m)), chain.join(' <- '));
    return true;
  });
  const history = await handle.fetchHistory();
  const attempts = history.events?.filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!.attempt) ?? [];
  assert.ok(attempts.length > 0, 'a summarise activity ran');
  assert.ok(attempts.every((a) => a === 1), `no retries: attempts ${attempts.join(', ')}`);
});
