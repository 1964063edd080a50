import { parseS3Uri } from '../config/run-config.js';
import { partialSummaryKey } from '../stats/merge-tree.js';

/**
 * Where each object of a run lives. Keys are pure functions of (run, shard, part, hook), so a
 * retried write lands on the same key and can never duplicate rows.
 */
export class RunLayout {
  readonly bucket: string;
  /** `<prefix>/<runId>`, no trailing slash. */
  readonly root: string;

  constructor(outputUri: string, readonly runId: string) {
    const { bucket, key } = parseS3Uri(outputUri);
    this.bucket = bucket;
    this.root = key ? `${key}/${runId}` : runId;
  }

  get uri(): string {
    return `s3://${this.bucket}/${this.root}/`;
  }
  get configKey(): string {
    return `${this.root}/config.json`;
  }
  get planKey(): string {
    return `${this.root}/plan/plan.json`;
  }
  planPageKey(page: number): string {
    return `${this.root}/plan/page-${pad(page, 5)}.json`;
  }
  get summaryKey(): string {
    return `${this.root}/summary.json`;
  }
  get manifestPrefix(): string {
    return `${this.root}/manifests/`;
  }
  manifestKey(shard: number): string {
    return `${this.manifestPrefix}shard-${pad(shard, 6)}.json`;
  }
  get failurePrefix(): string {
    return `${this.root}/failures/`;
  }
  failureKey(shard: number): string {
    return `${this.failurePrefix}shard-${pad(shard, 6)}.json`;
  }
  activationPrefix(hook: string): string {
    return `${this.root}/activations/${hookSegment(hook)}/`;
  }
  shardPartPrefix(hook: string, shard: number): string {
    return `${this.activationPrefix(hook)}shard-${pad(shard, 6)}/`;
  }
  partKey(hook: string, shard: number, part: number): string {
    return `${this.shardPartPrefix(hook, shard)}part-${pad(part, 5)}.parquet`;
  }

  // Dictionary training (issue #3): one folder per dictionary, sweep configs beside them.
  get dictionariesPrefix(): string {
    return `${this.root}/dictionaries/`;
  }
  /** The resolved config of a training sweep (immutable once written). */
  sweepConfigKey(sweepId: string): string {
    return `${this.dictionariesPrefix}sweeps/${sweepId}.json`;
  }
  dictionaryPrefix(trainingId: string): string {
    return `${this.dictionariesPrefix}${trainingId}/`;
  }
  /** SAELens names: sae_weights.safetensors and cfg.json. */
  dictionaryWeightsKey(trainingId: string): string {
    return `${this.dictionaryPrefix(trainingId)}sae_weights.safetensors`;
  }
  dictionaryConfigKey(trainingId: string): string {
    return `${this.dictionaryPrefix(trainingId)}cfg.json`;
  }
  dictionaryEncoderKey(trainingId: string): string {
    return `${this.dictionaryPrefix(trainingId)}encoder.onnx`;
  }
  /** Written last: its existence is the only sign a dictionary is complete. */
  dictionaryResultKey(trainingId: string): string {
    return `${this.dictionaryPrefix(trainingId)}result.json`;
  }
  checkpointPrefix(trainingId: string): string {
    return `${this.dictionaryPrefix(trainingId)}checkpoints/`;
  }
  checkpointKey(trainingId: string, step: number): string {
    return `${this.checkpointPrefix(trainingId)}step-${pad(step, 9)}.safetensors`;
  }
  /** Small JSON naming the newest complete checkpoint; written after its data object. */
  checkpointPointerKey(trainingId: string): string {
    return `${this.checkpointPrefix(trainingId)}latest.json`;
  }
  metricsPrefix(trainingId: string): string {
    return `${this.dictionaryPrefix(trainingId)}metrics/`;
  }
  /** JSONL of per-step records, named by the first step it holds. */
  metricsChunkKey(trainingId: string, firstStep: number): string {
    return `${this.metricsPrefix(trainingId)}steps-${pad(firstStep, 9)}.jsonl`;
  }

  // Feature statistics (issue #4): one folder per dictionary.
  statsPrefix(trainingId: string): string {
    return `${this.root}/stats/${trainingId}/`;
  }
  /** Partial and intermediate summaries of the merge tree (core/stats/merge-tree.ts). */
  statsPartialsPrefix(trainingId: string): string {
    return `${this.statsPrefix(trainingId)}partials/`;
  }
  /** A partial or intermediate summary (summary-codec.ts), named by its tree level and index. */
  statsPartialKey(trainingId: string, level: number, index: number): string {
    return partialSummaryKey(this.statsPartialsPrefix(trainingId), level, index);
  }
  /** One page of the statistics plan: the part keys of consecutive part groups (stats-plan.ts). */
  statsPlanPageKey(trainingId: string, page: number): string {
    return `${this.statsPrefix(trainingId)}plan/groups-${pad(page, 5)}.json`;
  }
  /** The targets of example-window task `task` (core/stats/example-window-tasks.ts). */
  statsWindowTargetsKey(trainingId: string, task: number): string {
    return `${this.statsPrefix(trainingId)}windows/targets-${pad(task, 6)}.json`;
  }
  /** The windows cut by task `task`, before they are gathered into examples.parquet. */
  statsWindowPartKey(trainingId: string, task: number): string {
    return `${this.statsPrefix(trainingId)}windows/part-${pad(task, 6)}.parquet`;
  }
  /** The merged summary, the per-feature Parquet, example windows, logit effects and the genre table. */
  statsKeys(trainingId: string): StatsKeys {
    const p = this.statsPrefix(trainingId);
    return {
      summary: `${p}summary.bin`, features: `${p}features.parquet`, examples: `${p}examples.parquet`,
      logitEffects: `${p}logit-effects.json`, genres: `${p}genres.json`, result: `${p}result.json`,
    };
  }
  /** The feature browser of one dictionary: a static site (cli/report). */
  reportPrefix(trainingId: string): string {
    return `${this.root}/report/${trainingId}/`;
  }
}

export interface StatsKeys {
  summary: string;
  features: string;
  examples: string;
  logitEffects: string;
  genres: string;
  result: string;
}

/** Shard number from a manifest or failure key, or undefined for other keys. */
export function shardOfKey(key: string): number | undefined {
  const m = /shard-(\d+)\.json$/.exec(key);
  return m ? Number(m[1]) : undefined;
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

/** Hook names are tensor names (dots, slashes, colons); keep them readable but one key segment. */
const hookSegment = (hook: string): string => hook.replace(/[^A-Za-z0-9._-]/g, '_');
