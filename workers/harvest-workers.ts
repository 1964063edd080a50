import { fileURLToPath } from 'node:url';
import { Client } from '@temporalio/client';
import { Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { RunResources } from '../core/harvest/run-resources.js';
import type { ObjectStore } from '../core/storage/object-store.js';
import { createControlActivities } from '../activities/control-activities.js';
import { createHarvestActivities } from '../activities/harvest-activities.js';
import { createStatsActivities } from '../activities/stats-activities.js';
import { createExampleActivities } from '../activities/stats-example-activities.js';
import { createReportActivities } from '../activities/report-activities.js';
import { createTrainingActivities } from '../activities/training-activities.js';
import { createTrainingPlanActivities } from '../activities/training-plan-activities.js';
import { trainingRecorder } from '../core/metrics/training-stage-metrics.js';
import { TRAINING_QUEUE } from '../workflows/training-types.js';
import { instrumentS3Client } from '../core/metrics/s3-metrics.js';
import { runProgressSource } from './run-progress-source.js';
import type { WorkerMetrics } from './worker-metrics.js';
import { HARVEST_QUEUE, ORCHESTRATION_QUEUE } from '../workflows/harvest-types.js';

export type WorkerRole = 'orchestration' | 'harvest' | 'training';

export const WORKER_ROLES: readonly WorkerRole[] = ['orchestration', 'harvest', 'training'];

export interface WorkerSetOptions {
  connection: NativeConnection;
  namespace: string;
  store: ObjectStore;
  roles: WorkerRole[];
  /** Folder for models and tokenizers fetched from S3. */
  cacheDir: string;
  /** Shards one harvest worker runs at once. */
  harvestSlots: number;
  /** Dictionaries one training worker trains at once (env THRESHER_TRAINING_SLOTS); default 1. */
  trainingSlots?: number;
  /** A prebuilt workflow bundle (tests build it once); otherwise workflows are bundled at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  onHarvestProgress?: (e: { runId: string; tokens: number; rows: number }) => void;
  /**
   * Where this process's Prometheus metrics go (serve metrics.registry with startMetricsServer).
   * The store's S3 client gets the request metrics middleware; harvest workers record shards,
   * batches and parts; orchestration workers export run progress read from the workflows.
   */
  metrics?: WorkerMetrics;
}

export const workflowsPath = (): string => fileURLToPath(new URL('../workflows/index.js', import.meta.url));

/**
 * The workers of one process: orchestration (workflows and S3 bookkeeping) and/or harvest (the
 * model). Separate task queues let GPU machines run only harvest workers.
 */
export async function createWorkerSet(opts: WorkerSetOptions): Promise<{ run(): Promise<void>; shutdown(): void }> {
  const workers: Worker[] = [];
  const resources = new RunResources(opts.store, opts.cacheDir);
  const { metrics } = opts;
  if (metrics) {
    instrumentS3Client(opts.store.client, metrics.s3);
    metrics.setWorkerInfo({ roles: opts.roles, harvestSlots: opts.harvestSlots });
    if (opts.roles.includes('orchestration')) {
      metrics.setRunProgressSource(runProgressSource(new Client({ connection: opts.connection, namespace: opts.namespace })));
    }
  }
  if (opts.roles.includes('orchestration')) {
    workers.push(
      await Worker.create({
        connection: opts.connection,
        namespace: opts.namespace,
        taskQueue: ORCHESTRATION_QUEUE,
        ...(opts.workflowBundle ? { workflowBundle: opts.workflowBundle } : { workflowsPath: workflowsPath() }),
        activities: { ...createControlActivities({ store: opts.store }), ...createTrainingPlanActivities({ store: opts.store }) },
      }),
    );
  }
  if (opts.roles.includes('harvest')) {
    workers.push(
      await Worker.create({
        connection: opts.connection,
        namespace: opts.namespace,
        taskQueue: HARVEST_QUEUE,
        activities: createHarvestActivities({ store: opts.store, resources, onProgress: opts.onHarvestProgress, metrics: metrics?.harvest }),
        // Fixed slots: resource-based tuners see CPU and RAM, not the accelerator.
        maxConcurrentActivityTaskExecutions: opts.harvestSlots,
        // Lets a stopping worker finish committing its current part before it goes.
        shutdownGraceTime: '30 seconds',
      }),
    );
  }
  if (opts.roles.includes('training')) {
    workers.push(
      await Worker.create({
        connection: opts.connection,
        namespace: opts.namespace,
        taskQueue: TRAINING_QUEUE,
        // The statistics stage shares the queue: it also needs ORT and reads dictionaries.
        activities: {
          ...createTrainingActivities({ store: opts.store, metrics: metrics && trainingRecorder(metrics.registry) }),
          ...createStatsActivities({ store: opts.store, metrics: metrics?.stats }),
          ...createExampleActivities({ store: opts.store, cacheDir: opts.cacheDir, metrics: metrics?.stats }),
          ...createReportActivities({ store: opts.store, cacheDir: opts.cacheDir }),
        },
        // Fixed slots, as for harvest: a training step saturates the accelerator (or every core).
        maxConcurrentActivityTaskExecutions: opts.trainingSlots ?? 1,
        // A training cancelled by the shutdown checkpoints the step it reached and resumes there
        // elsewhere, so waiting saves nothing; statistics activities restart their group.
        shutdownGraceTime: '1 second',
      }),
    );
  }
  return {
    async run() {
      try {
        await Promise.all(workers.map((w) => w.run()));
      } finally {
        await resources.close();
      }
    },
    shutdown() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    },
  };
}
