import { writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateDemoCorpus } from '../core/demo/corpus-generator.js';
import { DEMO_BOS_MODE } from '../core/demo/demo-assets.js';
import type { Logger } from '../core/logging.js';
import { parseS3Uri, type RunConfigInput } from '../core/config/run-config.js';
import { readFile } from 'node:fs/promises';
import { connectWorker } from '../workers/temporal-connection.js';
import { createWorkerSet } from '../workers/harvest-workers.js';
import { clientFor, type Services } from './services.js';
import { startRun } from './run-commands.js';
import { verifyRun } from '../core/harvest/verify-run.js';
import { RunLayout } from '../core/storage/run-layout.js';
import { formatBytes, ProgressBar } from './progress-bar.js';
import { DEMO_TRAIN, DemoTrainingWatch, demoTrainingLines } from './demo-training.js';
import { demoStatsLines } from './demo-stats.js';
import type { HarvestProgress } from '../workflows/harvest-types.js';
import { devUp } from '../infra/local-stack.js';
import { resolvePrometheusBinaries } from '../infra/prometheus-binaries.js';
import { localWorkerTargets, startWorkerMonitoring } from './monitoring.js';
import { localStackDir } from './services.js';

const ASSETS = fileURLToPath(new URL('../../assets/demo/', import.meta.url));

export interface DemoOptions {
  shards: number;
  docsPerShard: number;
}

/**
 * The end-to-end demo: demo corpus → S3, workers in this process, one harvest run over the
 * bundled model, a progress bar, a verify pass and a summary. Everything runs on the services
 * `resolveServices` found (the local stack unless configured otherwise).
 */
export async function runDemo(services: Services, opts: DemoOptions, log: Logger): Promise<void> {
  const output = services.defaultOutput ?? 's3://thresher/runs';
  const { bucket } = parseS3Uri(output);
  const demoDir = path.join(services.settings.home, 'demo');

  // The corpus goes to S3, as a real run's would; odd shards are gzipped to exercise both readers.
  const corpusDir = path.join(demoDir, 'corpus');
  const plain = await generateDemoCorpus({ outDir: corpusDir, shards: Math.ceil(opts.shards / 2), docsPerShard: opts.docsPerShard, seed: 1 });
  const zipped = await generateDemoCorpus({ outDir: path.join(corpusDir, 'gz'), shards: Math.floor(opts.shards / 2), docsPerShard: opts.docsPerShard, seed: 2, gzip: true });
  const corpusPrefix = `corpora/demo-${opts.shards}x${opts.docsPerShard}`;
  for (const file of [...plain.files, ...zipped.files]) {
    const rel = path.relative(corpusDir, file).split(path.sep).join('/');
    await services.store.put(bucket, `${corpusPrefix}/${rel}`, await readFile(file));
  }
  log.info('demo corpus uploaded', { shards: opts.shards, docs: plain.docs + zipped.docs, uri: `s3://${bucket}/${corpusPrefix}/` });

  const config: RunConfigInput = {
    runId: `demo-${new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}`,
    model: { path: path.join(ASSETS, 'model.onnx') },
    // Packed as the demo model was trained: the separator before every document.
    tokenizer: { path: path.join(ASSETS, 'tokenizer.json'), bos: DEMO_BOS_MODE },
    hooks: ['blocks.0.mlp.hook_post', 'blocks.0.hook_resid_post'],
    corpus: { path: `s3://${bucket}/${corpusPrefix}`, labelField: 'genre' },
    contextLength: 128,
    positionsPerContext: 64,
    batchSize: 32,
    dtype: 'fp32',
    output: { path: output, partMiB: 8 },
    concurrency: 4,
    // Dictionary learning after the harvest: one 4,096-feature dictionary (cli/demo-training.ts),
    // then its feature statistics, example windows and browser (cli/demo-stats.ts).
    stages: ['train', 'stats'],
    train: DEMO_TRAIN,
  };
  const configFile = path.join(demoDir, 'run.json');
  await mkdir(demoDir, { recursive: true });
  await writeFile(configFile, JSON.stringify(config, null, 2));

  const monitoring = await startWorkerMonitoring(log, { required: false });
  const prometheusUrl = await watchWithPrometheus(services, monitoring.server?.address, log);
  const connection = await connectWorker(services.settings.temporal);
  const workers = await createWorkerSet({
    connection,
    namespace: services.settings.temporal.namespace,
    store: services.store,
    roles: ['orchestration', 'harvest', 'training'],
    cacheDir: services.settings.cacheDir,
    harvestSlots: services.settings.harvestSlots,
    metrics: monitoring.metrics,
  });
  const running = workers.run();
  const client = await clientFor(services);
  try {
    const t0 = Date.now();
    const started = await startRun(services, configFile, log, client);
    const bar = new ProgressBar();
    // The run ends when its train stage does: the harvest's own time ends at phase 'stages'.
    let harvestEnd: number | undefined;
    const training = new DemoTrainingWatch(client, started.config.runId, monitoring.metrics.registry);
    const timer = setInterval(() => {
      if (harvestEnd !== undefined) return training.tick();
      started.handle.query<HarvestProgress>('progress').then((p) => {
        if (harvestEnd !== undefined) return;
        if (p.phase !== 'stages') return bar.update(p);
        harvestEnd = Date.now();
        bar.done();
        training.start();
      }, () => undefined);
    }, 500);
    const result = await started.handle.result().finally(() => {
      clearInterval(timer);
      if (harvestEnd === undefined) bar.done();
      else training.done();
    });
    const finished = Date.now();
    const seconds = ((harvestEnd ?? finished) - t0) / 1000;
    const report = await verifyRun(services.store, new RunLayout(result.outputUri, result.runId));
    const lines = [
      `run        ${result.runId} (${result.status})`,
      `shards     ${result.shards} (${result.failedShards} failed)`,
      `tokens     ${result.tokens.toLocaleString('en-US')} through the model, ${result.rows.toLocaleString('en-US')} rows per hook`,
      `bytes      ${formatBytes(result.bytes)} of Parquet`,
      `speed      ${Math.round(result.tokens / seconds).toLocaleString('en-US')} tokens/s over ${seconds.toFixed(1)} s (start to finish)`,
      `verify     ${report.problems.length ? `${report.problems.length} problems: ${report.problems.slice(0, 3).join('; ')}` : `ok: ${report.partsChecked} parts, ${report.rows.toLocaleString('en-US')} rows, no duplicates or gaps`}`,
      `output     ${new RunLayout(result.outputUri, result.runId).uri}`,
      ...(await demoTrainingLines(client, result, harvestEnd)),
    ];
    if (services.localStack) {
      lines.push(`s3         ${services.localStack.s3Endpoint} (local stack; \`thresher dev down\` stops it)`);
      if (services.localStack.temporalUiUrl) lines.push(`temporal   ${services.localStack.temporalUiUrl}`);
    }
    if (monitoring.server) lines.push(`metrics    ${monitoring.server.url} (this process; gone when the demo exits)`);
    if (prometheusUrl) lines.push(`prometheus ${prometheusUrl}/graph?g0.expr=${encodeURIComponent('sum by (run) (thresher_harvest_tokens_total)')} (keeps the history)`);
    // The statistics and the genre table come last: they are what the demo sets out to show.
    lines.push('', ...(await demoStatsLines(services.store, result, path.join(demoDir, 'browser', result.runId))));
    console.log(lines.join('\n'));
    const stagesOk = Object.values(result.stages ?? {}).every((s) => s.status === 'completed');
    if (report.problems.length || result.failedShards || !stagesOk) process.exitCode = 1;
  } finally {
    workers.shutdown();
    await running;
    await client.connection.close();
    await connection.close();
    await monitoring.close();
  }
}

/**
 * With the local stack and a Prometheus binary on this machine, (re)starts the stack's Prometheus
 * scraping this process, so the run can be watched live; never installs anything. Its URL, or
 * undefined when there is no local stack, no binary or it would not start (the demo goes on).
 */
async function watchWithPrometheus(services: Services, workerAddress: string | undefined, log: Logger): Promise<string | undefined> {
  if (!services.localStack) return undefined;
  try {
    await resolvePrometheusBinaries({ install: false });
  } catch {
    log.info('prometheus not started: no prometheus binary here (`apt-get install prometheus`, then `thresher dev up --prometheus`)');
    return undefined;
  }
  try {
    const targets = localWorkerTargets();
    const stack = await devUp({
      dataDir: localStackDir(services.settings),
      prometheus: { ...targets, workerTargets: workerAddress ? [workerAddress] : targets.workerTargets, scrapeIntervalSeconds: 2 },
    });
    return stack.prometheusUrl;
  } catch (err) {
    log.warn('prometheus not started', { reason: (err as Error).message });
    return undefined;
  }
}
