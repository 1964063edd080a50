// `thresher stats start RUN TRAINING_ID [--wait]`: feature statistics of one trained dictionary.
import type { Client } from '@temporalio/client';
import { ConfigError } from '../core/config/run-config.js';
import type { Logger } from '../core/logging.js';
import { RunLayout } from '../core/storage/run-layout.js';
import type { featureStats } from '../workflows/feature-stats.js';
import { ORCHESTRATION_QUEUE } from '../workflows/harvest-types.js';
import { statsWorkflowId, type StatsResult } from '../workflows/stats-types.js';
import { runRef } from './run-commands.js';
import type { Services } from './services.js';

/** Checks the dictionary is complete (its result.json is written last), then starts FeatureStats. */
export async function startStats(services: Services, client: Client, runId: string, trainingId: string, log: Logger) {
  const ref = await runRef(client, runId);
  const layout = new RunLayout(ref.outputUri, runId);
  if (!(await services.store.head(layout.bucket, layout.dictionaryResultKey(trainingId)))) {
    throw new ConfigError(`run ${runId} has no finished dictionary ${trainingId} (no s3://${layout.bucket}/${layout.dictionaryResultKey(trainingId)})`);
  }
  const handle = await client.workflow.start<typeof featureStats>('featureStats', {
    workflowId: statsWorkflowId(runId, trainingId),
    taskQueue: ORCHESTRATION_QUEUE,
    args: [{ runId, outputUri: ref.outputUri, trainingId }],
  });
  log.info('feature statistics started', { runId, trainingId, workflowId: handle.workflowId });
  return handle;
}

export function describeStats(r: StatsResult): string {
  const layout = new RunLayout(r.outputUri, r.runId);
  return [
    `statistics ${r.trainingId}: ${r.tokens.toLocaleString('en-US')} tokens over ${r.parts} parts`,
    `live features ${r.liveFeatures.toLocaleString('en-US')} of ${r.dSae.toLocaleString('en-US')}; logit effects: ${r.logitEffects}`,
    `output s3://${layout.bucket}/${layout.statsPrefix(r.trainingId)} (features.parquet, examples.parquet, genres.json, logit-effects.json)`,
    ...(r.reportUri ? [`browser ${r.reportUri}`] : []),
  ].join('\n');
}
