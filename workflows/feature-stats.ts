import {
  ApplicationFailure, allHandlersFinished, condition, continueAsNew, defineQuery, proxyActivities, setHandler, workflowInfo,
} from '@temporalio/workflow';
import type { ReportActivities } from '../activities/report-activities.js';
import type { ExampleActivities } from '../activities/stats-example-activities.js';
import type { StatsActivities } from '../activities/stats-activities.js';
import { mergeChildren, mergeLevelSizes, mergeNodeKey, partialSummaryKey } from '../core/stats/merge-tree.js';
import {
  STATS_ACTIVITIES_PER_EXECUTION,
  DEFAULT_STATS_CONCURRENCY,
  STATS_QUEUE,
  type FeatureStatsInput,
  type StatsCarried,
  type StatsPlan,
  type StatsProgress,
  type StatsResult,
} from './stats-types.js';
import { causeMessage } from './cause-message.js';

export const statsProgressQuery = defineQuery<StatsProgress>('progress');

/**
 * FeatureStats: the statistics of one dictionary over its hook's activations. planStats stores the
 * part groups in S3; summarisePart runs over them (at most `concurrency` at once) and stores partial
 * summaries; they are merged in a tree of fan-in `fanIn` (core/stats/merge-tree.ts); then the
 * examples' context windows are cut by shard (planExampleWindows, writeExampleWindows per task in
 * parallel, gatherExampleWindows into examples.parquet), finalizeStats writes the per-feature
 * Parquet, logit effects and the genre table, and writeFeatureBrowser writes the static browser
 * last. The history holds keys and counts only, and the workflow continues as new
 * every `activitiesPerExecution` activities carrying a cursor, so 100,000 parts fit.
 */
export async function featureStats(input: FeatureStatsInput): Promise<StatsResult> {
  const carried = input.carried;
  const progress: StatsProgress = {
    runId: input.runId, outputUri: input.outputUri, trainingId: input.trainingId,
    phase: carried ? carried.cursor.phase : 'planning',
    groups: carried?.plan.groups ?? 0, groupsDone: carried?.groupsDone ?? 0,
    tokensSummarised: carried?.tokensSummarised ?? 0, mergesDone: carried?.mergesDone ?? 0,
    windowTasks: carried?.cursor.phase === 'examples' ? carried.cursor.windowTasks : 0, windowTasksDone: carried?.windowTasksDone ?? 0,
    startedAt: carried?.startedAt ?? Date.now(),
  };
  setHandler(statsProgressQuery, () => ({ ...progress }));
  if (!carried) validateInput(input);
  const perExecution = input.activitiesPerExecution ?? STATS_ACTIVITIES_PER_EXECUTION;

  const retry = { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: input.maxAttempts ?? 5, nonRetryableErrorTypes: ['ConfigError'] };
  const acts = proxyActivities<StatsActivities & ExampleActivities & ReportActivities>({
    taskQueue: STATS_QUEUE,
    startToCloseTimeout: '1 day',
    heartbeatTimeout: (input.heartbeatTimeoutSeconds ?? 60) * 1000,
    retry,
  });

  let plan: StatsPlan;
  if (carried) {
    plan = carried.plan;
  } else {
    try {
      plan = await acts.planStats(input);
    } catch (err) {
      throw ApplicationFailure.nonRetryable(`statistics of ${input.trainingId} (run ${input.runId}) could not be planned: ${causeMessage(err)}`, 'PlanFailed');
    }
    progress.groups = plan.groups;
  }
  const ref = { runId: input.runId, outputUri: input.outputUri, trainingId: input.trainingId };
  const concurrency = input.concurrency ?? DEFAULT_STATS_CONCURRENCY;
  const fanIn = input.fanIn ?? 16;

  let running = 0;
  let dispatched = 0;
  let fatal: unknown;
  const settle = async (fn: () => boolean): Promise<void> => {
    await condition(() => fatal !== undefined || fn());
    if (fatal !== undefined) throw fatal;
  };
  const launch = (activity: Promise<unknown>): void => {
    running++;
    dispatched++;
    activity.catch((err) => void (fatal ??= err)).finally(() => void running--);
  };
  // Before each dispatch: past this execution's budget, drain and continue as new from `cursor`.
  const handOffIfDue = async (cursor: StatsCarried['cursor']): Promise<void> => {
    if (dispatched < perExecution && !workflowInfo().continueAsNewSuggested) return;
    await settle(() => running === 0);
    await condition(allHandlersFinished);
    const next: StatsCarried = {
      plan, cursor, groupsDone: progress.groupsDone, tokensSummarised: progress.tokensSummarised, mergesDone: progress.mergesDone,
      windowTasksDone: progress.windowTasksDone, startedAt: progress.startedAt,
    };
    await continueAsNew<typeof featureStats>({ ...input, carried: next }); // throws: this execution ends here
  };

  const start = carried?.cursor ?? { phase: 'summarising' as const, nextGroup: 0 };
  if (start.phase === 'summarising') {
    progress.phase = 'summarising';
    for (let index = start.nextGroup; index < plan.groups; index++) {
      await handOffIfDue({ phase: 'summarising', nextGroup: index });
      await settle(() => running < concurrency);
      launch(acts.summarisePart({
        ...ref, index, groupsPerPage: plan.groupsPerPage,
        ...(input.encodeBatchRows !== undefined && { encodeBatchRows: input.encodeBatchRows }),
        ...(input.topK !== undefined && { topK: input.topK }),
        ...(input.intervalExamples !== undefined && { intervalExamples: input.intervalExamples }),
        ...(input.labels === false && { labels: false }),
        ...(input.executionProvider !== undefined && { executionProvider: input.executionProvider }),
        ...(input.summariseThreads !== undefined && { summariseThreads: input.summariseThreads }),
      }).then((summary) => {
        progress.groupsDone++;
        progress.tokensSummarised += summary.tokens;
      }));
    }
    await settle(() => running === 0);
  }

  const sizes = mergeLevelSizes(plan.groups, fanIn);
  if (start.phase !== 'examples') await mergeTree(start.phase === 'merging' ? start : { level: 1, index: 0 });
  const rootKey = mergeNodeKey(plan.partialsPrefix, sizes, fanIn, sizes.length - 1, 0);
  if (input.exampleWindows !== false) await exampleWindows(start.phase === 'examples' ? start : undefined);

  progress.phase = 'finalising';
  const result = await acts.finalizeStats({ ...ref, summaryKey: rootKey, parts: plan.parts, ...(input.labels === false && { labels: false }) });
  // The browser is written after result.json, from the stored outputs, exactly as
  // `thresher report` would rewrite it.
  if (input.featureBrowser !== false) {
    progress.phase = 'report';
    const report = await acts.writeFeatureBrowser(ref);
    result.reportUri = report.indexUri;
  }
  progress.phase = 'done';
  await condition(allHandlersFinished);
  return result;

  async function mergeTree(from: { level: number; index: number }): Promise<void> {
    progress.phase = 'merging';
    for (let level = from.level; level < sizes.length; level++) {
      for (let index = level === from.level ? from.index : 0; index < sizes[level]; index++) {
        const children = mergeChildren(sizes, fanIn, level, index);
        if (children.length === 1) continue; // the node is its child (merge-tree.ts)
        await handOffIfDue({ phase: 'merging', level, index });
        await settle(() => running < concurrency);
        launch(acts.mergeSummaries({
          runId: input.runId, outputUri: input.outputUri,
          keys: children.map((child) => mergeNodeKey(plan.partialsPrefix, sizes, fanIn, level - 1, child)),
          outKey: partialSummaryKey(plan.partialsPrefix, level, index),
        }).then(() => void progress.mergesDone++));
      }
      // The next level reads this one's summaries.
      await settle(() => running === 0);
    }
  }

  /** Plans the window tasks (unless resuming them), cuts them in parallel, gathers examples.parquet. */
  async function exampleWindows(resume?: { windowTasks: number; nextTask: number }): Promise<void> {
    progress.phase = 'examples';
    const tasks = resume?.windowTasks ?? (await acts.planExampleWindows({
      ...ref, summaryKey: rootKey, ...(input.shardsPerWindowTask !== undefined && { shardsPerTask: input.shardsPerWindowTask }),
    })).tasks;
    progress.windowTasks = tasks;
    for (let task = resume?.nextTask ?? 0; task < tasks; task++) {
      await handOffIfDue({ phase: 'examples', windowTasks: tasks, nextTask: task });
      await settle(() => running < concurrency);
      launch(acts.writeExampleWindows({ ...ref, task }).then(() => void progress.windowTasksDone++));
    }
    await settle(() => running === 0);
    await acts.gatherExampleWindows({ ...ref, tasks, ...(input.featuresPerRowGroup !== undefined && { featuresPerRowGroup: input.featuresPerRowGroup }) });
  }
}

/** Refuses bad numbers before any work (the CLI never sets them; other callers of the workflow may). */
function validateInput(input: FeatureStatsInput): void {
  const minimum = { partsPerGroup: 1, concurrency: 1, fanIn: 2, encodeBatchRows: 1, summariseThreads: 1, topK: 1, intervalExamples: 1, maxAttempts: 1, heartbeatTimeoutSeconds: 1, activitiesPerExecution: 1, shardsPerWindowTask: 1, featuresPerRowGroup: 1 } as const;
  // What FeatureSummary can hold: top-k fill is 16-bit, reservoir fill 8-bit. Threads: a sane ceiling.
  const maximum: Partial<Record<keyof typeof minimum, number>> = { summariseThreads: 256, topK: 0xffff, intervalExamples: 0xff };
  const problems = Object.entries(minimum).flatMap(([name, min]) => {
    const v = input[name as keyof typeof minimum];
    const max = maximum[name as keyof typeof minimum] ?? Infinity;
    return v === undefined || (Number.isInteger(v) && v >= min && v <= max) ? [] : [`${name} must be an integer ${max === Infinity ? `≥ ${min}` : `in [${min}, ${max}]`}, got ${JSON.stringify(v)}`];
  });
  if (problems.length) throw ApplicationFailure.nonRetryable(`statistics of ${input.trainingId} (run ${input.runId}): ${problems.join('; ')}`, 'InvalidInput');
}
