// One worker process's Prometheus registry: the metric families of every stage it can run, the S3
// client metrics and Node's process metrics. Its own registry, never prom-client's global default,
// so tests and embedders can hold several side by side. New stages (training #3, statistics #4)
// add their family here (core/metrics/<stage>-metrics.ts) and wire it in createWorkerSet.
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { createHarvestMetrics, type HarvestMetrics } from '../core/metrics/harvest-metrics.js';
import { createRunMetrics, type RunProgressSample } from '../core/metrics/run-metrics.js';
import { createS3Metrics, type S3Metrics } from '../core/metrics/s3-metrics.js';
import { statsRecorder, type StatsRecorder } from '../core/metrics/stats-metrics.js';
import { HARVEST_QUEUE } from '../workflows/harvest-types.js';

export interface WorkerMetrics {
  registry: Registry;
  harvest: HarvestMetrics;
  s3: S3Metrics;
  /** The statistics stage's recorder (its activities run on training workers). */
  stats: StatsRecorder;
  /** Called by an orchestration worker: where the run progress gauges read from. */
  setRunProgressSource(source: () => Promise<RunProgressSample[]>): void;
  /** Records what this process runs (thresher_worker_info, thresher_worker_harvest_slots). */
  setWorkerInfo(info: { roles: string[]; harvestSlots: number }): void;
}

export function createWorkerMetrics(opts: { processMetrics?: boolean } = {}): WorkerMetrics {
  const registry = new Registry();
  if (opts.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  let source: () => Promise<RunProgressSample[]> = async () => [];
  createRunMetrics(registry, { source: () => source() });
  const info = new Gauge({ name: 'thresher_worker_info', help: 'Always 1; its labels say which roles this worker process runs.', labelNames: ['roles'], registers: [registry] });
  const slots = new Gauge({ name: 'thresher_worker_harvest_slots', help: 'Shards this worker can harvest at once (0 without the harvest role).', registers: [registry] });
  return {
    registry,
    harvest: createHarvestMetrics(registry, HARVEST_QUEUE),
    s3: createS3Metrics(registry),
    stats: statsRecorder(registry),
    setRunProgressSource: (s) => void (source = s),
    setWorkerInfo({ roles, harvestSlots }) {
      info.reset();
      info.set({ roles: [...roles].sort().join(',') }, 1);
      slots.set(roles.includes('harvest') ? harvestSlots : 0);
    },
  };
}

export const WORKER_METRIC_NAMES = ['thresher_worker_info', 'thresher_worker_harvest_slots'] as const;
