import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  ChildWorkflowFailure,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  executeChild,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { ControlActivities } from '../activities/control-activities.js';
import type { HarvestActivities } from '../activities/harvest-activities.js';
import type { featureStats } from './feature-stats.js';
import { statsWorkflowId, type StatsSettings } from './stats-types.js';
import type { trainDictionary } from './train-dictionary.js';
import { STAGE_SWEEP_ID, trainWorkflowId, type TrainSweepResult } from './training-types.js';
import {
  HARVEST_QUEUE,
  type HarvestCounters,
  type HarvestProgress,
  type HarvestResult,
  type HarvestRunInput,
  type PlanInfo,
  type RunRef,
  type ShardTask,
  type StageOutcome,
} from './harvest-types.js';
import { causeMessage } from './cause-message.js';

export const progressQuery = defineQuery<HarvestProgress>('progress');
export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');

/**
 * Shards dispatched by one execution before it continues as new (unless the input's
 * shardsPerExecution says otherwise): at least this many, more for a high concurrency (below).
 */
export const SHARDS_PER_EXECUTION = 1000;
/**
 * Each shard costs three to five history events (bench:schedule: 3,071 events for 1,000 shards
 * that finish together; 9,541 for 2,000 whose durations vary), so 2,000 stay near the 10,240-event
 * warning and far from the 51,200-event limit. Executions hand over at page boundaries (pages of
 * 1,000 shards), so this is also the most one dispatches.
 */
export const MAX_SHARDS_PER_EXECUTION = 2000;

/**
 * Before continuing as new an execution waits for its last shards, leaving slots idle until the
 * slowest of them is done. The more waves of `concurrency` shards an execution dispatches, the
 * rarer that is: bench:schedule, 6,000 shards of 10 s ± 90% at concurrency 500, took 1.68× the
 * ideal time with 1,000 shards per execution and 1.34× with this default (1,500, which hands
 * over after 2,000: the page boundary).
 */
export function defaultShardsPerExecution(concurrency: number): number {
  return Math.min(MAX_SHARDS_PER_EXECUTION, Math.max(SHARDS_PER_EXECUTION, 3 * concurrency));
}

const control = proxyActivities<ControlActivities>({
  startToCloseTimeout: '10 minutes',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 10 },
});

const harvestWith = (plan: PlanInfo) =>
  proxyActivities<HarvestActivities>({
    taskQueue: HARVEST_QUEUE,
    startToCloseTimeout: '24 hours',
    // A worker that dies mid-shard is noticed within this and the shard goes to another worker.
    heartbeatTimeout: plan.heartbeatTimeoutSeconds * 1000,
    retry: {
      initialInterval: '2s',
      backoffCoefficient: 2,
      maximumInterval: '2 minutes',
      maximumAttempts: plan.maxAttempts,
      nonRetryableErrorTypes: ['CorruptShardError', 'ConfigError'],
    },
  });

/**
 * Harvests every shard of a run: plan once (shard list in S3), then walk the plan page by page
 * with a bounded number of shards in flight, continuing as new with only counters and a page
 * cursor. Started again on a finished run, it redoes only shards without a manifest.
 */
export async function harvestRun(input: HarvestRunInput): Promise<HarvestResult> {
  const ref = { runId: input.runId, outputUri: input.outputUri };
  if (input.shardsPerExecution !== undefined && !(Number.isInteger(input.shardsPerExecution) && input.shardsPerExecution >= 1)) {
    throw ApplicationFailure.nonRetryable(`shardsPerExecution must be a positive integer, got ${input.shardsPerExecution}`, 'InvalidInput');
  }
  const startedAt = input.carried?.startedAt ?? Date.now();
  let plan: PlanInfo | undefined = input.carried?.plan;
  let nextPage = input.carried?.nextPage ?? 0;
  const counters: HarvestCounters = input.carried?.counters ?? { done: 0, failed: 0, skipped: 0, tokens: 0, rows: 0, bytes: 0 };
  let paused = input.carried?.paused ?? false;
  let running = 0;
  let phase: HarvestProgress['phase'] = plan ? 'harvesting' : 'planning';

  setHandler(progressQuery, () => ({
    ...ref,
    phase,
    paused,
    shards: { total: plan?.shardCount ?? 0, done: counters.done, failed: counters.failed, running, skipped: counters.skipped },
    tokens: counters.tokens,
    skippedTokens: counters.skippedTokens ?? 0,
    rows: counters.rows,
    bytes: counters.bytes,
    startedAt,
  }));
  setHandler(pauseSignal, () => void (paused = true));
  setHandler(resumeSignal, () => void (paused = false));

  if (!plan) {
    try {
      plan = await control.planShards(ref, input.shardsPerExecution);
    } catch (err) {
      throw ApplicationFailure.nonRetryable(`run ${ref.runId} could not be planned: ${causeMessage(err)}`, 'PlanFailed');
    }
  }
  phase = 'harvesting';
  const harvest = harvestWith(plan);
  // Executions recorded before the default scaled with concurrency replay with the old one.
  const perExecution = input.shardsPerExecution
    ?? (patched('shards-per-execution-scales-with-concurrency') ? defaultShardsPerExecution(plan.concurrency) : SHARDS_PER_EXECUTION);

  const runShard = async (shard: ShardTask): Promise<void> => {
    running++;
    try {
      const c = await harvest.harvestShard(ref, shard);
      counters.done++;
      counters.tokens += c.tokens;
      counters.rows += c.rows;
      counters.bytes += c.bytes;
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      counters.failed++;
      const cause = err.cause;
      const type = cause instanceof ApplicationFailure ? (cause.type ?? 'Error') : (cause?.name ?? 'Error');
      log.warn('shard failed', { runId: ref.runId, shard: shard.index, message: causeMessage(err) });
      await control.recordShardFailure(ref, { shard: shard.index, uri: shard.uri, message: causeMessage(err), type });
    } finally {
      running--;
    }
  };

  // Anything but a shard failure (e.g. cancellation) ends the run; shards never swallow it.
  let fatal: unknown;
  const settle = async (fn: () => boolean): Promise<void> => {
    await condition(() => fatal !== undefined || fn());
    if (fatal !== undefined) throw fatal;
  };

  let dispatched = 0;
  while (nextPage < plan.pageCount) {
    if (dispatched >= perExecution || workflowInfo().continueAsNewSuggested) {
      await settle(() => running === 0);
      await condition(allHandlersFinished);
      return continueAsNew<typeof harvestRun>({
        ...ref,
        ...(input.shardsPerExecution !== undefined && { shardsPerExecution: input.shardsPerExecution }),
        carried: { plan, nextPage, counters, paused, startedAt },
      });
    }
    const page = await control.pendingShards(ref, nextPage);
    counters.done += page.alreadyDone;
    counters.skipped += page.alreadyDone;
    counters.tokens += page.doneTokens;
    counters.skippedTokens = (counters.skippedTokens ?? 0) + page.doneTokens;
    counters.rows += page.doneRows;
    counters.bytes += page.doneBytes;
    for (const shard of page.shards) {
      await settle(() => !paused && running < plan!.concurrency);
      runShard(shard).catch((err) => void (fatal ??= err));
      dispatched++;
    }
    nextPage++;
  }
  await settle(() => running === 0);

  phase = 'finalizing';
  const result = await control.finalizeRun(ref, plan, counters);
  if (plan.stages.includes('train')) {
    phase = 'stages';
    const train = await trainStage(ref, result);
    result.stages = { train: train.outcome };
    if (plan.stages.includes('stats')) result.stages.stats = await statsStage(ref, train.sweep, plan.stats);
  }
  phase = 'done';
  await condition(allHandlersFinished);
  return result;
}

/**
 * The run's `train` stage: a TrainDictionary child over this run (sweep "train", settings from the
 * run config's `train` section), awaited so the run ends when its stages do. A failed stage is
 * reported in the result; it does not undo the harvest.
 */
async function trainStage(ref: RunRef, harvest: HarvestResult): Promise<{ outcome: StageOutcome; sweep?: TrainSweepResult }> {
  const workflowId = trainWorkflowId(ref.runId, STAGE_SWEEP_ID);
  if (harvest.status !== 'completed') {
    return { outcome: { workflowId, status: 'skipped', message: `${harvest.failedShards} shards failed; \`thresher run resume ${ref.runId}\` retries them and then trains` } };
  }
  try {
    const sweep = await executeChild<typeof trainDictionary>('trainDictionary', {
      workflowId,
      args: [{ ...ref, sweepId: STAGE_SWEEP_ID, fromRunConfig: true }],
      memo: { outputUri: ref.outputUri },
    });
    const message = sweep.failures.length > 0 ? { message: `${sweep.failures.length} dictionaries failed: ${sweep.failures[0].message}` } : {};
    return { outcome: { workflowId, status: sweep.status, ...message }, sweep };
  } catch (err) {
    if (isCancellation(err) || !(err instanceof ChildWorkflowFailure)) throw err;
    log.warn('train stage failed', { runId: ref.runId, message: causeMessage(err) });
    return { outcome: { workflowId, status: 'failed', message: causeMessage(err) } };
  }
}

/**
 * The run's `stats` stage: one FeatureStats child per dictionary the train stage made (each ends
 * with its feature browser), one after another so they do not compete for the training workers.
 * Each gets the run config's `stats` settings. The outcome names the first child's workflow id; a
 * failure is reported, not thrown.
 */
async function statsStage(ref: RunRef, sweep: TrainSweepResult | undefined, settings: StatsSettings = {}): Promise<StageOutcome> {
  const ids = sweep?.dictionaries.map((d) => d.trainingId) ?? [];
  const first = statsWorkflowId(ref.runId, ids[0] ?? STAGE_SWEEP_ID);
  if (!ids.length) return { workflowId: first, status: 'skipped', message: 'the train stage made no dictionary' };
  const failures: string[] = [];
  const done: string[] = [];
  for (const trainingId of ids) {
    try {
      await executeChild<typeof featureStats>('featureStats', {
        workflowId: statsWorkflowId(ref.runId, trainingId),
        args: [{ ...settings, ...ref, trainingId }],
        memo: { outputUri: ref.outputUri },
      });
      done.push(trainingId);
    } catch (err) {
      if (isCancellation(err) || !(err instanceof ChildWorkflowFailure)) throw err;
      log.warn('stats stage failed for a dictionary', { runId: ref.runId, trainingId, message: causeMessage(err) });
      failures.push(`${trainingId}: ${causeMessage(err)}`);
    }
  }
  if (!failures.length) return { workflowId: first, status: 'completed', trainingIds: done };
  return { workflowId: first, status: done.length ? 'completed_with_failures' : 'failed', trainingIds: done, message: failures.join('; ') };
}
