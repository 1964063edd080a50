// `thresher report RUN [TRAINING_ID] [--out DIR]`: writes (or refreshes) the feature browser of
// one dictionary under <run>/report/<trainingId>/ in S3, and optionally into a local folder.
import type { Client } from '@temporalio/client';
import { ConfigError } from '../core/config/run-config.js';
import type { Logger } from '../core/logging.js';
import { dictionariesWithStats, writeReport, type WrittenReport } from '../core/report/write-report.js';
import { RunLayout } from '../core/storage/run-layout.js';
import { runRef } from './run-commands.js';
import type { Services } from './services.js';

export async function writeRunReport(
  services: Services, client: Client, runId: string, trainingId: string | undefined, outDir: string | undefined, log: Logger,
): Promise<WrittenReport> {
  const ref = await runRef(client, runId);
  const layout = new RunLayout(ref.outputUri, runId);
  const id = trainingId ?? (await onlyDictionaryWithStats(services, layout));
  log.info('writing feature browser', { runId, trainingId: id, out: outDir });
  return writeReport(services.store, layout, id, { cacheDir: services.settings.cacheDir, ...(outDir !== undefined && { outDir }) });
}

/** The default TRAINING_ID: the run's one dictionary with finished statistics. */
async function onlyDictionaryWithStats(services: Services, layout: RunLayout): Promise<string> {
  const ids = await dictionariesWithStats(services.store, layout);
  if (ids.length === 1) return ids[0];
  if (!ids.length) {
    throw new ConfigError(`run ${layout.runId} has no dictionary with finished statistics (no s3://${layout.bucket}/${layout.root}/stats/*/result.json); run \`thresher stats start ${layout.runId} TRAINING_ID\` first`);
  }
  throw new ConfigError(`run ${layout.runId} has statistics for ${ids.length} dictionaries; name one: thresher report ${layout.runId} TRAINING_ID\n${ids.map((i) => `  ${i}`).join('\n')}`);
}

export function describeReport(r: WrittenReport): string {
  return [
    `feature browser: ${r.indexUri} (${r.files} files, ${(r.bytes / 1024 / 1024).toFixed(1)} MiB)`,
    ...(r.indexFile ? [`local copy:      ${r.indexFile} (open it in a browser; no server needed)`] : []),
  ].join('\n');
}
