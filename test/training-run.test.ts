// Dictionary training on the real stack (Temporal dev server + SeaweedFS): a sweep of sizes × λ
// on a finished run, its outputs read back without the code under test (safetensors header,
// SAELens names, the ONNX encoder against a hand-written encode), the per-step metrics log and
// the Prometheus gauges; config mistakes refused before anything starts; and the `train` stage
// of a harvest run, chained as a child workflow.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { WorkflowNotFoundError } from '@temporalio/client';
import ort from 'onnxruntime-node';
import { startRun } from '../cli/run-commands.js';
import { startTraining, trainStatus } from '../cli/train-commands.js';
import { ConfigError } from '../core/config/run-config.js';
import { readActivationPart } from '../core/parquet/activation-part.js';
import { RunLayout } from '../core/storage/run-layout.js';
import { parquetMetadata } from 'hyparquet';
import { readExampleWindows } from '../core/stats/example-windows.js';
import { readFeatureStats } from '../core/stats/feature-stats-parquet.js';
import { listHookParts } from '../core/training/activation-stream.js';
import type { TrainingConfigInput } from '../core/training/training-config-schema.js';
import { createWorkerMetrics } from '../workers/worker-metrics.js';
import { ORCHESTRATION_QUEUE } from '../workflows/harvest-types.js';
import { statsWorkflowId, type FeatureStatsInput, type StatsProgress, type StatsResult } from '../workflows/stats-types.js';
import { trainWorkflowId, type DictionaryResult, type TrainSweepProgress } from '../workflows/training-types.js';
import { allKeys, demoConfig, MLP_HOOK, openHarness, quietLog, uploadDemoCorpus, withTimeout, writeConfig, type Harness } from './test-support.js';
import { metricLines, parseSafetensors, SYNTHETIC_HOOK, writeSyntheticRun } from './training-support.js';

let h: Harness | undefined;
let output: string;
const metrics = createWorkerMetrics({ processMetrics: false });

before(async () => {
  h = await openHarness('training-run');
  await h.startWorkers(['orchestration', 'harvest', 'training'], { metrics });
  output = `s3://${h.bucket}/runs`;
}, { timeout: 120_000 });

after(async () => {
  await h?.close();
});

const WIDTH = 32;
const STEPS = 240;
const BATCH = 64;
const RECORD_FIELDS = ['step', 'tokens', 'loss', 'mse', 'fvu', 'l0', 'l1', 'auxK', 'deadFraction', 'denseFraction', 'resampled', 'tokensPerSecond', 'time'];

function sweepConfig(runId: string, over: Partial<TrainingConfigInput> = {}): TrainingConfigInput {
  return {
    harvest: { runId, output },
    sweepId: 'sweep',
    hook: SYNTHETIC_HOOK,
    sizes: [128, 64],
    l1Coefficients: [1e-3, 3e-2],
    lr: 3e-3,
    batchSize: BATCH,
    steps: STEPS,
    checkpointEverySteps: 100,
    metricsChunkSteps: 50,
    bufferRows: 1024,
    normalise: true,
    // A short window, so some features are dead by step 120 and resampling has work to do.
    resample: { steps: [100, 200], deadWindowSteps: 8, sampleRows: 500 },
    ...over,
  };
}

/** f = ReLU((x − b_dec)·W_enc + b_enc) and Σ(x̂ − x)², in float64, from the parsed file. */
function encodeByHand(x: Float32Array, rows: number, w: { W_enc: Float32Array; W_dec: Float32Array; b_enc: Float32Array; b_dec: Float32Array }, dIn: number, dSae: number) {
  const acts = new Float64Array(rows * dSae);
  const sqErr = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < dSae; i++) {
      let s = w.b_enc[i];
      for (let j = 0; j < dIn; j++) s += (x[r * dIn + j] - w.b_dec[j]) * w.W_enc[j * dSae + i];
      acts[r * dSae + i] = Math.max(0, s);
    }
    for (let j = 0; j < dIn; j++) {
      let xh = w.b_dec[j];
      for (let i = 0; i < dSae; i++) xh += acts[r * dSae + i] * w.W_dec[i * dIn + j];
      sqErr[r] += (xh - x[r * dIn + j]) ** 2;
    }
  }
  return { acts, sqErr };
}

test('a sweep of sizes × λ trains every dictionary, with SAELens files, an ONNX encoder and per-step metrics', { timeout: 180_000 }, async (t) => {
  const runId = 'synthetic-sweep';
  // Few true directions for many features: some features die, so resampling has work to do.
  const run = await writeSyntheticRun(h!.store, output, runId, { width: WIDTH, shards: 3, partsPerShard: 2, rowsPerPart: 800, nDirections: 12 });
  const file = await writeConfig(path.join(h!.dir, 'configs'), 'sweep', sweepConfig(runId));
  const t0 = Date.now();
  const started = await startTraining(h!.services, file, quietLog, h!.client);
  h!.track(started.handle);
  assert.equal(started.id, `${runId}/sweep`);
  assert.equal(started.handle.workflowId, trainWorkflowId(runId, 'sweep'));
  const result = await withTimeout('the sweep', 150_000, started.handle.result());
  t.diagnostic(`sweep of 4 dictionaries × ${STEPS} steps took ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  assert.equal(result.status, 'completed');
  assert.deepEqual(result.failures, []);
  // Small sizes first, λ in config order.
  assert.deepEqual(result.dictionaries.map((d) => [d.dSae, d.l1Coefficient]), [[64, 1e-3], [64, 3e-2], [128, 1e-3], [128, 3e-2]]);
  assert.deepEqual(result.dictionaries.map((d) => d.trainingId), ['sweep-d64-lambda0.001', 'sweep-d64-lambda0.03', 'sweep-d128-lambda0.001', 'sweep-d128-lambda0.03']);
  // The larger λ buys sparsity with reconstruction, as it should.
  for (const size of [64, 128]) {
    const [lo, hi] = result.dictionaries.filter((d) => d.dSae === size);
    assert.ok(hi.final.l0 < lo.final.l0, `d_sae ${size}: L0 ${hi.final.l0} (λ ${hi.l1Coefficient}) < ${lo.final.l0} (λ ${lo.l1Coefficient})`);
    // A strong λ kills features within the short dead window: resampling must have had work.
    assert.ok(hi.resampledFeatures > 0, `d_sae ${size}, λ ${hi.l1Coefficient}: some features were resampled`);
  }

  for (const d of result.dictionaries) {
    await checkDictionary(run.layout, d, t);
  }

  // Status and progress agree with the result.
  const status = await trainStatus(h!.client, started.id);
  assert.equal(status.state, 'COMPLETED');
  assert.equal(status.result?.dictionaries.length, 4);
  const progress = await started.handle.query<TrainSweepProgress>('progress');
  assert.equal(progress.phase, 'done');
  assert.deepEqual(progress.dictionaries.map((d) => d.state), ['done', 'done', 'done', 'done']);

  // Prometheus: the worker's registry has each dictionary's last step and its resample events.
  const text = await metrics.registry.metrics();
  for (const d of result.dictionaries) {
    const labels = `run="${runId}",sae="${d.trainingId}"`;
    assert.match(text, new RegExp(`thresher_sae_step\\{${labels}\\} ${STEPS}\\n`));
    assert.match(text, new RegExp(`thresher_sae_steps_planned\\{${labels}\\} ${STEPS}\\n`));
    assert.match(text, new RegExp(`thresher_sae_checkpoint_step\\{${labels}\\} ${STEPS}\\n`));
    for (const name of ['thresher_sae_fvu', 'thresher_sae_l0', 'thresher_sae_l1', 'thresher_sae_mse', 'thresher_sae_dead_fraction', 'thresher_sae_dense_fraction', 'thresher_sae_tokens_per_second']) {
      assert.match(text, new RegExp(`${name}\\{${labels}\\} [0-9.e+-]+\\n`), name);
    }
    if (d.resampledFeatures > 0) assert.match(text, new RegExp(`thresher_sae_resampled_features_total\\{${labels}\\} ${d.resampledFeatures}\\n`));
  }

  // A second start of the same sweep id is refused; the finished one is untouched.
  await assert.rejects(startTraining(h!.services, file, quietLog, h!.client), (err: Error) => err instanceof ConfigError && /sweep sweep already exists/.test(err.message));
});

async function checkDictionary(layout: RunLayout, d: DictionaryResult, t: { diagnostic(s: string): void }): Promise<void> {
  const { store, bucket } = h!;
  t.diagnostic(`${d.trainingId}: L0 ${d.final.l0.toFixed(2)}, FVU ${d.final.fvu?.toFixed(4)}, dead ${d.final.deadFraction}, resampled ${d.resampledFeatures}, scale ${d.scale.toFixed(4)}`);
  assert.equal(d.steps, STEPS);
  assert.equal(d.tokens, STEPS * BATCH);
  assert.equal(d.dIn, WIDTH);
  assert.equal(d.resampleEvents, 2);
  assert.equal(d.resumedFromStep, 0);
  assert.ok(d.scale > 0 && d.scale !== 1, `normalisation measured a scale (${d.scale})`);
  const prefix = layout.dictionaryPrefix(d.trainingId);
  assert.deepEqual(d.keys, {
    weights: `${prefix}sae_weights.safetensors`,
    config: `${prefix}cfg.json`,
    encoder: `${prefix}encoder.onnx`,
    result: `${prefix}result.json`,
    metricsPrefix: `${prefix}metrics/`,
  });
  assert.deepEqual(await store.getJson(bucket, d.keys.result), d);
  const pointer = await store.getJson<{ step: number; key: string }>(bucket, layout.checkpointPointerKey(d.trainingId));
  assert.equal(pointer.step, STEPS);
  assert.ok(await store.head(bucket, pointer.key), 'the pointer names an existing checkpoint');

  // safetensors: exactly SAELens' four tensors, F32, SAELens orientation.
  const st = parseSafetensors(await store.getBytes(bucket, d.keys.weights));
  assert.deepEqual(Object.keys(st.header).sort(), ['W_dec', 'W_enc', 'b_dec', 'b_enc']);
  assert.deepEqual(
    Object.fromEntries(Object.entries(st.header).map(([n, v]) => [n, [v.dtype, v.shape]])),
    { W_enc: ['F32', [WIDTH, d.dSae]], W_dec: ['F32', [d.dSae, WIDTH]], b_enc: ['F32', [d.dSae]], b_dec: ['F32', [WIDTH]] },
  );
  const w = { W_enc: st.tensor('W_enc'), W_dec: st.tensor('W_dec'), b_enc: st.tensor('b_enc'), b_dec: st.tensor('b_dec') };
  // The scale is folded in: decoder rows have norm 1/scale (they were unit norm in training).
  for (const i of [0, d.dSae - 1]) {
    const norm = Math.hypot(...w.W_dec.subarray(i * WIDTH, (i + 1) * WIDTH));
    assert.ok(Math.abs(norm * d.scale - 1) < 1e-3, `decoder row ${i} norm ${norm} × scale ${d.scale} ≈ 1`);
  }

  const cfg = await store.getJson<Record<string, unknown> & { thresher: Record<string, unknown> }>(bucket, d.keys.config);
  assert.equal(cfg.architecture, 'standard');
  assert.equal(cfg.d_in, WIDTH);
  assert.equal(cfg.d_sae, d.dSae);
  assert.equal(cfg.hook_name, SYNTHETIC_HOOK);
  assert.equal(cfg.normalize_activations, 'none', 'the scale is folded, so SAELens must not rescale');
  assert.equal(cfg.apply_b_dec_to_input, true);
  assert.equal(cfg.thresher.run_id, layout.runId);
  assert.equal(cfg.thresher.training_id, d.trainingId);
  assert.deepEqual(cfg.thresher.normalisation, { enabled: true, scale: d.scale, folded: true, note: (cfg.thresher.normalisation as { note: string }).note });
  assert.equal(cfg.thresher.trained_tokens, d.tokens);

  // The ONNX encoder runs in onnxruntime-node on raw activations and matches the file's weights.
  const part = await readActivationPart(await store.getBytes(bucket, layout.partKey(SYNTHETIC_HOOK, 0, 0)));
  const rows = 200;
  const x = part.cols.values.slice(0, rows * WIDTH);
  const session = await ort.InferenceSession.create(await store.getBytes(bucket, d.keys.encoder));
  try {
    const out = await session.run({ x: new ort.Tensor('float32', x, [rows, WIDTH]) });
    assert.deepEqual(out.feature_acts.dims, [rows, d.dSae]);
    const hand = encodeByHand(x, rows, w, WIDTH, d.dSae);
    let maxAct = 0;
    let diff = 0;
    const acts = out.feature_acts.data as Float32Array;
    for (let i = 0; i < acts.length; i++) {
      maxAct = Math.max(maxAct, hand.acts[i]);
      diff = Math.max(diff, Math.abs(acts[i] - hand.acts[i]));
    }
    assert.ok(diff <= 1e-4 * Math.max(1, maxAct), `encoder vs hand encode: max |Δ| ${diff} (max activation ${maxAct})`);
    const sq = out.sq_error.data as Float32Array;
    for (let r = 0; r < rows; r++) assert.ok(Math.abs(sq[r] - hand.sqErr[r]) <= 1e-3 * Math.max(1, hand.sqErr[r]), `sq_error row ${r}`);
    // On raw inputs the stored dictionary reconstructs as well as training reported (folding is right).
    const mean = new Float64Array(WIDTH);
    for (let r = 0; r < rows; r++) for (let j = 0; j < WIDTH; j++) mean[j] += x[r * WIDTH + j] / rows;
    let dev = 0;
    for (let r = 0; r < rows; r++) for (let j = 0; j < WIDTH; j++) dev += (x[r * WIDTH + j] - mean[j]) ** 2;
    const fvu = hand.sqErr.reduce((a, b) => a + b, 0) / dev;
    assert.ok(Math.abs(fvu - d.final.fvu!) < 0.15, `FVU on raw inputs ${fvu.toFixed(4)} ≈ reported ${d.final.fvu}`);
  } finally {
    await session.release();
  }

  // One metrics record per step, 1…STEPS, each with every field; resampling shows at its step only.
  const chunks = await metricLines(store, layout, d.trainingId);
  const records = chunks.flatMap((c) => c.records);
  assert.deepEqual(records.map((r) => r.step), Array.from({ length: STEPS }, (_, i) => i + 1));
  for (const c of chunks) assert.equal(c.key, layout.metricsChunkKey(d.trainingId, c.records[0].step), 'chunks are named by their first step');
  for (const r of records) assert.deepEqual(Object.keys(r).sort(), [...RECORD_FIELDS].sort(), `step ${r.step} fields`);
  assert.ok(records.every((r) => r.resampled === 0 || r.step === 100 || r.step === 200), 'resampling only at its scheduled steps');
  assert.equal(records[99].resampled + records[199].resampled, d.resampledFeatures);
  // Recorded before resampling: a step's dead fraction counts exactly the features resampled after it.
  for (const s of [100, 200]) assert.equal(records[s - 1].resampled, Math.round(records[s - 1].deadFraction * d.dSae), `step ${s}`);
  assert.ok(records.every((r) => r.tokens === r.step * BATCH && r.tokensPerSecond > 0));
  const early = records.slice(0, 10).reduce((a, r) => a + r.fvu, 0) / 10;
  assert.ok(d.final.fvu! < early / 2, `FVU fell from ${early.toFixed(3)} to ${d.final.fvu}`);

  // Loadable from Python: the standard library reads the header (names, dtypes, shapes, sizes).
  if (spawnSync('python3', ['--version']).status === 0) {
    const local = path.join(h!.dir, `${d.trainingId}.safetensors`);
    await writeFile(local, await store.getBytes(bucket, d.keys.weights));
    const py = spawnSync('python3', ['-c', PYTHON_SAFETENSORS_CHECK, local], { encoding: 'utf8' });
    assert.equal(py.status, 0, py.stderr);
    assert.deepEqual(JSON.parse(py.stdout), { W_enc: [WIDTH, d.dSae], W_dec: [d.dSae, WIDTH], b_enc: [d.dSae], b_dec: [WIDTH] });
  }
}

/** What safetensors.safe_open does first, with nothing but the standard library. */
const PYTHON_SAFETENSORS_CHECK = `
import json, struct, sys
data = open(sys.argv[1], 'rb').read()
(n,) = struct.unpack('<Q', data[:8])
header = json.loads(data[8:8 + n])
header.pop('__metadata__', None)
out = {}
for name, t in header.items():
    assert t['dtype'] == 'F32', t
    b, e = t['data_offsets']
    count = 1
    for d in t['shape']: count *= d
    assert e - b == 4 * count and 8 + n + e <= len(data)
    vals = struct.unpack('<%df' % count, data[8 + n + b:8 + n + e])
    assert all(v == v for v in vals), 'NaN in ' + name
    out[name] = t['shape']
print(json.dumps(out))
`;

test('training config mistakes are refused before any work, naming the field, and nothing is written', { timeout: 60_000 }, async () => {
  const runId = 'synthetic-config';
  await writeSyntheticRun(h!.store, output, runId, { width: 16, shards: 1, partsPerShard: 1, rowsPerPart: 100 });
  const unfinished = 'synthetic-unfinished';
  const layout = new RunLayout(output, unfinished);
  await writeSyntheticRun(h!.store, output, unfinished, { width: 16, shards: 1, partsPerShard: 1, rowsPerPart: 100 });
  await h!.store.delete(layout.bucket, layout.summaryKey);
  const base = (over: Partial<TrainingConfigInput> = {}) => sweepConfig(runId, { sweepId: 'bad', sizes: [32], l1Coefficients: [1e-3], resample: undefined, ...over });
  const cases: { name: string; config: Record<string, unknown>; message: RegExp }[] = [
    { name: 'unknown hook', config: base({ hook: 'blocks.0.hook_resid_post' }), message: /^hook: run synthetic-config did not harvest hook blocks\.0\.hook_resid_post \(it has blocks\.0\.mlp\.hook_post\)/ },
    { name: 'unfinished run', config: { ...base(), harvest: { runId: unfinished, output } }, message: /run synthetic-unfinished has not finished .*no summary\.json/ },
    { name: 'unknown run', config: { ...base(), harvest: { runId: 'no-such-run', output } }, message: /run no-such-run has not finished/ },
    { name: 'missing bucket', config: { ...base(), harvest: { runId, output: 's3://no-such-bucket/runs' } }, message: /^harvest\.output s3:\/\/no-such-bucket\/runs: bucket s3:\/\/no-such-bucket does not exist/ },
    { name: 'steps and totalTokens', config: base({ totalTokens: 1000 }), message: /- steps: give exactly one of steps and totalTokens/ },
    { name: 'neither steps nor totalTokens', config: { ...base(), steps: undefined }, message: /- steps: give exactly one of steps and totalTokens/ },
    { name: 'topk without k', config: base({ arch: 'topk', l1Coefficients: undefined }), message: /- k: is required for arch 'topk'/ },
    { name: 'topk k above a size', config: base({ arch: 'topk', l1Coefficients: undefined, k: 64 }), message: /- k: \(64\) exceeds sizes 32/ },
    { name: 'l1 without λ', config: base({ l1Coefficients: undefined }), message: /- l1Coefficients: is required for arch 'l1'/ },
    { name: 'repeated size', config: base({ sizes: [32, 32] }), message: /- sizes: sizes must not repeat/ },
    { name: 'buffer below batch', config: base({ bufferRows: 10 }), message: /- bufferRows: \(10\) must be at least batchSize \(64\)/ },
    { name: 'unknown field', config: { ...base(), learningRate: 1 }, message: /Unrecognized key.*learningRate/ },
    { name: 'resample steps not increasing', config: base({ resample: { steps: [20, 10] } }), message: /- resample\.steps: must be strictly increasing/ },
  ];
  const keysBefore = await allKeys(h!.store, h!.bucket);
  for (const [i, c] of cases.entries()) {
    const file = await writeConfig(path.join(h!.dir, 'bad-training'), `bad-${i}`, c.config);
    await assert.rejects(
      startTraining(h!.services, file, quietLog, h!.client),
      (err: Error) => {
        assert.ok(err instanceof ConfigError, `${c.name}: ${err.name}: ${err.message}`);
        assert.match(err.message, c.message, c.name);
        return true;
      },
      c.name,
    );
  }
  assert.deepEqual(await allKeys(h!.store, h!.bucket), keysBefore, 'nothing was written to S3');
  await assert.rejects(h!.client.workflow.getHandle(trainWorkflowId(runId, 'bad')).describe(), WorkflowNotFoundError, 'no workflow was started');
});

test('a harvest run with stages ["train", "stats"] trains its dictionary, then computes its statistics and example windows, as child workflows', { timeout: 240_000 }, async () => {
  const corpus = await uploadDemoCorpus(h!, 'corpora/stage', { shards: 2, docsPerShard: 6, seed: 3 });
  const runId = 'staged-run';
  const train = { hook: MLP_HOOK, sizes: [256], l1Coefficients: [3e-3], lr: 1e-3, batchSize: 128, steps: 40, checkpointEverySteps: 20, metricsChunkSteps: 20, bufferRows: 512, normalise: true };
  const dir = path.join(h!.dir, 'configs');

  // The stage section is checked with the run config.
  const refused = [
    { config: demoConfig('stage-no-section', corpus.uri, output, { stages: ['train'] }), message: /- train: is required when stages includes "train"/ },
    { config: demoConfig('stage-no-stage', corpus.uri, output, { train }), message: /- stages: must include "train" when a train section is given/ },
    { config: demoConfig('stage-bad-hook', corpus.uri, output, { stages: ['train'], hooks: [MLP_HOOK], train: { ...train, hook: 'blocks.0.hook_resid_post' } }), message: /- train\.hook: "blocks\.0\.hook_resid_post" is not one of hooks/ },
    { config: demoConfig('stage-stats', corpus.uri, output, { stages: ['stats'] }), message: /- stages: "stats" needs "train"/ },
  ];
  for (const r of refused) {
    await assert.rejects(startRun(h!.services, await writeConfig(dir, r.config.runId!, r.config), quietLog, h!.client), (err: Error) => err instanceof ConfigError && r.message.test(err.message), String(r.message));
  }

  // The run config's stats section reaches the stage's FeatureStats: one part per group.
  const config = demoConfig(runId, corpus.uri, output, { positionsPerContext: 32, stages: ['train', 'stats'], train, stats: { partsPerGroup: 1 } });
  const started = await startRun(h!.services, await writeConfig(dir, runId, config), quietLog, h!.client);
  h!.track(started.handle);
  const result = await withTimeout('the harvest and its train and stats stages', 200_000, started.handle.result());
  assert.equal(result.status, 'completed');
  const trainingId = 'train-d256-lambda0.003';
  assert.deepEqual(result.stages, {
    train: { workflowId: trainWorkflowId(runId, 'train'), status: 'completed' },
    stats: { workflowId: statsWorkflowId(runId, trainingId), status: 'completed', trainingIds: [trainingId] },
  });

  const layout = new RunLayout(output, runId);
  await assertExampleWindows(layout, trainingId);
  const { parts } = await listHookParts(h!.store, layout, MLP_HOOK);
  const staged = await h!.client.workflow.getHandle(statsWorkflowId(runId, trainingId)).query<StatsProgress>('progress');
  assert.ok(parts.length > 1, `${parts.length} parts`);
  assert.deepEqual([staged.groups, staged.groupsDone], [parts.length, parts.length], 'partsPerGroup 1 from the run config');

  // Again with one shard per window task and a continue-as-new before every activity: the windows
  // are cut by two tasks in parallel, across executions, and gather into the same examples.parquet.
  const keys = layout.statsKeys(trainingId);
  const single = await readExampleWindows(await h!.store.getBytes(layout.bucket, keys.examples));
  const again = await h!.client.workflow.start('featureStats', {
    taskQueue: ORCHESTRATION_QUEUE, workflowId: `${statsWorkflowId(runId, trainingId)}-split`,
    args: [{ runId, outputUri: output, trainingId, shardsPerWindowTask: 1, activitiesPerExecution: 1, featuresPerRowGroup: 16, featureBrowser: false } satisfies FeatureStatsInput],
  });
  h!.track(again);
  await withTimeout('the statistics with split window tasks', 120_000, again.result());
  const progress = await h!.client.workflow.getHandle(`${statsWorkflowId(runId, trainingId)}-split`).query<StatsProgress>('progress');
  assert.deepEqual([progress.windowTasks, progress.windowTasksDone], [2, 2]);
  const splitBytes = await h!.store.getBytes(layout.bucket, keys.examples);
  assert.deepEqual(await readExampleWindows(splitBytes), single);
  // Gathered in ranges of 16 features: one row group per range that has windows, in feature order.
  const groups = parquetMetadata(splitBytes.buffer.slice(splitBytes.byteOffset, splitBytes.byteOffset + splitBytes.byteLength) as ArrayBuffer).row_groups;
  const ranges = [...new Set(single.rows.map((w) => Math.floor(w.feature / 16)))];
  assert.equal(groups.length, ranges.length);
  assert.ok(groups.length > 1, `${groups.length} row groups`);
  for (const task of [0, 1]) assert.ok(await h!.store.head(layout.bucket, layout.statsWindowPartKey(trainingId, task)), `window part ${task}`);
  const stats = await h!.client.workflow.getHandle(statsWorkflowId(runId, trainingId)).result() as StatsResult;
  assert.equal(stats.reportUri, `s3://${layout.bucket}/${layout.reportPrefix(trainingId)}index.html`);
  const index = new TextDecoder().decode(await h!.store.getBytes(layout.bucket, `${layout.reportPrefix(trainingId)}index.html`));
  assert.match(index, /<html/i, 'the stage wrote the feature browser');
  const dict = await h!.store.getJson<DictionaryResult>(layout.bucket, layout.dictionaryResultKey(trainingId));
  assert.equal(dict.dIn, 512);
  assert.equal(dict.steps, 40);
  assert.ok(Number.isFinite(dict.final.l0) && dict.final.fvu !== null);
  const sweep = await h!.store.getJson<{ sweepId: string; hook: string }>(layout.bucket, layout.sweepConfigKey('train'));
  assert.equal(sweep.sweepId, 'train');
  assert.equal(sweep.hook, MLP_HOOK);
  const status = await trainStatus(h!.client, `${runId}/train`);
  assert.equal(status.state, 'COMPLETED');
  assert.equal(status.result?.dictionaries[0].trainingId, trainingId);
});

/**
 * The stats stage's example windows, against what the harvest stored: one window per top and
 * interval example of features.parquet, each centred on the example's token and inside its
 * context, and the activation recomputed through the model and encoder on the centre token equal
 * to the one the statistics read from the activation parts.
 */
async function assertExampleWindows(layout: RunLayout, trainingId: string): Promise<void> {
  const keys = layout.statsKeys(trainingId);
  const stats = await h!.store.getJson<StatsResult>(layout.bucket, keys.result);
  assert.ok(stats.liveFeatures > 0, 'some features fire');
  const features = await readFeatureStats(await h!.store.getBytes(layout.bucket, keys.features));
  const windows = await readExampleWindows(await h!.store.getBytes(layout.bucket, keys.examples));
  assert.equal(windows.radius, 4);
  const expected = features.rows.reduce((a, r) => a + r.top.length + r.intervals.reduce((b, i) => b + i.examples.length, 0), 0);
  assert.ok(expected > 0);
  assert.equal(windows.rows.length, expected, 'one window per example');
  const tops = new Map(features.rows.map((r) => [r.feature, r.top]));
  let worst = 0;
  for (const w of windows.rows) {
    assert.ok(w.tokens.length >= 1 && w.tokens.length <= 9 && w.acts.length === w.tokens.length && w.texts.length === w.tokens.length);
    assert.ok(w.center >= 0 && w.center < w.tokens.length);
    assert.ok(w.center <= 4 && w.tokens.length - 1 - w.center <= 4, 'at most 4 tokens each side');
    assert.ok(w.label !== null && /^[a-z0-9]+$/.test(w.label), `label ${w.label}`);
    if (w.kind === 'top') {
      const ref = tops.get(w.feature)![w.group];
      assert.deepEqual([w.shard, w.context, w.position, w.tokens[w.center]], [ref.shard, ref.context, ref.position, ref.token]);
    }
    worst = Math.max(worst, Math.abs(w.acts[w.center] - w.act) / Math.max(1e-3, Math.abs(w.act)));
  }
  assert.ok(worst < 1e-3, `recomputed centre activations match the parts' (worst relative difference ${worst})`);
}
