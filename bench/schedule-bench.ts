// Scheduling throughput of the REAL HarvestRun workflow on a REAL Temporal dev server: N no-op
// shards, each one harvestShard activity on the harvest queue that returns zero counts at once,
// so what is measured is the workflow, its control activities (createControlActivities, against
// the stack's real S3) and the server: dispatch rate, continue-as-new chain, history sizes.
//
//   npm run bench:schedule -- [--shards 10000] [--concurrency 200] [--activity-pollers N]
//                             [--workflow-pollers N] [--progress-seconds 10] [--shard-ms 0]
//                             [--shards-per-execution N]
//
// --shard-ms N makes each no-op shard take N ms, so the continue-as-new drain shows: each
// execution waits for its last shards before handing over, and the table prints the wall time
// against the ideal ⌈shards / concurrency⌉ × N ms. --shards-per-execution N overrides the
// workflow's default (defaultShardsPerExecution), to compare the two. --shard-ms-spread S gives
// each shard a fixed duration uniform in N·[1 − S, 1 + S) ms, as real shards vary: then the drain
// idles slots until the slowest of an execution's last shards is done.
//
// To avoid N corpus files, the run's config.json and its plan (plan/plan.json and page files, in
// the layout RunLayout and planRun use) are written straight to S3 first; planRun reuses them.
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SeededRandom } from '../core/random/seeded-random.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { HarvestActivities } from '../activities/harvest-activities.js';
import { parseRunConfig, type RunConfig } from '../core/config/run-config.js';
import { PLAN_PAGE_SIZE } from '../core/harvest/run-plan.js';
import type { ShardCounts } from '../core/harvest/shard-manifest.js';
import type { ObjectStore } from '../core/storage/object-store.js';
import { RunLayout } from '../core/storage/run-layout.js';
import { createWorkerSet } from '../workers/harvest-workers.js';
import { installTemporalRuntime } from '../workers/runtime.js';
import type { harvestRun } from '../workflows/harvest-run.js';
import {
  HARVEST_QUEUE,
  harvestWorkflowId,
  ORCHESTRATION_QUEUE,
  type HarvestProgress,
  type HarvestResult,
  type ShardTask,
} from '../workflows/harvest-types.js';
import { fixed, int, intFlag, printTable } from './bench-table.js';
import { startBenchStack, stopOnSignal } from './bench-stack.js';
import { workflowChain } from './workflow-chain.js';
import { processCpuSeconds, stackPid } from './cpu-usage.js';

const ASSETS = fileURLToPath(new URL('../../assets/demo/', import.meta.url));

const { values: flags } = parseArgs({
  options: {
    shards: { type: 'string' },
    concurrency: { type: 'string' },
    'activity-pollers': { type: 'string' },
    'workflow-pollers': { type: 'string' },
    'progress-seconds': { type: 'string' },
    'shard-ms': { type: 'string' },
    'shards-per-execution': { type: 'string' },
    'shard-ms-spread': { type: 'string' },
  },
});
const shards = intFlag(flags.shards, 'shards', 10_000);
const concurrency = intFlag(flags.concurrency, 'concurrency', 200);
const progressSeconds = intFlag(flags['progress-seconds'], 'progress-seconds', 10);
const shardMs = flags['shard-ms'] === undefined ? 0 : intFlag(flags['shard-ms'], 'shard-ms', 0);
// Unset: the workflow's own default (defaultShardsPerExecution of the concurrency).
const shardsPerExecution = flags['shards-per-execution'] === undefined ? undefined : intFlag(flags['shards-per-execution'], 'shards-per-execution', 1000);
const spread = flags['shard-ms-spread'] === undefined ? 0 : Number(flags['shard-ms-spread']);
if (!(spread >= 0 && spread < 1)) throw new Error(`--shard-ms-spread: a fraction in [0, 1), got "${flags['shard-ms-spread']}"`);
const log = (msg: string) => console.error(msg);

/** A shard's duration: shardMs, or with a spread uniform in shardMs·[1 − s, 1 + s), fixed per shard index. */
const durationMs = (index: number): number => {
  if (spread === 0) return shardMs;
  const u = SeededRandom.derived(7, index).next();
  return shardMs * (1 - spread + 2 * spread * u);
};

/** The bench's "no-op shard": the harvest activity's exact signature, doing nothing. */
const noopHarvest: HarvestActivities = {
  async harvestShard(_ref, shard): Promise<ShardCounts> {
    if (shardMs > 0) await new Promise((resolve) => setTimeout(resolve, durationMs(shard.index)));
    return { rows: 0, tokens: 0, bytes: 0, parts: 0 };
  },
};

/** config.json and the plan, exactly where and how planRun would have written them. */
async function writePlan(store: ObjectStore, layout: RunLayout, config: RunConfig, count: number): Promise<void> {
  await store.putJson(layout.bucket, layout.configKey, config);
  const pageCount = Math.ceil(count / PLAN_PAGE_SIZE);
  let next = 0;
  const writer = async () => {
    for (let p = next++; p < pageCount; p = next++) {
      const page: ShardTask[] = [];
      for (let i = p * PLAN_PAGE_SIZE; i < Math.min(count, (p + 1) * PLAN_PAGE_SIZE); i++) {
        page.push({ index: i, uri: `s3://${layout.bucket}/bench-corpus/shard-${String(i).padStart(6, '0')}.jsonl` });
      }
      await store.putJson(layout.bucket, layout.planPageKey(p), page);
    }
  };
  await Promise.all(Array.from({ length: 8 }, writer));
  // Written after the pages, as planRun does.
  await store.putJson(layout.bucket, layout.planKey, { shardCount: count, pageSize: PLAN_PAGE_SIZE, pageCount });
}

console.log(`schedule bench: ${int(shards)} no-op shards, concurrency ${concurrency}, node ${process.version}, ${os.availableParallelism()} cores`);
installTemporalRuntime();
const stack = await startBenchStack('schedule-bench');
stopOnSignal(stack.stop);
const { endpoints, store } = stack;
const cacheDir = await mkdtemp(path.join(os.tmpdir(), 'thresher-schedule-cache-'));
let exitCode = 0;
try {
  const runId = `schedule-${shards}`;
  const outputUri = `s3://${endpoints.bucket}/bench-schedule`;
  const layout = new RunLayout(outputUri, runId);
  const config: RunConfig = {
    ...parseRunConfig({
      model: { path: path.join(ASSETS, 'model.onnx') },
      tokenizer: { path: path.join(ASSETS, 'tokenizer.json') },
      hooks: ['blocks.0.mlp.hook_post'],
      corpus: { path: `s3://${endpoints.bucket}/bench-corpus` },
      output: { path: outputUri },
      concurrency,
    }),
    runId,
  };
  let t = performance.now();
  await writePlan(store, layout, config, shards);
  const planSeconds = (performance.now() - t) / 1000;
  log(`plan written: ${Math.ceil(shards / PLAN_PAGE_SIZE)} pages in ${planSeconds.toFixed(1)} s`);

  t = performance.now();
  const workerConnection = await NativeConnection.connect({ address: endpoints.temporalAddress });
  // The real orchestration worker (HarvestRun + createControlActivities), as `thresher worker` makes it.
  const orchestration = await createWorkerSet({
    connection: workerConnection,
    namespace: endpoints.namespace,
    store,
    roles: ['orchestration'],
    cacheDir,
    harvestSlots: 1,
  });
  const harvestWorker = await Worker.create({
    connection: workerConnection,
    namespace: endpoints.namespace,
    taskQueue: HARVEST_QUEUE,
    activities: noopHarvest,
    maxConcurrentActivityTaskExecutions: concurrency,
    ...(flags['activity-pollers'] ? { maxConcurrentActivityTaskPolls: intFlag(flags['activity-pollers'], 'activity-pollers', 5) } : {}),
  });
  const workersRunning = Promise.all([orchestration.run(), harvestWorker.run()]);
  workersRunning.catch(() => undefined);
  log(`workers up in ${((performance.now() - t) / 1000).toFixed(1)} s (includes bundling the workflow code)`);

  const clientConnection = await Connection.connect({ address: endpoints.temporalAddress });
  const client = new Client({ connection: clientConnection, namespace: endpoints.namespace });
  const workflowId = harvestWorkflowId(runId);
  const temporalPid = stackPid(endpoints.dataDir, 'temporal.pid');
  const s3Pid = stackPid(endpoints.dataDir, 'seaweed.pid');
  const cpu0 = { temporal: processCpuSeconds(temporalPid), s3: processCpuSeconds(s3Pid), node: process.cpuUsage() };

  let result: HarvestResult;
  let wallSeconds: number;
  let finalProgress: HarvestProgress | undefined;
  try {
    const started = performance.now();
    const handle = await client.workflow.start<typeof harvestRun>('harvestRun', {
      workflowId,
      taskQueue: ORCHESTRATION_QUEUE,
      args: [{ runId, outputUri, ...(shardsPerExecution !== undefined && { shardsPerExecution }) }],
    });
    const latest = client.workflow.getHandle(workflowId); // follows continue-as-new
    const timer = setInterval(() => {
      latest.query<HarvestProgress>('progress').then(
        (p) => {
          const s = (performance.now() - started) / 1000;
          log(`  ${s.toFixed(0)} s: ${int(p.shards.done)}/${int(p.shards.total)} done, ${p.shards.running} running, ${int(p.shards.done / s)} shards/s`);
        },
        () => undefined,
      );
    }, progressSeconds * 1000);
    try {
      result = await handle.result(); // follows the continue-as-new chain to the final execution
    } finally {
      clearInterval(timer);
    }
    wallSeconds = (performance.now() - started) / 1000;
    finalProgress = await latest.query<HarvestProgress>('progress').catch(() => undefined);
  } finally {
    orchestration.shutdown();
    harvestWorker.shutdown();
    await workersRunning.catch((err) => log(`worker stopped with: ${(err as Error).message}`));
    await workerConnection.close();
  }
  const nodeCpu = process.cpuUsage(cpu0.node);
  const cpu = {
    temporal: processCpuSeconds(temporalPid) - cpu0.temporal,
    s3: processCpuSeconds(s3Pid) - cpu0.s3,
    node: (nodeCpu.user + nodeCpu.system) / 1e6,
  };

  const { executions, largestEvents, largestBytes, problem: chainProblem } = await workflowChain(client, workflowId);
  await clientConnection.close();

  const problems: string[] = [];
  if (result.status !== 'completed') problems.push(`status ${result.status}`);
  if (result.shards !== shards) problems.push(`result.shards ${result.shards} != ${shards}`);
  if (result.failedShards !== 0) problems.push(`${result.failedShards} failed shards`);
  if (finalProgress && finalProgress.shards.done !== shards) problems.push(`progress says ${finalProgress.shards.done} done`);
  if (!finalProgress) problems.push('final progress query failed');
  if (chainProblem) problems.push(chainProblem);

  printTable(
    `schedule bench: no-op shards through HarvestRun on the Temporal dev server (${os.availableParallelism()} cores; plan written in ${fixed(planSeconds, 1)} s, not timed)`,
    ['shards', 'concurrency', 'wall s', 'shards/s', 'executions', 'max events', 'max history KiB', 'temporal CPU s', 'S3 CPU s', 'bench CPU s'],
    [[int(shards), int(concurrency), fixed(wallSeconds, 1), int(shards / wallSeconds), int(executions.length), int(largestEvents?.events ?? NaN), fixed((largestBytes?.bytes ?? NaN) / 1024, 0), fixed(cpu.temporal, 0), fixed(cpu.s3, 0), fixed(cpu.node, 0)]],
  );
  printTable(
    'result of the final execution',
    ['status', 'shards', 'failed', 'done (progress)', 'tokens', 'rows', 'bytes', 'verified'],
    [[result.status, int(result.shards), int(result.failedShards), finalProgress ? int(finalProgress.shards.done) : '?', int(result.tokens), int(result.rows), int(result.bytes), problems.length ? `NO: ${problems.join('; ')}` : `yes: all ${int(shards)} shards done`]],
  );
  if (shardMs > 0) {
    // With a spread, the total work spread evenly over every slot (a lower bound).
    const ideal = spread === 0 ? (Math.ceil(shards / concurrency) * shardMs) / 1000 : (shards * shardMs) / concurrency / 1000;
    console.log(`shards of ${shardMs} ms${spread ? ` ± ${fixed(100 * spread, 0)}%` : ''}: wall ${fixed(wallSeconds, 1)} s against ${fixed(ideal, 1)} s with every slot always busy (${fixed(wallSeconds / ideal, 2)}×); each of the ${executions.length} executions drains its last shards before continuing as new`);
  }
  console.log(`largest history: ${int(largestEvents?.events ?? NaN)} events (run ${largestEvents?.runId}), ${fixed((largestBytes?.bytes ?? NaN) / 1024, 0)} KiB (run ${largestBytes?.runId}); limits 51,200 events / 50 MiB, warnings from 10,240 / 10 MiB`);
  if (problems.length) exitCode = 1;
} finally {
  await stack.stop();
  await rm(cacheDir, { recursive: true, force: true });
}
process.exit(exitCode);
