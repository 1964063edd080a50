import { z } from 'zod';
import { scheduleProblems } from './training-schedule.js';

/**
 * Dictionary-training configuration (issue #3), as a user writes it: the `train` section of a run
 * config (stage), or a file for `thresher train start` (which also names the harvest run). Every
 * field is documented in the README's training table; defaults live here and in
 * resolveTrainingConfig (those that depend on other fields). This module imports nothing of the
 * project so run-config.ts can embed the stage schema without an import cycle.
 */

/** Paper schedule (Towards Monosemanticity): resample dead features at these steps. */
export const PAPER_RESAMPLE_STEPS = [25_000, 50_000, 75_000, 100_000];

/** Upper bound on one sweep's combinations: each is an activity in one workflow history. */
export const MAX_SWEEP_DICTIONARIES = 500;

const posInt = z.number().int().min(1);
const unique = (v: number[]) => new Set(v).size === v.length;

const resampleSchema = z
  .object({
    /** Steps after which dead features are resampled. Default: the paper's 25k/50k/75k/100k for 'l1', none for 'topk' (AuxK instead). */
    steps: z.array(posInt).refine((s) => s.every((x, i) => i === 0 || x > s[i - 1]), 'must be strictly increasing').optional(),
    /** A feature that has not fired for this many steps is dead (resampling, dead fraction, AuxK). Paper: 12,500. */
    deadWindowSteps: posInt.default(12_500),
    /** Inputs drawn from the stream to pick new directions from, ∝ loss². Paper: 819,200; memory is sampleRows × d_in × 4 bytes. */
    sampleRows: posInt.max(4_194_304).default(65_536),
  })
  .strict();

/** Fields shared by the stage section and the `train start` file. */
const trainingShape = {
  /** The harvested hook to train on; must be one of the run's hooks. */
  hook: z.string().min(1),
  /** Dictionary sizes (d_sae); one training per size × λ. Paper: 512 … 131,072. */
  sizes: z.array(posInt.max(1 << 20)).min(1, 'name at least one size').refine(unique, 'sizes must not repeat'),
  /** λ values ('l1' only), see LOSS_NORMALISATION in core/sae/sae-config.ts. */
  l1Coefficients: z.array(z.number().min(0).finite()).min(1).refine(unique, 'l1Coefficients must not repeat').optional(),
  /** 'l1' (Anthropic 2023) or 'topk' (OpenAI 2024, with AuxK). */
  arch: z.enum(['l1', 'topk']).default('l1'),
  /** Active latents per token ('topk'). */
  k: posInt.optional(),
  /** Adam learning rate. */
  lr: z.number().positive().finite().default(1e-4),
  /** Linear warm-ups and decay (core/training/training-schedule.ts); every count defaults to 0, none. */
  schedule: z
    .object({
      lrWarmupSteps: z.number().int().min(0).default(0),
      lrDecaySteps: z.number().int().min(0).default(0),
      l1WarmupSteps: z.number().int().min(0).default(0),
    })
    .strict()
    .optional(),
  /** Activation vectors per step. Paper: 8,192. */
  batchSize: posInt.max(1 << 20).default(4096),
  /** Training length in steps; give this or totalTokens. */
  steps: posInt.optional(),
  /** Training length in tokens (rounded up to whole steps); give this or steps. */
  totalTokens: posInt.optional(),
  /** Seeds the weight init, the data order and the resampling draws. */
  seed: z.number().int().min(0).max(2 ** 31 - 1).default(0),
  /** Shuffle-buffer rows; memory is bufferRows × d_in × 4 bytes. Default max(65,536, 4 × batchSize). */
  bufferRows: posInt.max(1 << 26).optional(),
  /** Parquet parts fetched ahead of the one being consumed. */
  prefetchParts: posInt.max(64).default(2),
  /** Scale inputs so their mean squared norm is d_in (λ then means the same across hooks); the scale is folded into the saved weights. */
  normalise: z.boolean().default(false),
  /** Write a checkpoint (weights, Adam, dead counters, data cursor) every this many steps. */
  checkpointEverySteps: posInt.default(1000),
  /** Steps per metrics JSONL object in S3 (every step is recorded; this is how they are grouped). */
  metricsChunkSteps: posInt.max(100_000).default(1000),
  resample: resampleSchema.default({ deadWindowSteps: 12_500, sampleRows: 65_536 }),
  /** Dictionaries trained at once across all training workers. */
  concurrency: posInt.max(1000).default(4),
  /** Attempts per dictionary for retryable failures (a killed worker, S3 trouble); each resumes from the last checkpoint. */
  maxAttempts: posInt.max(100).default(5),
  /** A training worker silent this long is presumed dead and the dictionary resumes elsewhere. */
  heartbeatTimeoutSeconds: z.number().int().min(5).max(3600).default(60),
  /** onnxruntime execution provider for the training step: 'cpu', 'cuda', … */
  executionProvider: z.string().min(1).default('cpu'),
  /** ORT threads for one training session; omit to let ORT decide. */
  intraOpThreads: z.number().int().min(1).max(256).optional(),
};

type TrainingFields = z.output<z.ZodObject<typeof trainingShape>>;

function checkTraining(c: TrainingFields, ctx: z.RefinementCtx): void {
  const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
  if ((c.steps === undefined) === (c.totalTokens === undefined)) issue(['steps'], 'give exactly one of steps and totalTokens');
  if (c.arch === 'l1') {
    if (!c.l1Coefficients) issue(['l1Coefficients'], "is required for arch 'l1' (one training per size × λ)");
    if (c.k !== undefined) issue(['k'], "applies to arch 'topk' only");
  } else {
    if (c.k === undefined) issue(['k'], "is required for arch 'topk'");
    if (c.l1Coefficients) issue(['l1Coefficients'], "applies to arch 'l1' only");
    const small = c.sizes.filter((s) => c.k !== undefined && s < c.k);
    if (small.length) issue(['k'], `(${c.k}) exceeds sizes ${small.join(', ')}`);
  }
  const combos = c.sizes.length * (c.l1Coefficients?.length ?? 1);
  if (combos > MAX_SWEEP_DICTIONARIES) issue(['sizes'], `sizes × l1Coefficients is ${combos} dictionaries; at most ${MAX_SWEEP_DICTIONARIES} per sweep`);
  if (c.bufferRows !== undefined && c.bufferRows < c.batchSize) issue(['bufferRows'], `(${c.bufferRows}) must be at least batchSize (${c.batchSize})`);
  const steps = c.steps ?? (c.totalTokens !== undefined ? Math.ceil(c.totalTokens / c.batchSize) : undefined);
  if (c.schedule && steps !== undefined) {
    for (const p of scheduleProblems(c.schedule, steps, c.arch)) issue(['schedule', p.field], p.message);
  }
}

/** The `train` section of a run config: trains on the run it belongs to, as sweep "train". */
export const trainingStageSchema = z.object(trainingShape).strict().superRefine(checkTraining);

const sweepIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/, 'letters, digits, ".", "_" or "-" (at most 80), starting with a letter or digit');

/** A `thresher train start` file: the stage fields plus which finished run to train on. */
export const trainingConfigSchema = z
  .object({
    /** The finished harvest run whose activations to train on. */
    harvest: z
      .object({
        runId: z.string().min(1),
        /** The run's output.path: `s3://bucket/prefix` (the run is at `<prefix>/<runId>/`). */
        output: z.string().regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/, 'must be s3://bucket[/prefix]'),
      })
      .strict(),
    /** Names the sweep (its workflow and dictionary folders). Default `<arch>-<UTC timestamp>`. */
    sweepId: sweepIdSchema.optional(),
    ...trainingShape,
  })
  .strict()
  .superRefine(checkTraining);

export type TrainingStageInput = z.input<typeof trainingStageSchema>;
export type TrainingStageConfig = z.output<typeof trainingStageSchema>;
export type TrainingConfigInput = z.input<typeof trainingConfigSchema>;
export type TrainingConfigParsed = z.output<typeof trainingConfigSchema>;
