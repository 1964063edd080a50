// The statistics stage's example windows (issue #4's "top-k activating examples with ±N tokens of
// context"): a thin adapter over core/stats/example-windows-builder.ts that gives it the run's
// corpus, model (cut to the dictionary's hook, in its inference thread) and the dictionary's
// encoder (in its own thread), and writes examples.parquet. Only keys and counts cross Temporal.
import { withHeartbeat } from './heartbeat.js';
import { loadDictionaryCfg } from './stats-activities.js';
import { RunResources } from '../core/harvest/run-resources.js';
import { loadRunConfig } from '../core/harvest/run-plan.js';
import { shardContexts } from '../core/harvest/shard-contexts.js';
import type { ShardManifest } from '../core/harvest/shard-manifest.js';
import { openEncoderWorker } from '../core/stats/encoder-worker.js';
import { buildExampleWindows, exampleTargets, reluFeatureActivation } from '../core/stats/example-windows-builder.js';
import { decodeDictionaryWeights } from '../core/sae/sae-dictionary-files.js';
import { encodeExampleWindows } from '../core/stats/example-windows.js';
import { decodeSummary } from '../core/stats/summary-codec.js';
import { ConfigError } from '../core/config/run-config.js';
import type { ObjectStore } from '../core/storage/object-store.js';
import { RunLayout } from '../core/storage/run-layout.js';
import type { ExampleWindowsTask, ExampleWindowsRef } from '../workflows/stats-types.js';

export interface ExampleActivityDeps {
  store: ObjectStore;
  /** Where the run's model and tokenizer are cached when they live in S3. */
  cacheDir: string;
}

const FATAL = new Set(['ConfigError', 'CorpusChangedError', 'CorruptShardError', 'ExecutionProviderError']);

export function createExampleActivities({ store, cacheDir }: ExampleActivityDeps) {
  return {
    /** Cuts the ±radius windows of every example in the merged summary and stores examples.parquet. */
    async writeExampleWindows(task: ExampleWindowsTask): Promise<ExampleWindowsRef> {
      const progress = { shardsDone: 0, shards: 0, windows: 0 };
      return withHeartbeat(() => ({ ...progress }), FATAL, async (beat, signal) => {
        const layout = new RunLayout(task.outputUri, task.runId);
        const cfg = await loadDictionaryCfg(store, layout, task.trainingId, signal);
        const summary = decodeSummary(await store.getBytes(layout.bucket, task.summaryKey, signal));
        const views = Array.from({ length: summary.dSae }, (_, i) => summary.view(i));
        const targets = exampleTargets(views);

        const config = await loadRunConfig(store, layout);
        const resources = new RunResources(store, cacheDir);
        const encoder = await openEncoderWorker({ model: await store.getBytes(layout.bucket, layout.dictionaryEncoderKey(task.trainingId), signal), dIn: cfg.d_in });
        try {
          const { model, tokenizer } = await resources.forRun({ ...config, hooks: [cfg.hook_name!] });
          const texts = new Map<number, string>();
          const windows = await buildExampleWindows(targets, {
            shardContexts: async function* (shard) {
              const manifest = await store.getJsonIfExists<ShardManifest>(layout.bucket, layout.manifestKey(shard), signal);
              if (!manifest) throw new ConfigError(`run ${task.runId} has an example from shard ${shard}, which has no manifest`);
              yield* shardContexts(manifest.source, config, tokenizer, store, signal);
            },
            hookVectors: async (ids, batch, seq) => (await model.run(ids, batch, seq))[cfg.hook_name!].data,
            encode: (x, rows) => encoder.encode(x, rows),
            // ReLU dictionaries: one dot product per window token instead of a full encode.
            ...(cfg.architecture === 'standard' && { featureActivation: reluFeatureActivation(decodeDictionaryWeights(await store.getBytes(layout.bucket, layout.dictionaryWeightsKey(task.trainingId), signal))) }),
            tokenText: (id) => texts.get(id) ?? texts.set(id, tokenizer.decode([id])).get(id)!,
          }, {
            dIn: cfg.d_in, dSae: cfg.d_sae, ...(task.radius !== undefined && { radius: task.radius }), signal,
            onProgress: (p) => { Object.assign(progress, p); beat(); },
          });
          const radius = task.radius ?? 4;
          const key = layout.statsKeys(task.trainingId).examples;
          await store.put(layout.bucket, key, encodeExampleWindows({ radius, rows: windows }, {
            'thresher.run_id': task.runId, 'thresher.training_id': task.trainingId, 'thresher.hook': cfg.hook_name!,
          }), { contentType: 'application/vnd.apache.parquet', signal });
          return { key, windows: windows.length };
        } finally {
          await encoder.close();
          await resources.close();
        }
      });
    },
  };
}

export type ExampleActivities = ReturnType<typeof createExampleActivities>;
