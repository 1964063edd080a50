// Faults on the real stack: a harvest worker killed with SIGKILL mid-shard, corrupt shards that
// fail once (never retried) and are harvested after a fix and `run resume`, and config mistakes
// that are refused before anything is written.
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import { resumeRun, runStatus, startRun } from '../cli/run-commands.js';
import { DEMO_TRAIN } from '../cli/demo-training.js';
import { ConfigError, type RunConfigInput } from '../core/config/run-config.js';
import { prepareRun } from '../core/harvest/prepare-run.js';
import { listShardFailures } from '../core/harvest/run-plan.js';
import { verifyRun } from '../core/harvest/verify-run.js';
import { UnknownHookError } from '../core/model/onnx-graph.js';
import { RunLayout } from '../core/storage/run-layout.js';
import { harvestWorkflowId, type HarvestProgress, type ShardTask } from '../workflows/harvest-types.js';
import {
  allKeys,
  demoConfig,
  lastModifiedUnder,
  MLP_HOOK,
  openHarness,
  quietLog,
  StopWaiting,
  uploadDemoCorpus,
  waitFor,
  withTimeout,
  writeConfig,
  type Harness,
  startChildWorker,
  stopAllChildWorkers,
  stopChild,
  assertManifestCounts,
  manifestsOf,
} from './test-support.js';

let h: Harness | undefined;
let output: string;

before(async () => {
  h = await openHarness('harvest-faults');
  // Orchestration runs here; harvest workers are child processes (a) or started per test (b).
  await h.startWorkers(['orchestration']);
  output = `s3://${h.bucket}/runs`;
}, { timeout: 120_000 });

after(async () => {
  await stopAllChildWorkers();
  await h?.close();
});

// ------------------------------------------------------------------------------------- helpers




const decodePayload = <T>(p: { data?: Uint8Array | null } | undefined | null): T => JSON.parse(Buffer.from(p!.data!).toString('utf8')) as T;

interface ShardActivity {
  activityId: string;
  shard: number;
  /** Attempt number of the last start the history records (written when the attempt ended). */
  attempt?: number;
  outcome?: 'completed' | 'failed' | 'timedOut';
  nonRetryable?: boolean;
}

/** harvestShard activities of one workflow execution, from its history. */
async function shardActivities(handle: WorkflowHandle, runId?: string): Promise<ShardActivity[]> {
  const history = await h!.client.workflow.getHandle(handle.workflowId, runId).fetchHistory();
  const bySchedule = new Map<string, ShardActivity>();
  for (const e of history.events ?? []) {
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled?.activityType?.name === 'harvestShard') {
      const shard = decodePayload<ShardTask>(scheduled.input!.payloads![1]);
      bySchedule.set(String(e.eventId), { activityId: scheduled.activityId!, shard: shard.index });
    }
    const started = e.activityTaskStartedEventAttributes;
    if (started) {
      const a = bySchedule.get(String(started.scheduledEventId));
      if (a) a.attempt = started.attempt ?? undefined;
    }
    const completed = e.activityTaskCompletedEventAttributes;
    if (completed) {
      const a = bySchedule.get(String(completed.scheduledEventId));
      if (a) a.outcome = 'completed';
    }
    const failed = e.activityTaskFailedEventAttributes;
    if (failed) {
      const a = bySchedule.get(String(failed.scheduledEventId));
      if (a) {
        a.outcome = 'failed';
        a.nonRetryable = failed.failure?.applicationFailureInfo?.nonRetryable ?? undefined;
      }
    }
    const timedOut = e.activityTaskTimedOutEventAttributes;
    if (timedOut) {
      const a = bySchedule.get(String(timedOut.scheduledEventId));
      if (a) a.outcome = 'timedOut';
    }
  }
  return [...bySchedule.values()].sort((a, b) => a.shard - b.shard);
}


async function expectClean(layout: RunLayout, shards: number): Promise<void> {
  const report = await verifyRun(h!.store, layout);
  assert.deepEqual(report.problems, [], 'verify finds no duplicate, missing or orphan rows');
  assert.deepEqual(report.missingShards, []);
  assert.equal(report.complete, shards);
}

// ---------------------------------------------------------------------------------------- tests

test('a harvest worker killed with SIGKILL mid-shard: the shard resumes on another worker, nothing lost or doubled', { timeout: 240_000 }, async (t) => {
  // Two long shards, each of many parts: long enough that the server has recorded a heartbeat
  // with committed parts (heartbeats reach it every 0.8 × heartbeatTimeout = 4 s) well before the end.
  const corpus = await uploadDemoCorpus(h!, 'corpora/kill', { shards: 2, docsPerShard: 200, seed: 4, gzipEvery: 2 });
  const runId = 'killed-worker';
  const config = demoConfig(runId, corpus.uri, output, {
    heartbeatTimeoutSeconds: 5,
    positionsPerContext: 16,
    batchSize: 4,
    concurrency: 2,
    output: { path: output, partMiB: 0.05 },
  });
  const layout = new RunLayout(output, runId);
  const first = startChildWorker(h!, 'first', ['harvest'], { THRESHER_HARVEST_SLOTS: '2' });
  const started = await startRun(h!.services, await writeConfig(path.join(h!.dir, 'configs'), runId, config), quietLog, h!.client);
  h!.track(started.handle);
  const { handle } = started;

  // Kill once the server holds a heartbeat saying ≥ 1 part of a shard is committed, and that
  // shard's first part is in S3 but its manifest is not.
  const target = await waitFor(
    'a shard with a committed part on record and no manifest',
    120_000,
    async () => {
      if (first.process.exitCode !== null) throw new StopWaiting(`the first worker exited early:\n${first.tail()}`);
      const pending = (await handle.describe()).raw.pendingActivities ?? [];
      const beats = pending
        .map((p) => ({ activityId: p.activityId!, committed: p.heartbeatDetails?.payloads?.length ? decodePayload<{ committedParts: number }>(p.heartbeatDetails.payloads[0]).committedParts : 0 }))
        .filter((b) => b.committed >= 1);
      if (!beats.length) return undefined;
      const activities = await shardActivities(handle);
      for (const b of beats) {
        const shard = activities.find((a) => a.activityId === b.activityId)?.shard;
        if (shard === undefined) continue;
        const part0 = await h!.store.head(layout.bucket, layout.partKey(MLP_HOOK, shard, 0));
        const manifest = await h!.store.head(layout.bucket, layout.manifestKey(shard));
        if (part0 && !manifest) return { shard, committed: b.committed, activityId: b.activityId };
      }
      return undefined;
    },
    200,
  );
  // What the killed attempt had committed, as S3 saw it just before the kill.
  await stopChild(first.process, 'SIGKILL');
  t.diagnostic(`killed the worker with shard ${target.shard} at ${target.committed} committed parts on record`);
  const before = await lastModifiedUnder(h!.store, layout.bucket, layout.root + '/activations/');
  const shardSegment = `shard-${String(target.shard).padStart(6, '0')}/`;
  const kept = [...before].filter(([key]) => key.includes(shardSegment) && Number(/part-(\d+)/.exec(key)![1]) < target.committed);
  assert.equal(kept.length, target.committed * 2, `parts 0..${target.committed - 1} of both hooks existed at the kill`);
  assert.equal(await h!.store.head(layout.bucket, layout.manifestKey(target.shard)), undefined, 'no manifest yet at the kill');

  const second = startChildWorker(h!, 'second', ['harvest'], { THRESHER_HARVEST_SLOTS: '2' });
  const result = await withTimeout('the run after the kill', 150_000, handle.result()).catch((err: Error) => {
    throw new Error(`${err.message}\nsecond worker said:\n${second.tail()}`);
  });
  assert.equal(result.status, 'completed');
  assert.equal(result.failedShards, 0);
  assert.deepEqual(await listShardFailures(h!.store, layout), []);
  const manifests = await manifestsOf(h!, layout);
  assert.equal(manifests.length, 2);
  assertManifestCounts(result, manifests);
  await expectClean(layout, 2);

  // The killed shard's retry started after the parts its heartbeat vouched for: they were not rewritten.
  const afterKill = await lastModifiedUnder(h!.store, layout.bucket, layout.root + '/activations/');
  for (const [key, modified] of kept) assert.equal(afterKill.get(key), modified, `${key} was not rewritten by the retry`);
  const targetManifest = manifests.find((m) => m.shard === target.shard)!;
  assert.ok(targetManifest.parts.length > kept.length, 'the retry wrote the remaining parts');
  const activity = (await shardActivities(handle)).find((a) => a.shard === target.shard)!;
  assert.equal(activity.outcome, 'completed');
  assert.ok((activity.attempt ?? 0) >= 2, `the killed shard completed on a later attempt (attempt ${activity.attempt})`);

  await stopChild(second.process, 'SIGTERM');
});

test('corrupt shards fail once with the line or byte named; after a fix, resume redoes only them', { timeout: 180_000 }, async (t) => {
  const workers = await h!.startWorkers(['harvest']);
  try {
    const corpus = await uploadDemoCorpus(h!, 'corpora/corrupt', { shards: 6, docsPerShard: 5, seed: 5, gzipEvery: 3 });
    const badJson = 1; // plain .jsonl
    const badGzip = 5; // .jsonl.gz
    assert.ok(corpus.keys[badJson].endsWith('.jsonl') && corpus.keys[badGzip].endsWith('.jsonl.gz'));
    const badLine = 3;
    const lines = (await readFile(corpus.files[badJson], 'utf8')).split('\n');
    lines[badLine - 1] = lines[badLine - 1].slice(0, 20); // a JSON object cut short
    await h!.store.put(h!.bucket, corpus.keys[badJson], Buffer.from(lines.join('\n')));
    const gz = await readFile(corpus.files[badGzip]);
    const truncatedTo = Math.floor(gz.length * 0.6);
    await h!.store.put(h!.bucket, corpus.keys[badGzip], gz.subarray(0, truncatedTo));

    const runId = 'corrupt-input';
    const layout = new RunLayout(output, runId);
    const config = demoConfig(runId, corpus.uri, output, { positionsPerContext: 8, maxAttempts: 5 });
    const started = await startRun(h!.services, await writeConfig(path.join(h!.dir, 'configs'), runId, config), quietLog, h!.client);
    h!.track(started.handle);
    const result = await withTimeout('the run over corrupt shards', 120_000, started.handle.result());
    assert.equal(result.status, 'completed_with_failures');
    assert.equal(result.shards, 6);
    assert.equal(result.failedShards, 2);

    const failures = (await listShardFailures(h!.store, layout)).sort((a, b) => a.shard - b.shard);
    assert.deepEqual(failures.map((f) => [f.shard, f.uri, f.type]), [
      [badJson, `s3://${h!.bucket}/${corpus.keys[badJson]}`, 'CorruptShardError'],
      [badGzip, `s3://${h!.bucket}/${corpus.keys[badGzip]}`, 'CorruptShardError'],
    ]);
    assert.match(failures[0].message, new RegExp(`line ${badLine} is not valid JSON`));
    assert.ok(failures[0].message.includes(corpus.keys[badJson]), failures[0].message);
    for (const f of failures) t.diagnostic(`shard ${f.shard}: ${f.message}`);
    const byte = /gzip data is corrupt near compressed byte (\d+)/.exec(failures[1].message);
    assert.ok(byte, failures[1].message);
    assert.ok(Number(byte[1]) > 0 && Number(byte[1]) <= truncatedTo, `byte ${byte[1]} within the ${truncatedTo} bytes that exist`);
    const status = await runStatus(h!.services, h!.client, runId);
    assert.equal(status.result?.status, 'completed_with_failures');
    assert.equal(status.failures.length, 2);

    // Corrupt input is not retried: one attempt each, failed as non-retryable (maxAttempts is 5).
    const firstActivities = await shardActivities(started.handle);
    for (const shard of [badJson, badGzip]) {
      const a = firstActivities.find((x) => x.shard === shard)!;
      assert.deepEqual({ outcome: a.outcome, attempt: a.attempt, nonRetryable: a.nonRetryable }, { outcome: 'failed', attempt: 1, nonRetryable: true }, `shard ${shard}`);
    }
    const good = [0, 2, 3, 4];
    const manifests = await manifestsOf(h!, layout);
    assert.deepEqual(manifests.map((m) => m.shard), good);
    const manifestTimes = await lastModifiedUnder(h!.store, layout.bucket, layout.manifestPrefix);
    assert.equal(manifestTimes.size, 4);

    // Fix the inputs in place and resume.
    await h!.store.put(h!.bucket, corpus.keys[badJson], await readFile(corpus.files[badJson]));
    await h!.store.put(h!.bucket, corpus.keys[badGzip], await readFile(corpus.files[badGzip]));
    // LastModified has one-second resolution: let a second pass so a rewrite would show.
    const newest = Math.max(...manifestTimes.values());
    await waitFor('the clock to pass the manifests’ LastModified second', 5_000, () => Date.now() > newest + 1_100);
    const resumed = await resumeRun(h!.client, runId, quietLog);
    h!.track(resumed);
    const after = await withTimeout('the resumed run', 120_000, resumed.result());
    assert.equal(after.status, 'completed');
    assert.equal(after.failedShards, 0);
    assert.equal(after.shards, 6);
    assert.deepEqual(await listShardFailures(h!.store, layout), []);
    const allManifests = await manifestsOf(h!, layout);
    assert.equal(allManifests.length, 6);
    assertManifestCounts(after, allManifests);

    // Only the two fixed shards ran again; the others kept their manifests untouched.
    const rerun = await shardActivities(resumed, (await resumed.describe()).runId);
    assert.deepEqual(rerun.map((a) => a.shard), [badJson, badGzip]);
    const progress = await resumed.query<HarvestProgress>('progress');
    assert.equal(progress.shards.skipped, 4);
    assert.equal(progress.shards.done, 6);
    const timesAfter = await lastModifiedUnder(h!.store, layout.bucket, layout.manifestPrefix);
    for (const [key, t] of manifestTimes) assert.equal(timesAfter.get(key), t, `${key} was not rewritten`);
    await expectClean(layout, 6);
  } finally {
    await workers.stop();
  }
});

test('config mistakes are refused before any work, naming the field, and nothing is written', { timeout: 120_000 }, async () => {
  const corpus = await uploadDemoCorpus(h!, 'corpora/config', { shards: 1, docsPerShard: 2, seed: 6 });
  const emptyFolder = path.join(h!.dir, 'empty-corpus');
  await mkdir(emptyFolder, { recursive: true });
  const dir = path.join(h!.dir, 'bad-configs');
  const base = (runId: string): RunConfigInput => demoConfig(runId, corpus.uri, output, { positionsPerContext: 8 });

  const cases: { name: string; config: (c: RunConfigInput) => Record<string, unknown>; error: typeof ConfigError | typeof UnknownHookError; message: RegExp }[] = [
    {
      name: 'unknown hook',
      config: (c) => ({ ...c, hooks: ['blocks.0.mlp.hook_pots'] }),
      error: UnknownHookError,
      message: /"blocks\.0\.mlp\.hook_pots" \(closest: blocks\.0\.mlp\.hook_post\b/,
    },
    {
      name: 'missing model file',
      config: (c) => ({ ...c, model: { path: path.join(dir, 'no-such-model.onnx') } }),
      error: ConfigError,
      message: /^model\.path: model .*no-such-model\.onnx does not exist/,
    },
    {
      name: 'missing model object in S3',
      config: (c) => ({ ...c, model: { path: `s3://${h!.bucket}/models/missing.onnx` } }),
      error: ConfigError,
      message: /^model\.path: model s3:\/\/thresher\/models\/missing\.onnx does not exist/,
    },
    {
      name: 'missing tokenizer',
      config: (c) => ({ ...c, tokenizer: { path: path.join(dir, 'no-such-tokenizer.json') } }),
      error: ConfigError,
      message: /^tokenizer\.path: tokenizer .*no-such-tokenizer\.json does not exist/,
    },
    {
      name: 'output bucket that does not exist',
      config: (c) => ({ ...c, output: { path: 's3://no-such-bucket/runs' } }),
      error: ConfigError,
      message: /^output\.path s3:\/\/no-such-bucket\/runs: bucket s3:\/\/no-such-bucket does not exist/,
    },
    {
      name: 'empty corpus folder',
      config: (c) => ({ ...c, corpus: { path: emptyFolder } }),
      error: ConfigError,
      message: /^corpus\.path: corpus .*empty-corpus holds no \.jsonl, \.jsonl\.gz, \.txt or \.txt\.gz files/,
    },
    {
      name: 'empty corpus prefix in S3',
      config: (c) => ({ ...c, corpus: { path: `s3://${h!.bucket}/corpora/nothing-here` } }),
      error: ConfigError,
      message: /^corpus\.path: corpus s3:\/\/thresher\/corpora\/nothing-here holds no \.jsonl/,
    },
    {
      name: 'bad field type',
      config: (c) => ({ ...c, contextLength: 'x' }),
      error: ConfigError,
      message: /is invalid:\n {2}- contextLength: .*expected number, received string/,
    },
    {
      name: 'unknown execution provider for the statistics stage',
      config: (c) => ({ ...c, stages: ['train', 'stats'], train: { ...DEMO_TRAIN, hook: MLP_HOOK }, stats: { executionProvider: 'nonsense' } }),
      error: ConfigError,
      message: /^stats\.executionProvider: Unknown execution provider "nonsense"/,
    },
    {
      name: 'positionsPerContext above contextLength',
      config: (c) => ({ ...c, contextLength: 64, positionsPerContext: 65 }),
      error: ConfigError,
      message: /- positionsPerContext: must be at most contextLength - 1 .* = 63/,
    },
  ];

  const keysBefore = await allKeys(h!.store, h!.bucket);
  for (const [i, c] of cases.entries()) {
    const runId = `bad-config-${i}`;
    const file = await writeConfig(dir, runId, c.config(base(runId)));
    await assert.rejects(
      startRun(h!.services, file, quietLog, h!.client),
      (err: Error) => {
        assert.ok(err instanceof c.error, `${c.name}: ${err.name} is a ${c.error.name}: ${err.message}`);
        assert.match(err.message, c.message, `${c.name}: message`);
        return true;
      },
      c.name,
    );
    await assert.rejects(h!.client.workflow.getHandle(harvestWorkflowId(runId)).describe(), WorkflowNotFoundError, `${c.name}: no workflow was started`);
  }
  assert.deepEqual(await allKeys(h!.store, h!.bucket), keysBefore, 'nothing was written to S3');

  // The same base config passes: the mistakes above were the only thing wrong.
  const prepared = await prepareRun(await writeConfig(dir, 'good-config', base('good-config')), h!.store, h!.services.settings.cacheDir, quietLog);
  assert.equal(prepared.shardCount, 1);
  assert.deepEqual(await allKeys(h!.store, h!.bucket), keysBefore, 'validation alone writes nothing');
});
