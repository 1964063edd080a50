// Scheduling of the REAL FeatureStats workflow on a REAL Temporal dev server over N activation
// parts (issue #4: "so that 100,000 parts work"). The run's shard manifests and the dictionary's
// cfg.json are written to the stack's S3; planStats is the real activity (it reads every manifest
// and writes the plan pages). summarisePart and mergeSummaries are no-ops with the real
// signatures: summarisePart reads its group's keys from the plan page (pages cached per worker) and
// returns a count, so what is measured is the workflow, its continue-as-new chain and the server.
//
//   npm run bench:stats-schedule -- [--parts 100000] [--parts-per-shard 10] [--parts-per-group 8]
//                                   [--fan-in 16] [--concurrency 200] [--progress-seconds 10]
import os from 'node:os';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createStatsActivities } from '../activities/stats-activities.js';
import type { ReportActivities } from '../activities/report-activities.js';
import type { ExampleActivities } from '../activities/stats-example-activities.js';
import { MANIFEST_FORMAT, type PartRecord, type ShardManifest } from '../core/harvest/shard-manifest.js';
import { STATS_PLAN_FORMAT, type StatsPlanPage } from '../core/stats/stats-plan.js';
import type { ObjectStore } from '../core/storage/object-store.js';
import { RunLayout } from '../core/storage/run-layout.js';
import { createWorkerSet } from '../workers/harvest-workers.js';
import { installTemporalRuntime } from '../workers/runtime.js';
import type { featureStats } from '../workflows/feature-stats.js';
import { ORCHESTRATION_QUEUE } from '../workflows/harvest-types.js';
import {
  STATS_QUEUE, statsWorkflowId, type FinalizeTask, type MergeTask, type StatsProgress, type StatsResult, type SummariseTask, type SummaryRef,
} from '../workflows/stats-types.js';
import { fixed, int, intFlag, printTable } from './bench-table.js';
import { startBenchStack, stopOnSignal } from './bench-stack.js';
import { workflowChain } from './workflow-chain.js';
import { processCpuSeconds, stackPid } from './cpu-usage.js';

const { values: flags } = parseArgs({
  options: {
    parts: { type: 'string' },
    'parts-per-shard': { type: 'string' },
    'parts-per-group': { type: 'string' },
    'fan-in': { type: 'string' },
    concurrency: { type: 'string' },
    'progress-seconds': { type: 'string' },
  },
});
const parts = intFlag(flags.parts, 'parts', 100_000);
const partsPerShard = intFlag(flags['parts-per-shard'], 'parts-per-shard', 10);
const partsPerGroup = intFlag(flags['parts-per-group'], 'parts-per-group', 8);
const fanIn = intFlag(flags['fan-in'], 'fan-in', 16);
const concurrency = intFlag(flags.concurrency, 'concurrency', 200);
const progressSeconds = intFlag(flags['progress-seconds'], 'progress-seconds', 10);
const HOOK = 'blocks.0.mlp.hook_post';
const TRAINING_ID = 'bench-d16';
const log = (msg: string) => console.error(msg);

/** Manifests of ⌈parts / partsPerShard⌉ shards and the dictionary files planStats checks. */
async function writeRun(store: ObjectStore, layout: RunLayout): Promise<number> {
  const shards = Math.ceil(parts / partsPerShard);
  let next = 0;
  const writer = async () => {
    for (let shard = next++; shard < shards; shard = next++) {
      const records: PartRecord[] = [];
      for (let part = 0; part < Math.min(partsPerShard, parts - shard * partsPerShard); part++) {
        records.push({ part, hook: HOOK, key: layout.partKey(HOOK, shard, part), rows: 1, bytes: 1, sha256: '0'.repeat(64) });
      }
      const manifest: ShardManifest = {
        format: MANIFEST_FORMAT, runId: layout.runId, shard, source: `bench://${shard}`, modelSha256: '0'.repeat(64), dtype: 'fp32',
        hooks: { [HOOK]: { width: 16 } }, documents: 0, contexts: 0, tokens: records.length, rows: records.length, bytes: records.length, parts: records,
      };
      await store.putJson(layout.bucket, layout.manifestKey(shard), manifest);
    }
  };
  await Promise.all(Array.from({ length: 16 }, writer));
  // planStats only checks that the encoder exists; the no-op summarise never runs it.
  await store.put(layout.bucket, layout.dictionaryEncoderKey(TRAINING_ID), new Uint8Array([0]));
  await store.putJson(layout.bucket, layout.dictionaryConfigKey(TRAINING_ID), { architecture: 'standard', d_in: 16, d_sae: 16, hook_name: HOOK });
  return shards;
}

console.log(`stats schedule bench: ${int(parts)} parts, ${partsPerGroup} per group, fan-in ${fanIn}, concurrency ${concurrency}, node ${process.version}, ${os.availableParallelism()} cores`);
installTemporalRuntime();
const stack = await startBenchStack('stats-schedule-bench');
stopOnSignal(stack.stop);
const { endpoints, store } = stack;
let exitCode = 0;
try {
  const runId = `stats-schedule-${parts}`;
  const outputUri = `s3://${endpoints.bucket}/bench-stats-schedule`;
  const layout = new RunLayout(outputUri, runId);
  let t = performance.now();
  const shards = await writeRun(store, layout);
  log(`${int(shards)} shard manifests written in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  // The real planStats; no-op summarise and merge with the real signatures.
  const real = createStatsActivities({ store });
  const pages = new Map<string, Promise<StatsPlanPage>>();
  let partsSeen = 0;
  let mergeInputs = 0;
  const activities = {
    planStats: real.planStats,
    async summarisePart(task: SummariseTask): Promise<SummaryRef> {
      const key = layout.statsPlanPageKey(task.trainingId, Math.floor(task.index / task.groupsPerPage));
      if (!pages.has(key)) pages.set(key, store.getJson<StatsPlanPage>(layout.bucket, key));
      const page = await pages.get(key)!;
      const group = page.format === STATS_PLAN_FORMAT ? page.groups[task.index - page.firstGroup] : undefined;
      if (!group?.length) throw new Error(`group ${task.index} is not on ${key}`);
      partsSeen += group.length;
      return { key: layout.statsPartialKey(task.trainingId, 0, task.index), tokens: group.length, parts: group.length };
    },
    async mergeSummaries(task: MergeTask): Promise<SummaryRef> {
      mergeInputs += task.keys.length;
      return { key: task.outKey, tokens: 0, parts: task.keys.length };
    },
    async finalizeStats(task: FinalizeTask): Promise<StatsResult> {
      return {
        runId: task.runId, outputUri: task.outputUri, trainingId: task.trainingId, tokens: 0, parts: task.parts, dSae: 16, liveFeatures: 0, labels: 0,
        logitEffects: 'not available: bench', keys: { ...layout.statsKeys(task.trainingId), summary: task.summaryKey },
      };
    },
  } satisfies Partial<ReturnType<typeof createStatsActivities> & ExampleActivities & ReportActivities>;

  t = performance.now();
  const workerConnection = await NativeConnection.connect({ address: endpoints.temporalAddress });
  const orchestration = await createWorkerSet({ connection: workerConnection, namespace: endpoints.namespace, store, roles: ['orchestration'], cacheDir: os.tmpdir(), harvestSlots: 1 });
  const statsWorker = await Worker.create({
    connection: workerConnection, namespace: endpoints.namespace, taskQueue: STATS_QUEUE, activities, maxConcurrentActivityTaskExecutions: concurrency,
  });
  const workersRunning = Promise.all([orchestration.run(), statsWorker.run()]);
  workersRunning.catch(() => undefined);
  log(`workers up in ${((performance.now() - t) / 1000).toFixed(1)} s (includes bundling the workflow code)`);

  const clientConnection = await Connection.connect({ address: endpoints.temporalAddress });
  const client = new Client({ connection: clientConnection, namespace: endpoints.namespace });
  const workflowId = statsWorkflowId(runId, TRAINING_ID);
  const temporalPid = stackPid(endpoints.dataDir, 'temporal.pid');
  const cpu0 = { temporal: processCpuSeconds(temporalPid), node: process.cpuUsage() };

  let result: StatsResult;
  let wallSeconds: number;
  let finalProgress: StatsProgress | undefined;
  try {
    const started = performance.now();
    const handle = await client.workflow.start<typeof featureStats>('featureStats', {
      workflowId, taskQueue: ORCHESTRATION_QUEUE,
      args: [{ runId, outputUri, trainingId: TRAINING_ID, partsPerGroup, fanIn, concurrency, exampleWindows: false, featureBrowser: false }],
    });
    const latest = client.workflow.getHandle(workflowId); // follows continue-as-new
    const timer = setInterval(() => {
      latest.query<StatsProgress>('progress').then((p) => {
        const s = (performance.now() - started) / 1000;
        log(`  ${s.toFixed(0)} s: ${p.phase}, ${int(p.groupsDone)}/${int(p.groups)} groups, ${int(p.mergesDone)} merges`);
      }, () => undefined);
    }, progressSeconds * 1000);
    try {
      result = await handle.result();
    } finally {
      clearInterval(timer);
    }
    wallSeconds = (performance.now() - started) / 1000;
    finalProgress = await latest.query<StatsProgress>('progress').catch(() => undefined);
  } finally {
    orchestration.shutdown();
    statsWorker.shutdown();
    await workersRunning.catch((err) => log(`worker stopped with: ${(err as Error).message}`));
    await workerConnection.close();
  }
  const nodeCpu = process.cpuUsage(cpu0.node);
  const cpu = { temporal: processCpuSeconds(temporalPid) - cpu0.temporal, node: (nodeCpu.user + nodeCpu.system) / 1e6 };

  const { executions, largestEvents, largestBytes, problem: chainProblem } = await workflowChain(client, workflowId);
  await clientConnection.close();
  const groups = Math.ceil(parts / partsPerGroup);

  const problems: string[] = [];
  if (result.parts !== parts) problems.push(`result.parts ${result.parts} != ${parts}`);
  if (partsSeen !== parts) problems.push(`summarise saw ${partsSeen} parts`);
  if (!finalProgress) problems.push('final progress query failed');
  else if (finalProgress.groupsDone !== groups || finalProgress.phase !== 'done') problems.push(`progress: ${finalProgress.phase}, ${finalProgress.groupsDone}/${groups} groups`);
  if (chainProblem) problems.push(chainProblem);

  printTable(
    `stats schedule bench: no-op part groups through FeatureStats on the Temporal dev server (${os.availableParallelism()} cores; manifests written first, not timed)`,
    ['parts', 'groups', 'merges', 'wall s', 'groups/s', 'executions', 'max events', 'max history KiB', 'temporal CPU s', 'bench CPU s'],
    [[int(parts), int(groups), int(finalProgress?.mergesDone ?? NaN), fixed(wallSeconds, 1), int(groups / wallSeconds), int(executions.length), int(largestEvents?.events ?? NaN), fixed((largestBytes?.bytes ?? NaN) / 1024, 0), fixed(cpu.temporal, 0), fixed(cpu.node, 0)]],
  );
  console.log(`merge inputs ${int(mergeInputs)}; root ${result.keys.summary}`);
  console.log(`largest history: ${int(largestEvents?.events ?? NaN)} events, ${fixed((largestBytes?.bytes ?? NaN) / 1024, 0)} KiB; limits 51,200 events / 50 MiB, warnings from 10,240 / 10 MiB`);
  console.log(problems.length ? `NOT OK: ${problems.join('; ')}` : `ok: all ${int(parts)} parts planned, summarised and merged to one root`);
  if (problems.length) exitCode = 1;
} finally {
  await stack.stop();
}
process.exit(exitCode);
