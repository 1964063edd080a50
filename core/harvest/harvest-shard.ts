import type { RunConfig } from '../config/run-config.js';
import type { ShardRef } from '../corpus/shard-source.js';
import { encodeActivationPart } from '../parquet/activation-part.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { RunLayout } from '../storage/run-layout.js';
import type { PackedContext } from '../tokenize/context-packer.js';
import { samplePositions } from '../tokenize/position-sampler.js';
import type { TextTokenizer } from '../tokenize/tokenizer.js';
import type { InferenceModel } from './inference-model.js';
import { PartBuilder } from './part-builder.js';
import { shardContexts } from './shard-contexts.js';
import { MANIFEST_FORMAT, type PartRecord, type ShardManifest } from './shard-manifest.js';

export interface HarvestShardDeps {
  store: ObjectStore;
  model: InferenceModel;
  modelSha256: string;
  tokenizer: TextTokenizer;
}

export interface HarvestShardOptions {
  config: RunConfig;
  layout: RunLayout;
  shard: ShardRef;
  /** Parts below this were committed by an earlier attempt (from its heartbeat); they are not recomputed. */
  resumeFromPart: number;
  /** Called after a part of every hook is durably in S3, in part order. */
  onPartCommitted?: (part: number) => void;
  /** Called after each model batch (progress and heartbeats). */
  onBatch?: (tokens: number, rows: number) => void;
  /**
   * Called when a model batch returns (metrics): its tokens, seconds since it was handed to the
   * model (queueing in the inference thread included) and, when the model reports it, the seconds
   * the session computed.
   */
  onInference?: (e: { tokens: number; latencySeconds: number; computeSeconds?: number }) => void;
  /** Called after each part file (one hook) is in S3 (metrics): seconds to encode and upload it, and its size. */
  onPartWritten?: (e: { seconds: number; bytes: number }) => void;
  signal?: AbortSignal;
}

/** Batches in flight to the inference thread: one running while the next is being prepared. */
const MAX_OUTSTANDING_BATCHES = 2;

const BYTES_PER_VALUE = { fp32: 4, fp16: 2 } as const;

/** Contexts per part, from the configured part size; a pure function of config and model. */
export function contextsPerPart(config: RunConfig, widths: Record<string, number>): number {
  const rowBytes = Object.values(widths).reduce((a, w) => a + w, 0) * BYTES_PER_VALUE[config.dtype] + 24;
  return Math.max(1, Math.floor((config.output.partMiB * 1024 * 1024) / (rowsPerContext(config) * rowBytes)));
}

/** Rows a full-length context contributes (sampled positions, never the context's BOS). */
function rowsPerContext(config: RunConfig): number {
  const bosSkips = config.tokenizer.bos === 'context' ? 1 : 0;
  return config.positionsPerContext ?? config.contextLength - bosSkips;
}

/**
 * Harvests one shard: stream documents → tokenize → pack contexts → run the model on batches →
 * write Parquet parts → write the manifest last. Part keys and contents are deterministic, so
 * re-running a part overwrites it with the same rows; a retry resumes after the last committed part.
 */
export async function harvestShard(opts: HarvestShardOptions, deps: HarvestShardDeps): Promise<ShardManifest> {
  const { config, layout, shard, signal } = opts;
  const hooks = config.hooks;
  const perPart = contextsPerPart(config, deps.model.widths);
  // A part's rows are known up front; sizing the builder once avoids regrowing (and copying)
  // its buffers on every doubling. Pages are only touched as rows arrive, so a short part costs
  // no more memory than before.
  const rowsPerPart = perPart * rowsPerContext(config);
  const skipFirst = config.tokenizer.bos === 'context';
  const withLabels = config.corpus.labelField !== undefined;
  const labels = new Map<number, string | undefined>();

  const resumeFrom = await firstMissingPart(opts, deps.store);
  const parts: PartRecord[] = [];
  const skippedRows = new Map<number, number>();
  let builder: PartBuilder | undefined;
  let documents = 0;
  let contexts = 0;
  let tokens = 0;
  let rows = 0;
  let batch: PackedContext[] = [];
  const outstanding: { ctxs: PackedContext[]; result: ReturnType<InferenceModel['run']> }[] = [];

  const positionsOf = (ctx: PackedContext): Int32Array =>
    samplePositions(config.seed, shard.index, ctx.index, ctx.ids.length, config.positionsPerContext, skipFirst);

  const commitPart = async (b: PartBuilder): Promise<void> => {
    for (const hook of hooks) {
      const key = layout.partKey(hook, shard.index, b.part);
      const t0 = performance.now();
      const bytes = encodeActivationPart(
        { runId: layout.runId, hook, modelSha256: deps.modelSha256, dtype: config.dtype, width: deps.model.widths[hook], shard: shard.index, part: b.part },
        b.columns(hook),
      );
      const sha256 = await deps.store.put(layout.bucket, key, bytes, { contentType: 'application/vnd.apache.parquet', signal });
      opts.onPartWritten?.({ seconds: (performance.now() - t0) / 1000, bytes: bytes.byteLength });
      parts.push({ part: b.part, hook, key, rows: b.rows, bytes: bytes.byteLength, sha256 });
    }
    opts.onPartCommitted?.(b.part);
  };

  // A full part uploads while the next one fills, so the model is not left idle during the PUT.
  // At most one upload is in flight (memory: two parts), and parts still commit in order.
  let uploading: Promise<void> = Promise.resolve();
  const commitInBackground = async (b: PartBuilder): Promise<void> => {
    await uploading; // rethrows the previous upload's failure here
    uploading = commitPart(b);
    uploading.catch(() => undefined); // observed by the next await of `uploading`
  };

  // Results are consumed in submission order, so parts fill and commit in order.
  const drainOne = async (): Promise<void> => {
    const { ctxs, result } = outstanding.shift()!;
    const out = await result;
    for (let row = 0; row < ctxs.length; row++) {
      const ctx = ctxs[row];
      const part = Math.floor(ctx.index / perPart);
      if (builder && builder.part !== part) {
        await commitInBackground(builder);
        builder = undefined;
      }
      builder ??= new PartBuilder(part, deps.model.widths, withLabels, rowsPerPart);
      const positions = positionsOf(ctx);
      builder.add(ctx, row, positions, out, (d) => labels.get(d));
      rows += positions.length;
    }
    // The builder copied what it needs; the buffers go back for later batches to be written into.
    deps.model.recycle?.(out);
    const lastDoc = ctxs[ctxs.length - 1].docs[0];
    for (const d of labels.keys()) if (d < lastDoc) labels.delete(d);
    opts.onBatch?.(tokens, rows);
  };

  const submit = async (): Promise<void> => {
    if (!batch.length) return;
    const seq = batch[0].ids.length;
    const ids = new BigInt64Array(batch.length * seq);
    batch.forEach((c, i) => {
      for (let t = 0; t < seq; t++) ids[i * seq + t] = BigInt(c.ids[t]);
    });
    const result = timedRun(deps.model, ids, batch.length, seq, opts.onInference);
    // Surfaced in order by drainOne; handled now so a batch that fails while an earlier one is
    // still being written is never an unhandled rejection (that would end the process, not the shard).
    result.catch(() => undefined);
    outstanding.push({ ctxs: batch, result });
    batch = [];
    while (outstanding.length > MAX_OUTSTANDING_BATCHES) await drainOne();
  };

  const accept = async (ctx: PackedContext): Promise<void> => {
    contexts++;
    tokens += ctx.ids.length;
    const part = Math.floor(ctx.index / perPart);
    if (part < resumeFrom) {
      skippedRows.set(part, (skippedRows.get(part) ?? 0) + positionsOf(ctx).length);
      return;
    }
    // Only the shard's last context can be shorter; it goes alone in its own batch.
    if (batch.length && batch[0].ids.length !== ctx.ids.length) await submit();
    batch.push(ctx);
    if (batch.length === config.batchSize) await submit();
  };

  try {
    for await (const step of shardContexts(shard.uri, config, deps.tokenizer, deps.store, signal)) {
      if (step.document) {
        documents++;
        if (withLabels) labels.set(step.document.index, step.document.label);
      }
      for (const ctx of step.contexts) await accept(ctx);
    }
    await submit();
    while (outstanding.length) await drainOne();
    if (builder) await commitInBackground(builder);
    await uploading;
  } finally {
    // Never leave an upload running after we return.
    await uploading.catch(() => undefined);
  }

  for (const [part, partRows] of [...skippedRows].sort((a, b) => a[0] - b[0])) {
    rows += partRows;
    parts.push(...(await committedPartRecords(opts, deps.store, part, partRows)));
  }
  parts.sort((a, b) => a.part - b.part || a.hook.localeCompare(b.hook));
  await deleteStaleParts(opts, deps.store, new Set(parts.map((p) => p.key)));

  const manifest: ShardManifest = {
    format: MANIFEST_FORMAT,
    runId: layout.runId,
    shard: shard.index,
    source: shard.uri,
    modelSha256: deps.modelSha256,
    dtype: config.dtype,
    hooks: Object.fromEntries(hooks.map((h) => [h, { width: deps.model.widths[h] }])),
    documents,
    contexts,
    tokens,
    rows,
    bytes: parts.reduce((a, p) => a + p.bytes, 0),
    parts,
  };
  await deps.store.putJson(layout.bucket, layout.manifestKey(shard.index), manifest, signal);
  return manifest;
}

/** Runs one batch, reporting its latency and compute time when anyone listens. */
function timedRun(model: InferenceModel, ids: BigInt64Array, batch: number, seq: number, report: HarvestShardOptions['onInference']): ReturnType<InferenceModel['run']> {
  if (!report) return model.run(ids, batch, seq);
  const t0 = performance.now();
  let computeSeconds: number | undefined;
  return model.run(ids, batch, seq, (s) => (computeSeconds = s)).then((out) => {
    report({ tokens: batch * seq, latencySeconds: (performance.now() - t0) / 1000, computeSeconds });
    return out;
  });
}

/**
 * The part to restart from: the heartbeat's claim, lowered to the first part that is actually
 * missing for some hook (a claim is only trusted as far as S3 confirms it).
 */
async function firstMissingPart(opts: HarvestShardOptions, store: ObjectStore): Promise<number> {
  for (let part = 0; part < opts.resumeFromPart; part++) {
    for (const hook of opts.config.hooks) {
      if (!(await store.head(opts.layout.bucket, opts.layout.partKey(hook, opts.shard.index, part)))) return part;
    }
  }
  return opts.resumeFromPart;
}

async function committedPartRecords(opts: HarvestShardOptions, store: ObjectStore, part: number, rows: number): Promise<PartRecord[]> {
  const records: PartRecord[] = [];
  for (const hook of opts.config.hooks) {
    const key = opts.layout.partKey(hook, opts.shard.index, part);
    const head = await store.head(opts.layout.bucket, key);
    if (!head?.metadata.sha256) throw new Error(`part ${key} was committed by an earlier attempt but is missing or has no sha256`);
    records.push({ part, hook, key, rows, bytes: head.size, sha256: head.metadata.sha256 });
  }
  return records;
}

/**
 * Removes parts an earlier attempt wrote beyond this attempt's last part (possible only when the
 * shard's input changed between attempts), so that everything under the shard's prefix is listed
 * by the manifest about to be written.
 */
async function deleteStaleParts(opts: HarvestShardOptions, store: ObjectStore, current: Set<string>): Promise<void> {
  for (const hook of opts.config.hooks) {
    for await (const o of store.list(opts.layout.bucket, opts.layout.shardPartPrefix(hook, opts.shard.index), opts.signal)) {
      if (!current.has(o.key)) await store.delete(opts.layout.bucket, o.key);
    }
  }
}
