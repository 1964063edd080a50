// The metric families, their recorders and the worker's /metrics endpoint, without services.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { createHarvestMetrics, HARVEST_METRIC_NAMES } from '../core/metrics/harvest-metrics.js';
import { createRunMetrics, RUN_METRIC_NAMES, type RunProgressSample } from '../core/metrics/run-metrics.js';
import { S3_METRIC_NAMES } from '../core/metrics/s3-metrics.js';
import { STATS_METRIC_NAMES, statsRecorder } from '../core/metrics/stats-metrics.js';
import { createTrainingMetrics, TRAINING_METRIC_NAMES } from '../core/metrics/training-metrics.js';
import { TRAINING_STAGE_METRIC_NAMES, trainingRecorder } from '../core/metrics/training-stage-metrics.js';
import type { StepRecord } from '../core/training/metrics-log.js';
import { encodeActivationPart } from '../core/parquet/activation-part.js';
import { summariseParts } from '../core/stats/summarise-parts.js';
import { parseListenAddress, startMetricsServer } from '../workers/metrics-server.js';
import { createWorkerMetrics, WORKER_METRIC_NAMES } from '../workers/worker-metrics.js';
import { allMetricFamilies } from './monitoring-support.js';

/** Sample value of `name` with exactly these labels in the registry, or undefined. */
async function valueOf(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  const want = JSON.stringify(Object.entries(labels).sort());
  return metric?.values.find((v) => JSON.stringify(Object.entries(v.labels).sort()) === want && !('metricName' in v && v.metricName !== name))?.value;
}

test('metric names, types and labels follow Prometheus conventions; no shard label anywhere', async () => {
  const families = await allMetricFamilies();
  assert.ok(families.length >= 30, `${families.length} families`);
  for (const f of families) {
    assert.match(f.name, /^thresher_[a-z0-9_]+$/, f.name);
    assert.ok(f.help.length > 20, `${f.name} has a help text`);
    if (f.type === 'counter') assert.match(f.name, /_total$/, `counter ${f.name} ends in _total`);
    else assert.doesNotMatch(f.name, /_total$/, `${f.type} ${f.name} does not end in _total`);
    if (f.type === 'histogram') assert.match(f.name, /_seconds$/, `histogram ${f.name} names its unit`);
    for (const l of f.labelNames) {
      assert.ok(['run', 'queue', 'state', 'operation', 'code', 'roles', 'sae'].includes(l), `${f.name}: label ${l} is one of the bounded ones`);
    }
  }
});

test('each module lists exactly the metric names it registers', async () => {
  const registered = (await allMetricFamilies()).map((f) => f.name).sort();
  const listed = [...HARVEST_METRIC_NAMES, ...S3_METRIC_NAMES, ...RUN_METRIC_NAMES, ...TRAINING_METRIC_NAMES, ...TRAINING_STAGE_METRIC_NAMES, ...STATS_METRIC_NAMES, ...WORKER_METRIC_NAMES].sort();
  assert.deepEqual(registered, listed);
});

test('harvest recorder: outcomes, retries, running gauge, tokens counted once at completion', async () => {
  const registry = new Registry();
  const m = createHarvestMetrics(registry, 'q');
  const run = { run: 'r1', queue: 'q' };

  const a = m.startShard('r1', 1);
  assert.equal(await valueOf(registry, 'thresher_harvest_shards_running', run), 1);
  assert.equal(await valueOf(registry, 'thresher_harvest_shards_failed_total', run), 0, 'series exist from the first attempt');
  a.inference({ tokens: 640, latencySeconds: 0.02, computeSeconds: 0.01 });
  a.partWritten({ seconds: 0.05, bytes: 1000 });
  a.finish('retrying');
  a.finish('failed'); // a second finish is ignored

  const b = m.startShard('r1', 2);
  b.inference({ tokens: 640, latencySeconds: 0.02 });
  b.partWritten({ seconds: 0.05, bytes: 1000 });
  b.finish('completed', { tokens: 700, rows: 650 });
  m.startShard('r1', 1).finish('failed');
  m.startShard('r1', 1).finish('cancelled');

  assert.equal(await valueOf(registry, 'thresher_harvest_shards_running', run), 0);
  assert.equal(await valueOf(registry, 'thresher_harvest_shards_completed_total', run), 1);
  assert.equal(await valueOf(registry, 'thresher_harvest_shards_failed_total', run), 1);
  assert.equal(await valueOf(registry, 'thresher_harvest_shards_retried_total', run), 1);
  assert.equal(await valueOf(registry, 'thresher_harvest_tokens_total', run), 700, 'committed tokens: the manifest, once');
  assert.equal(await valueOf(registry, 'thresher_harvest_rows_total', run), 650);
  assert.equal(await valueOf(registry, 'thresher_harvest_inference_tokens_total', run), 1280, 'model tokens: every batch, retries included');
  assert.equal(await valueOf(registry, 'thresher_harvest_written_bytes_total', run), 2000);
  assert.equal(await valueOf(registry, 'thresher_harvest_parts_written_total', run), 2);
  const text = await registry.metrics();
  assert.match(text, /thresher_harvest_inference_duration_seconds_count\{queue="q"\} 1\n/, 'compute time only when reported');
  assert.match(text, /thresher_harvest_batch_duration_seconds_count\{queue="q"\} 2\n/);
  assert.match(text, /thresher_harvest_part_write_duration_seconds_count\{queue="q"\} 2\n/);
});

test('run gauges: one source call per scrape, finished runs drop out, failures counted', async () => {
  const registry = new Registry();
  let calls = 0;
  let samples: RunProgressSample[] = [
    { runId: 'a', paused: false, shards: { total: 10, done: 4, failed: 1, running: 2, skipped: 1 }, tokens: 400, rows: 390, bytes: 4096, startedAt: 1_700_000_000_000 },
    { runId: 'b', paused: true, shards: { total: 3, done: 0, failed: 0, running: 0, skipped: 0 }, tokens: 0, rows: 0, bytes: 0, startedAt: 1_700_000_001_000 },
  ];
  let fail = false;
  createRunMetrics(registry, {
    cacheMs: 0,
    source: async () => {
      calls++;
      if (fail) throw new Error('temporal unreachable');
      return samples;
    },
  });
  let text = await registry.metrics();
  assert.equal(calls, 1, 'all run gauges share one call');
  assert.match(text, /thresher_run_shards\{run="a",state="planned"\} 10\n/);
  assert.match(text, /thresher_run_shards\{run="a",state="running"\} 2\n/);
  assert.match(text, /thresher_run_tokens\{run="a"\} 400\n/);
  assert.match(text, /thresher_run_paused\{run="b"\} 1\n/);
  assert.match(text, /thresher_run_start_time_seconds\{run="a"\} 1700000000\n/);

  samples = samples.slice(1);
  await new Promise((r) => setTimeout(r, 5));
  text = await registry.metrics();
  assert.doesNotMatch(text, /run="a"/, 'a run that is no longer running is gone');
  assert.match(text, /thresher_run_tokens\{run="b"\} 0\n/);

  fail = true;
  await new Promise((r) => setTimeout(r, 5));
  text = await registry.metrics();
  assert.doesNotMatch(text, /thresher_run_tokens\{/);
  assert.match(text, /thresher_run_progress_errors_total 1\n/);
});

test('training recorder sets the gauges the dead-feature alert and the dashboard use', async () => {
  const registry = new Registry();
  const t = createTrainingMetrics(registry);
  t.setPlannedSteps('r', 'a1', 1000);
  t.recordStep('r', 'a1', { step: 10, tokens: 40960, loss: 0.5, mse: 0.1, fvu: 0.3, l0: 15, deadFraction: 0.25, denseFraction: 0.01 });
  assert.equal(await valueOf(registry, 'thresher_sae_dead_fraction', { run: 'r', sae: 'a1' }), 0.25);
  assert.equal(await valueOf(registry, 'thresher_sae_steps_planned', { run: 'r', sae: 'a1' }), 1000);
  assert.equal(await valueOf(registry, 'thresher_sae_l0', { run: 'r', sae: 'a1' }), 15);
});

test('stats recorder: registered on every worker registry; rows, parts and encode times move as summariseParts runs', async () => {
  const metrics = createWorkerMetrics({ processMetrics: false });
  assert.equal(metrics.stats, statsRecorder(metrics.registry), 'one recorder per registry');
  const names = (await metrics.registry.getMetricsAsJSON()).map((m) => m.name);
  for (const name of STATS_METRIC_NAMES) assert.ok(names.includes(name), `${name} is registered`);

  // Two parts (30 and 20 rows, width 2) through stand-in lanes.
  const parts = new Map<string, Uint8Array>();
  for (const [p, n] of [[0, 30], [1, 20]]) {
    const ids = Int32Array.from({ length: n }, (_, r) => r);
    const values = Float32Array.from({ length: 2 * n }, (_, k) => (k % 3) / 2);
    parts.set(`p${p}`, encodeActivationPart({ runId: 'r', hook: 'h', modelSha256: '0'.repeat(64), dtype: 'fp32', width: 2, shard: p, part: 0 }, { doc: ids, context: ids, position: ids, token: ids, values }));
  }
  const l = { run: 'r', sae: 'd4' };
  const attempt = metrics.stats.summarise('r', 'd4');
  assert.equal(await valueOf(metrics.registry, 'thresher_stats_rows_total', l), 0, 'series exist from the start of an attempt');
  await summariseParts({
    partKeys: ['p0', 'p1'], fetchPart: async (k) => parts.get(k)!, dIn: 2, batchRows: 8,
    summariser: { lanes: 2, inputBuffer: (n) => new Float32Array(n), summarise: async () => ({ encodeSeconds: 0.02, addSeconds: 0.001 }) },
    dSae: 2, metrics: attempt,
  });
  assert.equal(await valueOf(metrics.registry, 'thresher_stats_rows_total', l), 50);
  assert.equal(await valueOf(metrics.registry, 'thresher_stats_parts_total', l), 2);
  const text = await metrics.registry.metrics();
  // 30 rows in batches of 8 → 4 batches, 20 → 3.
  assert.match(text, /thresher_stats_encode_duration_seconds_count\{queue="thresher-training"\} 7\n/);
  assert.match(text, /thresher_stats_encode_duration_seconds_bucket\{le="0.025",queue="thresher-training"\} 7\n/);
  assert.match(text, /thresher_stats_encode_duration_seconds_bucket\{le="0.01",queue="thresher-training"\} 0\n/);
  metrics.stats.merged('r', 3);
  assert.equal(await valueOf(metrics.registry, 'thresher_stats_summaries_merged_total', { run: 'r' }), 3);
  metrics.stats.windows('r', 'd4', 40);
  metrics.stats.windows('r', 'd4', 2);
  assert.equal(await valueOf(metrics.registry, 'thresher_stats_example_windows_total', l), 42);
});

test('listen addresses: host:port, [v6]:port, off; bad ones name the variable', () => {
  assert.deepEqual(parseListenAddress('127.0.0.1:9464', 'X'), { host: '127.0.0.1', port: 9464 });
  assert.deepEqual(parseListenAddress('0.0.0.0:0', 'X'), { host: '0.0.0.0', port: 0 });
  assert.deepEqual(parseListenAddress('[::1]:9464', 'X'), { host: '::1', port: 9464 });
  assert.deepEqual(parseListenAddress('localhost:1', 'X'), { host: 'localhost', port: 1 });
  assert.equal(parseListenAddress('off', 'X'), undefined);
  assert.equal(parseListenAddress(' OFF ', 'X'), undefined);
  for (const bad of ['9464', '127.0.0.1', '127.0.0.1:99999', ':9464', 'a b:1']) {
    assert.throws(() => parseListenAddress(bad, 'THRESHER_METRICS_ADDRESS'), /THRESHER_METRICS_ADDRESS=.* must be host:port/, bad);
  }
});

test('metrics server: /metrics in the Prometheus text format on a free port; a taken port is a clear error', async () => {
  const metrics = createWorkerMetrics();
  metrics.setWorkerInfo({ roles: ['harvest'], harvestSlots: 3 });
  metrics.harvest.startShard('demo', 1).finish('completed', { tokens: 5, rows: 4 });
  const server = await startMetricsServer(metrics.registry, { host: '127.0.0.1', port: 0 });
  try {
    assert.match(server.address, /^127\.0\.0\.1:\d+$/);
    assert.notEqual(server.address, '127.0.0.1:0');
    const res = await fetch(server.url);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const body = await res.text();
    assert.match(body, /# TYPE thresher_harvest_tokens_total counter/);
    assert.match(body, /thresher_harvest_tokens_total\{run="demo",queue="thresher-harvest"\} 5/);
    assert.match(body, /thresher_worker_info\{roles="harvest"\} 1/);
    assert.match(body, /thresher_worker_harvest_slots 3/);
    assert.match(body, /process_resident_memory_bytes /, 'process metrics are on by default');
    assert.equal((await fetch(server.url.replace('/metrics', '/nope'))).status, 404);
    assert.equal((await fetch(server.url, { method: 'POST' })).status, 405);

    const port = Number(server.address.split(':')[1]);
    await assert.rejects(startMetricsServer(new Registry(), { host: '127.0.0.1', port }), /cannot listen on 127\.0\.0\.1:\d+: the port is in use.*THRESHER_METRICS_ADDRESS/);
  } finally {
    await server.close();
  }
  // Closed means the port is free again.
  await new Promise<void>((resolve, reject) => {
    const probe = net.createServer().once('error', reject);
    probe.listen(Number(server.address.split(':')[1]), '127.0.0.1', () => probe.close(() => resolve()));
  });
});

test('training recorder: a scheduled step exports its lr and λ; an unscheduled one leaves them out', async () => {
  const registry = new Registry();
  const m = trainingRecorder(registry);
  const record = (step: number, extra: Partial<StepRecord> = {}): StepRecord => ({
    step, tokens: step * 8, loss: 1, mse: 0.5, fvu: 0.2, l0: 3, l1: 4, deadFraction: 0, denseFraction: 0, resampled: 0, tokensPerSecond: 100, time: '', ...extra,
  } as StepRecord);
  m.step('r', 'plain', record(1));
  m.step('r', 'warm', record(1, { lr: 1e-5, l1Coefficient: 1e-3 }));
  m.step('r', 'warm', record(2, { lr: 2e-5, l1Coefficient: 2e-3 }));
  assert.equal(await valueOf(registry, 'thresher_sae_lr', { run: 'r', sae: 'warm' }), 2e-5);
  assert.equal(await valueOf(registry, 'thresher_sae_l1_coefficient', { run: 'r', sae: 'warm' }), 2e-3);
  assert.equal(await valueOf(registry, 'thresher_sae_lr', { run: 'r', sae: 'plain' }), undefined);
  assert.equal(await valueOf(registry, 'thresher_sae_step', { run: 'r', sae: 'plain' }), 1);
});
