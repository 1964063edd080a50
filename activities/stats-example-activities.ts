// The statistics stage's example windows (issue #4's "top-k activating examples with ±N tokens of
// context"): thin adapters over core/stats/example-windows-builder.ts. planExampleWindows splits
// the merged summary's examples by shard into tasks (core/stats/example-window-tasks.ts);
// writeExampleWindows cuts one task's windows, with the run's corpus, model (cut to the
// dictionary's hook, in its inference thread) and the dictionary's encoder (in its own thread);
// gatherExampleWindows writes examples.parquet from the tasks' parts. Only keys and counts cross
// Temporal.
import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { withHeartbeat } from './heartbeat.js';
import { loadDictionaryCfg } from './stats-activities.js';
import { RunResources } from '../core/harvest/run-resources.js';
import { loadRunConfig } from '../core/harvest/run-plan.js';
import { shardContexts } from '../core/harvest/shard-contexts.js';
import type { ShardManifest } from '../core/harvest/shard-manifest.js';
import { openEncoderWorker } from '../core/stats/encoder-worker.js';
import { SHARDS_PER_WINDOW_TASK, WINDOW_TARGETS_FORMAT, splitTargetsByShard, type WindowTargetsFile } from '../core/stats/example-window-tasks.js';
import { buildExampleWindows, exampleTargets, reluFeatureActivation } from '../core/stats/example-windows-builder.js';
import { decodeDictionaryWeights } from '../core/sae/sae-dictionary-files.js';
import { encodeExampleWindows, ExampleWindowsWriter, FEATURES_PER_ROW_GROUP, readExampleWindows, type ExampleWindow } from '../core/stats/example-windows.js';
import { decodeSummary } from '../core/stats/summary-codec.js';
import { ConfigError } from '../core/config/run-config.js';
import type { StatsRecorder } from '../core/metrics/stats-metrics.js';
import type { ObjectStore } from '../core/storage/object-store.js';
import { RunLayout } from '../core/storage/run-layout.js';
import type { ExampleWindowsRef, ExampleWindowsTask, GatherWindowsTask, WindowPlan, WindowPlanTask } from '../workflows/stats-types.js';

export interface ExampleActivityDeps {
  store: ObjectStore;
  /** Where the run's model and tokenizer are cached when they live in S3. */
  cacheDir: string;
  /** Prometheus recorder (core/metrics/stats-metrics.ts); none means no metrics. */
  metrics?: StatsRecorder;
}

const FATAL = new Set(['ConfigError', 'CorpusChangedError', 'CorruptShardError', 'ExecutionProviderError']);
const DEFAULT_RADIUS = 4;

export function createExampleActivities({ store, cacheDir, metrics }: ExampleActivityDeps) {
  return {
    /** Splits the merged summary's examples by shard into window tasks, whose targets go to S3. */
    async planExampleWindows(task: WindowPlanTask): Promise<WindowPlan> {
      return withHeartbeat(() => ({}), FATAL, async (_beat, signal) => {
        const layout = new RunLayout(task.outputUri, task.runId);
        const summary = decodeSummary(await store.getBytes(layout.bucket, task.summaryKey, signal));
        const targets = exampleTargets(Array.from({ length: summary.dSae }, (_, i) => summary.view(i)));
        const tasks = splitTargetsByShard(targets, task.shardsPerTask ?? SHARDS_PER_WINDOW_TASK);
        for (const [index, t] of tasks.entries()) {
          const file: WindowTargetsFile = { format: WINDOW_TARGETS_FORMAT, task: index, ...t };
          await store.putJson(layout.bucket, layout.statsWindowTargetsKey(task.trainingId, index), file, signal);
        }
        return { tasks: tasks.length, windows: targets.length };
      });
    },

    /** Cuts the ±radius windows of one task's examples and stores them as a window part. */
    async writeExampleWindows(task: ExampleWindowsTask): Promise<ExampleWindowsRef> {
      const progress = { shardsDone: 0, shards: 0, windows: 0 };
      return withHeartbeat(() => ({ ...progress }), FATAL, async (beat, signal) => {
        const layout = new RunLayout(task.outputUri, task.runId);
        const cfg = await loadDictionaryCfg(store, layout, task.trainingId, signal);
        const targetsKey = layout.statsWindowTargetsKey(task.trainingId, task.task);
        const file = await store.getJsonIfExists<WindowTargetsFile>(layout.bucket, targetsKey, signal);
        if (file?.format !== WINDOW_TARGETS_FORMAT) {
          throw new ConfigError(`example-window targets s3://${layout.bucket}/${targetsKey} are ${file ? `in format ${JSON.stringify(file.format)}` : 'missing'}; start the statistics again to re-plan them`);
        }

        const config = await loadRunConfig(store, layout);
        const resources = new RunResources(store, cacheDir);
        const encoder = await openEncoderWorker({ model: await store.getBytes(layout.bucket, layout.dictionaryEncoderKey(task.trainingId), signal), dIn: cfg.d_in });
        try {
          const { model, tokenizer } = await resources.forRun({ ...config, hooks: [cfg.hook_name!] });
          const texts = new Map<number, string>();
          const windows = await buildExampleWindows(file.targets, {
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
          const key = layout.statsWindowPartKey(task.trainingId, task.task);
          await store.put(layout.bucket, key, encodeExampleWindows({ radius: task.radius ?? DEFAULT_RADIUS, rows: windows }), { contentType: 'application/vnd.apache.parquet', signal });
          metrics?.windows(task.runId, task.trainingId, windows.length);
          return { key, windows: windows.length };
        } finally {
          await encoder.close();
          await resources.close();
        }
      });
    },

    /**
     * Gathers the tasks' window parts into examples.parquet, one row group per range of
     * FEATURES_PER_ROW_GROUP features, in feature order. Memory stays bounded whatever the
     * dictionary's size: each part is read once and its windows spilled to a local file per range,
     * then each range is read back, sorted and written on its own.
     */
    async gatherExampleWindows(task: GatherWindowsTask): Promise<ExampleWindowsRef> {
      let read = 0;
      return withHeartbeat(() => ({ read }), FATAL, async (beat, signal) => {
        const layout = new RunLayout(task.outputUri, task.runId);
        const cfg = await loadDictionaryCfg(store, layout, task.trainingId, signal);
        const perGroup = task.featuresPerRowGroup ?? FEATURES_PER_ROW_GROUP;
        const spill = await mkdtemp(path.join(os.tmpdir(), 'thresher-windows-'));
        try {
          const rangeFile = (range: number) => path.join(spill, `range-${String(range).padStart(6, '0')}.jsonl`);
          const ranges = new Set<number>();
          for (let t = 0; t < task.tasks; t++) {
            const part = await readExampleWindows(await store.getBytes(layout.bucket, layout.statsWindowPartKey(task.trainingId, t), signal));
            const lines = new Map<number, string[]>();
            for (const row of part.rows) {
              const range = Math.floor(row.feature / perGroup);
              (lines.get(range) ?? lines.set(range, []).get(range)!).push(JSON.stringify(row));
            }
            for (const [range, rows] of lines) {
              await appendFile(rangeFile(range), rows.join('\n') + '\n');
              ranges.add(range);
            }
            read++;
            beat();
          }
          const writer = new ExampleWindowsWriter(task.radius ?? DEFAULT_RADIUS, {
            'thresher.run_id': task.runId, 'thresher.training_id': task.trainingId, 'thresher.hook': cfg.hook_name!,
          });
          for (const range of [...ranges].sort((a, b) => a - b)) {
            signal.throwIfAborted();
            const text = await readFile(rangeFile(range), 'utf8');
            writer.writeRowGroup(text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as ExampleWindow));
            await rm(rangeFile(range));
            beat();
          }
          const key = layout.statsKeys(task.trainingId).examples;
          await store.put(layout.bucket, key, writer.finish(), { contentType: 'application/vnd.apache.parquet', signal });
          return { key, windows: writer.rows };
        } finally {
          await rm(spill, { recursive: true, force: true });
        }
      });
    },
  };
}

export type ExampleActivities = ReturnType<typeof createExampleActivities>;
