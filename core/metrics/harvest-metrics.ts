// Prometheus metrics of the harvest stage, recorded by harvest workers. Labels are the run and the
// task queue only: shard ids, hooks and keys never become labels, so the series count grows with
// the number of runs a worker has served, not with the size of a run.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Seconds; a CPU batch of the demo model takes ~10 ms, a large GPU batch a few seconds. */
const BATCH_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Seconds; a part file is up to output.partMiB (64 MiB by default) and may go up as multipart. */
const PART_WRITE_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/** How one shard attempt ended, as the harvest worker saw it. */
export type ShardOutcome =
  /** Manifest written. */
  | 'completed'
  /** Failed, and Temporal will not try again (bad input, bad config, or the last attempt). */
  | 'failed'
  /** Failed, and Temporal will try again (it shows up as a retry when it does). */
  | 'retrying'
  /** The run was cancelled or the worker is stopping; not a failure of the shard. */
  | 'cancelled';

/** One shard attempt's recorder, from start to its outcome. */
export interface ShardAttemptMetrics {
  /** A model batch finished: `tokens` went through the model in `latencySeconds` (queueing included), `computeSeconds` of it in the session. */
  inference(e: { tokens: number; latencySeconds: number; computeSeconds?: number }): void;
  /** One part file (one hook) was encoded and uploaded. */
  partWritten(e: { seconds: number; bytes: number }): void;
  /** The attempt ended; `counts` are the shard manifest's, given when it completed. */
  finish(outcome: ShardOutcome, counts?: { tokens: number; rows: number }): void;
}

export interface HarvestMetrics {
  /** A harvest activity attempt started (attempt is Temporal's 1-based attempt number). */
  startShard(runId: string, attempt: number): ShardAttemptMetrics;
}

/** Every metric this module defines, for documentation and the dashboard/alert checks. */
export const HARVEST_METRIC_NAMES = [
  'thresher_harvest_tokens_total',
  'thresher_harvest_rows_total',
  'thresher_harvest_inference_tokens_total',
  'thresher_harvest_written_bytes_total',
  'thresher_harvest_parts_written_total',
  'thresher_harvest_shards_running',
  'thresher_harvest_shards_completed_total',
  'thresher_harvest_shards_failed_total',
  'thresher_harvest_shards_retried_total',
  'thresher_harvest_batch_duration_seconds',
  'thresher_harvest_inference_duration_seconds',
  'thresher_harvest_part_write_duration_seconds',
] as const;

/** Registers the harvest metrics on `registry` (never the global default) for workers of `queue`. */
export function createHarvestMetrics(registry: Registry, queue: string): HarvestMetrics {
  const registers = [registry];
  const runLabels = ['run', 'queue'] as const;
  const counter = (name: string, help: string) => new Counter({ name, help, labelNames: runLabels, registers });
  const histogram = (name: string, help: string, buckets: number[]) => new Histogram({ name, help, labelNames: ['queue'], buckets, registers });

  const tokens = counter('thresher_harvest_tokens_total', 'Tokens of shards completed by this worker, counted once when the shard manifest is written; summed over workers it equals the run result tokens.');
  const rows = counter('thresher_harvest_rows_total', 'Activation rows (tokens stored, per hook) of shards completed by this worker.');
  const inferenceTokens = counter('thresher_harvest_inference_tokens_total', 'Tokens run through the model, counted per batch as it returns; work redone by a retried shard counts again. Live throughput.');
  const bytes = counter('thresher_harvest_written_bytes_total', 'Bytes of Parquet part files uploaded to S3; a part rewritten by a retry counts again.');
  const parts = counter('thresher_harvest_parts_written_total', 'Parquet part files uploaded to S3 (one per hook per part).');
  const completed = counter('thresher_harvest_shards_completed_total', 'Shard attempts that ended with the shard manifest written.');
  const failed = counter('thresher_harvest_shards_failed_total', 'Shard attempts that failed for good: bad input or config (not retryable), or the last allowed attempt.');
  const retried = counter('thresher_harvest_shards_retried_total', 'Shard attempts started after an earlier attempt of the same shard failed or timed out (attempt > 1).');
  const running = new Gauge({ name: 'thresher_harvest_shards_running', help: 'Shard attempts in progress on this worker.', labelNames: runLabels, registers });
  const batch = histogram('thresher_harvest_batch_duration_seconds', 'Seconds from handing a batch to the inference thread until its activations are back, including waiting behind batches queued before it.', BATCH_BUCKETS);
  const inference = histogram('thresher_harvest_inference_duration_seconds', 'Seconds the ONNX session spent computing one batch, measured in the inference thread.', BATCH_BUCKETS);
  const partWrite = histogram('thresher_harvest_part_write_duration_seconds', 'Seconds to encode one Parquet part file and upload it to S3.', PART_WRITE_BUCKETS);

  return {
    startShard(runId, attempt) {
      const l = { run: runId, queue };
      // Touch every per-run series at 0 so that ratios and rates see both sides from the start.
      for (const c of [tokens, rows, inferenceTokens, bytes, parts, completed, failed, retried]) c.labels(l).inc(0);
      if (attempt > 1) retried.labels(l).inc();
      running.labels(l).inc();
      let finished = false;
      return {
        inference(e) {
          inferenceTokens.labels(l).inc(e.tokens);
          batch.labels({ queue }).observe(e.latencySeconds);
          if (e.computeSeconds !== undefined) inference.labels({ queue }).observe(e.computeSeconds);
        },
        partWritten(e) {
          parts.labels(l).inc();
          bytes.labels(l).inc(e.bytes);
          partWrite.labels({ queue }).observe(e.seconds);
        },
        finish(outcome, counts) {
          if (finished) return;
          finished = true;
          running.labels(l).dec();
          if (outcome === 'completed') {
            completed.labels(l).inc();
            tokens.labels(l).inc(counts?.tokens ?? 0);
            rows.labels(l).inc(counts?.rows ?? 0);
          } else if (outcome === 'failed') failed.labels(l).inc();
        },
      };
    },
  };
}
