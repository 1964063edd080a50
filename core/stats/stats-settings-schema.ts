/**
 * The statistics stage's settings as a user writes them: the `stats` section of a run config, or
 * the JSON file of `thresher stats start RUN TRAINING_ID --config FILE`. Every field is optional;
 * the FeatureStats workflow's defaults apply to the ones left out (README "Feature statistics").
 * The bounds match what the workflow accepts, so a bad value fails here, before any work.
 */
import { z } from 'zod';
import type { StatsSettings } from '../../workflows/stats-types.js';

const posInt = z.number().int().min(1);

export const statsSettingsSchema = z
  .object({
    /** Activation parts summarised by one activity. Default: sized to the dictionary (groupParts). */
    partsPerGroup: posInt.max(100_000).optional(),
    /** Summarise, merge and example-window activities at once. Default 8. */
    concurrency: posInt.max(1000).optional(),
    /** Partial summaries merged by one activity. Default 16. */
    fanIn: z.number().int().min(2).max(1024).optional(),
    /** Rows per encoder call. Default 1,024, fewer for dictionaries wider than 16,384 features (64 MiB of activations per batch). */
    encodeBatchRows: posInt.max(1 << 20).optional(),
    /** Top activating tokens kept per feature. Default 20. */
    topK: posInt.max(0xffff).optional(),
    /** onnxruntime execution provider of the dictionary's encoder: 'cpu' (default), 'cuda', … */
    executionProvider: z.string().min(1).optional(),
    /** Worker threads per summarise activity, each with its own encoder session and summary. Default: one per core, within 1 GiB of summaries. */
    summariseThreads: posInt.max(256).optional(),
    /** Examples per activation interval (kept per feature for each of the 44 reservoir buckets). Default 4. */
    intervalExamples: posInt.max(0xff).optional(),
    /** Shards one example-window task re-reads. Default 32. */
    shardsPerWindowTask: posInt.max(100_000).optional(),
    /** Features per row group of examples.parquet. Default 1,024. */
    featuresPerRowGroup: posInt.max(1 << 20).optional(),
    /** Count each feature's firing per corpus label (the genre table). Default true; false ignores the parts' labels. */
    labels: z.boolean().optional(),
    /** Write the feature browser when the statistics are done. Default true. */
    featureBrowser: z.boolean().optional(),
    /** Attempts per activity. Default 5. */
    maxAttempts: posInt.max(100).optional(),
    /** A statistics worker silent this long is presumed dead. Default 60 s. */
    heartbeatTimeoutSeconds: z.number().int().min(5).max(3600).optional(),
  })
  .strict();

// The schema's output is exactly what the workflow takes: a field added to one and not the other fails to compile.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameFields: Same<z.output<typeof statsSettingsSchema>, StatsSettings> = true;
void sameFields;
