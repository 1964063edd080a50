// `thresher stats start RUN TRAINING_ID [--config FILE] [--wait]` and `thresher stats status RUN TRAINING_ID [--json]`:
// feature statistics of one trained dictionary.
import { readFile } from 'node:fs/promises';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { ConfigError, parseConfig } from '../core/config/run-config.js';
import { checkProviderForWorkers } from '../core/config/provider-check.js';
import { statsSettingsSchema } from '../core/stats/stats-settings-schema.js';
import type { Logger } from '../core/logging.js';
import { RunLayout } from '../core/storage/run-layout.js';
import type { featureStats } from '../workflows/feature-stats.js';
import { ORCHESTRATION_QUEUE } from '../workflows/harvest-types.js';
import { causeMessage } from '../workflows/cause-message.js';
import { statsWorkflowId, type StatsProgress, type StatsResult, type StatsSettings } from '../workflows/stats-types.js';
import { runRef } from './run-commands.js';
import type { Services } from './services.js';

/**
 * The settings file of `stats start --config FILE`: the same fields as a run config's `stats`
 * section. Every problem is listed with its field.
 */
export async function readStatsSettings(file: string): Promise<StatsSettings> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`stats settings ${file} cannot be read as JSON: ${(err as Error).message}`);
  }
  return parseConfig(statsSettingsSchema, raw, `stats settings ${file}`);
}

/** Checks the dictionary is complete (its result.json is written last), then starts FeatureStats. */
export async function startStats(services: Services, client: Client, runId: string, trainingId: string, log: Logger, settings: StatsSettings = {}) {
  if (settings.executionProvider !== undefined) checkProviderForWorkers(settings.executionProvider, 'stats executionProvider', log);
  const ref = await runRef(client, runId);
  const layout = new RunLayout(ref.outputUri, runId);
  if (!(await services.store.head(layout.bucket, layout.dictionaryResultKey(trainingId)))) {
    throw new ConfigError(`run ${runId} has no finished dictionary ${trainingId} (no s3://${layout.bucket}/${layout.dictionaryResultKey(trainingId)})`);
  }
  const handle = await client.workflow.start<typeof featureStats>('featureStats', {
    workflowId: statsWorkflowId(runId, trainingId),
    taskQueue: ORCHESTRATION_QUEUE,
    args: [{ ...settings, runId, outputUri: ref.outputUri, trainingId }],
  });
  log.info('feature statistics started', { runId, trainingId, workflowId: handle.workflowId, settings });
  return handle;
}

export function describeStats(r: StatsResult): string {
  const layout = new RunLayout(r.outputUri, r.runId);
  return [
    `statistics ${r.trainingId}: ${r.tokens.toLocaleString('en-US')} tokens over ${r.parts} parts`,
    `live features ${r.liveFeatures.toLocaleString('en-US')} of ${r.dSae.toLocaleString('en-US')}; logit effects: ${r.logitEffects}`,
    `output s3://${layout.bucket}/${layout.statsPrefix(r.trainingId)} (features.parquet, examples.parquet, genres.json, logit-effects.json)`,
    ...(r.reportUri ? [`browser ${r.reportUri}`] : []),
  ].join('\n');
}

export interface StatsStatus {
  runId: string;
  trainingId: string;
  /** The workflow's status: RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, TIMED_OUT. */
  state: string;
  progress?: StatsProgress;
  result?: StatsResult;
  failure?: string;
}

/** Where a FeatureStats workflow stands (its latest execution, across continue-as-new). */
export async function statsStatus(client: Client, runId: string, trainingId: string): Promise<StatsStatus> {
  const handle = client.workflow.getHandle<typeof featureStats>(statsWorkflowId(runId, trainingId));
  let state: string;
  try {
    state = (await handle.describe()).status.name;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new ConfigError(`no feature statistics of ${runId}/${trainingId} are known to this Temporal namespace`);
    throw err;
  }
  const base = { runId, trainingId, state };
  if (state === 'RUNNING') return { ...base, progress: await handle.query<StatsProgress>('progress') };
  if (state === 'COMPLETED') return { ...base, result: await handle.result() };
  return { ...base, failure: await handle.result().then(() => undefined, (err: Error) => causeMessage(err)) };
}

/** One line of a running workflow's progress. */
export function describeStatsProgress(p: StatsProgress, now = Date.now()): string {
  const windows = p.windowTasks ? `, example-window tasks ${p.windowTasksDone}/${p.windowTasks}` : '';
  return `${p.phase}: part groups ${p.groupsDone.toLocaleString('en-US')}/${p.groups.toLocaleString('en-US')}, ` +
    `${p.tokensSummarised.toLocaleString('en-US')} tokens, ${p.mergesDone.toLocaleString('en-US')} merges${windows}, ` +
    `${Math.round((now - p.startedAt) / 1000)} s since start`;
}

export function describeStatsStatus(s: StatsStatus): string {
  const head = `statistics ${s.runId}/${s.trainingId}: ${s.state}`;
  if (s.progress) return `${head}\n  ${describeStatsProgress(s.progress)}`;
  if (s.result) return `${head}\n${describeStats(s.result)}`;
  return `${head}${s.failure ? `\n  ${s.failure}` : ''}`;
}

/** Waits for the workflow, printing its progress when it changes (every 5 s at most), then the result. */
export async function watchStats(client: Client, runId: string, trainingId: string): Promise<StatsResult> {
  const handle = client.workflow.getHandle<typeof featureStats>(statsWorkflowId(runId, trainingId));
  let last = '';
  const tick = async () => {
    const p = await handle.query<StatsProgress>('progress').catch(() => undefined);
    const line = p && describeStatsProgress(p).replace(/, \d+ s since start$/, '');
    if (line && line !== last) console.log(`  ${line}`);
    last = line ?? last;
  };
  const timer = setInterval(() => void tick(), 5_000);
  try {
    return await handle.result();
  } finally {
    clearInterval(timer);
  }
}
