// `thresher report` against a real S3 gateway and Temporal dev server: a run's artifacts are
// written the way the harvest, training and statistics stages write them (features.parquet from a
// real FeatureSummary, examples.parquet for some features only, logit-effects.json with token ids,
// the demo tokenizer), then the report is loaded and written to S3 and a local folder. Checks that
// token ids are decoded with the run's tokenizer, that examples without windows fall back to their
// own token, that index.html is written last with the right content types, and the CLI's choice
// of dictionary and its errors.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import vm from 'node:vm';
import { after, before, test } from 'node:test';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import type { Client } from '@temporalio/client';
import { copyReportToFolder, dictionariesWithStats, loadReport, writeReport, writeReportSite } from '../core/report/write-report.js';
import { buildReportSite, REPORT_GLOBAL, topTokenTexts } from '../core/report/report-site.js';
import { encodeExampleWindows, ExampleWindowsWriter, readExampleWindows, type ExampleWindow } from '../core/stats/example-windows.js';
import { encodeFeatureStats } from '../core/stats/feature-stats-parquet.js';
import { FeatureSummary } from '../core/stats/feature-summary.js';
import { createS3Client, ObjectStore } from '../core/storage/object-store.js';
import { RunLayout } from '../core/storage/run-layout.js';
import { loadTokenizer, type TextTokenizer } from '../core/tokenize/tokenizer.js';
import { MetricsLog, type StepRecord } from '../core/training/metrics-log.js';
import { startTestStack, type TestStack } from '../infra/local-stack.js';
import { connectClient } from '../workers/temporal-connection.js';
import { harvestWorkflowId } from '../workflows/harvest-types.js';
import type { StatsResult } from '../workflows/stats-types.js';
import type { DictionaryResult } from '../workflows/training-types.js';
import { DEMO_TOKENIZER, THRESHER_CLI } from './test-support.js';

const run = promisify(execFile);
const D_SAE = 6;
const ROWS = 300;
const RUN_ID = 'report-run';
const WITH_WINDOWS = 'train-d6-lambda0.001';
const WITHOUT_WINDOWS = 'train-d6-lambda0.003';

let dir: string;
let stack: TestStack | undefined;
let store: ObjectStore;
let client: Client | undefined;
let tokenizer: TextTokenizer;
let layout: RunLayout;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'thresher-report-write-'));
  stack = await startTestStack(path.join(dir, 'stack'));
  const e = stack.endpoints;
  process.env.AWS_ACCESS_KEY_ID = e.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = e.secretAccessKey;
  store = new ObjectStore(createS3Client({ endpoint: e.s3Endpoint, region: e.s3Region, forcePathStyle: true, maxAttempts: 3 }));
  client = await connectClient({ address: e.temporalAddress, namespace: e.namespace });
  tokenizer = await loadTokenizer(DEMO_TOKENIZER);
  layout = new RunLayout(`s3://${e.bucket}/runs`, RUN_ID);
  await writeRun(layout);
  await writeDictionary(layout, WITH_WINDOWS, true);
  await writeDictionary(layout, WITHOUT_WINDOWS, false);
}, { timeout: 120_000 });

after(async () => {
  await client?.connection.close();
  store?.client.destroy();
  await stack?.stop();
  await rm(dir, { recursive: true, force: true });
});

const TEXT = ' the river ran past the mountain and the cat sat by the river';

async function writeRun(l: RunLayout): Promise<void> {
  await store.putJson(l.bucket, l.configKey, {
    runId: l.runId, model: { path: '/models/demo/model.onnx', executionProvider: 'cpu' }, tokenizer: { path: DEMO_TOKENIZER, bosToken: '<|endoftext|>', bos: 'context' },
    hooks: ['blocks.0.mlp.hook_post'], corpus: { path: '/corpus', textField: 'text' }, contextLength: 64,
  });
  await store.putJson(l.bucket, l.summaryKey, { runId: l.runId, outputUri: `s3://${l.bucket}/runs`, status: 'completed', shards: 3, failedShards: 0, tokens: 4321, rows: ROWS, bytes: 0 });
}

/** The stages' outputs for one dictionary; only WITH_WINDOWS gets an examples.parquet. */
async function writeDictionary(l: RunLayout, trainingId: string, windows: boolean): Promise<void> {
  const result: DictionaryResult = {
    trainingId, hook: 'blocks.0.mlp.hook_post', arch: 'l1', dIn: 8, dSae: D_SAE, l1Coefficient: 0.001, k: 0, steps: 40, tokens: 40 * 256,
    resampleEvents: 1, resampledFeatures: 2, scale: 1, resumedFromStep: 0,
    final: { mse: 0.02, fvu: 0.3, l0: 2.5, l1: 1.1, deadFraction: 1 / 6, denseFraction: 0, windowSteps: 4 },
    keys: { weights: '', config: '', encoder: '', result: l.dictionaryResultKey(trainingId), metricsPrefix: l.metricsPrefix(trainingId) },
  };
  await store.putJson(l.bucket, l.dictionaryResultKey(trainingId), result);
  const metrics = new MetricsLog(store, l, trainingId);
  for (let step = 1; step <= 40; step++) {
    metrics.add({
      step, tokens: step * 256, loss: 1 / step, mse: 0.5 / step, fvu: step === 1 ? null as unknown as number : 0.9 / step, l0: 10 - step / 5, l1: 1,
      auxK: 0, deadFraction: 0.1, denseFraction: 0, resampled: step === 20 ? 2 : 0, tokensPerSecond: 1000, time: new Date(0).toISOString(),
    } satisfies StepRecord);
    if (step % 20 === 0) await metrics.write(metrics.takeChunk()!);
  }

  // Features 0–4 fire on every (f+2)-th row with activation growing along the row; feature 5 never fires.
  const ids = tokenizer.encode(TEXT);
  const summary = new FeatureSummary({ dSae: D_SAE, topK: 5 });
  const acts = new Float32Array(ROWS * D_SAE);
  for (let r = 0; r < ROWS; r++) for (let f = 0; f < 5; f++) if (r % (f + 2) === 0) acts[r * D_SAE + f] = 0.5 + r / 100;
  const col = (pick: (r: number) => number) => Int32Array.from({ length: ROWS }, (_, r) => pick(r));
  summary.add(acts, { shard: 0, doc: col((r) => r >> 4), context: col((r) => r >> 5), position: col((r) => (r & 31) + 1), token: col((r) => ids[r % ids.length]) });
  const keys = l.statsKeys(trainingId);
  await store.put(l.bucket, keys.features, encodeFeatureStats(summary));

  if (windows) {
    // Windows for features 0 and 1 only: the others must fall back to their centre token.
    const rows: ExampleWindow[] = [];
    for (const feature of [0, 1]) {
      summary.view(feature).top.forEach((ref, group) => {
        const texts = ['<a href="x">', ` w${group}`, tokenizer.decode([ref.token]), ' after'];
        rows.push({
          feature, kind: 'top', group, act: ref.act, shard: ref.shard, doc: ref.doc, context: ref.context, position: ref.position, label: null,
          center: 2, tokens: [1, 2, ref.token, 3], texts, acts: [0, ref.act / 4, ref.act, 0],
        });
      });
    }
    await store.put(l.bucket, keys.examples, encodeExampleWindows({ radius: 2, rows }));
  }
  const effect = (token: number, e: number) => ({ token, effect: e });
  await store.putJson(l.bucket, keys.logitEffects, {
    available: true, note: 'direct effect per unit activation',
    features: Array.from({ length: D_SAE }, (_, feature) => ({
      feature,
      topPositive: [effect(ids[1], 2), effect(ids[3], 1)],
      topNegative: [effect(ids[0], -2)],
      histogram: { min: -2, max: 2, counts: [1, 5, 1] },
    })),
  });
  await store.putJson(l.bucket, keys.genres, { runId: l.runId, trainingId, tokens: ROWS, labels: [], genres: [], note: 'not available: the activation parts carry no labels' });
  let live = 0;
  for (let i = 0; i < D_SAE; i++) if (summary.firing[i] > 0) live++;
  const statsResult: StatsResult = {
    runId: l.runId, outputUri: `s3://${l.bucket}/runs`, trainingId, tokens: ROWS, parts: 1, dSae: D_SAE, liveFeatures: live, labels: 0,
    logitEffects: 'available', keys,
  };
  await store.putJson(l.bucket, keys.result, statsResult);
}

/** Puts in call order, to check index.html goes last. */
class RecordingStore extends ObjectStore {
  readonly keys: string[] = [];
  override async put(bucket: string, key: string, body: Uint8Array, opts?: { contentType?: string; signal?: AbortSignal }): Promise<string> {
    this.keys.push(key);
    return super.put(bucket, key, body, opts);
  }
}

/** Evaluates a written site's data files as the page's script tags would. */
async function siteData(root: string): Promise<{ overview: any; list: any[]; detail: any[] }> {
  const window: Record<string, any> = {};
  const context = vm.createContext({ window });
  for (const f of (await readdir(path.join(root, 'data'))).sort()) vm.runInContext(await readFile(path.join(root, 'data', f), 'utf8'), context);
  return JSON.parse(JSON.stringify(window[REPORT_GLOBAL]));
}

test('writeReport decodes tokens with the run\'s tokenizer and writes index.html last, to S3 and a folder', { timeout: 120_000 }, async () => {
  assert.deepEqual(await dictionariesWithStats(store, layout), [WITH_WINDOWS, WITHOUT_WINDOWS]);
  const recording = new RecordingStore(store.client);
  const out = path.join(dir, 'site');
  let beats = 0;
  const written = await writeReport(recording, layout, WITH_WINDOWS, { outDir: out, cacheDir: path.join(dir, 'cache'), heartbeat: () => beats++ });
  const prefix = layout.reportPrefix(WITH_WINDOWS);
  assert.equal(written.indexUri, `s3://${layout.bucket}/${prefix}index.html`);
  assert.equal(written.indexFile, path.join(out, 'index.html'));
  assert.ok(beats > 0, 'heartbeats');
  assert.equal(recording.keys.at(-1), `${prefix}index.html`, 'index.html written last');
  assert.equal(recording.keys.length, written.files);
  const listed: string[] = [];
  for await (const o of store.list(layout.bucket, prefix)) listed.push(o.key.slice(prefix.length));
  const local = ['index.html', ...(await readdir(path.join(out, 'data'))).map((f) => `data/${f}`)];
  assert.deepEqual(listed.sort(), local.sort(), 'the same files in S3 and in the folder');
  assert.deepEqual(listed.sort(), ['data/features-000.js', 'data/list-000.js', 'data/overview.js', 'index.html']);
  const contentType = async (key: string) => (await store.client.send(new HeadObjectCommand({ Bucket: layout.bucket, Key: prefix + key }))).ContentType;
  assert.equal(await contentType('index.html'), 'text/html; charset=utf-8');
  assert.equal(await contentType('data/overview.js'), 'text/javascript; charset=utf-8');
  assert.equal(await readFile(path.join(out, 'index.html'), 'utf8'), new TextDecoder().decode(await store.getBytes(layout.bucket, `${prefix}index.html`)));

  // The demo's copy of a report the stage already wrote: the same bytes, no rebuild.
  const copy = path.join(dir, 'copy');
  assert.equal(await copyReportToFolder(store, layout, WITH_WINDOWS, copy), path.join(copy, 'index.html'));
  for (const f of local) assert.deepEqual(await readFile(path.join(copy, f)), await readFile(path.join(out, f)), f);
  assert.equal(await copyReportToFolder(store, layout, 'no-such-dictionary', path.join(dir, 'none')), undefined);

  const g = await siteData(out);
  const o = g.overview;
  assert.equal(o.run.tokens, 4321);
  assert.equal(o.run.model, '/models/demo/model.onnx');
  assert.equal(o.dictionary.dSae, D_SAE);
  assert.equal(o.stats.liveFeatures, 5);
  assert.equal(o.densityHistogram.dead, 1);
  assert.deepEqual(o.curves.map((c: any) => [c.key, c.points.length]), [['loss', 40], ['fvu', 39], ['l0', 40], ['deadFraction', 40]]);
  assert.deepEqual(o.resampleSteps, [20]);
  assert.deepEqual(o.examples, { context: true, radius: 2 });
  assert.equal(o.genres.note, 'not available: the activation parts carry no labels');

  const ids = tokenizer.encode(TEXT);
  const { strings, features } = g.detail[0];
  const texts = (e: any) => e.texts.map((t: number) => strings[t]);
  // Feature 0 has windows: exactly as stored, the hostile text included.
  assert.deepEqual(texts(features[0].top[0]), ['<a href="x">', ' w0', tokenizer.decode([ids[(ROWS - 2) % ids.length]]), ' after']);
  assert.equal(features[0].top[0].center, 2);
  // Feature 3 has none: its examples are its own token, decoded.
  const f3 = features[3];
  assert.ok(f3.top.length > 0);
  for (const e of f3.top) assert.equal(texts(e).length, 1);
  // Row r was written with context r >> 5 and position (r & 31) + 1, and token ids[r % ids.length].
  const row = (e: any) => e.context * 32 + e.position - 1;
  assert.deepEqual(f3.top.map((e: any) => texts(e)[0]), f3.top.map((e: any) => tokenizer.decode([ids[row(e) % ids.length]])));
  assert.equal(f3.top[0].act, 0.5 + row(f3.top[0]) / 100);
  // Logit tokens decoded with the tokenizer; the list carries them for search.
  assert.deepEqual(features[4].logit.topPositive.map((t: any) => t.text), [tokenizer.decode([ids[1]]), tokenizer.decode([ids[3]])]);
  assert.deepEqual(g.list[0].logitTokens[4], [tokenizer.decode([ids[1]]), tokenizer.decode([ids[3]])]);
  assert.equal(features[5].firingCount, 0);
  assert.deepEqual(features[5].top, []);
});

test('without examples.parquet the report says context is unavailable; missing statistics are named', { timeout: 60_000 }, async () => {
  const out = path.join(dir, 'site-plain');
  await writeReport(store, layout, WITHOUT_WINDOWS, { outDir: out, cacheDir: path.join(dir, 'cache') });
  const g = await siteData(out);
  assert.equal(g.overview.examples.context, false);
  assert.match(g.overview.examples.note, /Context is unavailable/);
  const { strings, features } = g.detail[0];
  for (const f of features) for (const e of f.top) assert.equal(e.texts.length, 1);
  assert.equal(strings.includes('<a href="x">'), false);

  await assert.rejects(writeReport(store, layout, 'no-such-dictionary'), {
    name: 'ConfigError',
    message: `run ${RUN_ID} has no statistics for dictionary no-such-dictionary: no s3://${layout.bucket}/${layout.statsKeys('no-such-dictionary').result}; run \`thresher stats start ${RUN_ID} no-such-dictionary\``,
  });
});

test('thresher report: names the dictionaries when there are several, writes the one asked for, defaults to the only one', { timeout: 180_000 }, async () => {
  const e = stack!.endpoints;
  // runRef finds a run's output through its workflow's memo; a workflow no worker polls is enough.
  const handle = await client!.workflow.start('harvestRun', {
    workflowId: harvestWorkflowId(RUN_ID), taskQueue: 'report-test-no-worker', args: [], memo: { outputUri: `s3://${e.bucket}/runs` },
  });
  try {
    const env = {
      PATH: process.env.PATH, HOME: process.env.HOME, THRESHER_HOME: path.join(dir, 'home'), THRESHER_LOG_LEVEL: 'warn',
      TEMPORAL_ADDRESS: e.temporalAddress, TEMPORAL_NAMESPACE: e.namespace, THRESHER_S3_ENDPOINT: e.s3Endpoint, AWS_REGION: e.s3Region,
      AWS_ACCESS_KEY_ID: e.accessKeyId, AWS_SECRET_ACCESS_KEY: e.secretAccessKey,
    };
    const cli = (...args: string[]) => run(process.execPath, [THRESHER_CLI, 'report', ...args], { env, timeout: 60_000 });

    const several = await cli(RUN_ID).then(() => undefined, (err: { code: number; stderr: string }) => err);
    assert.equal(several?.code, 2);
    assert.match(several!.stderr, new RegExp(`statistics for 2 dictionaries; name one: thresher report ${RUN_ID} TRAINING_ID\\n  ${WITH_WINDOWS}\\n  ${WITHOUT_WINDOWS}`));

    const out = path.join(dir, 'cli-site');
    const { stdout } = await cli(RUN_ID, WITHOUT_WINDOWS, '--out', out);
    assert.match(stdout, new RegExp(`feature browser: s3://${e.bucket}/runs/${RUN_ID}/report/${WITHOUT_WINDOWS}/index\\.html`));
    assert.ok(stdout.includes(path.join(out, 'index.html')), stdout);
    assert.match(await readFile(path.join(out, 'index.html'), 'utf8'), new RegExp(`${RUN_ID} / ${WITHOUT_WINDOWS}`));

    await store.delete(layout.bucket, layout.statsKeys(WITHOUT_WINDOWS).result);
    const only = await cli(RUN_ID);
    assert.match(only.stdout, new RegExp(`report/${WITH_WINDOWS}/index\\.html`));
  } finally {
    await handle.terminate('test done');
  }
});

test('the writer loads examples one detail chunk at a time from a multi-row-group examples.parquet, and writes what the one-pass builder writes', { timeout: 60_000 }, async () => {
  // Rewrite the windows of WITH_WINDOWS with one row group per feature, as the gather writes them by range.
  const keys = layout.statsKeys(WITH_WINDOWS);
  const single = await readExampleWindows(await store.getBytes(layout.bucket, keys.examples));
  const writer = new ExampleWindowsWriter(single.radius);
  for (const feature of [0, 1]) writer.writeRowGroup(single.rows.filter((w) => w.feature === feature));
  await store.put(layout.bucket, keys.examples, writer.finish());

  const report = await loadReport(store, layout, WITH_WINDOWS, { cacheDir: path.join(dir, 'cache') });
  assert.ok(report.data.features.every((f) => f.top.length === 0), 'no examples are held with the features');
  const loaded: [number, number][] = [];
  const chunked = { ...report, detail: (start: number, end: number) => (loaded.push([start, end]), report.detail(start, end)) };
  const out = path.join(dir, 'site-chunked');
  await writeReportSite(store, layout, WITH_WINDOWS, chunked, { outDir: out, site: { detailChunk: 2, listChunk: 4 } });
  assert.deepEqual(loaded, [[0, 2], [2, 4], [4, 6]]);

  // The same site built in one pass from the fully loaded features.
  const full = { ...report.data, features: await report.detail(0, D_SAE) };
  for (const f of full.features.filter((x) => x.top.length)) {
    assert.deepEqual(f.topTokens, topTokenTexts({ ...f, topTokens: undefined }), `feature ${f.feature}: the list's tokens are the examples' centre tokens`);
  }
  assert.equal(full.features[0].top[0].texts[0], '<a href="x">', 'windows come from examples.parquet');
  assert.deepEqual(full.features[3].top.map((e) => e.texts.length), full.features[3].top.map(() => 1), 'features without windows show their own token');
  for (const f of buildReportSite(full, { detailChunk: 2, listChunk: 4 })) {
    assert.deepEqual(new TextDecoder().decode(await readFile(path.join(out, ...f.path.split('/')))), new TextDecoder().decode(f.body), f.path);
  }
});
