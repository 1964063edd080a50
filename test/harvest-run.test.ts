// End to end over the real stack: corpus in S3 → HarvestRun on Temporal → Parquet parts in S3,
// checked against the manifests, `verifyRun`, an independent Parquet reader (parquet-wasm +
// apache-arrow, not our hyparquet reader) and a direct onnxruntime-node run of the same tokens.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, test } from 'node:test';
import { tableFromIPC } from 'apache-arrow';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { readParquet } from 'parquet-wasm';
import { runStatus, startRun } from '../cli/run-commands.js';
import { prepareRun } from '../core/harvest/prepare-run.js';
import type { ShardManifest } from '../core/harvest/shard-manifest.js';
import { verifyRun } from '../core/harvest/verify-run.js';
import { exposeHooks } from '../core/model/onnx-graph.js';
import { RunLayout } from '../core/storage/run-layout.js';
import { loadTokenizer, type TextTokenizer } from '../core/tokenize/tokenizer.js';
import { samplePositions } from '../core/tokenize/position-sampler.js';
import type { harvestRun } from '../workflows/harvest-run.js';
import { harvestWorkflowId, ORCHESTRATION_QUEUE, type HarvestProgress, type HarvestResult } from '../workflows/harvest-types.js';
import {
  DEMO_BOS_ID,
  DEMO_MODEL,
  DEMO_TOKENIZER,
  demoConfig,
  halfToNumber,
  HOOK_WIDTHS,
  MLP_HOOK,
  openHarness,
  quietLog,
  RESID_HOOK,
  uploadDemoCorpus,
  waitFor,
  withTimeout,
  writeConfig,
  type Harness,
  type UploadedCorpus,
  assertManifestCounts,
  manifestsOf,
} from './test-support.js';

const HOOKS = [MLP_HOOK, RESID_HOOK];
const CONTEXT = 64;
const RUN_TIMEOUT_MS = 120_000;

let h: Harness | undefined;
let session: InferenceSession | undefined;
let tokenizer: TextTokenizer;
let output: string;

before(async () => {
  h = await openHarness('harvest-run');
  await h.startWorkers(['orchestration', 'harvest']);
  output = `s3://${h.bucket}/runs`;
  tokenizer = await loadTokenizer(DEMO_TOKENIZER);
  // The reference: the model itself with both hooks fetched as graph outputs, no Thresher code in the loop.
  session = await InferenceSession.create(exposeHooks(new Uint8Array(await readFile(DEMO_MODEL)), HOOKS));
}, { timeout: 120_000 });

after(async () => {
  await session?.release();
  await h?.close();
});

// ---------------------------------------------------------------- independent views of the data

interface PartRows {
  run: string[];
  shard: Int32Array;
  doc: Int32Array;
  context: Int32Array;
  position: Int32Array;
  token: Int32Array;
  label: string[] | undefined;
  /** Raw little-endian bytes of each row's vector. */
  vectors: Uint8Array[];
  metadata: Map<string, string>;
}

/** Reads a part with parquet-wasm → Arrow IPC → apache-arrow, sharing no code with the writer. */
function readPartIndependently(bytes: Uint8Array): PartRows {
  // intoIPCStream() consumes (and frees) the wasm-side table.
  const table = tableFromIPC(readParquet(bytes).intoIPCStream());
  const ints = (name: string): Int32Array => {
    const col = table.getChild(name);
    assert.ok(col, `column ${name} is missing`);
    return Int32Array.from(col.toArray() as ArrayLike<number>);
  };
  const strings = (name: string): string[] | undefined => {
    const col = table.getChild(name);
    return col ? Array.from({ length: table.numRows }, (_, i) => String(col.get(i))) : undefined;
  };
  const act = table.getChild('activation');
  assert.ok(act, 'column activation is missing');
  return {
    run: strings('run')!,
    shard: ints('shard'),
    doc: ints('doc'),
    context: ints('context'),
    position: ints('position'),
    token: ints('token'),
    label: strings('label'),
    vectors: Array.from({ length: table.numRows }, (_, i) => new Uint8Array(act.get(i) as Uint8Array)),
    metadata: table.schema.metadata,
  };
}

function decodeVector(bytes: Uint8Array, dtype: 'fp32' | 'fp16'): Float64Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dtype === 'fp32') return Float64Array.from({ length: bytes.byteLength / 4 }, (_, i) => view.getFloat32(i * 4, true));
  return Float64Array.from({ length: bytes.byteLength / 2 }, (_, i) => halfToNumber(view.getUint16(i * 2, true)));
}

/** The model's hook outputs for one context, computed here with onnxruntime-node directly. */
async function referenceActivations(ids: number[]): Promise<Record<string, Float32Array>> {
  const input = new Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]);
  const out = await session!.run({ input_ids: input }, HOOKS);
  return Object.fromEntries(HOOKS.map((hook) => [hook, out[hook].data as Float32Array]));
}

interface ShardDocs {
  genres: string[];
  /** The shard's document tokens back to back: what the packer lays into contexts. */
  stream: number[];
}

/** A shard's documents from the local copy of the uploaded file, tokenized here. */
async function shardDocs(file: string): Promise<ShardDocs> {
  let bytes: Buffer = await readFile(file);
  if (file.endsWith('.gz')) bytes = gunzipSync(bytes);
  const docs = bytes
    .toString('utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as { text: string; genre: string });
  return { genres: docs.map((d) => d.genre), stream: docs.flatMap((d) => tokenizer.encode(d.text)) };
}

/** Token ids of context `c` when every context starts with BOS and documents flow across contexts. */
function contextIds(docs: ShardDocs, c: number): number[] {
  const per = CONTEXT - 1;
  return [DEMO_BOS_ID, ...docs.stream.slice(c * per, (c + 1) * per)];
}

function assertCountsMatch(result: HarvestResult, manifests: ShardManifest[]): void {
  assertManifestCounts(result, manifests);
  assert.equal(result.shards, manifests.length);
}

interface CheckedPart {
  rows: number;
  contexts: number;
}

/**
 * Reads one part of every hook independently and checks each row against the corpus and a direct
 * model run of the context the rows rebuild. `expectedPositions` (if given) says which positions
 * each context must hold; otherwise every non-BOS position must be there.
 */
async function checkPart(
  layout: RunLayout,
  m: ShardManifest,
  part: number,
  docs: ShardDocs,
  opts: { dtype: 'fp32' | 'fp16'; expectedPositions?: (context: number, length: number) => Int32Array },
): Promise<CheckedPart> {
  const byHook = new Map<string, PartRows>();
  for (const hook of HOOKS) {
    const rec = m.parts.find((p) => p.part === part && p.hook === hook);
    assert.ok(rec, `shard ${m.shard} manifest lists part ${part} of ${hook}`);
    const rows = readPartIndependently(await h!.store.getBytes(layout.bucket, rec.key));
    assert.equal(rows.context.length, rec.rows, `${rec.key}: row count matches the manifest`);
    assert.equal(rows.metadata.get('thresher.hook'), hook);
    assert.equal(rows.metadata.get('thresher.dtype'), opts.dtype);
    assert.equal(rows.metadata.get('thresher.width'), String(HOOK_WIDTHS[hook]));
    assert.equal(rows.metadata.get('thresher.model_sha256'), m.modelSha256);
    assert.ok(rows.run.every((r) => r === layout.runId), 'run column');
    assert.ok(rows.shard.every((s) => s === m.shard), 'shard column');
    byHook.set(hook, rows);
  }
  const first = byHook.get(HOOKS[0])!;
  for (const hook of HOOKS.slice(1)) {
    const other = byHook.get(hook)!;
    assert.deepEqual(other.context, first.context, 'hooks share the rows (context)');
    assert.deepEqual(other.position, first.position, 'hooks share the rows (position)');
  }

  const contexts = [...new Set(first.context)];
  for (const c of contexts) {
    const rowIdx = [...first.context.keys()].filter((i) => first.context[i] === c);
    const ids = contextIds(docs, c);
    assert.ok(ids.length > 1, `shard ${m.shard} context ${c} exists in the corpus`);
    const positions = Int32Array.from(rowIdx, (i) => first.position[i]);
    const expected = opts.expectedPositions?.(c, ids.length) ?? Int32Array.from({ length: ids.length - 1 }, (_, i) => i + 1);
    assert.deepEqual(positions, expected, `shard ${m.shard} context ${c}: positions`);
    // Rebuild the context from the rows where every position is a row; else check the sampled ones.
    if (!opts.expectedPositions) {
      const rebuilt = [DEMO_BOS_ID, ...rowIdx.map((i) => first.token[i])];
      assert.deepEqual(rebuilt, ids, `shard ${m.shard} context ${c}: tokens rebuilt from rows = the corpus's`);
    } else {
      for (const i of rowIdx) assert.equal(first.token[i], ids[first.position[i]], `shard ${m.shard} context ${c} position ${first.position[i]}: token`);
    }
    for (const i of rowIdx) {
      const doc = first.doc[i];
      assert.ok(doc >= 0 && doc < docs.genres.length, `doc ${doc} in range`);
      if (first.label) assert.equal(first.label[i], docs.genres[doc], `shard ${m.shard} doc ${doc}: label`);
    }
    const reference = await referenceActivations(ids);
    for (const hook of HOOKS) {
      const rows = byHook.get(hook)!;
      const width = HOOK_WIDTHS[hook];
      for (const i of rowIdx) {
        const got = decodeVector(rows.vectors[i], opts.dtype);
        assert.equal(got.length, width);
        const p = rows.position[i];
        for (let k = 0; k < width; k++) {
          const want = reference[hook][p * width + k];
          // fp32: batching may reorder float sums, nothing more. fp16: plus one rounding to half.
          const tol = opts.dtype === 'fp32' ? 1e-4 * Math.max(1, Math.abs(want)) : 1e-4 + Math.abs(want) * 2 ** -11;
          if (!(Math.abs(got[k] - want) <= tol)) {
            assert.fail(`shard ${m.shard} context ${c} position ${p} ${hook}[${k}]: stored ${got[k]}, direct run ${want} (tolerance ${tol})`);
          }
        }
      }
    }
  }
  return { rows: first.context.length, contexts: contexts.length };
}

async function resultWithin(handle: { result(): Promise<HarvestResult> }, what: string): Promise<HarvestResult> {
  return withTimeout(what, RUN_TIMEOUT_MS, handle.result());
}

// ------------------------------------------------------------------------------------------ tests

test('20-shard run: progress, pause/unpause, status, counts, verify, values equal a direct model run', { timeout: 240_000 }, async () => {
  const corpus = await uploadDemoCorpus(h!, 'corpora/e2e', { shards: 20, docsPerShard: 8, gzipEvery: 2 });
  assert.ok(corpus.keys.some((k) => k.endsWith('.jsonl.gz')) && corpus.keys.some((k) => k.endsWith('.jsonl')));
  const runId = 'e2e-fp32';
  const configFile = await writeConfig(path.join(h!.dir, 'configs'), runId, demoConfig(runId, corpus.uri, output));
  const started = await startRun(h!.services, configFile, quietLog, h!.client);
  h!.track(started.handle);
  assert.equal(started.shardCount, 20);
  const { handle } = started;

  // Pause at once: at most `concurrency` shards get going, then dispatch stops.
  await handle.signal('pause');
  const paused = await waitFor('the run to be paused with nothing running', 60_000, async () => {
    const p = await handle.query<HarvestProgress>('progress');
    return p.paused && p.phase === 'harvesting' && p.shards.running === 0 ? p : undefined;
  });
  assert.equal(paused.shards.total, 20);
  assert.ok(paused.shards.done <= 4, `paused early: ${paused.shards.done} shards done`);
  const whilePaused = await runStatus(h!.services, h!.client, runId);
  assert.equal(whilePaused.state, 'RUNNING');
  assert.equal(whilePaused.progress?.paused, true);
  assert.deepEqual(whilePaused.failures, []);
  // Proving that nothing starts needs a little time to pass; the condition was already met above.
  await new Promise((r) => setTimeout(r, 1_500));
  const still = await handle.query<HarvestProgress>('progress');
  assert.equal(still.shards.running, 0, 'no shard starts while paused');
  assert.equal(still.shards.done, paused.shards.done, 'no shard finishes while paused');

  await handle.signal('resume');
  await waitFor('the run to leave the paused state', 30_000, async () => !(await handle.query<HarvestProgress>('progress')).paused);
  const result = await resultWithin(handle, 'the 20-shard run');
  assert.equal(result.status, 'completed');
  assert.equal(result.shards, 20);
  assert.equal(result.failedShards, 0);

  const layout = new RunLayout(output, runId);
  const manifests = await manifestsOf(h!, layout);
  assert.deepEqual(manifests.map((m) => m.shard), [...Array(20).keys()]);
  assertCountsMatch(result, manifests);
  const summary = await h!.store.getJson<HarvestResult & { finishedAt: string }>(layout.bucket, layout.summaryKey);
  assert.equal(summary.tokens, result.tokens);
  assert.equal(summary.rows, result.rows);
  assert.equal(summary.bytes, result.bytes);
  assert.equal(summary.status, 'completed');

  // Progress after the end, and `run status` for a finished run.
  const final = await handle.query<HarvestProgress>('progress');
  assert.equal(final.phase, 'done');
  assert.deepEqual(final.shards, { total: 20, done: 20, failed: 0, running: 0, skipped: 0 });
  assert.equal(final.tokens, result.tokens);
  assert.equal(final.rows, result.rows);
  const status = await runStatus(h!.services, h!.client, runId);
  assert.equal(status.state, 'COMPLETED');
  assert.equal(status.result?.rows, result.rows);
  assert.equal(status.result?.status, 'completed');
  assert.deepEqual(status.failures, []);

  // Every shard's manifest agrees with its corpus file: documents, tokens, contexts, rows, parts.
  const docsOf = await Promise.all(corpus.files.map(shardDocs));
  for (const m of manifests) {
    const docs = docsOf[m.shard];
    const contexts = Math.ceil(docs.stream.length / (CONTEXT - 1));
    assert.equal(m.source, `s3://${h!.bucket}/${corpus.keys[m.shard]}`);
    assert.equal(m.documents, 8);
    assert.equal(m.contexts, contexts, `shard ${m.shard} contexts`);
    assert.equal(m.tokens, docs.stream.length + contexts, `shard ${m.shard} tokens (one BOS per context)`);
    assert.equal(m.rows, docs.stream.length, `shard ${m.shard}: one row per non-BOS position`);
    assert.deepEqual(m.hooks, { [MLP_HOOK]: { width: 512 }, [RESID_HOOK]: { width: 128 } });
    const partNumbers = [...new Set(m.parts.map((p) => p.part))];
    assert.ok(partNumbers.length >= 2, `shard ${m.shard} has several parts (${partNumbers.length})`);
    assert.equal(m.parts.length, partNumbers.length * HOOKS.length);
  }

  const report = await verifyRun(h!.store, layout);
  assert.deepEqual(report.problems, []);
  assert.deepEqual(report.missingShards, []);
  assert.equal(report.complete, 20);
  assert.equal(report.rows, result.rows);

  // Values: first, middle and last part of plain and gzipped shards, through an independent reader.
  let checkedRows = 0;
  for (const shard of [0, 5, 12, 19]) {
    const m = manifests[shard];
    const parts = [...new Set(m.parts.map((p) => p.part))].sort((a, b) => a - b);
    for (const part of new Set([parts[0], parts[Math.floor(parts.length / 2)], parts.at(-1)!])) {
      checkedRows += (await checkPart(layout, m, part, docsOf[shard], { dtype: 'fp32' })).rows;
    }
  }
  assert.ok(checkedRows > 500, `checked ${checkedRows} rows against the model`);
});

test('fp16 with positionsPerContext: rows per context as configured, same seed gives the same rows', { timeout: 180_000 }, async () => {
  const corpus = await uploadDemoCorpus(h!, 'corpora/fp16', { shards: 3, docsPerShard: 6, seed: 2, gzipEvery: 3 });
  const keep = 16;
  const seed = 7;
  const configOf = (runId: string) => demoConfig(runId, corpus.uri, output, { positionsPerContext: keep, dtype: 'fp16', seed, batchSize: 8 });
  const runs = ['fp16-a', 'fp16-b'];
  const results: HarvestResult[] = [];
  for (const runId of runs) {
    const started = await startRun(h!.services, await writeConfig(path.join(h!.dir, 'configs'), runId, configOf(runId)), quietLog, h!.client);
    h!.track(started.handle);
    results.push(await resultWithin(started.handle, `run ${runId}`));
  }
  const docsOf = await Promise.all(corpus.files.map(shardDocs));
  const [a, b] = runs.map((r) => new RunLayout(output, r));

  assert.equal(results[0].status, 'completed');
  const manifests = await manifestsOf(h!, a);
  assertCountsMatch(results[0], manifests);
  assert.deepEqual((await verifyRun(h!.store, a)).problems, []);
  for (const m of manifests) {
    const docs = docsOf[m.shard];
    const contexts = Math.ceil(docs.stream.length / (CONTEXT - 1));
    const lastLength = docs.stream.length - (contexts - 1) * (CONTEXT - 1) + 1;
    assert.equal(m.dtype, 'fp16');
    assert.equal(m.contexts, contexts);
    assert.equal(m.rows, (contexts - 1) * keep + Math.min(keep, lastLength - 1), `shard ${m.shard}: ${keep} rows per context`);
    let rows = 0;
    for (const part of new Set(m.parts.map((p) => p.part))) {
      rows += (
        await checkPart(a, m, part, docs, {
          dtype: 'fp16',
          // The stored positions are the seed's: a pure function of (seed, shard, context).
          expectedPositions: (c, length) => samplePositions(seed, m.shard, c, length, keep, true),
        })
      ).rows;
    }
    assert.equal(rows, m.rows);
  }
  // Sanity of the sampler the expectation leans on: another seed picks other positions.
  assert.notDeepEqual(samplePositions(seed, 0, 0, CONTEXT, keep, true), samplePositions(seed + 1, 0, 0, CONTEXT, keep, true));

  // The second run with the same seed wrote the very same rows and bytes of values.
  assert.equal(results[1].rows, results[0].rows);
  const manifestsB = await manifestsOf(h!, b);
  assert.equal(manifestsB.length, manifests.length);
  for (const [i, m] of manifests.entries()) {
    const mb = manifestsB[i];
    assert.deepEqual(mb.parts.map((p) => [p.part, p.hook, p.rows]), m.parts.map((p) => [p.part, p.hook, p.rows]));
    for (const p of m.parts) {
      const pa = readPartIndependently(await h!.store.getBytes(a.bucket, p.key));
      const pb = readPartIndependently(await h!.store.getBytes(b.bucket, mb.parts.find((x) => x.part === p.part && x.hook === p.hook)!.key));
      assert.deepEqual(pb.context, pa.context);
      assert.deepEqual(pb.position, pa.position, `shard ${m.shard} part ${p.part}: same positions for the same seed`);
      assert.deepEqual(pb.vectors, pa.vectors, `shard ${m.shard} part ${p.part} ${p.hook}: same values`);
    }
  }
});

test('continue-as-new: a run chained over several executions completes with whole counts', { timeout: 180_000 }, async () => {
  const corpus: UploadedCorpus = await uploadDemoCorpus(h!, 'corpora/chain', { shards: 5, docsPerShard: 3, seed: 3, gzipEvery: 2 });
  const runId = 'chain';
  const configFile = await writeConfig(path.join(h!.dir, 'configs'), runId, demoConfig(runId, corpus.uri, output, { positionsPerContext: 8, concurrency: 2 }));
  // startRun has no knob for this; start the workflow the way it does, with a small chain length.
  const { config } = await prepareRun(configFile, h!.store, h!.services.settings.cacheDir, quietLog);
  const layout = new RunLayout(config.output.path, runId);
  await h!.store.putJson(layout.bucket, layout.configKey, config);
  const handle = await h!.client.workflow.start<typeof harvestRun>('harvestRun', {
    workflowId: harvestWorkflowId(runId),
    taskQueue: ORCHESTRATION_QUEUE,
    args: [{ runId, outputUri: config.output.path, shardsPerExecution: 2 }],
    memo: { outputUri: config.output.path },
  });
  h!.track(handle);
  const first = await waitFor('the first progress answer', 30_000, () => handle.query<HarvestProgress>('progress'));
  const result = await resultWithin(handle, 'the chained run');
  assert.equal(result.status, 'completed');
  assert.equal(result.shards, 5);
  assert.equal(result.failedShards, 0);
  const manifests = await manifestsOf(h!, layout);
  assert.equal(manifests.length, 5);
  assertCountsMatch(result, manifests);
  assert.deepEqual((await verifyRun(h!.store, layout)).problems, []);

  const plan = await h!.store.getJson<{ pageSize: number; pageCount: number }>(layout.bucket, layout.planKey);
  assert.deepEqual({ pageSize: plan.pageSize, pageCount: plan.pageCount }, { pageSize: 2, pageCount: 3 });

  // Follow the chain from the first execution: 2 + 2 + 1 shards → three executions.
  const runIds = [handle.firstExecutionRunId];
  for (;;) {
    const history = await h!.client.workflow.getHandle(harvestWorkflowId(runId), runIds.at(-1)).fetchHistory();
    const next = history.events?.find((e) => e.workflowExecutionContinuedAsNewEventAttributes)?.workflowExecutionContinuedAsNewEventAttributes;
    if (!next?.newExecutionRunId) break;
    runIds.push(next.newExecutionRunId);
    assert.ok(runIds.length < 10, 'the chain ends');
  }
  assert.equal(runIds.length, 3, `executions: ${runIds.join(', ')}`);

  // The last execution reports the whole run, and keeps the first execution's start time.
  const final = await h!.client.workflow.getHandle(harvestWorkflowId(runId)).query<HarvestProgress>('progress');
  assert.equal(final.phase, 'done');
  assert.equal(final.shards.done, 5);
  assert.equal(final.shards.skipped, 0, 'no shard was counted twice across executions');
  assert.equal(final.tokens, result.tokens);
  assert.equal(final.startedAt, first.startedAt);
  const status = await runStatus(h!.services, h!.client, runId);
  assert.equal(status.state, 'COMPLETED');
  assert.equal(status.result?.tokens, result.tokens);
});
