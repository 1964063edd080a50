// From a user's training config to what workers run: defaults that depend on other fields, the
// per-(size, λ) dictionary configs and their ids, and the sweep config stored in S3 (immutable
// once written, so every attempt of every dictionary trains on the same settings).
import { createHash } from 'node:crypto';
import { ConfigError, parseConfig } from '../config/run-config.js';
import type { SaeTrainerOptions } from '../sae/sae-config.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { RunLayout } from '../storage/run-layout.js';
import type { DictionaryJob } from '../../workflows/training-types.js';
import { isScheduled, type TrainingSchedule } from './training-schedule.js';
import {
  PAPER_RESAMPLE_STEPS,
  trainingConfigSchema,
  type TrainingConfigParsed,
  type TrainingStageConfig,
} from './training-config-schema.js';

export const SWEEP_FORMAT = 'thresher.training-sweep/v1';

/** A sweep with every default filled in; stored at RunLayout.sweepConfigKey. */
export interface ResolvedTrainingConfig {
  format: typeof SWEEP_FORMAT;
  runId: string;
  outputUri: string;
  sweepId: string;
  hook: string;
  arch: 'l1' | 'topk';
  sizes: number[];
  /** [0] for 'topk'. */
  l1Coefficients: number[];
  /** 0 for 'l1'. */
  k: number;
  lr: number;
  /** Absent when nothing is scheduled, and in sweeps stored before schedules existed. */
  schedule?: TrainingSchedule;
  batchSize: number;
  steps: number;
  seed: number;
  bufferRows: number;
  prefetchParts: number;
  normalise: boolean;
  checkpointEverySteps: number;
  metricsChunkSteps: number;
  resample: { steps: number[]; deadWindowSteps: number; sampleRows: number };
  concurrency: number;
  maxAttempts: number;
  heartbeatTimeoutSeconds: number;
  executionProvider: string;
  intraOpThreads?: number;
}

/** One dictionary's settings: the sweep's, with a single size and λ. */
export interface DictionaryConfig extends Omit<ResolvedTrainingConfig, 'sizes' | 'l1Coefficients'> {
  trainingId: string;
  dSae: number;
  l1Coefficient: number;
}

/** Validates a `thresher train start` file; every problem is listed with its field path. */
export function parseTrainingConfig(raw: unknown, source = 'training config'): TrainingConfigParsed {
  return parseConfig(trainingConfigSchema, raw, source);
}

export function defaultSweepId(arch: string, now = new Date()): string {
  return `${arch}-${now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}`;
}

/** Fills the defaults that depend on other fields. `c` is already schema-valid. */
export function resolveTrainingConfig(c: TrainingStageConfig, run: { runId: string; outputUri: string }, sweepId: string): ResolvedTrainingConfig {
  return {
    format: SWEEP_FORMAT,
    runId: run.runId,
    outputUri: run.outputUri,
    sweepId,
    hook: c.hook,
    arch: c.arch,
    sizes: [...c.sizes],
    l1Coefficients: c.arch === 'l1' ? [...c.l1Coefficients!] : [0],
    k: c.arch === 'topk' ? c.k! : 0,
    lr: c.lr,
    ...(isScheduled(c.schedule) && { schedule: { ...c.schedule } }),
    batchSize: c.batchSize,
    steps: c.steps ?? Math.ceil(c.totalTokens! / c.batchSize),
    seed: c.seed,
    // A pool a few batches deep mixes parts well; never smaller than one batch.
    bufferRows: c.bufferRows ?? Math.max(65_536, 4 * c.batchSize),
    prefetchParts: c.prefetchParts,
    normalise: c.normalise,
    checkpointEverySteps: c.checkpointEverySteps,
    metricsChunkSteps: c.metricsChunkSteps,
    resample: {
      // TopK keeps latents alive with AuxK (OpenAI 2024), so it does not resample by default.
      steps: c.resample.steps ?? (c.arch === 'l1' ? PAPER_RESAMPLE_STEPS : []),
      deadWindowSteps: c.resample.deadWindowSteps,
      sampleRows: c.resample.sampleRows,
    },
    concurrency: c.concurrency,
    maxAttempts: c.maxAttempts,
    heartbeatTimeoutSeconds: c.heartbeatTimeoutSeconds,
    executionProvider: c.executionProvider,
    ...(c.intraOpThreads !== undefined && { intraOpThreads: c.intraOpThreads }),
  };
}

/** `<sweep>-d<size>-lambda<λ>` ('l1') or `<sweep>-d<size>-k<k>` ('topk'): one S3 key segment. */
export function trainingIdOf(sweepId: string, arch: 'l1' | 'topk', dSae: number, l1Coefficient: number, k: number): string {
  return arch === 'topk' ? `${sweepId}-d${dSae}-k${k}` : `${sweepId}-d${dSae}-lambda${String(l1Coefficient).replace('+', '')}`;
}

/** Sizes × λ, sizes outermost (small dictionaries first: their results come back soonest). */
export function sweepJobs(c: ResolvedTrainingConfig): DictionaryJob[] {
  const jobs: DictionaryJob[] = [];
  for (const dSae of [...c.sizes].sort((a, b) => a - b)) {
    for (const l1Coefficient of c.l1Coefficients) jobs.push({ trainingId: trainingIdOf(c.sweepId, c.arch, dSae, l1Coefficient, c.k), dSae, l1Coefficient });
  }
  return jobs;
}

export function dictionaryConfig(c: ResolvedTrainingConfig, job: DictionaryJob): DictionaryConfig {
  const { sizes: _s, l1Coefficients: _l, ...rest } = c;
  return { ...rest, trainingId: job.trainingId, dSae: job.dSae, l1Coefficient: job.l1Coefficient };
}

/** What createSaeTrainer needs, once the hook's width (d_in) is known. */
export function saeTrainerOptions(c: DictionaryConfig, dIn: number): SaeTrainerOptions {
  return {
    dIn,
    dSae: c.dSae,
    arch: c.arch,
    ...(c.arch === 'l1' ? { l1Coefficient: c.l1Coefficient } : { k: c.k }),
    lr: c.lr,
    batchSize: c.batchSize,
    seed: c.seed,
    // "Dead" = no firing in the last deadWindowSteps steps (paper: 12,500).
    deadAfterTokens: c.resample.deadWindowSteps * c.batchSize,
  };
}

/**
 * Hash of the settings that decide a dictionary's weights. A checkpoint records it; resuming with
 * other settings would silently mix two trainings, so it is refused instead.
 */
export function trainingFingerprint(c: DictionaryConfig): string {
  const decisive = {
    runId: c.runId, outputUri: c.outputUri, hook: c.hook, arch: c.arch, dSae: c.dSae, l1Coefficient: c.l1Coefficient, k: c.k,
    lr: c.lr, batchSize: c.batchSize, steps: c.steps, seed: c.seed, bufferRows: c.bufferRows, normalise: c.normalise, resample: c.resample,
    // Only when set, so the fingerprints of unscheduled trainings stay what they were.
    ...(isScheduled(c.schedule) && { schedule: c.schedule }),
  };
  return createHash('sha256').update(JSON.stringify(decisive)).digest('hex').slice(0, 16);
}

export async function loadSweepConfig(store: ObjectStore, layout: RunLayout, sweepId: string, signal?: AbortSignal): Promise<ResolvedTrainingConfig> {
  const c = await store.getJsonIfExists<ResolvedTrainingConfig>(layout.bucket, layout.sweepConfigKey(sweepId), signal);
  if (!c) throw new ConfigError(`sweep ${sweepId} of run ${layout.runId} has no config at s3://${layout.bucket}/${layout.sweepConfigKey(sweepId)}`);
  if (c.format !== SWEEP_FORMAT) throw new ConfigError(`sweep config ${layout.sweepConfigKey(sweepId)} has format ${String(c.format)}, expected ${SWEEP_FORMAT}`);
  return c;
}
