// The statistics stage's activities (issue #4): plan the part groups of a dictionary's hook,
// summarise a group of parts through the dictionary's encoder.onnx (ORT in a worker thread) into a
// FeatureSummary stored in S3, merge stored summaries (a tree level), and finalise: per-feature
// Parquet, logit effects and the genre table. Only keys and counts cross Temporal.
import { readFile } from 'node:fs/promises';
import { withHeartbeat } from './heartbeat.js';
import { ConfigError, parseS3Uri } from '../core/config/run-config.js';
import { loadRunConfig } from '../core/harvest/run-plan.js';
import type { StatsRecorder } from '../core/metrics/stats-metrics.js';
import { decodeDictionaryWeights } from '../core/sae/sae-dictionary-files.js';
import { openSummariserPool } from '../core/stats/summariser-pool.js';
import { encodeFeatureStats } from '../core/stats/feature-stats-parquet.js';
import { FeatureSummary } from '../core/stats/feature-summary.js';
import { genreScores, type GenresFile } from '../core/stats/genre-scores.js';
import { featureLogitEffects, loadLogitWeights, logitWeightNamesForHook, type LogitEffects } from '../core/stats/logit-effects.js';
import { decodeSummary, encodeSummary, gzipSummary } from '../core/stats/summary-codec.js';
import { groupParts, groupsPerPlanPage, readGroupPartKeys, writeStatsPlan } from '../core/stats/stats-plan.js';
import { summariseParts } from '../core/stats/summarise-parts.js';
import type { ObjectStore } from '../core/storage/object-store.js';
import { RunLayout } from '../core/storage/run-layout.js';
import { listHookParts } from '../core/training/activation-stream.js';
import {
  DEFAULT_STATS_CONCURRENCY,
  type FeatureStatsInput, type FinalizeTask, type MergeTask, type StatsHeartbeat, type StatsPlan, type StatsResult, type SummariseTask, type SummaryRef,
} from '../workflows/stats-types.js';

export interface StatsActivityDeps {
  store: ObjectStore;
  /** Prometheus recorder (core/metrics/stats-metrics.ts); none means no metrics. */
  metrics?: StatsRecorder;
}

/** What the stage reads from a dictionary's cfg.json (SAELens keys). */
export interface DictionaryCfg {
  d_in: number;
  d_sae: number;
  /** 'standard' (ReLU, L1) or 'topk'. */
  architecture?: string;
  hook_name?: string;
}

const FATAL = new Set(['ConfigError', 'ActivationPartError', 'SafetensorsError', 'ExecutionProviderError']);


export async function loadDictionaryCfg(store: ObjectStore, layout: RunLayout, trainingId: string, signal?: AbortSignal): Promise<DictionaryCfg> {
  const cfg = await store.getJsonIfExists<DictionaryCfg>(layout.bucket, layout.dictionaryConfigKey(trainingId), signal);
  if (!cfg) throw new ConfigError(`dictionary ${trainingId} of run ${layout.runId} has no cfg.json at s3://${layout.bucket}/${layout.dictionaryConfigKey(trainingId)}`);
  if (!cfg.hook_name) throw new ConfigError(`dictionary ${trainingId}: cfg.json names no hook_name`);
  return cfg;
}

export function createStatsActivities({ store, metrics }: StatsActivityDeps) {
  return {
    /** The hook's parts (from the shard manifests) in groups (groupParts: `partsPerGroup` each, or by rows), stored as plan pages; counts returned. */
    async planStats(input: FeatureStatsInput): Promise<StatsPlan> {
      return withHeartbeat(() => ({}), FATAL, async (_beat, signal) => {
        const layout = new RunLayout(input.outputUri, input.runId);
        const cfg = await loadDictionaryCfg(store, layout, input.trainingId, signal);
        if (!(await store.head(layout.bucket, layout.dictionaryEncoderKey(input.trainingId), signal))) {
          throw new ConfigError(`dictionary ${input.trainingId} of run ${input.runId} has no encoder.onnx`);
        }
        const { parts, width } = await listHookParts(store, layout, cfg.hook_name!);
        if (width !== cfg.d_in) throw new ConfigError(`hook ${cfg.hook_name} has width ${width}, dictionary ${input.trainingId} has d_in ${cfg.d_in}`);
        const groups = groupParts(parts, {
          dSae: cfg.d_sae, concurrency: input.concurrency ?? DEFAULT_STATS_CONCURRENCY,
          ...(input.partsPerGroup !== undefined && { partsPerGroup: input.partsPerGroup }),
        });
        const groupsPerPage = groupsPerPlanPage(groups);
        await writeStatsPlan(store, layout, input.trainingId, groups, groupsPerPage, signal);
        return {
          hook: cfg.hook_name!, dIn: cfg.d_in, dSae: cfg.d_sae, groups: groups.length, groupsPerPage,
          parts: parts.length, rows: parts.reduce((a, p) => a + p.rows, 0), partialsPrefix: layout.statsPartialsPrefix(input.trainingId),
        };
      });
    },

    /**
     * Encodes every row of the group's parts (keys from the plan page) with the dictionary's encoder
     * and summarises them, in summariser lanes (worker threads, while the next part downloads), and
     * stores the lanes' merged FeatureSummary under a key fixed by the group index.
     */
    async summarisePart(task: SummariseTask): Promise<SummaryRef> {
      const progress: StatsHeartbeat = { partsDone: 0, rowsDone: 0 };
      return withHeartbeat(() => ({ ...progress }), FATAL, async (beat, signal) => {
        const layout = new RunLayout(task.outputUri, task.runId);
        const cfg = await loadDictionaryCfg(store, layout, task.trainingId, signal);
        const partKeys = await readGroupPartKeys(store, layout, task.trainingId, task.index, task.groupsPerPage, signal);
        const model = await store.getBytes(layout.bucket, layout.dictionaryEncoderKey(task.trainingId), signal);
        const pool = await openSummariserPool({
          model, dIn: cfg.d_in,
          summary: {
            dSae: cfg.d_sae,
            ...(task.topK !== undefined && { topK: task.topK }),
            ...(task.intervalExamples !== undefined && { reservoirPerBucket: task.intervalExamples }),
          },
          ...(task.summariseThreads !== undefined && { lanes: task.summariseThreads }),
          ...(task.executionProvider !== undefined && { executionProvider: task.executionProvider }),
        });
        let merged: { bytes: Uint8Array; tokens: number };
        try {
          // Lanes (worker threads) encode and summarise batches while this thread reads the next part.
          await summariseParts({
            partKeys,
            // One buffer for every part: summariseParts reads a part's bytes before fetching the next.
            fetchPart: store.reusingReader(layout.bucket),
            summariser: pool, dIn: cfg.d_in, dSae: cfg.d_sae, signal,
            ...(task.encodeBatchRows !== undefined && { batchRows: Math.max(1, Math.floor(task.encodeBatchRows)) }),
            ...(task.labels === false && { labels: false }),
            ...(metrics && { metrics: metrics.summarise(task.runId, task.trainingId) }),
            onBatch: (e) => void (progress.rowsDone += e.rows),
            onPart(e) {
              progress.partsDone = e.partsDone;
              beat();
            },
          });
          // Merged and encoded in a lane: this thread only stores the bytes.
          merged = await pool.finish();
        } finally {
          await pool.close();
        }
        const key = layout.statsPartialKey(task.trainingId, 0, task.index);
        await store.put(layout.bucket, key, merged.bytes, { contentType: 'application/octet-stream', signal });
        return { key, tokens: merged.tokens, parts: partKeys.length };
      });
    },

    /** Merges stored summaries into one at `outKey` (one node of the merge tree). */
    async mergeSummaries(task: MergeTask): Promise<SummaryRef> {
      let done = 0;
      return withHeartbeat(() => ({ merged: done }), FATAL, async (beat, signal) => {
        const { bucket } = new RunLayout(task.outputUri, task.runId);
        if (!task.keys.length) throw new ConfigError('mergeSummaries needs at least one key');
        let acc: FeatureSummary | undefined;
        for (const key of task.keys) {
          const s = decodeSummary(await store.getBytes(bucket, key, signal));
          acc = acc ? acc.mergeFrom(s) : s;
          done++;
          beat();
        }
        await store.put(bucket, task.outKey, await gzipSummary(encodeSummary(acc!)), { contentType: 'application/octet-stream', signal });
        metrics?.merged(task.runId, task.keys.length);
        return { key: task.outKey, tokens: acc!.tokens, parts: task.keys.length };
      });
    },

    /** Per-feature Parquet, logit effects (or why not) and the genre table, then result.json last. */
    async finalizeStats(task: FinalizeTask): Promise<StatsResult> {
      let stage = 'reading';
      return withHeartbeat(() => ({ stage }), FATAL, async (beat, signal) => {
        const layout = new RunLayout(task.outputUri, task.runId);
        const keys = layout.statsKeys(task.trainingId);
        const summaryBytes = await store.getBytes(layout.bucket, task.summaryKey, signal);
        const summary = decodeSummary(summaryBytes);
        if (task.summaryKey !== keys.summary) await store.put(layout.bucket, keys.summary, summaryBytes, { signal });
        stage = 'features';
        const cfg = await loadDictionaryCfg(store, layout, task.trainingId, signal);
        await store.put(layout.bucket, keys.features, encodeFeatureStats(summary, {
          kvMetadata: { 'thresher.run_id': task.runId, 'thresher.training_id': task.trainingId, 'thresher.hook': cfg.hook_name! },
        }), { contentType: 'application/vnd.apache.parquet', signal });
        beat();

        stage = 'genres';
        const labels = summary.labels();
        await store.putJson(layout.bucket, keys.genres, {
          runId: task.runId, trainingId: task.trainingId, tokens: summary.tokens,
          labels: labels.map((l) => ({ label: l.label, tokens: l.tokens })),
          genres: genreScores(summary),
          ...(labels.length === 0 && {
            note: task.labels === false ? 'not available: the statistics left the labels out (the setting "labels": false)' : 'not available: the activation parts carry no labels',
          }),
        } satisfies GenresFile, signal);

        stage = 'logit effects';
        const logit = await logitEffectsFor(store, layout, task.trainingId, cfg, beat);
        await store.putJson(layout.bucket, keys.logitEffects, logit.ok
          ? { available: true, note: 'direct effect per unit activation; final LayerNorm linearised with residual scale 1 (core/stats/logit-effects.ts)', features: logit.features }
          : { available: false, note: logit.reason }, signal);

        let live = 0;
        for (let i = 0; i < summary.dSae; i++) if (summary.firing[i] > 0) live++;
        const result: StatsResult = {
          runId: task.runId, outputUri: task.outputUri, trainingId: task.trainingId,
          tokens: summary.tokens, parts: task.parts, dSae: summary.dSae, liveFeatures: live, labels: labels.length,
          logitEffects: logit.ok ? 'available' : logit.reason, keys,
        };
        // Written last: the statistics are complete when it exists.
        await store.putJson(layout.bucket, keys.result, result, signal);
        return result;
      });
    },
  };
}

type LogitOutcome = { ok: true; features: ({ feature: number } & LogitEffects)[] } | { ok: false; reason: string };

/** Logit effects of every feature from the run's model initializers, when the run has them. */
async function logitEffectsFor(
  store: ObjectStore, layout: RunLayout, trainingId: string, cfg: DictionaryCfg, beat: () => void,
): Promise<LogitOutcome> {
  let modelBytes: Uint8Array;
  try {
    const run = await loadRunConfig(store, layout);
    const path = run.model.path;
    if (path.startsWith('s3://')) {
      const { bucket, key } = parseS3Uri(path);
      modelBytes = await store.getBytes(bucket, key);
    } else {
      modelBytes = await readFile(path);
    }
  } catch (err) {
    return { ok: false, reason: `not available: the run's model could not be read (${(err as Error).message})` };
  }
  const weights = loadLogitWeights(modelBytes, logitWeightNamesForHook(cfg.hook_name));
  if (!weights.ok) return weights;
  if (weights.weights.dMlp !== cfg.d_in) {
    return { ok: false, reason: `not available: hook ${cfg.hook_name} has width ${cfg.d_in}, W_out expects d_mlp ${weights.weights.dMlp} (logit effects need an MLP-hidden hook)` };
  }
  const sae = decodeDictionaryWeights(await store.getBytes(layout.bucket, layout.dictionaryWeightsKey(trainingId)));
  const features: ({ feature: number } & LogitEffects)[] = [];
  for (let i = 0; i < sae.dSae; i++) {
    features.push({ feature: i, ...featureLogitEffects(weights.weights, sae, i) });
    if (i % 256 === 255) beat();
  }
  return { ok: true, features };
}

export type StatsActivities = ReturnType<typeof createStatsActivities>;
