import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  condition,
  defineQuery,
  log,
  proxyActivities,
  setHandler,
} from '@temporalio/workflow';
import type { TrainingActivities } from '../activities/training-activities.js';
import type { TrainingPlanActivities } from '../activities/training-plan-activities.js';
import {
  TRAINING_QUEUE,
  type DictionaryFailure,
  type DictionaryResult,
  type DictionaryState,
  type SweepPlan,
  type TrainSweepInput,
  type TrainSweepProgress,
  type TrainSweepResult,
} from './training-types.js';
import { causeMessage } from './cause-message.js';

export const trainProgressQuery = defineQuery<TrainSweepProgress>('progress');

const plan = proxyActivities<TrainingPlanActivities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 10 },
});

const trainerWith = (p: SweepPlan) =>
  proxyActivities<TrainingActivities>({
    taskQueue: TRAINING_QUEUE,
    // Training is long by nature; liveness is the heartbeat's job, not this.
    startToCloseTimeout: '30 days',
    heartbeatTimeout: p.heartbeatTimeoutSeconds * 1000,
    retry: {
      initialInterval: '2s',
      backoffCoefficient: 2,
      maximumInterval: '2 minutes',
      maximumAttempts: p.maxAttempts,
      nonRetryableErrorTypes: ['ConfigError', 'SaeConfigError'],
    },
  });

/**
 * TrainDictionary: one training per (size, λ) of a sweep on the training queue, at most
 * `concurrency` at once. Each activity checkpoints to S3 and resumes from its newest checkpoint,
 * so this workflow holds only the job list and the results (a sweep is at most 500 dictionaries:
 * a few thousand history events). A dictionary that fails is reported, and the others go on.
 */
export async function trainDictionary(input: TrainSweepInput): Promise<TrainSweepResult> {
  const startedAt = Date.now();
  let sweep: SweepPlan | undefined;
  let phase: TrainSweepProgress['phase'] = 'planning';
  const states = new Map<string, DictionaryState>();
  const results: DictionaryResult[] = [];
  const failures: DictionaryFailure[] = [];

  setHandler(trainProgressQuery, () => ({
    runId: input.runId,
    outputUri: input.outputUri,
    sweepId: input.sweepId,
    phase,
    steps: sweep?.steps ?? 0,
    dictionaries: (sweep?.jobs ?? []).map((j) => ({ trainingId: j.trainingId, dSae: j.dSae, l1Coefficient: j.l1Coefficient, state: states.get(j.trainingId) ?? 'pending' })),
    startedAt,
  }));

  try {
    sweep = await plan.planSweep(input);
  } catch (err) {
    throw ApplicationFailure.nonRetryable(`sweep ${input.sweepId} of run ${input.runId} could not be planned: ${causeMessage(err)}`, 'PlanFailed');
  }
  phase = 'training';
  const trainer = trainerWith(sweep);

  let running = 0;
  let fatal: unknown;
  const runJob = async (job: SweepPlan['jobs'][number]): Promise<void> => {
    running++;
    states.set(job.trainingId, 'running');
    try {
      results.push(await trainer.trainOneDictionary({ runId: input.runId, outputUri: input.outputUri, sweepId: sweep!.sweepId, job }));
      states.set(job.trainingId, 'done');
    } catch (err) {
      // Cancellation and other non-activity errors end the sweep; a failed dictionary does not.
      if (!(err instanceof ActivityFailure)) throw err;
      states.set(job.trainingId, 'failed');
      const cause = err.cause;
      const type = cause instanceof ApplicationFailure ? (cause.type ?? 'Error') : (cause?.name ?? 'Error');
      log.warn('dictionary failed', { runId: input.runId, trainingId: job.trainingId, message: causeMessage(err) });
      failures.push({ trainingId: job.trainingId, message: causeMessage(err), type });
    } finally {
      running--;
    }
  };
  const settle = async (fn: () => boolean): Promise<void> => {
    await condition(() => fatal !== undefined || fn());
    if (fatal !== undefined) throw fatal;
  };
  for (const job of sweep.jobs) {
    await settle(() => running < sweep!.concurrency);
    runJob(job).catch((err) => void (fatal ??= err));
  }
  await settle(() => running === 0);

  phase = 'done';
  await condition(allHandlersFinished);
  // Results in job order (small sizes first), whatever order they finished in.
  const order = new Map(sweep.jobs.map((j, i) => [j.trainingId, i]));
  results.sort((a, b) => order.get(a.trainingId)! - order.get(b.trainingId)!);
  return {
    runId: input.runId,
    outputUri: input.outputUri,
    sweepId: sweep.sweepId,
    status: failures.length ? 'completed_with_failures' : 'completed',
    dictionaries: results,
    failures,
  };
}
