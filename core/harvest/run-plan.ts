import type { RunConfig } from '../config/run-config.js';
import { listCorpusShards } from '../corpus/shard-source.js';
import type { ObjectStore } from '../storage/object-store.js';
import { RunLayout, shardOfKey } from '../storage/run-layout.js';
import type { PendingPage, PlanInfo, ShardFailure, ShardTask } from '../../workflows/harvest-types.js';
import type { ShardManifest } from './shard-manifest.js';

/** Shards per plan page: a page is what one `pendingShards` call returns, well under payload limits. */
export const PLAN_PAGE_SIZE = 1000;

interface StoredPlan {
  shardCount: number;
  pageSize: number;
  pageCount: number;
}

export async function loadRunConfig(store: ObjectStore, layout: RunLayout): Promise<RunConfig> {
  const config = await store.getJsonIfExists<RunConfig>(layout.bucket, layout.configKey);
  if (!config) throw new Error(`run ${layout.runId} has no config at s3://${layout.bucket}/${layout.configKey}`);
  return config;
}

/**
 * Lists the corpus once and writes the shard list to S3 in pages of `pageSize`; the workflow only
 * ever holds a page number. Idempotent: an existing plan (and its page size) is reused, so resumed
 * runs keep their shard numbers.
 */
export async function planRun(store: ObjectStore, layout: RunLayout, config: RunConfig, pageSize = PLAN_PAGE_SIZE): Promise<PlanInfo> {
  let plan = await store.getJsonIfExists<StoredPlan>(layout.bucket, layout.planKey);
  if (!plan) {
    const shards = await listCorpusShards(config.corpus.path, store);
    const pageCount = Math.ceil(shards.length / pageSize);
    for (let p = 0; p < pageCount; p++) {
      const page: ShardTask[] = shards.slice(p * pageSize, (p + 1) * pageSize).map(({ index, uri }) => ({ index, uri }));
      await store.putJson(layout.bucket, layout.planPageKey(p), page);
    }
    plan = { shardCount: shards.length, pageSize, pageCount };
    // Written after the pages: a plan.json that exists always has all its pages.
    await store.putJson(layout.bucket, layout.planKey, plan);
  }
  return {
    ...plan,
    concurrency: config.concurrency,
    maxAttempts: config.maxAttempts,
    heartbeatTimeoutSeconds: config.heartbeatTimeoutSeconds,
    stages: config.stages,
    ...(config.stats && { stats: config.stats }),
  };
}

/** The shards of one page that have no manifest yet, plus the counts of those that do. */
export async function pendingInPage(store: ObjectStore, layout: RunLayout, page: number): Promise<PendingPage> {
  const shards = await store.getJson<ShardTask[]>(layout.bucket, layout.planPageKey(page));
  if (!shards.length) return { shards: [], alreadyDone: 0, doneTokens: 0, doneRows: 0, doneBytes: 0 };
  const done = new Set<number>();
  const first = shards[0].index;
  const last = shards[shards.length - 1].index;
  // Manifest keys sort by shard number, so one bounded listing covers the page.
  const startAfter = first > 0 ? layout.manifestKey(first - 1) : undefined;
  for await (const o of store.list(layout.bucket, layout.manifestPrefix, undefined, startAfter)) {
    const s = shardOfKey(o.key);
    if (s === undefined) continue;
    if (s > last) break;
    if (s >= first) done.add(s);
  }
  const result: PendingPage = { shards: [], alreadyDone: done.size, doneTokens: 0, doneRows: 0, doneBytes: 0 };
  for (const s of shards) {
    if (!done.has(s.index)) {
      result.shards.push(s);
      continue;
    }
    const m = await store.getJson<ShardManifest>(layout.bucket, layout.manifestKey(s.index));
    result.doneTokens += m.tokens;
    result.doneRows += m.rows;
    result.doneBytes += m.bytes;
  }
  return result;
}

export async function recordShardFailure(store: ObjectStore, layout: RunLayout, failure: ShardFailure): Promise<void> {
  await store.putJson(layout.bucket, layout.failureKey(failure.shard), { ...failure, at: new Date().toISOString() });
}

export async function listShardFailures(store: ObjectStore, layout: RunLayout): Promise<ShardFailure[]> {
  const out: ShardFailure[] = [];
  for await (const o of store.list(layout.bucket, layout.failurePrefix)) {
    out.push(await store.getJson<ShardFailure>(layout.bucket, o.key));
  }
  return out;
}
