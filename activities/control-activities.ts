import { loadRunConfig, listShardFailures, pendingInPage, PLAN_PAGE_SIZE, planRun, recordShardFailure } from '../core/harvest/run-plan.js';
import type { ObjectStore } from '../core/storage/object-store.js';
import { RunLayout } from '../core/storage/run-layout.js';
import type { HarvestCounters, HarvestResult, PendingPage, PlanInfo, RunRef, ShardFailure } from '../workflows/harvest-types.js';

export interface ControlActivityDeps {
  store: ObjectStore;
}

/** Light S3 bookkeeping for the HarvestRun workflow; runs on the orchestration queue. */
export function createControlActivities({ store }: ControlActivityDeps) {
  const layoutOf = (ref: RunRef): RunLayout => new RunLayout(ref.outputUri, ref.runId);
  return {
    /** `maxPageSize` lowers the plan's page size (HarvestRunInput.shardsPerExecution) on a first plan. */
    async planShards(ref: RunRef, maxPageSize?: number): Promise<PlanInfo> {
      const layout = layoutOf(ref);
      return planRun(store, layout, await loadRunConfig(store, layout), Math.min(PLAN_PAGE_SIZE, maxPageSize ?? PLAN_PAGE_SIZE));
    },

    async pendingShards(ref: RunRef, page: number): Promise<PendingPage> {
      return pendingInPage(store, layoutOf(ref), page);
    },

    async recordShardFailure(ref: RunRef, failure: ShardFailure): Promise<void> {
      await recordShardFailure(store, layoutOf(ref), failure);
    },

    async finalizeRun(ref: RunRef, plan: PlanInfo, counters: HarvestCounters): Promise<HarvestResult> {
      const layout = layoutOf(ref);
      // Failures still on record after this execution are the shards `run resume` will retry.
      const failed = (await listShardFailures(store, layout)).length;
      const result: HarvestResult = {
        ...ref,
        status: failed > 0 ? 'completed_with_failures' : 'completed',
        shards: plan.shardCount,
        failedShards: failed,
        tokens: counters.tokens,
        rows: counters.rows,
        bytes: counters.bytes,
      };
      await store.putJson(layout.bucket, layout.summaryKey, { ...result, finishedAt: new Date().toISOString() });
      return result;
    },
  };
}

export type ControlActivities = ReturnType<typeof createControlActivities>;
