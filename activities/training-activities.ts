import { Context } from '@temporalio/activity';
import { withHeartbeat } from './heartbeat.js';
import type { TrainingRecorder } from '../core/metrics/training-stage-metrics.js';
import type { ObjectStore } from '../core/storage/object-store.js';
import { RunLayout } from '../core/storage/run-layout.js';
import { dictionaryConfig, loadSweepConfig } from '../core/training/training-config.js';
import { readCheckpointPointer } from '../core/training/training-checkpoints.js';
import { trainDictionary } from '../core/training/train-dictionary.js';
import type { DictionaryResult, DictionaryTask, TrainingHeartbeat } from '../workflows/training-types.js';

export interface TrainingActivityDeps {
  store: ObjectStore;
  /** Prometheus recorder (core/metrics/training-stage-metrics.ts); none means no metrics. */
  metrics?: TrainingRecorder;
}

/** Errors no retry can fix: bad settings, a run without the hook, an SAE config the trainer refuses. */
const FATAL = new Set(['ConfigError', 'SaeConfigError', 'UnknownHookError', 'ExecutionProviderError']);

/** The training activity, run by training workers on the training queue (fixed slots). */
export function createTrainingActivities({ store, metrics }: TrainingActivityDeps) {
  return {
    /**
     * Trains one dictionary of a sweep. Every attempt starts from the newest checkpoint in S3, so a
     * retry after a killed worker (noticed by the heartbeat timeout) loses at most
     * checkpointEverySteps steps, and one after a worker that shut down (it checkpoints where it
     * stopped) loses none; heartbeats carry the checkpoint step for status displays.
     */
    async trainOneDictionary(task: DictionaryTask): Promise<DictionaryResult> {
      const ctx = Context.current();
      const layout = new RunLayout(task.outputUri, task.runId);
      const beat: TrainingHeartbeat = { trainingId: task.job.trainingId, checkpointStep: 0, step: 0, steps: 0 };
      return withHeartbeat(() => ({ ...beat }), FATAL, async (heartbeat) => {
        const config = dictionaryConfig(await loadSweepConfig(store, layout, task.sweepId, ctx.cancellationSignal), task.job);
        const pointer = await readCheckpointPointer(store, layout, config.trainingId, ctx.cancellationSignal);
        beat.steps = config.steps;
        beat.checkpointStep = beat.step = pointer?.step ?? 0;
        metrics?.setPlannedSteps(task.runId, config.trainingId, config.steps);
        if (pointer) ctx.log.info('resuming dictionary from checkpoint', { trainingId: config.trainingId, step: pointer.step, attempt: ctx.info.attempt });
        const result = await trainDictionary({
          store,
          layout,
          config,
          resumeFrom: pointer ?? 'none',
          signal: ctx.cancellationSignal,
          onStep: (r) => {
            beat.step = r.step;
            metrics?.step(task.runId, config.trainingId, r);
          },
          onAbortCheckpointError: (err) => ctx.log.warn('stopped training could not checkpoint; the retry resumes from the previous checkpoint', { trainingId: config.trainingId, error: err.message }),
          onCheckpoint: (p) => {
            beat.checkpointStep = p.step;
            metrics?.checkpoint(task.runId, config.trainingId, p.step);
            heartbeat();
          },
        });
        ctx.log.info('dictionary trained', { trainingId: result.trainingId, steps: result.steps, l0: result.final.l0, fvu: result.final.fvu, dead: result.final.deadFraction });
        return result;
      });
    },
  };
}

export type TrainingActivities = ReturnType<typeof createTrainingActivities>;
