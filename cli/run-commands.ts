import { WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import { ConfigError, type RunConfig } from '../core/config/run-config.js';
import { prepareRun } from '../core/harvest/prepare-run.js';
import { listShardFailures } from '../core/harvest/run-plan.js';
import { verifyRun, type VerifyReport } from '../core/harvest/verify-run.js';
import type { Logger } from '../core/logging.js';
import { RunLayout } from '../core/storage/run-layout.js';
import type { harvestRun } from '../workflows/harvest-run.js';
import {
  harvestWorkflowId,
  ORCHESTRATION_QUEUE,
  type HarvestProgress,
  type HarvestResult,
  type RunRef,
  type ShardFailure,
} from '../workflows/harvest-types.js';
import { clientFor, type Services } from './services.js';

export interface StartedRun {
  config: RunConfig;
  ref: RunRef;
  shardCount: number;
  handle: WorkflowHandle<typeof harvestRun>;
}

/** Validates everything, stores the config beside the run's outputs and starts HarvestRun. */
export async function startRun(services: Services, configFile: string, log: Logger, client?: Client): Promise<StartedRun> {
  const { config, shardCount } = await prepareRun(configFile, services.store, services.settings.cacheDir, log);
  const layout = new RunLayout(config.output.path, config.runId);
  if (await services.store.head(layout.bucket, layout.configKey)) {
    throw new ConfigError(`run ${config.runId} already exists at ${layout.uri}; use \`thresher run resume ${config.runId}\` or pick another runId`);
  }
  await services.store.putJson(layout.bucket, layout.configKey, config);
  const ref: RunRef = { runId: config.runId, outputUri: config.output.path };
  const c = client ?? (await clientFor(services));
  const handle = await c.workflow.start<typeof harvestRun>('harvestRun', {
    workflowId: harvestWorkflowId(config.runId),
    taskQueue: ORCHESTRATION_QUEUE,
    args: [ref],
    memo: { outputUri: ref.outputUri },
  });
  log.info('run started', { runId: config.runId, shards: shardCount, output: layout.uri, workflowId: handle.workflowId });
  return { config, ref, shardCount, handle };
}

/** Finds a run's output location from its workflow's memo. */
export async function runRef(client: Client, runId: string): Promise<RunRef & { running: boolean }> {
  try {
    const d = await client.workflow.getHandle(harvestWorkflowId(runId)).describe();
    return { runId, outputUri: String(d.memo?.outputUri), running: d.status.name === 'RUNNING' };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new ConfigError(`no run named ${runId} is known to this Temporal namespace`);
    throw err;
  }
}

export interface RunStatus {
  runId: string;
  state: string;
  progress?: HarvestProgress;
  result?: HarvestResult;
  failures: ShardFailure[];
}

export async function runStatus(services: Services, client: Client, runId: string): Promise<RunStatus> {
  const handle = client.workflow.getHandle<typeof harvestRun>(harvestWorkflowId(runId));
  const ref = await runRef(client, runId);
  const d = await handle.describe();
  const layout = new RunLayout(ref.outputUri, runId);
  const failures = await listShardFailures(services.store, layout);
  if (ref.running) return { runId, state: 'RUNNING', progress: await handle.query<HarvestProgress>('progress'), failures };
  const result = await services.store.getJsonIfExists<HarvestResult>(layout.bucket, layout.summaryKey);
  return { runId, state: d.status.name, result, failures };
}

/** Re-runs only the shards of a finished run that have no manifest (failed or never done). */
export async function resumeRun(client: Client, runId: string, log: Logger): Promise<WorkflowHandle<typeof harvestRun>> {
  const ref = await runRef(client, runId);
  if (ref.running) throw new ConfigError(`run ${runId} is still running; pause or cancel it first, or wait`);
  const handle = await client.workflow.start<typeof harvestRun>('harvestRun', {
    workflowId: harvestWorkflowId(runId),
    taskQueue: ORCHESTRATION_QUEUE,
    args: [{ runId, outputUri: ref.outputUri }],
    memo: { outputUri: ref.outputUri },
  });
  log.info('run resumed', { runId, workflowRunId: handle.firstExecutionRunId });
  return handle;
}

export async function verify(services: Services, client: Client, runId: string, onShard?: (n: number, total: number) => void): Promise<VerifyReport> {
  const ref = await runRef(client, runId);
  return verifyRun(services.store, new RunLayout(ref.outputUri, runId), onShard);
}
