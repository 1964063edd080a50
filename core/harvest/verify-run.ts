import { readActivationPart } from '../parquet/activation-part.js';
import { sha256Hex, type ObjectStore } from '../storage/object-store.js';
import type { RunLayout } from '../storage/run-layout.js';
import type { ShardTask } from '../../workflows/harvest-types.js';
import type { ShardManifest } from './shard-manifest.js';

export interface VerifyReport {
  runId: string;
  shards: number;
  complete: number;
  /** Shards of the plan without a manifest. */
  missingShards: number[];
  partsChecked: number;
  rows: number;
  /** Every problem found, each naming the object. Empty means the run is sound. */
  problems: string[];
}

/**
 * Audits a run's outputs against its manifests: every planned shard has a manifest; every part a
 * manifest lists exists, has the recorded size and sha256 and reads back as Parquet with the
 * recorded row count; within a shard no (context, position) row appears twice and no context is
 * missing; every hook has the same rows; no part exists that no manifest lists.
 */
export async function verifyRun(
  store: ObjectStore,
  layout: RunLayout,
  onShard?: (checked: number, total: number) => void,
): Promise<VerifyReport> {
  const plan = await store.getJsonIfExists<{ pageCount: number; shardCount: number }>(layout.bucket, layout.planKey);
  if (!plan) throw new Error(`run ${layout.runId} has no plan at s3://${layout.bucket}/${layout.planKey}: was it started?`);
  const report: VerifyReport = { runId: layout.runId, shards: plan.shardCount, complete: 0, missingShards: [], partsChecked: 0, rows: 0, problems: [] };
  const listed = new Set<string>();
  let checked = 0;
  for (let page = 0; page < plan.pageCount; page++) {
    const shards = await store.getJson<ShardTask[]>(layout.bucket, layout.planPageKey(page));
    await forEachLimited(shards, 4, async (s) => {
      const manifest = await store.getJsonIfExists<ShardManifest>(layout.bucket, layout.manifestKey(s.index));
      if (!manifest) report.missingShards.push(s.index);
      else {
        report.complete++;
        report.rows += manifest.rows;
        for (const p of manifest.parts) listed.add(p.key);
        await verifyShard(store, layout, manifest, report);
      }
      onShard?.(++checked, plan.shardCount);
    });
  }
  // Parts of a shard without a manifest are an unfinished attempt (that shard is reported
  // missing, and `run resume` completes it); anywhere else an unlisted part is a problem.
  const missing = new Set(report.missingShards);
  for (const hook of await hooksOnRecord(store, layout)) {
    for await (const o of store.list(layout.bucket, layout.activationPrefix(hook))) {
      const shard = Number(/shard-(\d+)\//.exec(o.key)?.[1]);
      if (!listed.has(o.key) && !missing.has(shard)) report.problems.push(`orphan part ${o.key}: no manifest lists it`);
    }
  }
  report.missingShards.sort((a, b) => a - b);
  return report;
}

async function verifyShard(store: ObjectStore, layout: RunLayout, m: ShardManifest, report: VerifyReport): Promise<void> {
  const where = `shard ${m.shard}`;
  const rowsByHook = new Map<string, Set<number>>();
  for (const hook of Object.keys(m.hooks)) {
    // Packed as context * 2^20 + position: unique per row while contexts stay below 2^32.
    const seen = new Set<number>();
    const contexts = new Set<number>();
    let rows = 0;
    for (const p of m.parts.filter((x) => x.hook === hook)) {
      report.partsChecked++;
      let bytes: Uint8Array;
      try {
        bytes = await store.getBytes(layout.bucket, p.key);
      } catch (err) {
        report.problems.push(`${where}: part ${p.key} cannot be read (${(err as Error).message})`);
        continue;
      }
      if (bytes.byteLength !== p.bytes) report.problems.push(`${where}: part ${p.key} has ${bytes.byteLength} bytes, manifest says ${p.bytes}`);
      if (sha256Hex(bytes) !== p.sha256) report.problems.push(`${where}: part ${p.key} sha256 differs from the manifest`);
      let cols;
      try {
        cols = (await readActivationPart(bytes)).cols;
      } catch (err) {
        report.problems.push(`${where}: part ${p.key} is not a readable activation part (${(err as Error).message})`);
        continue;
      }
      if (cols.context.length !== p.rows) report.problems.push(`${where}: part ${p.key} has ${cols.context.length} rows, manifest says ${p.rows}`);
      for (let i = 0; i < cols.context.length; i++) {
        const id = cols.context[i] * 2 ** 20 + cols.position[i];
        if (seen.has(id)) report.problems.push(`${where}: duplicate row context ${cols.context[i]} position ${cols.position[i]} in ${p.key}`);
        seen.add(id);
        contexts.add(cols.context[i]);
      }
      rows += cols.context.length;
    }
    if (rows !== m.rows) report.problems.push(`${where}: hook ${hook} has ${rows} rows, manifest says ${m.rows}`);
    if (contexts.size !== m.contexts) report.problems.push(`${where}: hook ${hook} covers ${contexts.size} contexts, manifest says ${m.contexts}`);
    for (let c = 0; c < m.contexts; c++) {
      if (!contexts.has(c)) {
        report.problems.push(`${where}: hook ${hook} has no rows for context ${c}`);
        break;
      }
    }
    rowsByHook.set(hook, seen);
  }
  const [first, ...rest] = [...rowsByHook.values()];
  for (const other of rest) {
    if (other.size !== first.size || [...other].some((id) => !first.has(id))) {
      report.problems.push(`${where}: hooks do not hold the same rows`);
      break;
    }
  }
}

/** Hook folders under the run's activations/ prefix, from one manifest (all shards share hooks). */
async function hooksOnRecord(store: ObjectStore, layout: RunLayout): Promise<string[]> {
  for await (const o of store.list(layout.bucket, layout.manifestPrefix)) {
    const m = await store.getJson<ShardManifest>(layout.bucket, o.key);
    return Object.keys(m.hooks);
  }
  return [];
}

async function forEachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]);
  });
  await Promise.all(lanes);
}
