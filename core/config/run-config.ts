import { z } from 'zod';
import { statsSettingsSchema } from '../stats/stats-settings-schema.js';
import { trainingStageSchema } from '../training/training-config-schema.js';

/**
 * The harvest run configuration a user writes (JSON). Every field is documented in the README's
 * configuration table; defaults live here and only here.
 */

/** `s3://bucket/key-or-prefix`, or a local path (absolute, or relative to the config file). */
const location = z.string().min(1, 'must not be empty');

export const STAGE_NAMES = ['train', 'stats'] as const;

export const runConfigSchema = z
  .object({
    /** Run id: names the output prefix and the workflow. Letters, digits, '-', '_' and '.'. */
    runId: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'letters, digits, ".", "_" or "-" (at most 100), starting with a letter or digit')
      .optional(),
    model: z
      .object({
        path: location,
        /** Expected sha256 of the model file; workers refuse a file that does not match. */
        sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits').optional(),
        /** onnxruntime execution provider: 'cpu' (default), 'cuda', ... */
        executionProvider: z.string().min(1).default('cpu'),
        /** Name of the int64 [batch, seq] token input. */
        inputName: z.string().min(1).default('input_ids'),
        /** Threads ORT may use inside one session; 0 lets ORT decide. */
        intraOpThreads: z.number().int().min(0).max(256).default(0),
      })
      .strict(),
    tokenizer: z
      .object({
        path: location,
        sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits').optional(),
        /** Token placed at the start of each context (or document); null disables it. */
        bosToken: z.string().min(1).nullable().default('<|endoftext|>'),
        /** 'context': every context starts with BOS; 'document': BOS separates documents; 'none'. */
        bos: z.enum(['context', 'document', 'none']).default('context'),
      })
      .strict(),
    /** Tensor names to capture; `thresher hooks MODEL` lists them. */
    hooks: z.array(z.string().min(1)).min(1, 'name at least one hook').refine((h) => new Set(h).size === h.length, 'hooks must not repeat'),
    corpus: z
      .object({
        /** Folder or S3 prefix holding .jsonl, .jsonl.gz, .txt or .txt.gz files; each file is a shard. */
        path: location,
        /** JSONL field holding the document text. */
        textField: z.string().min(1).default('text'),
        /** Optional JSONL field with a per-document label, stored on every token (ground truth). */
        labelField: z.string().min(1).optional(),
      })
      .strict(),
    /** Tokens per context (model sequence length), BOS included. */
    contextLength: z.number().int().min(2).max(65536).default(128),
    /** Keep only this many random positions per context (the paper kept 250); omit to keep all. */
    positionsPerContext: z.number().int().min(1).optional(),
    /** Seed for position sampling; the same seed gives the same rows. */
    seed: z.number().int().min(0).max(2 ** 31 - 1).default(0),
    /** Contexts per inference call. */
    batchSize: z.number().int().min(1).max(4096).default(32),
    /** Activation dtype stored in Parquet. */
    dtype: z.enum(['fp32', 'fp16']).default('fp32'),
    output: z
      .object({
        /** `s3://bucket/prefix` under which `<runId>/` is written. */
        path: z.string().regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/, 'must be s3://bucket[/prefix]'),
        /** Target size of one Parquet part (all hooks together); parts end on context boundaries. */
        partMiB: z.number().min(0.01).max(4096).default(64),
      })
      .strict(),
    /** Shards harvested at once across all workers. */
    concurrency: z.number().int().min(1).max(1000).default(8),
    /** Attempts per shard for retryable failures (corrupt input is never retried). */
    maxAttempts: z.number().int().min(1).max(100).default(5),
    /** A harvest worker silent this long is presumed dead and its shard goes to another worker. */
    heartbeatTimeoutSeconds: z.number().int().min(5).max(3600).default(60),
    /** Stages started when the harvest completes. */
    stages: z.array(z.enum(STAGE_NAMES)).default([]),
    /** Settings of the `train` stage (dictionary learning on one hook of this run); README "Dictionary training". */
    train: trainingStageSchema.optional(),
    /** Settings of the `stats` stage (FeatureStats of each dictionary the train stage makes); README "Feature statistics". */
    stats: statsSettingsSchema.optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    const bosOccupies = c.tokenizer.bos === 'context' && c.tokenizer.bosToken !== null ? 1 : 0;
    if (c.positionsPerContext !== undefined && c.positionsPerContext > c.contextLength - bosOccupies) {
      ctx.addIssue({
        code: 'custom',
        path: ['positionsPerContext'],
        message: `must be at most contextLength${bosOccupies ? ' - 1 (the BOS position is never sampled)' : ''} = ${c.contextLength - bosOccupies}`,
      });
    }
    if (c.stages.includes('train') && !c.train) {
      ctx.addIssue({ code: 'custom', path: ['train'], message: 'is required when stages includes "train"' });
    }
    if (c.train && !c.stages.includes('train')) {
      ctx.addIssue({ code: 'custom', path: ['stages'], message: 'must include "train" when a train section is given (or remove the section)' });
    }
    if (c.stages.includes('stats') && !c.stages.includes('train')) {
      ctx.addIssue({ code: 'custom', path: ['stages'], message: '"stats" needs "train": the statistics are of the dictionaries the train stage makes' });
    }
    if (c.stats && !c.stages.includes('stats')) {
      ctx.addIssue({ code: 'custom', path: ['stages'], message: 'must include "stats" when a stats section is given (or remove the section)' });
    }
    if (c.train && !c.hooks.includes(c.train.hook)) {
      ctx.addIssue({ code: 'custom', path: ['train', 'hook'], message: `"${c.train.hook}" is not one of hooks (${c.hooks.join(', ')})` });
    }
    if (c.tokenizer.bos !== 'none' && c.tokenizer.bosToken === null) {
      ctx.addIssue({ code: 'custom', path: ['tokenizer', 'bos'], message: `is '${c.tokenizer.bos}' but bosToken is null` });
    }
  });

export type RunConfigInput = z.input<typeof runConfigSchema>;
export type RunConfig = z.output<typeof runConfigSchema> & { runId: string };

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Validates raw JSON against `schema`; a ConfigError lists every problem with its field path. */
export function parseConfig<S extends z.ZodType>(schema: S, raw: unknown, source: string): z.output<S> {
  const result = schema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  - ${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
    throw new ConfigError(`${source} is invalid:\n${lines.join('\n')}`);
  }
  return result.data;
}

/** Validates a run config; every problem is listed with its field path. */
export function parseRunConfig(raw: unknown, source = 'config'): z.output<typeof runConfigSchema> {
  return parseConfig(runConfigSchema, raw, source);
}

/** Splits `s3://bucket/prefix` into its parts; prefix has no leading or trailing '/'. */
export function parseS3Uri(uri: string): { bucket: string; key: string } {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!m) throw new ConfigError(`${uri} is not an s3:// URI`);
  return { bucket: m[1], key: m[2].replace(/\/+$/, '') };
}

export const isS3Uri = (p: string): boolean => p.startsWith('s3://');
