// The statistics stage's plan: the hook's activation parts in groups (one summarisePart activity
// each), kept in S3 as pages of consecutive groups rather than in the workflow's history. At
// 100,000 parts the keys alone are ~9 MB, past Temporal's 2 MB payload limit; the workflow sees
// only the group count and each activity reads its own group's keys.
import { ConfigError } from '../config/run-config.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { RunLayout } from '../storage/run-layout.js';

export const STATS_PLAN_FORMAT = 'stats-plan/v1';
/**
 * Most groups per plan page. Every summarisePart reads its group's whole page, so pages stay small:
 * with 8 parts per group a page is ~70 KB of keys (100,000 parts make 125 pages).
 */
export const STATS_GROUPS_PER_PAGE = 100;
/** Part keys a plan page holds at most, unless one group alone has more: larger groups, fewer per page. */
export const STATS_PLAN_PAGE_KEYS = 800;

/** The fewest parts a group holds when groups are sized by rows (partsPerGroup unset). */
export const MIN_PARTS_PER_GROUP = 8;
/**
 * Rows per dictionary feature that a group holds at least when partsPerGroup is not set. A group's
 * partial summary costs the same to store and merge however many rows went into it (~6.8 KB per
 * feature), while its input grows with its rows; so the group grows with the dictionary. 64 rows
 * per feature keeps a partial near 5% of the fp32 activations it summarises at d_in 512, and gives
 * the former fixed default, 8 parts of 32,768 rows, at 4,096 features. Fixed 8-part groups of
 * such parts made a 131,072-feature dictionary's partials (889 MB raw each) larger than their input
 * (512 MB), and 12,500 of them at 100,000 parts for the merge tree to read; here they take 256
 * parts each and the tree 32 times fewer.
 */
export const MIN_ROWS_PER_FEATURE = 64;

export interface PartRows {
  key: string;
  rows: number;
}

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

/**
 * The parts in consecutive groups: `partsPerGroup` each when it is set; otherwise each group takes
 * parts until it holds MIN_PARTS_PER_GROUP parts and MIN_ROWS_PER_FEATURE × dSae rows, or, if
 * fewer, 1/`concurrency` of all the rows, so that a run too small for such groups still gives the
 * workers `concurrency` groups to summarise at once (the last group may hold less).
 */
export function groupParts(parts: readonly PartRows[], options: { dSae: number; partsPerGroup?: number; concurrency?: number }): string[][] {
  if (options.partsPerGroup !== undefined) return groupPartKeys(parts.map((p) => p.key), options.partsPerGroup);
  const { dSae, concurrency = 1 } = options;
  if (!Number.isInteger(dSae) || dSae < 1) throw new ConfigError(`d_sae must be a positive integer, got ${dSae}`);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new ConfigError(`concurrency must be a positive integer, got ${concurrency}`);
  const totalRows = parts.reduce((a, p) => a + p.rows, 0);
  const minRows = Math.min(MIN_ROWS_PER_FEATURE * dSae, Math.ceil(totalRows / concurrency));
  const groups: string[][] = [];
  let group: string[] = [];
  let rows = 0;
  for (const part of parts) {
    group.push(part.key);
    rows += part.rows;
    if (group.length >= MIN_PARTS_PER_GROUP && rows >= minRows) {
      groups.push(group);
      group = [];
      rows = 0;
    }
  }
  if (group.length) groups.push(group);
  return groups;
}

/** Groups per plan page: up to STATS_GROUPS_PER_PAGE, fewer when groups are large (about STATS_PLAN_PAGE_KEYS keys a page). */
export function groupsPerPlanPage(groups: readonly string[][]): number {
  const largest = groups.reduce((m, g) => Math.max(m, g.length), 1);
  return Math.max(1, Math.min(STATS_GROUPS_PER_PAGE, Math.floor(STATS_PLAN_PAGE_KEYS / largest)));
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
