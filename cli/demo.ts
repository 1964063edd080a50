import { writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NativeConnection } from '@temporalio/worker';
import { generateDemoCorpus } from '../core/demo/corpus-generator.js';
import type { Logger } from '../core/logging.js';
import { parseS3Uri, type RunConfigInput } from '../core/config/run-config.js';
import { readFile } from 'node:fs/promises';
import { createWorkerSet } from '../workers/harvest-workers.js';
import { clientFor, type Services } from './services.js';
import { startRun } from './run-commands.js';
import { verifyRun } from '../core/harvest/verify-run.js';
import { RunLayout } from '../core/storage/run-layout.js';
import { formatBytes, ProgressBar } from './progress-bar.js';
import type { HarvestProgress } from '../workflows/harvest-types.js';

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
    tokenizer: { path: path.join(ASSETS, 'tokenizer.json') },
    hooks: ['blocks.0.mlp.hook_post', 'blocks.0.hook_resid_post'],
    corpus: { path: `s3://${bucket}/${corpusPrefix}`, labelField: 'genre' },
    contextLength: 128,
    positionsPerContext: 64,
    batchSize: 32,
    dtype: 'fp32',
    output: { path: output, partMiB: 8 },
    concurrency: 4,
  };
  const configFile = path.join(demoDir, 'run.json');
  await mkdir(demoDir, { recursive: true });
  await writeFile(configFile, JSON.stringify(config, null, 2));

  const connection = await NativeConnection.connect({ address: services.settings.temporal.address });
  const workers = await createWorkerSet({
    connection,
    namespace: services.settings.temporal.namespace,
    store: services.store,
    roles: ['orchestration', 'harvest'],
    cacheDir: services.settings.cacheDir,
    harvestSlots: services.settings.harvestSlots,
  });
  const running = workers.run();
  const client = await clientFor(services);
  try {
    const t0 = Date.now();
    const started = await startRun(services, configFile, log, client);
    const bar = new ProgressBar();
    const timer = setInterval(() => {
      started.handle.query<HarvestProgress>('progress').then((p) => bar.update(p), () => undefined);
    }, 500);
    const result = await started.handle.result().finally(() => {
      clearInterval(timer);
      bar.done();
    });
    const seconds = (Date.now() - t0) / 1000;
    const report = await verifyRun(services.store, new RunLayout(result.outputUri, result.runId));
    const lines = [
      `run        ${result.runId} (${result.status})`,
      `shards     ${result.shards} (${result.failedShards} failed)`,
      `tokens     ${result.tokens.toLocaleString('en-US')} through the model, ${result.rows.toLocaleString('en-US')} rows per hook`,
      `bytes      ${formatBytes(result.bytes)} of Parquet`,
      `speed      ${Math.round(result.tokens / seconds).toLocaleString('en-US')} tokens/s over ${seconds.toFixed(1)} s (start to finish)`,
      `verify     ${report.problems.length ? `${report.problems.length} problems: ${report.problems.slice(0, 3).join('; ')}` : `ok: ${report.partsChecked} parts, ${report.rows.toLocaleString('en-US')} rows, no duplicates or gaps`}`,
      `output     ${new RunLayout(result.outputUri, result.runId).uri}`,
    ];
    if (services.localStack) {
      lines.push(`s3         ${services.localStack.s3Endpoint} (local stack; \`thresher dev down\` stops it)`);
      if (services.localStack.temporalUiUrl) lines.push(`temporal   ${services.localStack.temporalUiUrl}`);
    }
    console.log(lines.join('\n'));
    if (report.problems.length || result.failedShards) process.exitCode = 1;
  } finally {
    workers.shutdown();
    await running;
    await client.connection.close();
    await connection.close();
  }
}
