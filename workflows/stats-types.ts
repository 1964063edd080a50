/**
 * Shapes that cross the Temporal boundary for the statistics stage (FeatureStats workflow and its
 * activities). Keys, ids and counts only: activations and summaries live in S3. Imports only
 * import-free modules, so workflow, activities and CLI share it.
 */
import { TRAINING_QUEUE } from './training-types.js';

/** Stats activities need ORT and the dictionary's encoder: they run where training runs. */
export const STATS_QUEUE = TRAINING_QUEUE;

export const statsWorkflowId = (runId: string, trainingId: string): string => `thresher-stats-${runId}/${trainingId}`;

export interface RunRef {
  runId: string;
  /** `s3://bucket/prefix` of the harvest run. */
  outputUri: string;
}

export interface FeatureStatsInput extends RunRef {
  /** The dictionary, `<run>/dictionaries/<trainingId>/` (encoder.onnx, cfg.json). */
  trainingId: string;
  /** Parts summarised by one activity. Default: at least 8 parts, and 64 rows per dictionary feature or 1/concurrency of the rows if fewer (groupParts). */
  partsPerGroup?: number;
  /** Summarise, merge and example-window activities at once. Default DEFAULT_STATS_CONCURRENCY (8). */
  concurrency?: number;
  /** Summaries merged by one activity. Default 16. */
  fanIn?: number;
  /** Rows per encoder call. Default 1,024, fewer for dictionaries wider than 16,384 features (at most 64 MiB of activations per batch). */
  encodeBatchRows?: number;
  /** Top activating tokens kept per feature. Default 20. */
  topK?: number;
  /** onnxruntime execution provider of the dictionary's encoder in summarise activities: 'cpu' (default), 'cuda', … */
  executionProvider?: string;
  /**
   * Worker threads of one summarise activity, each encoding batches with its own encoder session
   * and adding them to its own summary (1–256). Default: one per core, as many as 1 GiB of
   * summaries allows (defaultSummariserLanes).
   */
  summariseThreads?: number;
  /**
   * Examples shown per activation interval, and kept per feature for each of the interval
   * reservoir's 44 buckets (1–255). Default 4. Most of a summary's memory: about 6.8 KB per
   * feature at 4, 2.6 KB at 1.
   */
  intervalExamples?: number;
  /**
   * Count each feature's firing per corpus label, for the genre table. Default true. false ignores
   * the parts' labels: for a run labelled by a field with more values than a summary counts
   * (MAX_SUMMARY_LABELS), whose statistics would otherwise fail.
   */
  labels?: boolean;
  /**
   * Cut the examples' context windows from the run's corpus and model (examples.parquet). Default
   * true; only activation parts made without a corpus (synthetic tests) turn it off.
   */
  exampleWindows?: boolean;
  /** Shards one example-window task re-reads. Default SHARDS_PER_WINDOW_TASK (32). */
  shardsPerWindowTask?: number;
  /** Features per row group of examples.parquet. Default FEATURES_PER_ROW_GROUP (1,024). */
  featuresPerRowGroup?: number;
  /** Write the feature browser at the end (`thresher report` can write it later). Default true. */
  featureBrowser?: boolean;
  maxAttempts?: number;
  heartbeatTimeoutSeconds?: number;
  /** Activities one execution dispatches before it continues as new. Default STATS_ACTIVITIES_PER_EXECUTION. */
  activitiesPerExecution?: number;
  /** Set by the workflow itself when it continues as new. */
  carried?: StatsCarried;
}

/** What a user may set: a run config's `stats` section (checked by core/stats/stats-settings-schema.ts). */
export type StatsSettings = Pick<
  FeatureStatsInput,
  'partsPerGroup' | 'concurrency' | 'fanIn' | 'encodeBatchRows' | 'executionProvider' | 'summariseThreads' | 'topK' | 'intervalExamples' | 'labels' | 'shardsPerWindowTask' | 'featuresPerRowGroup' | 'featureBrowser' | 'maxAttempts' | 'heartbeatTimeoutSeconds'
>;

/**
 * Summarise, merge and example-window activities per execution: each costs a few history events,
 * so a run of 100,000 parts (12,500 groups, 835 merges) spans about 14 executions, each far from
 * Temporal's history limits (bench:stats-schedule: largest history 3,278 events).
 */
export const STATS_ACTIVITIES_PER_EXECUTION = 1000;

/** Activities at once when FeatureStatsInput.concurrency is unset; planning sizes small runs' groups by it too. */
export const DEFAULT_STATS_CONCURRENCY = 8;

/** Counts and prefixes only: the groups' part keys are in S3 (core/stats/stats-plan.ts). */
export interface StatsPlan {
  hook: string;
  dIn: number;
  dSae: number;
  /** Part groups, one summarisePart each. */
  groups: number;
  /** Groups per plan page (the page of group i is ⌊i / groupsPerPage⌋). */
  groupsPerPage: number;
  parts: number;
  rows: number;
  /** Where the merge tree's summaries go (core/stats/merge-tree.ts derives every key from it). */
  partialsPrefix: string;
}

/** Where a FeatureStats execution resumes after continuing as new. */
export interface StatsCarried {
  plan: StatsPlan;
  /**
   * 'summarising': the next group to dispatch; 'merging': the next node (level ≥ 1, index) to merge;
   * 'examples': the planned window tasks and the next one to dispatch.
   */
  cursor:
    | { phase: 'summarising'; nextGroup: number }
    | { phase: 'merging'; level: number; index: number }
    | { phase: 'examples'; windowTasks: number; nextTask: number };
  groupsDone: number;
  tokensSummarised: number;
  mergesDone: number;
  windowTasksDone: number;
  startedAt: number;
}

export interface SummariseTask extends RunRef {
  trainingId: string;
  /** Index of the group: names its partial summary (deterministic, so a retry overwrites). */
  index: number;
  /** The plan's groupsPerPage, to find the group's page. */
  groupsPerPage: number;
  encodeBatchRows?: number;
  executionProvider?: string;
  summariseThreads?: number;
  topK?: number;
  intervalExamples?: number;
  /** false: the parts' labels are ignored (no per-label firing counts). */
  labels?: boolean;
}

export interface SummaryRef {
  key: string;
  tokens: number;
  parts: number;
}

export interface MergeTask extends RunRef {
  keys: string[];
  outKey: string;
}

export interface WindowPlanTask extends RunRef {
  trainingId: string;
  /** The merged summary whose examples get windows. */
  summaryKey: string;
  /** Shards one window task re-reads. Default SHARDS_PER_WINDOW_TASK (core/stats/example-window-tasks.ts). */
  shardsPerTask?: number;
}

export interface WindowPlan {
  /** Window tasks (their targets are in S3). */
  tasks: number;
  /** Examples to cut, over all tasks. */
  windows: number;
}

export interface ExampleWindowsTask extends RunRef {
  trainingId: string;
  /** The window task: which targets file to cut. */
  task: number;
  /** Tokens each side of an example. Default 4. */
  radius?: number;
}

export interface GatherWindowsTask extends RunRef {
  trainingId: string;
  tasks: number;
  /** The radius the tasks cut with. Default 4. */
  radius?: number;
  /** Features per row group of examples.parquet. Default FEATURES_PER_ROW_GROUP (1,024). */
  featuresPerRowGroup?: number;
}

export interface ExampleWindowsRef {
  key: string;
  windows: number;
}

export interface ReportTask extends RunRef {
  trainingId: string;
}

export interface ReportRef {
  /** `s3://…/report/<trainingId>/index.html`. */
  indexUri: string;
  files: number;
  bytes: number;
}

export interface FinalizeTask extends RunRef {
  trainingId: string;
  summaryKey: string;
  /** Activation parts the summary covers (recorded in result.json). */
  parts: number;
  /** false when the statistics left the parts' labels out (FeatureStatsInput.labels). */
  labels?: boolean;
}

export interface StatsResult extends RunRef {
  trainingId: string;
  tokens: number;
  parts: number;
  dSae: number;
  /** Features that fired at least once. */
  liveFeatures: number;
  labels: number;
  /** 'available', or the reason logit effects could not be computed. */
  logitEffects: string;
  keys: { summary: string; features: string; examples: string; logitEffects: string; genres: string; result: string };
  /** The feature browser's index.html (set by the workflow after result.json is written). */
  reportUri?: string;
}

export interface StatsProgress extends RunRef {
  trainingId: string;
  phase: 'planning' | 'summarising' | 'merging' | 'examples' | 'finalising' | 'report' | 'done';
  groups: number;
  groupsDone: number;
  tokensSummarised: number;
  mergesDone: number;
  /** Example-window tasks planned and finished (0 until the examples phase). */
  windowTasks: number;
  windowTasksDone: number;
  startedAt: number;
}

export interface StatsHeartbeat {
  partsDone: number;
  rowsDone: number;
}
