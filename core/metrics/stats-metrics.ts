// Prometheus metrics of the statistics stage (issue #4), recorded by the workers that run its
// activities (the training queue). Labels: the run and the dictionary ("sae", its training id, the
// same value the thresher_sae_* training series carry, so the two join); the merge activity only
// knows its run. One recorder per registry, however many worker sets a process creates on it
// (prom-client refuses a metric registered twice).
import { Counter, Histogram, type Registry } from 'prom-client';
import { STATS_QUEUE } from '../../workflows/stats-types.js';

/** Seconds; a 4,096-row batch of a 4,096-feature encoder takes ~0.1–0.5 s on two CPU cores. */
const ENCODE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export const STATS_METRIC_NAMES = [
  'thresher_stats_rows_total',
  'thresher_stats_parts_total',
  'thresher_stats_summaries_merged_total',
  'thresher_stats_encode_duration_seconds',
  'thresher_stats_example_windows_total',
] as const;

/** One summarisePart attempt's recorder. */
export interface SummariseMetrics {
  /** A batch of `rows` was encoded (the session computed for `encodeSeconds`) and added to the summary. */
  batch(rows: number, encodeSeconds: number): void;
  /** Every row of one more activation part is in the summary. */
  part(): void;
}

export interface StatsRecorder {
  /** A summarisePart attempt for dictionary `sae` of `runId` started. */
  summarise(runId: string, sae: string): SummariseMetrics;
  /** `count` stored summaries were merged into one (mergeSummaries). */
  merged(runId: string, count: number): void;
  /** An example-window task of dictionary `sae` stored `count` windows (writeExampleWindows). */
  windows(runId: string, sae: string, count: number): void;
}

const recorders = new WeakMap<Registry, StatsRecorder>();

/** The statistics metrics on `registry` (never the global default), registered once per registry. */
export function statsRecorder(registry: Registry): StatsRecorder {
  const known = recorders.get(registry);
  if (known) return known;
  const registers = [registry];
  const labelNames = ['run', 'sae'];
  const rows = new Counter({ name: 'thresher_stats_rows_total', help: 'Activation rows encoded and added to a feature summary, counted per batch; rows of a retried attempt count again. Live throughput of the statistics stage.', labelNames, registers });
  const parts = new Counter({ name: 'thresher_stats_parts_total', help: 'Activation parts whose every row is in a feature summary (a retried attempt counts its parts again).', labelNames, registers });
  const merged = new Counter({ name: 'thresher_stats_summaries_merged_total', help: 'Stored feature summaries merged into another by mergeSummaries (one merge-tree input each).', labelNames: ['run'], registers });
  const windows = new Counter({ name: 'thresher_stats_example_windows_total', help: 'Example context windows cut and stored by writeExampleWindows tasks (the statistics stage re-reads the shards holding examples); a retried task counts again.', labelNames, registers });
  const encode = new Histogram({ name: 'thresher_stats_encode_duration_seconds', help: 'Seconds the encoder session (encoder.onnx in its worker thread) computed one batch of rows, queueing excluded.', labelNames: ['queue'], buckets: ENCODE_BUCKETS, registers });
  const recorder: StatsRecorder = {
    summarise(run, sae) {
      const l = { run, sae };
      // Series exist from the first attempt, so rates see both sides from the start.
      rows.labels(l).inc(0);
      parts.labels(l).inc(0);
      return {
        batch(n, seconds) {
          rows.labels(l).inc(n);
          encode.labels({ queue: STATS_QUEUE }).observe(seconds);
        },
        part: () => parts.labels(l).inc(),
      };
    },
    merged: (run, count) => merged.labels({ run }).inc(count),
    windows: (run, sae, count) => windows.labels({ run, sae }).inc(count),
  };
  recorders.set(registry, recorder);
  return recorder;
}
