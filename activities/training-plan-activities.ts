import { ApplicationFailure } from '@temporalio/activity';
import { ConfigError } from '../core/config/run-config.js';
import { loadRunConfig } from '../core/harvest/run-plan.js';
import type { ObjectStore } from '../core/storage/object-store.js';
import { RunLayout } from '../core/storage/run-layout.js';
import { resolveTrainingConfig, sweepJobs, type ResolvedTrainingConfig } from '../core/training/training-config.js';
import type { SweepPlan, TrainSweepInput } from '../workflows/training-types.js';

export interface TrainingPlanActivityDeps {
  store: ObjectStore;
}

/** The TrainDictionary workflow's S3 bookkeeping; runs on the orchestration queue. */
export function createTrainingPlanActivities({ store }: TrainingPlanActivityDeps) {
  return {
    /**
     * The sweep's dictionaries. A sweep started by `train start` has its config in S3 already; a
     * run's `train` stage gets it written here from the run config, once: later starts (a resumed
     * run) reuse the stored one, so settings never change under existing checkpoints.
     */
    async planSweep(input: TrainSweepInput): Promise<SweepPlan> {
      const layout = new RunLayout(input.outputUri, input.runId);
      try {
        let config = await store.getJsonIfExists<ResolvedTrainingConfig>(layout.bucket, layout.sweepConfigKey(input.sweepId));
        if (!config) {
          if (!input.fromRunConfig) throw new ConfigError(`sweep ${input.sweepId} of run ${input.runId} has no config at s3://${layout.bucket}/${layout.sweepConfigKey(input.sweepId)}`);
          const run = await loadRunConfig(store, layout);
          if (!run.train) throw new ConfigError(`run ${input.runId} lists the "train" stage but its config has no "train" section`);
          config = resolveTrainingConfig(run.train, { runId: input.runId, outputUri: input.outputUri }, input.sweepId);
          await store.putJson(layout.bucket, layout.sweepConfigKey(input.sweepId), config);
        }
        return {
          sweepId: config.sweepId,
          hook: config.hook,
          arch: config.arch,
          steps: config.steps,
          jobs: sweepJobs(config),
          concurrency: config.concurrency,
          maxAttempts: config.maxAttempts,
          heartbeatTimeoutSeconds: config.heartbeatTimeoutSeconds,
        };
      } catch (err) {
        if (err instanceof ConfigError) throw ApplicationFailure.nonRetryable(err.message, err.name);
        throw err;
      }
    },
  };
}

export type TrainingPlanActivities = ReturnType<typeof createTrainingPlanActivities>;
