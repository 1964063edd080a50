/**
 * Shapes that cross the Temporal boundary for dictionary training (TrainDictionary workflow,
 * planSweep and trainOneDictionary activities, CLI). Ids, keys, counts and final metrics only:
 * activations and weights never enter a payload. Kept free of imports so workflow, activities
 * and CLI share it.
 */

export const TRAINING_QUEUE = 'thresher-training';

/** The sweep id a run's `train` stage uses (its dictionaries are `train-d<size>-…`). */
export const STAGE_SWEEP_ID = 'train';

/** One workflow per (run, sweep); `thresher train status <runId>/<sweepId>` finds it again. */
export const trainWorkflowId = (runId: string, sweepId: string): string => `thresher-train-${runId}/${sweepId}`;

export interface TrainSweepInput {
  runId: string;
  /** `s3://bucket/prefix` of the harvest run (`<prefix>/<runId>/`). */
  outputUri: string;
  sweepId: string;
  /**
   * Started by a harvest run's `train` stage: planSweep builds the sweep config from the `train`
   * section of the run's config.json (once; later starts reuse the stored sweep config).
   */
  fromRunConfig?: boolean;
}

/** One (size, λ) combination of a sweep. */
export interface DictionaryJob {
  /** Names the dictionary's folder: `<run>/dictionaries/<trainingId>/`. */
  trainingId: string;
  dSae: number;
  /** λ ('l1'); 0 for 'topk'. */
  l1Coefficient: number;
}

export interface SweepPlan {
  sweepId: string;
  hook: string;
  arch: 'l1' | 'topk';
  steps: number;
  jobs: DictionaryJob[];
  /** Dictionaries trained at once across all training workers. */
  concurrency: number;
  maxAttempts: number;
  heartbeatTimeoutSeconds: number;
}

export interface DictionaryTask {
  runId: string;
  outputUri: string;
  sweepId: string;
  job: DictionaryJob;
}

/** Heartbeat details of trainOneDictionary: where a status display (and a human) can see it got. */
export interface TrainingHeartbeat {
  trainingId: string;
  /** Last step whose checkpoint pointer is in S3 (0: none yet); a retry resumes there. */
  checkpointStep: number;
  /** Last step trained by this attempt. */
  step: number;
  steps: number;
}

/** Health of a finished dictionary: means over its last steps (10%, at most 100; core/training/train-dictionary.ts). */
export interface FinalMetrics {
  mse: number;
  /** null when the batches had no variance (JSON has no NaN). */
  fvu: number | null;
  l0: number;
  l1: number;
  /** At the last step. */
  deadFraction: number;
  denseFraction: number;
  /** Steps averaged. */
  windowSteps: number;
}

export interface DictionaryResult {
  trainingId: string;
  hook: string;
  arch: 'l1' | 'topk';
  dIn: number;
  dSae: number;
  l1Coefficient: number;
  k: number;
  steps: number;
  tokens: number;
  resampleEvents: number;
  resampledFeatures: number;
  /** Input scale used in training (1 without normalisation); folded into the stored weights. */
  scale: number;
  /** The checkpoint step the last attempt resumed from (0: trained from the start). */
  resumedFromStep: number;
  final: FinalMetrics;
  /** S3 keys (bucket = the run's bucket). */
  keys: { weights: string; config: string; encoder: string; result: string; metricsPrefix: string };
}

export type DictionaryState = 'pending' | 'running' | 'done' | 'failed';

export interface TrainSweepProgress {
  runId: string;
  outputUri: string;
  sweepId: string;
  phase: 'planning' | 'training' | 'done';
  steps: number;
  dictionaries: { trainingId: string; dSae: number; l1Coefficient: number; state: DictionaryState }[];
  startedAt: number;
}

export interface DictionaryFailure {
  trainingId: string;
  message: string;
  type: string;
}

export interface TrainSweepResult {
  runId: string;
  outputUri: string;
  sweepId: string;
  status: 'completed' | 'completed_with_failures';
  dictionaries: DictionaryResult[];
  failures: DictionaryFailure[];
}
