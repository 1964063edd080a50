// Bench (c): peak resident memory of harvestShard() over plain-text shards of several sizes, each
// in a child process of its own (rss-child.ts), writing real Parquet parts to the stack's S3.
import { fork } from 'node:child_process';
import type { RunConfig } from '../core/config/run-config.js';
import type { ObjectStore } from '../core/storage/object-store.js';
import { RunLayout } from '../core/storage/run-layout.js';
import type { LocalStackEndpoints } from '../infra/local-stack.js';
import type { RssChildInput, RssChildResult } from './rss-child.js';
import { ensureDemoShard } from './shard-files.js';

export interface RssRow extends RssChildResult {
  shardMiB: number;
  shardBytes: number;
  documents: number;
  /** Seconds it took to generate the shard file in this run; 0 when it came from the cache. */
  generatedSeconds: number;
}

export interface RssOptions {
  endpoints: LocalStackEndpoints;
  store: ObjectStore;
  /** Shard sizes in MiB. */
  sizesMiB: number[];
  /** Config for every size; runId gets the size appended. */
  config: RunConfig;
  shardDir: string;
  sampleMs: number;
  log?: (msg: string) => void;
}

export async function benchRss(opts: RssOptions): Promise<RssRow[]> {
  const log = opts.log ?? (() => undefined);
  const rows: RssRow[] = [];
  for (const sizeMiB of opts.sizesMiB) {
    const shard = await ensureDemoShard(opts.shardDir, Math.round(sizeMiB * 2 ** 20), 7, 'txt');
    if (shard.generatedSeconds) log(`  generated ${shard.path} (${sizeMiB} MiB, ${shard.documents} documents) in ${shard.generatedSeconds.toFixed(0)} s`);
    const config: RunConfig = { ...opts.config, runId: `${opts.config.runId}-${sizeMiB}MiB` };
    log(`  harvesting ${sizeMiB} MiB in a child process…`);
    const result = await runChild({ endpoints: opts.endpoints, config, shardFile: shard.path, shardBytes: shard.bytes, sampleMs: opts.sampleMs });
    log(`  ${sizeMiB} MiB: peak RSS ${(result.vmHwm / 2 ** 20).toFixed(0)} MiB, ${(result.tokens / result.seconds).toFixed(0)} tokens/s over ${result.seconds.toFixed(0)} s`);
    rows.push({ shardMiB: sizeMiB, shardBytes: shard.bytes, documents: shard.documents, generatedSeconds: shard.generatedSeconds, ...result });
    await deletePrefix(opts.store, new RunLayout(config.output.path, config.runId));
  }
  return rows;
}

function runChild(input: RssChildInput): Promise<RssChildResult> {
  return new Promise((resolve, reject) => {
    // execArgv [] so the parent's own flags (e.g. --expose-gc) do not change the child's memory.
    const child = fork(new URL('./rss-child.js', import.meta.url), [JSON.stringify(input)], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let answer: { ok: true; result: RssChildResult } | { ok: false; error: string } | undefined;
    child.on('message', (m) => (answer = m as typeof answer));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (answer?.ok) resolve(answer.result);
      else reject(new Error(`RSS child failed (exit ${code ?? signal}): ${answer && !answer.ok ? answer.error : 'no result'}`));
    });
  });
}

async function deletePrefix(store: ObjectStore, layout: RunLayout): Promise<void> {
  const keys: string[] = [];
  for await (const o of store.list(layout.bucket, `${layout.root}/`)) keys.push(o.key);
  for (const k of keys) await store.delete(layout.bucket, k);
}
