import { fileURLToPath } from 'node:url';
import { Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { RunResources } from '../core/harvest/run-resources.js';
import type { ObjectStore } from '../core/storage/object-store.js';
import { createControlActivities } from '../activities/control-activities.js';
import { createHarvestActivities } from '../activities/harvest-activities.js';
import { HARVEST_QUEUE, ORCHESTRATION_QUEUE } from '../workflows/harvest-types.js';

export type WorkerRole = 'orchestration' | 'harvest';

export interface WorkerSetOptions {
  connection: NativeConnection;
  namespace: string;
  store: ObjectStore;
  roles: WorkerRole[];
  /** Folder for models and tokenizers fetched from S3. */
  cacheDir: string;
  /** Shards one harvest worker runs at once. */
  harvestSlots: number;
  /** A prebuilt workflow bundle (tests build it once); otherwise workflows are bundled at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  onHarvestProgress?: (e: { runId: string; tokens: number; rows: number }) => void;
}

export const workflowsPath = (): string => fileURLToPath(new URL('../workflows/index.js', import.meta.url));

/**
 * The workers of one process: orchestration (workflows and S3 bookkeeping) and/or harvest (the
 * model). Separate task queues let GPU machines run only harvest workers.
 */
export async function createWorkerSet(opts: WorkerSetOptions): Promise<{ run(): Promise<void>; shutdown(): void }> {
  const workers: Worker[] = [];
  const resources = new RunResources(opts.store, opts.cacheDir);
  if (opts.roles.includes('orchestration')) {
    workers.push(
      await Worker.create({
        connection: opts.connection,
        namespace: opts.namespace,
        taskQueue: ORCHESTRATION_QUEUE,
        ...(opts.workflowBundle ? { workflowBundle: opts.workflowBundle } : { workflowsPath: workflowsPath() }),
        activities: createControlActivities({ store: opts.store }),
      }),
    );
  }
  if (opts.roles.includes('harvest')) {
    workers.push(
      await Worker.create({
        connection: opts.connection,
        namespace: opts.namespace,
        taskQueue: HARVEST_QUEUE,
        activities: createHarvestActivities({ store: opts.store, resources, onProgress: opts.onHarvestProgress }),
        // Fixed slots: resource-based tuners see CPU and RAM, not the accelerator.
        maxConcurrentActivityTaskExecutions: opts.harvestSlots,
        // Lets a stopping worker finish committing its current part before it goes.
        shutdownGraceTime: '30 seconds',
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
