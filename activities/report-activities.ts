// The feature browser as the statistics stage's last step: a thin adapter over
// core/report/write-report.ts (the same function `thresher report` runs). Only keys cross Temporal.
import { withHeartbeat } from './heartbeat.js';
import { writeReport } from '../core/report/write-report.js';
import type { ObjectStore } from '../core/storage/object-store.js';
import { RunLayout } from '../core/storage/run-layout.js';
import type { ReportRef, ReportTask } from '../workflows/stats-types.js';

export interface ReportActivityDeps {
  store: ObjectStore;
  /** Where the run's tokenizer is cached when it lives in S3. */
  cacheDir: string;
}

const FATAL = new Set(['ConfigError']);

export function createReportActivities({ store, cacheDir }: ReportActivityDeps) {
  return {
    /** Writes (or rewrites) the dictionary's feature browser under the run's report/ prefix. */
    async writeFeatureBrowser(task: ReportTask): Promise<ReportRef> {
      let steps = 0;
      return withHeartbeat(() => ({ steps }), FATAL, async (beat, signal) => {
        const layout = new RunLayout(task.outputUri, task.runId);
        const written = await writeReport(store, layout, task.trainingId, { signal, cacheDir, heartbeat: () => { steps++; beat(); } });
        return { indexUri: written.indexUri, files: written.files, bytes: written.bytes };
      });
    },
  };
}

export type ReportActivities = ReturnType<typeof createReportActivities>;
