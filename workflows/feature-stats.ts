import { ApplicationFailure, allHandlersFinished, condition, defineQuery, proxyActivities, setHandler } from '@temporalio/workflow';
import type { ReportActivities } from '../activities/report-activities.js';
import type { ExampleActivities } from '../activities/stats-example-activities.js';
import type { StatsActivities } from '../activities/stats-activities.js';
import {
  STATS_QUEUE,
  type FeatureStatsInput,
  type StatsPlan,
  type StatsProgress,
  type StatsResult,
  type SummaryRef,
} from './stats-types.js';

export const statsProgressQuery = defineQuery<StatsProgress>('progress');

// Deterministic key of a merge node; mirrors RunLayout.statsPartialKey (workflows cannot import the
// layout's S3 parsing, so the activity-given level-0 keys' prefix is reused).
const levelKey = (level0Key: string, level: number, index: number): string =>
  level0Key.replace(/partials\/level-\d+\/summary-\d+\.bin$/, `partials/level-${String(level).padStart(2, '0')}/summary-${String(index).padStart(6, '0')}.bin`);

/**
 * FeatureStats: the statistics of one dictionary over its hook's activations. summarisePart runs
 * over groups of parts (at most `concurrency` at once) and stores partial summaries in S3; they
 * are merged in a tree of fan-in `fanIn`; writeExampleWindows cuts the examples' context windows
 * (examples.parquet); finalizeStats writes the per-feature Parquet, logit
 * effects and the genre table; writeFeatureBrowser writes the static browser last. The history holds
 * keys and counts only.
 */
export async function featureStats(input: FeatureStatsInput): Promise<StatsResult> {
  const startedAt = Date.now();
  const progress: StatsProgress = {
    runId: input.runId, outputUri: input.outputUri, trainingId: input.trainingId,
    phase: 'planning', groups: 0, groupsDone: 0, tokensSummarised: 0, mergesDone: 0, startedAt,
  };
  setHandler(statsProgressQuery, () => ({ ...progress }));

  const retry = { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: input.maxAttempts ?? 5, nonRetryableErrorTypes: ['ConfigError'] };
  const acts = proxyActivities<StatsActivities & ExampleActivities & ReportActivities>({
    taskQueue: STATS_QUEUE,
    startToCloseTimeout: '1 day',
    heartbeatTimeout: (input.heartbeatTimeoutSeconds ?? 60) * 1000,
    retry,
  });

  let plan: StatsPlan;
  try {
    plan = await acts.planStats(input);
  } catch (err) {
    throw ApplicationFailure.nonRetryable(`statistics of ${input.trainingId} (run ${input.runId}) could not be planned: ${causeMessage(err)}`, 'PlanFailed');
  }
  progress.phase = 'summarising';
  progress.groups = plan.groups.length;

  const concurrency = Math.max(1, input.concurrency ?? 8);
  const fanIn = Math.max(2, input.fanIn ?? 16);
  const partials: SummaryRef[] = new Array(plan.groups.length);
  let running = 0;
  let fatal: unknown;
  const settle = async (fn: () => boolean): Promise<void> => {
    await condition(() => fatal !== undefined || fn());
    if (fatal !== undefined) throw fatal;
  };
  for (const [index, partKeys] of plan.groups.entries()) {
    await settle(() => running < concurrency);
    running++;
    acts.summarisePart({
      runId: input.runId, outputUri: input.outputUri, trainingId: input.trainingId, partKeys, index,
      ...(input.encodeBatchRows !== undefined && { encodeBatchRows: input.encodeBatchRows }),
      ...(input.topK !== undefined && { topK: input.topK }),
    }).then((ref) => {
      partials[index] = ref;
      progress.groupsDone++;
      progress.tokensSummarised += ref.tokens;
    }).catch((err) => void (fatal ??= err)).finally(() => void running--);
  }
  await settle(() => running === 0);

  progress.phase = 'merging';
  let level = partials.map((p) => p.key);
  for (let depth = 1; level.length > 1; depth++) {
    const groups: string[][] = [];
    for (let i = 0; i < level.length; i += fanIn) groups.push(level.slice(i, i + fanIn));
    const next: string[] = new Array(groups.length);
    for (const [index, keys] of groups.entries()) {
      await settle(() => running < concurrency);
      if (keys.length === 1) { next[index] = keys[0]; continue; }
      running++;
      acts.mergeSummaries({ runId: input.runId, outputUri: input.outputUri, keys, outKey: levelKey(partials[0].key, depth, index) })
        .then((ref) => { next[index] = ref.key; progress.mergesDone++; })
        .catch((err) => void (fatal ??= err)).finally(() => void running--);
    }
    await settle(() => running === 0);
    level = next;
  }

  progress.phase = 'examples';
  if (input.exampleWindows !== false) await acts.writeExampleWindows({ runId: input.runId, outputUri: input.outputUri, trainingId: input.trainingId, summaryKey: level[0] });

  progress.phase = 'finalising';
  const result = await acts.finalizeStats({
    runId: input.runId, outputUri: input.outputUri, trainingId: input.trainingId, summaryKey: level[0], parts: plan.groups.reduce((a, g) => a + g.length, 0),
  });
  // The browser is written after result.json, from the stored outputs, exactly as
  // `thresher report` would rewrite it.
  if (input.featureBrowser !== false) {
    progress.phase = 'report';
    const report = await acts.writeFeatureBrowser({ runId: input.runId, outputUri: input.outputUri, trainingId: input.trainingId });
    result.reportUri = report.indexUri;
  }
  progress.phase = 'done';
  await condition(allHandlersFinished);
  return result;
}

function causeMessage(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  while (e?.cause) e = e.cause as typeof e;
  return e?.message ?? String(err);
}
