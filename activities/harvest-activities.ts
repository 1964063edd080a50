import { ApplicationFailure, Context } from '@temporalio/activity';
import { ConfigError } from '../core/config/run-config.js';
import { CorruptShardError } from '../core/corpus/corrupt-shard-error.js';
import { ExecutionProviderError } from '../core/model/inference-worker.js';
import { UnknownHookError } from '../core/model/onnx-graph.js';
import { harvestShard } from '../core/harvest/harvest-shard.js';
import { countsOf, type ShardCounts } from '../core/harvest/shard-manifest.js';
import { loadRunConfig } from '../core/harvest/run-plan.js';
import type { RunResources } from '../core/harvest/run-resources.js';
import type { HarvestMetrics, ShardOutcome } from '../core/metrics/harvest-metrics.js';
import type { ObjectStore } from '../core/storage/object-store.js';
import { RunLayout } from '../core/storage/run-layout.js';
import type { RunRef, ShardTask } from '../workflows/harvest-types.js';

export interface HarvestActivityDeps {
  store: ObjectStore;
  /** Opens (and caches) the model and tokenizer a run's config names. */
  resources: RunResources;
  /** Called on every committed part and batch, for metrics. */
  onProgress?: (event: { runId: string; tokens: number; rows: number }) => void;
  /** Prometheus recorder for shard outcomes, batches and part writes; none means no metrics. */
  metrics?: HarvestMetrics;
}

/** Heartbeat details: how far a shard got, so a retry resumes after its last committed part. */
interface HarvestHeartbeat {
  committedParts: number;
}

/** The harvest activity, run by harvest workers (GPU or CPU) on the harvest queue. */
export function createHarvestActivities({ store, resources, onProgress, metrics }: HarvestActivityDeps) {
  return {
    async harvestShard(ref: RunRef, shard: ShardTask): Promise<ShardCounts> {
      const ctx = Context.current();
      const layout = new RunLayout(ref.outputUri, ref.runId);
      const previous = ctx.info.heartbeatDetails as HarvestHeartbeat | undefined;
      let committedParts = previous?.committedParts ?? 0;
      const beat = (): void => ctx.heartbeat({ committedParts } satisfies HarvestHeartbeat);
      // Opening a model can take a while the first time; keep the server told we are alive. Well
      // inside the heartbeat timeout (as short as 5 s): beating only every 5 s loses that race.
      const keepAlive = setInterval(beat, Math.min(5_000, (ctx.info.heartbeatTimeoutMs ?? 60_000) / 3));
      beat();
      const m = metrics?.startShard(ref.runId, ctx.info.attempt);
      let outcome: ShardOutcome = 'retrying';
      try {
        const config = await loadRunConfig(store, layout);
        const { model, modelSha256, tokenizer } = await resources.forRun(config);
        let lastTokens = 0;
        let lastRows = 0;
        const manifest = await harvestShard(
          {
            config,
            layout,
            shard: { ...shard, bytes: 0 },
            resumeFromPart: committedParts,
            signal: ctx.cancellationSignal,
            onPartCommitted: (part) => {
              committedParts = part + 1;
              beat();
            },
            onBatch: (tokens, rows) => {
              onProgress?.({ runId: ref.runId, tokens: tokens - lastTokens, rows: rows - lastRows });
              lastTokens = tokens;
              lastRows = rows;
              beat();
            },
            onInference: m && ((e) => m.inference(e)),
            onPartWritten: m && ((e) => m.partWritten(e)),
          },
          { store, model, modelSha256, tokenizer },
        );
        // A shard that failed before and is now complete is no longer a failure.
        await store.delete(layout.bucket, layout.failureKey(shard.index));
        ctx.log.info('shard harvested', { runId: ref.runId, shard: shard.index, rows: manifest.rows, parts: manifest.parts.length });
        outcome = 'completed';
        m?.finish(outcome, manifest);
        return countsOf(manifest);
      } catch (err) {
        // Retrying cannot fix bad input or a config the model or machine cannot run.
        const fatal = err instanceof CorruptShardError || err instanceof ConfigError || err instanceof UnknownHookError || err instanceof ExecutionProviderError;
        outcome = failureOutcome(ctx, fatal || (err instanceof ApplicationFailure && err.nonRetryable === true));
        if (fatal) throw ApplicationFailure.nonRetryable(err.message, err.name);
        throw err;
      } finally {
        clearInterval(keepAlive);
        m?.finish(outcome);
      }
    },
  };
}

/** How a failed attempt counts in the metrics: the last one allowed (or a non-retryable error) fails the shard. */
function failureOutcome(ctx: Context, nonRetryable: boolean): ShardOutcome {
  if (ctx.cancellationSignal.aborted) return 'cancelled';
  const max = ctx.info.retryPolicy?.maximumAttempts ?? 0; // 0: unlimited
  return nonRetryable || (max > 0 && ctx.info.attempt >= max) ? 'failed' : 'retrying';
}

export type HarvestActivities = ReturnType<typeof createHarvestActivities>;
