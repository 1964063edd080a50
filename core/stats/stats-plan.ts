// The statistics stage's plan: the hook's activation parts in groups (one summarisePart activity
// each), kept in S3 as pages of consecutive groups rather than in the workflow's history. At
// 100,000 parts the keys alone are ~9 MB, past Temporal's 2 MB payload limit; the workflow sees
// only the group count and each activity reads its own group's keys.
import { ConfigError } from '../config/run-config.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { RunLayout } from '../storage/run-layout.js';

export const STATS_PLAN_FORMAT = 'stats-plan/v1';
/**
 * Groups per plan page. Every summarisePart reads its group's whole page, so pages stay small:
 * with 8 parts per group a page is ~70 KB of keys (100,000 parts make 125 pages).
 */
export const STATS_GROUPS_PER_PAGE = 100;

export interface StatsPlanPage {
  format: typeof STATS_PLAN_FORMAT;
  /** Index of the page's first group. */
  firstGroup: number;
  /** Part keys of each group, in key order. */
  groups: string[][];
}

/** Consecutive runs of `perGroup` keys (the last group may be shorter). */
export function groupPartKeys(keys: readonly string[], perGroup: number): string[][] {
  if (!Number.isInteger(perGroup) || perGroup < 1) throw new ConfigError(`partsPerGroup must be a positive integer, got ${perGroup}`);
  const groups: string[][] = [];
  for (let i = 0; i < keys.length; i += perGroup) groups.push(keys.slice(i, i + perGroup));
  return groups;
}

/** Writes the plan's pages (overwriting an earlier plan's: planning is deterministic); returns the page count. */
export async function writeStatsPlan(
  store: ObjectStore, layout: RunLayout, trainingId: string, groups: readonly string[][], groupsPerPage = STATS_GROUPS_PER_PAGE, signal?: AbortSignal,
): Promise<number> {
  let pages = 0;
  for (let first = 0; first < groups.length; first += groupsPerPage, pages++) {
    const page: StatsPlanPage = { format: STATS_PLAN_FORMAT, firstGroup: first, groups: groups.slice(first, first + groupsPerPage) };
    await store.putJson(layout.bucket, layout.statsPlanPageKey(trainingId, pages), page, signal);
  }
  return pages;
}

/** The part keys of group `index`, from its plan page. */
export async function readGroupPartKeys(
  store: ObjectStore, layout: RunLayout, trainingId: string, index: number, groupsPerPage: number, signal?: AbortSignal,
): Promise<string[]> {
  const pageKey = layout.statsPlanPageKey(trainingId, Math.floor(index / groupsPerPage));
  const page = await store.getJsonIfExists<StatsPlanPage>(layout.bucket, pageKey, signal);
  const where = `statistics plan page s3://${layout.bucket}/${pageKey}`;
  if (!page) throw new ConfigError(`${where} is missing (part group ${index}); start the statistics again to re-plan`);
  if (page.format !== STATS_PLAN_FORMAT) throw new ConfigError(`${where}: format is ${JSON.stringify(page.format)}, expected ${STATS_PLAN_FORMAT}`);
  const keys = page.groups[index - page.firstGroup];
  if (!keys?.length) throw new ConfigError(`${where} has no part group ${index} (it starts at group ${page.firstGroup} and holds ${page.groups.length})`);
  return keys;
}
