/**
 * Shapes that cross the Temporal boundary for a harvest run. Only ids, keys and counts: activation
 * data never enters a payload. Kept free of runtime imports so workflow, activities and CLI share it.
 */
import type { StatsSettings } from './stats-types.js';

export const ORCHESTRATION_QUEUE = 'thresher-orchestration';
export const HARVEST_QUEUE = 'thresher-harvest';

export const harvestWorkflowId = (runId: string): string => `thresher-harvest-${runId}`;

/** Identifies a run's outputs: the layout is derived from these two. */
export interface RunRef {
  runId: string;
  /** `s3://bucket/prefix` the run writes under (`<prefix>/<runId>/`). */
  outputUri: string;
}

export interface PlanInfo {
  shardCount: number;
  pageSize: number;
  pageCount: number;
  concurrency: number;
  maxAttempts: number;
  heartbeatTimeoutSeconds: number;
  stages: string[];
  /** The run config's `stats` section: a few numbers, handed to each FeatureStats child. */
  stats?: StatsSettings;
}

export interface ShardTask {
  index: number;
  uri: string;
}

export interface PendingPage {
  shards: ShardTask[];
  /** Shards of this page that already have a manifest (done by an earlier execution). */
  alreadyDone: number;
  /** Counts of those already-done shards, so resumed progress stays whole. */
  doneTokens: number;
  doneRows: number;
  doneBytes: number;
}

export interface HarvestCounters {
  done: number;
  failed: number;
  /** Shards found complete when this run (or a resume) started; included in done. */
  skipped: number;
  /** Tokens of those skipped shards (included in tokens): rates leave them out. */
  skippedTokens?: number;
  tokens: number;
  rows: number;
  bytes: number;
}

export interface HarvestRunInput extends RunRef {
  /**
   * Shards one execution dispatches before it continues as new. Default 1000 (about 6,000 history
   * events). The check runs between plan pages, so on a run's first execution this also caps the
   * plan's page size (pages stay as planned on a resume). Kept across continue-as-new; lowered by
   * tests to exercise chaining on a small corpus.
   */
  shardsPerExecution?: number;
  /** Carried across continue-as-new; absent on the first execution. */
  carried?: { plan: PlanInfo; nextPage: number; counters: HarvestCounters; paused: boolean; startedAt: number };
}

export type HarvestPhase = 'planning' | 'harvesting' | 'finalizing' | 'stages' | 'done';

export interface HarvestProgress extends RunRef {
  phase: HarvestPhase;
  paused: boolean;
  shards: { total: number; done: number; failed: number; running: number; skipped: number };
  tokens: number;
  /** Of those, tokens of shards complete before this start (a resume): not part of its rate. */
  skippedTokens?: number;
  rows: number;
  bytes: number;
  /** Epoch ms when the run first started (kept across continue-as-new and resume). */
  startedAt: number;
}

export interface HarvestResult extends RunRef {
  status: 'completed' | 'completed_with_failures';
  shards: number;
  failedShards: number;
  tokens: number;
  rows: number;
  bytes: number;
  /** How the stages the config lists ended (absent when it lists none). */
  stages?: Record<string, StageOutcome>;
}

/** A stage started after the harvest, as a child workflow. */
export interface StageOutcome {
  workflowId: string;
  /** 'skipped': the harvest had failed shards (resume the run, and the stage runs then). */
  status: 'completed' | 'completed_with_failures' | 'failed' | 'skipped';
  message?: string;
  /** The stats stage: the dictionaries whose statistics it made. */
  trainingIds?: string[];
}

export interface ShardFailure {
  shard: number;
  uri: string;
  message: string;
  type: string;
}
