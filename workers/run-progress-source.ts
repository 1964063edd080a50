// Reads the progress of running harvest runs from Temporal for the run gauges: list the running
// HarvestRun workflows (visibility), then ask each its "progress" query, the same numbers
// `thresher run status` prints. Runs whose query fails or is slow are left out of that scrape.
import type { Client } from '@temporalio/client';
import type { RunProgressSample } from '../core/metrics/run-metrics.js';
import type { HarvestProgress } from '../workflows/harvest-types.js';

/** More running runs than this in one namespace is unusual; the rest are not exported. */
const MAX_RUNS = 200;

export function runProgressSource(client: Client, opts: { queryTimeoutMs?: number } = {}): () => Promise<RunProgressSample[]> {
  const timeoutMs = opts.queryTimeoutMs ?? 5_000;
  return async () => {
    const ids: string[] = [];
    for await (const wf of client.workflow.list({ query: `WorkflowType = 'harvestRun' AND ExecutionStatus = 'Running'` })) {
      ids.push(wf.workflowId);
      if (ids.length >= MAX_RUNS) break;
    }
    const settled = await Promise.allSettled(ids.map((id) => withTimeout(client.workflow.getHandle(id).query<HarvestProgress>('progress'), timeoutMs)));
    return settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}
