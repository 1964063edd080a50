// A real Prometheus (started by infra/prometheus-service.ts) scrapes in-process workers while a
// harvest runs on the private test stack. Asked through its HTTP API afterwards, it must report
// exactly the tokens, rows and bytes the run wrote, see every target up, and hold a series for
// every metric the dashboard charts (the training and statistics stages' aside: no dictionary runs here).
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startRun } from '../cli/run-commands.js';
import { instrumentS3Client } from '../core/metrics/s3-metrics.js';
import { createS3Client } from '../core/storage/object-store.js';
import { startPrometheus, stopPrometheus, type RunningPrometheus } from '../infra/prometheus-service.js';
import { findFreePortBlock } from '../infra/processes.js';
import { startMetricsServer, type MetricsServer } from '../workers/metrics-server.js';
import { installTemporalRuntime } from '../workers/runtime.js';
import { createWorkerMetrics, type WorkerMetrics } from '../workers/worker-metrics.js';
import type { HarvestResult } from '../workflows/harvest-types.js';
import { loadDashboard, metricNamesIn, prometheusOrReason } from './monitoring-support.js';
import { demoConfig, openHarness, quietLog, uploadDemoCorpus, waitFor, withTimeout, writeConfig, type Harness } from './test-support.js';

let skipReason: string | undefined;
let h: Harness | undefined;
let metrics: WorkerMetrics;
let server: MetricsServer | undefined;
let prom: RunningPrometheus | undefined;
let promDir: string;
let sdkAddress: string;
const testStart = Date.now() / 1000;

async function freePort(): Promise<number> {
  return findFreePortBlock(1);
}

before(async () => {
  const bins = await prometheusOrReason();
  if (typeof bins === 'string') {
    skipReason = `Prometheus unavailable, skipping: ${bins}`;
    console.log(skipReason);
    return;
  }
  // SDK metrics need the runtime installed before the harness installs a plain one.
  const installed = installTemporalRuntime({ metrics: { host: '127.0.0.1', port: await freePort() } });
  sdkAddress = installed.metricsAddress!;
  h = await openHarness('monitoring');
  metrics = createWorkerMetrics();
  server = await startMetricsServer(metrics.registry, { host: '127.0.0.1', port: 0 });
  await h.startWorkers(['orchestration', 'harvest'], { metrics });
  promDir = path.join(h.dir, 'prometheus');
  prom = await startPrometheus({
    dataDir: promDir,
    port: await freePort(),
    targets: { workers: [server.address], temporalSdk: [sdkAddress], temporalServer: [h.endpoints.temporalMetricsAddress] },
    scrapeIntervalSeconds: 1,
  });
}, { timeout: 720_000 });

after(async () => {
  if (promDir) await stopPrometheus(promDir, 5_000);
  await server?.close();
  await h?.close();
});

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

async function query(expr: string): Promise<Sample[]> {
  const res = await fetch(`${prom!.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await res.json()) as { status: string; error?: string; data: { resultType: string; result: Sample[] } };
  assert.equal(body.status, 'success', `query ${expr}: ${body.error}`);
  return body.data.result;
}

/** The single value of a query that must return one sample. */
async function scalar(expr: string): Promise<number> {
  const r = await query(expr);
  assert.equal(r.length, 1, `${expr} returned ${JSON.stringify(r)}`);
  return Number(r[0].value[1]);
}

/** Resolves once Prometheus has scraped the workers after `epochSeconds`. */
async function scrapedAfter(epochSeconds: number): Promise<void> {
  await waitFor(`a scrape of the workers after ${epochSeconds}`, 30_000, async () => {
    const r = await query('timestamp(up{job="thresher-workers"})');
    return r.length === 1 && Number(r[0].value[1]) > epochSeconds;
  }, 250);
}

test('Prometheus scrapes the workers during a run; its harvested tokens equal the tokens the run wrote', { timeout: 240_000 }, async (t) => {
  if (skipReason) return t.skip(skipReason);
  const corpus = await uploadDemoCorpus(h!, 'mon-corpus', { shards: 4, docsPerShard: 8 });
  const runId = 'monitored-1';
  const config = await writeConfig(path.join(h!.dir, 'configs'), runId, demoConfig(runId, corpus.uri, `s3://${h!.bucket}/runs`, { concurrency: 2 }));
  const started = await startRun(h!.services, config, quietLog, h!.client);
  h!.track(started.handle);
  // Paused, the run holds still long enough for Prometheus to see its progress gauges.
  await started.handle.signal('pause');
  await waitFor('the run progress gauges in Prometheus', 60_000, async () => {
    const planned = await query(`thresher_run_shards{run="${runId}",state="planned"}`);
    const paused = await query(`thresher_run_paused{run="${runId}"}`);
    return planned[0]?.value[1] === '4' && paused[0]?.value[1] === '1';
  }, 250);
  assert.equal(await scalar('up{job="thresher-workers"}'), 1);
  await started.handle.signal('resume');

  const result: HarvestResult = await withTimeout('the monitored run', 120_000, started.handle.result());
  assert.equal(result.status, 'completed');
  assert.ok(result.tokens > 0);
  await scrapedAfter(Date.now() / 1000);

  const run = `run="${runId}"`;
  assert.equal(await scalar(`sum(thresher_harvest_tokens_total{${run}})`), result.tokens, 'harvested tokens = the run result tokens');
  assert.equal(await scalar(`sum(thresher_harvest_rows_total{${run}})`), result.rows);
  assert.equal(await scalar(`sum(thresher_harvest_written_bytes_total{${run}})`), result.bytes, 'no retries, so bytes uploaded = bytes in the manifests');
  assert.equal(await scalar(`sum(thresher_harvest_inference_tokens_total{${run}})`), result.tokens, 'no retries, so every token went through the model once');
  assert.equal(await scalar(`sum(thresher_harvest_shards_completed_total{${run}})`), 4);
  assert.equal(await scalar(`sum(thresher_harvest_shards_failed_total{${run}})`), 0);
  assert.equal(await scalar(`sum(thresher_harvest_shards_running{${run}})`), 0);
  assert.ok((await scalar('sum(thresher_harvest_inference_duration_seconds_count)')) > 0, 'inference timings from the thread');
  assert.ok((await scalar('sum(thresher_harvest_part_write_duration_seconds_count)')) >= result.shards * 2, 'a part file per hook per part');
  assert.ok((await scalar('sum(thresher_s3_requests_total{operation="PutObject"})')) > 0);

  for (const job of ['thresher-workers', 'thresher-temporal-sdk', 'temporal-server']) assert.equal(await scalar(`up{job="${job}"}`), 1, `${job} is up`);
  // The SDK's own metrics, from their own port: the harvest activities it executed. (Slot gauges
  // move with the pollers' reservations, so they make a poor exact check.)
  await waitFor('the SDK metrics of the 4 harvest activities', 15_000, async () => {
    const r = await query('sum(temporal_activity_execution_latency_seconds_count{task_queue="thresher-harvest"})');
    return r.length === 1 && Number(r[0].value[1]) >= 4;
  }, 250);
  assert.ok((await query('temporal_worker_task_slots_available{task_queue="thresher-harvest",worker_type="ActivityWorker"}')).length >= 1);
  // The finished run is no longer running, so its run gauges leave the scrapes (visibility may
  // list it as running for a moment, and scrapes within a second share one read).
  await waitFor('the finished run to leave the run gauges', 30_000, async () => (await query(`thresher_run_shards{${run}}`)).length === 0, 500);
});

test('S3 metrics count the SDK retries and errors of real requests', { timeout: 60_000 }, async (t) => {
  if (skipReason) return t.skip(skipReason);
  const proxy = await throttlingProxy(new URL(h!.endpoints.s3Endpoint));
  const flaky = createS3Client({ endpoint: proxy.url, region: h!.endpoints.s3Region, forcePathStyle: true, maxAttempts: 4 });
  const denied = new S3Client({
    endpoint: h!.endpoints.s3Endpoint,
    region: h!.endpoints.s3Region,
    forcePathStyle: true,
    maxAttempts: 1,
    credentials: { accessKeyId: h!.endpoints.accessKeyId, secretAccessKey: 'not-the-secret' },
  });
  try {
    instrumentS3Client(flaky, metrics.s3);
    instrumentS3Client(flaky, metrics.s3); // instrumenting twice must not count twice
    instrumentS3Client(denied, metrics.s3);
    const count = async (name: string, labels: Record<string, string>) =>
      (await metrics.registry.getSingleMetric(name)!.get()).values
        .filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))
        .reduce((a, v) => a + v.value, 0);
    const before = { puts: await count('thresher_s3_requests_total', { operation: 'PutObject' }), retries: await count('thresher_s3_request_retries_total', { operation: 'PutObject' }) };

    for (let i = 0; i < 6; i++) await flaky.send(new PutObjectCommand({ Bucket: h!.bucket, Key: `s3-metrics/${i}`, Body: `v${i}` }));
    assert.ok(proxy.throttled() >= 3, `the proxy throttled (${proxy.throttled()})`);
    assert.equal((await count('thresher_s3_requests_total', { operation: 'PutObject' })) - before.puts, 6, 'one request per call, however many attempts');
    assert.equal((await count('thresher_s3_request_retries_total', { operation: 'PutObject' })) - before.retries, proxy.throttled(), 'every throttled attempt was retried');

    const errorsBefore = await count('thresher_s3_request_errors_total', {});
    await assert.rejects(flaky.send(new GetObjectCommand({ Bucket: h!.bucket, Key: 's3-metrics/missing' })), (e: Error) => e.name === 'NoSuchKey');
    assert.equal(await count('thresher_s3_request_errors_total', {}), errorsBefore, 'a missing key is an answer, not an error');
    await assert.rejects(denied.send(new GetObjectCommand({ Bucket: h!.bucket, Key: 's3-metrics/0' })));
    const denials = (await metrics.registry.getSingleMetric('thresher_s3_request_errors_total')!.get()).values.filter((v) => v.labels.operation === 'GetObject');
    assert.equal(denials.length, 1, JSON.stringify(denials));
    assert.match(String(denials[0].labels.code), /^(SignatureDoesNotMatch|AccessDenied|InvalidAccessKeyId)$/);
    assert.equal(denials[0].value, 1);
  } finally {
    flaky.destroy();
    denied.destroy();
    await proxy.close();
  }
});

test('every metric the dashboard charts (training and statistics aside) has series in Prometheus', { timeout: 60_000 }, async (t) => {
  if (skipReason) return t.skip(skipReason);
  // The S3 error above must have been scraped too: error series only exist once one happened.
  await scrapedAfter(Date.now() / 1000);
  const dash = await loadDashboard();
  const names = new Set<string>();
  for (const p of dash.panels) for (const target of p.targets ?? []) for (const n of metricNamesIn(target.expr)) names.add(n);
  const charted = [...names].filter((n) => !n.startsWith('thresher_sae_') && !n.startsWith('thresher_stats_'));
  assert.ok(charted.some((n) => n.startsWith('temporal_')) && charted.includes('service_requests'), charted.join(', '));
  const missing: string[] = [];
  for (const name of charted) {
    const res = await fetch(`${prom!.url}/api/v1/series?match[]=${encodeURIComponent(name)}&start=${testStart}`);
    const body = (await res.json()) as { data: unknown[] };
    if (!body.data?.length) missing.push(name);
  }
  assert.deepEqual(missing, [], 'metrics the dashboard charts but Prometheus never saw');
});

test('the local Prometheus loaded the alert rules', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const res = (await (await fetch(`${prom!.url}/api/v1/rules`)).json()) as { data: { groups: { name: string; rules: { name: string; health: string }[] }[] } };
  const rules = res.data.groups.flatMap((g) => g.rules);
  for (const name of ['ThresherRunStalled', 'ThresherShardFailureRatioHigh', 'ThresherWorkerDown', 'ThresherDeadFeaturesHigh']) {
    const rule = rules.find((r) => r.name === name);
    assert.ok(rule, `${name} loaded`);
    assert.notEqual(rule.health, 'err', `${name} evaluates`);
  }
});

/** Forwards to the real gateway, answering every second request with 503 SlowDown as S3 does when throttling. */
function throttlingProxy(target: URL): Promise<{ url: string; throttled: () => number; close: () => Promise<void> }> {
  let n = 0;
  let throttled = 0;
  const server = http.createServer((req, res) => {
    if (++n % 2 === 0) {
      throttled++;
      req.resume();
      res.writeHead(503, { 'content-type': 'application/xml' }).end('<?xml version="1.0"?><Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>');
      return;
    }
    const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      resolve({ url: `http://127.0.0.1:${port}`, throttled: () => throttled, close: () => new Promise((r) => server.close(() => r())) });
    }),
  );
}
