// Durability of dictionary training on the real stack: a training worker (a child process) is
// killed with SIGKILL after a checkpoint is in S3, or stopped with SIGTERM (it checkpoints the step
// it reached); another worker resumes from that checkpoint, and the finished dictionary equals an
// uninterrupted training with the same seed.
//
// Tolerance: none. The weights are asserted bitwise equal (max |Δ| = 0), and so is every per-step
// metric except wall-clock ones (time, tokens/s). The stream, the resampling draws and the init are
// pure functions of the seed and checkpointed counters, the checkpoint holds the full trainer state
// bit for bit, and the CPU step is deterministic for a fixed thread count (both workers run on
// this machine with ORT's default threads).
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startTraining } from '../cli/train-commands.js';
import { ObjectStore } from '../core/storage/object-store.js';
import { RunLayout } from '../core/storage/run-layout.js';
import { trainDictionary } from '../core/training/train-dictionary.js';
import { dictionaryConfig, parseTrainingConfig, resolveTrainingConfig, sweepJobs } from '../core/training/training-config.js';
import type { CheckpointPointer } from '../core/training/training-checkpoints.js';
import type { TrainingConfigInput } from '../core/training/training-config-schema.js';
import type { TrainSweepResult } from '../workflows/training-types.js';
import { lastModifiedUnder, openHarness, quietLog, StopWaiting, waitFor, withTimeout, writeConfig, type Harness, startChildWorker, stopAllChildWorkers, stopChild } from './test-support.js';
import { maxAbsDiff, metricLines, parseSafetensors, SYNTHETIC_HOOK, writeSyntheticRun } from './training-support.js';

let h: Harness | undefined;
let output: string;

before(async () => {
  h = await openHarness('training-resume');
  // Workflows run here; training runs in child worker processes (and, for the reference, here).
  await h.startWorkers(['orchestration']);
  output = `s3://${h.bucket}/runs`;
}, { timeout: 120_000 });

after(async () => {
  await stopAllChildWorkers();
  await h?.close();
});




const STEPS = 1500;
const EVERY = 150;

function config(runId: string, sweepId: string, over: Partial<TrainingConfigInput> = {}): TrainingConfigInput {
  return {
    harvest: { runId, output },
    sweepId,
    hook: SYNTHETIC_HOOK,
    sizes: [1024],
    l1Coefficients: [1e-2],
    lr: 2e-3,
    // Scheduled learning rate and λ: the resumed training must follow the same schedule.
    schedule: { lrWarmupSteps: 100, lrDecaySteps: 300, l1WarmupSteps: 400 },
    batchSize: 256,
    steps: STEPS,
    seed: 7,
    checkpointEverySteps: EVERY,
    metricsChunkSteps: 100,
    bufferRows: 2048,
    normalise: true,
    // One resampling before the kill (usually) and one after it: both must replay exactly.
    resample: { steps: [300, 1200], deadWindowSteps: 50, sampleRows: 1000 },
    heartbeatTimeoutSeconds: 5,
    maxAttempts: 5,
    ...over,
  };
}

/** Trains `sweepId` on `runId` in this process, never interrupted: the reference a resumed training must equal. */
async function trainReference(runId: string, sweepId: string, over: Partial<TrainingConfigInput> = {}): Promise<TrainSweepResult['dictionaries'][number]> {
  const workers = await h!.startWorkers(['training']);
  try {
    const ref = await startTraining(h!.services, await writeConfig(path.join(h!.dir, 'configs'), sweepId, config(runId, sweepId, over)), quietLog, h!.client);
    h!.track(ref.handle);
    const result = await withTimeout('the uninterrupted training', 120_000, ref.handle.result());
    assert.equal(result.dictionaries[0].resumedFromStep, 0);
    return result.dictionaries[0];
  } finally {
    await workers.stop();
  }
}

test('a training worker killed with SIGKILL resumes from its checkpoint and ends bitwise equal to an uninterrupted run', { timeout: 240_000 }, async (t) => {
  const runId = 'synthetic-resume';
  const layout = new RunLayout(output, runId);
  await writeSyntheticRun(h!.store, output, runId, { width: 64, shards: 4, partsPerShard: 2, rowsPerPart: 1500, nDirections: 48 });
  const dir = path.join(h!.dir, 'configs');

  // The reference: same settings and seed, never interrupted (an in-process training worker).
  const t0 = Date.now();
  const refDict = await trainReference(runId, 'reference');
  t.diagnostic(`uninterrupted training of ${STEPS} steps took ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  // The interrupted one: a child worker, killed once a checkpoint (not the last) is in S3.
  const first = startChildWorker(h!, 'first', ['training'], { THRESHER_METRICS_ADDRESS: 'off', THRESHER_TEMPORAL_METRICS_ADDRESS: 'off' });
  const started = await startTraining(h!.services, await writeConfig(dir, 'killed', config(runId, 'killed')), quietLog, h!.client);
  h!.track(started.handle);
  const trainingId = 'killed-d1024-lambda0.01';
  await waitFor('a checkpoint of the killed training', 120_000, async () => {
    if (first.process.exitCode !== null) throw new StopWaiting(`the first worker exited early:\n${first.tail()}`);
    const p = await h!.store.getJsonIfExists<CheckpointPointer>(layout.bucket, layout.checkpointPointerKey(trainingId));
    if (p && p.step >= STEPS) throw new StopWaiting('the training finished before it could be killed; make it longer');
    return p !== undefined && p.step >= 2 * EVERY;
  }, 50);
  await stopChild(first.process, 'SIGKILL');
  const atKill = (await h!.store.getJson<CheckpointPointer>(layout.bucket, layout.checkpointPointerKey(trainingId))).step;
  t.diagnostic(`killed the worker with the checkpoint at step ${atKill} in S3`);
  assert.equal(await h!.store.head(layout.bucket, layout.dictionaryResultKey(trainingId)), undefined, 'not finished at the kill');
  const chunksAtKill = await lastModifiedUnder(h!.store, layout.bucket, layout.metricsPrefix(trainingId));

  const second = startChildWorker(h!, 'second', ['training'], { THRESHER_METRICS_ADDRESS: 'off', THRESHER_TEMPORAL_METRICS_ADDRESS: 'off' });
  const result = await withTimeout('the training after the kill', 150_000, started.handle.result()).catch((err: Error) => {
    throw new Error(`${err.message}\nsecond worker said:\n${second.tail()}`);
  });
  await stopChild(second.process, 'SIGTERM');
  assert.equal(result.status, 'completed');
  const dict = result.dictionaries[0];
  assert.equal(dict.resumedFromStep, atKill, 'the retry resumed from the checkpoint the killed worker left');

  // The activity completed on a later attempt (the kill was noticed by the heartbeat timeout).
  const history = await started.handle.fetchHistory();
  const attempts = (history.events ?? []).flatMap((e) => (e.activityTaskStartedEventAttributes ? [e.activityTaskStartedEventAttributes.attempt ?? 0] : []));
  assert.ok(Math.max(...attempts) >= 2, `trained on a later attempt (attempts ${attempts.join(', ')})`);

  // Bitwise equal weights (tolerance 0) and final metrics.
  const a = parseSafetensors(await h!.store.getBytes(layout.bucket, refDict.keys.weights));
  const b = parseSafetensors(await h!.store.getBytes(layout.bucket, dict.keys.weights));
  for (const name of ['W_enc', 'W_dec', 'b_enc', 'b_dec']) {
    const diff = maxAbsDiff(a.tensor(name), b.tensor(name));
    assert.equal(diff, 0, `${name}: max |Δ| ${diff} between the resumed and the uninterrupted dictionary`);
  }
  assert.deepEqual(dict.final, refDict.final);
  assert.deepEqual(
    { steps: dict.steps, tokens: dict.tokens, scale: dict.scale, resampleEvents: dict.resampleEvents, resampledFeatures: dict.resampledFeatures },
    { steps: refDict.steps, tokens: refDict.tokens, scale: refDict.scale, resampleEvents: refDict.resampleEvents, resampledFeatures: refDict.resampledFeatures },
  );
  assert.equal(dict.resampleEvents, 2);
  t.diagnostic(`final: L0 ${dict.final.l0.toFixed(2)}, FVU ${dict.final.fvu?.toFixed(4)}, dead ${dict.final.deadFraction}, resampled ${dict.resampledFeatures}`);

  // The metrics log: every step exactly once, each equal to the uninterrupted run's but for wall-clock fields.
  const strip = ({ time: _t, tokensPerSecond: _s, ...rest }: Record<string, unknown>) => rest;
  const got = (await metricLines(h!.store, layout, trainingId)).flatMap((c) => c.records);
  const want = (await metricLines(h!.store, layout, refDict.trainingId)).flatMap((c) => c.records);
  assert.deepEqual(got.map((r) => r.step), Array.from({ length: STEPS }, (_, i) => i + 1));
  assert.deepEqual(got.map((r) => strip({ ...r })), want.map((r) => strip({ ...r })));
  // Each step's learning rate and λ, as the schedule gives them (core/training/training-schedule.ts).
  const at = (step: number) => got[step - 1] as { lr?: number; l1Coefficient?: number };
  const close = (got: number | undefined, want: number, what: string) => assert.ok(got !== undefined && Math.abs(got - want) <= 1e-12 * want, `${what}: ${got}, expected ${want}`);
  for (const [step, want] of [[1, 2e-3 / 100], [50, 2e-3 / 2], [100, 2e-3], [1000, 2e-3], [STEPS - 299, 2e-3], [STEPS - 149, 2e-3 / 2], [STEPS, 2e-3 / 300]]) close(at(step).lr, want, `lr at step ${step}`);
  for (const [step, want] of [[1, 1e-2 / 400], [200, 1e-2 / 2], [400, 1e-2], [STEPS, 1e-2]]) close(at(step).l1Coefficient, want, `λ at step ${step}`);

  // The retry did not redo what the checkpoint covered: chunks up to it were not rewritten.
  const chunksAfter = await lastModifiedUnder(h!.store, layout.bucket, layout.metricsPrefix(trainingId));
  const covered = [...chunksAtKill].filter(([key]) => Number(/steps-(\d+)/.exec(key)![1]) <= atKill - 100 + 1);
  assert.ok(covered.length > 0);
  for (const [key, modified] of covered) assert.equal(chunksAfter.get(key), modified, `${key} was not rewritten`);

  // Old checkpoints are cleaned up: the pointer's and the one before it remain.
  const checkpoints: string[] = [];
  for await (const o of h!.store.list(layout.bucket, layout.checkpointPrefix(trainingId))) checkpoints.push(o.key.slice(layout.checkpointPrefix(trainingId).length));
  assert.deepEqual(checkpoints.sort(), ['latest.json', `step-${String(STEPS - EVERY).padStart(9, '0')}.safetensors`, `step-${String(STEPS).padStart(9, '0')}.safetensors`]);
});

test('a training worker stopped with SIGTERM checkpoints the step it reached; the retry resumes from it and ends bitwise equal', { timeout: 240_000 }, async (t) => {
  const runId = 'synthetic-stop';
  const layout = new RunLayout(output, runId);
  await writeSyntheticRun(h!.store, output, runId, { width: 64, shards: 4, partsPerShard: 2, rowsPerPart: 1500, nDirections: 48 });
  // No periodic checkpoint before the end: any checkpoint before it is the one the stop wrote.
  const sparse = { checkpointEverySteps: STEPS };
  const refDict = await trainReference(runId, 'ref-stop', sparse);

  const first = startChildWorker(h!, 'stopping', ['training'], { THRESHER_METRICS_ADDRESS: 'off', THRESHER_TEMPORAL_METRICS_ADDRESS: 'off' });
  const started = await startTraining(h!.services, await writeConfig(path.join(h!.dir, 'configs'), 'stopped', config(runId, 'stopped', sparse)), quietLog, h!.client);
  h!.track(started.handle);
  const trainingId = 'stopped-d1024-lambda0.01';
  await waitFor('the first metrics of the training to stop', 120_000, async () => {
    if (first.process.exitCode !== null) throw new StopWaiting(`the worker exited early:\n${first.tail()}`);
    return (await lastModifiedUnder(h!.store, layout.bucket, layout.metricsPrefix(trainingId))).size > 0;
  }, 50);
  assert.equal(await h!.store.head(layout.bucket, layout.checkpointPointerKey(trainingId)), undefined, 'no checkpoint before the stop');
  await stopChild(first.process, 'SIGTERM');
  assert.equal(first.process.exitCode, 0, `the worker shut down cleanly:\n${first.tail()}`);
  const pointer = await h!.store.getJsonIfExists<CheckpointPointer>(layout.bucket, layout.checkpointPointerKey(trainingId));
  assert.ok(pointer, `the stopping worker wrote a checkpoint:\n${first.tail()}`);
  const atStop = pointer.step;
  assert.ok(atStop > 0 && atStop < STEPS, `checkpoint at step ${atStop}, before the only periodic one (step ${STEPS})`);
  const written = (await metricLines(h!.store, layout, trainingId)).flatMap((c) => c.records).map((r) => r.step);
  assert.deepEqual(written, Array.from({ length: atStop }, (_, i) => i + 1), 'the metrics of every step up to the checkpoint, and none after');
  t.diagnostic(`the stopped worker checkpointed step ${atStop}`);

  const second = startChildWorker(h!, 'after-stop', ['training'], { THRESHER_METRICS_ADDRESS: 'off', THRESHER_TEMPORAL_METRICS_ADDRESS: 'off' });
  const result = await withTimeout('the training after the stop', 150_000, started.handle.result()).catch((err: Error) => {
    throw new Error(`${err.message}\nsecond worker said:\n${second.tail()}`);
  });
  await stopChild(second.process, 'SIGTERM');
  const dict = result.dictionaries[0];
  assert.equal(dict.resumedFromStep, atStop, 'the retry resumed from the checkpoint the stopped worker wrote');
  const a = parseSafetensors(await h!.store.getBytes(layout.bucket, refDict.keys.weights));
  const b = parseSafetensors(await h!.store.getBytes(layout.bucket, dict.keys.weights));
  for (const name of ['W_enc', 'W_dec', 'b_enc', 'b_dec']) assert.equal(maxAbsDiff(a.tensor(name), b.tensor(name)), 0, `${name} equals the uninterrupted training's`);
  assert.deepEqual(dict.final, refDict.final);
  const strip = ({ time: _t, tokensPerSecond: _s, ...rest }: Record<string, unknown>) => rest;
  const got = (await metricLines(h!.store, layout, trainingId)).flatMap((c) => c.records);
  const want = (await metricLines(h!.store, layout, refDict.trainingId)).flatMap((c) => c.records);
  assert.deepEqual(got.map((r) => strip({ ...r })), want.map((r) => strip({ ...r })), 'every step recorded once, as the uninterrupted training recorded it');
});

test('a stop that lands while a metrics chunk is being written still checkpoints the step it reached', { timeout: 120_000 }, async () => {
  const runId = 'synthetic-stop-mid-write';
  const layout = new RunLayout(output, runId);
  await writeSyntheticRun(h!.store, output, runId, { width: 64, shards: 2, partsPerShard: 1, rowsPerPart: 1500, nDirections: 48 });
  const parsed = parseTrainingConfig(config(runId, 'mid-write', { checkpointEverySteps: STEPS }));
  const resolved = resolveTrainingConfig(parsed, { runId, outputUri: output }, 'mid-write');
  const [job] = sweepJobs(resolved);
  const stop = new AbortController();
  const chunkPrefix = layout.metricsPrefix(job.trainingId);
  // The stop arrives while the first metrics chunk's put is under way; the put then goes on with
  // the signal the training gave it (the CI failure this reproduces: that put was cut off, counted
  // as a write failure, and the stopped training wrote no checkpoint).
  class StopDuringChunkPut extends ObjectStore {
    override async put(bucket: string, key: string, body: Uint8Array, opts: { contentType?: string; signal?: AbortSignal } = {}): Promise<string> {
      if (key.startsWith(chunkPrefix) && !stop.signal.aborted) stop.abort(new Error('stopped for the test'));
      return super.put(bucket, key, body, opts);
    }
  }
  const store = new StopDuringChunkPut(h!.store.client);
  const stopped = await trainDictionary({ store, layout, config: dictionaryConfig(resolved, job), signal: stop.signal }).then(
    () => assert.fail('the training finished although it was stopped'),
    (err: Error) => err,
  );
  assert.equal(stopped.message, 'stopped for the test');
  const pointer = await h!.store.getJsonIfExists<CheckpointPointer>(layout.bucket, layout.checkpointPointerKey(job.trainingId));
  assert.ok(pointer, 'the stopped training wrote a checkpoint');
  assert.ok(pointer.step >= 100 && pointer.step < STEPS, `checkpoint at step ${pointer.step}: after the first chunk, before the end`);
  const written = (await metricLines(h!.store, layout, job.trainingId)).flatMap((c) => c.records).map((r) => r.step);
  assert.deepEqual(written, Array.from({ length: pointer.step }, (_, i) => i + 1), 'the metrics of every step up to the checkpoint, the interrupted chunk included');
});
