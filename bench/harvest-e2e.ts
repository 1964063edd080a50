// Bench (a): end-to-end harvestShard() against bare session.run() on the same token batches.
//
// End to end is the production path: the shard is streamed from S3, tokenized and packed on the
// main thread, run by the inference worker thread (RunResources), and written as Parquet parts
// to S3 with a manifest. Bare is an InferenceSession on this thread fed the very same batches
// (pre-tokenized, same contexts, batch size and sequence length) and fetching the same hooks,
// with the same intra-op thread count. The two alternate (A B A B …) after one warm-up each.
//
// The end-to-end run is instrumented without touching the pipeline: the model, tokenizer and
// store handed to harvestShard are thin wrappers that time their calls, so the report can say
// where the time went.
import { createReadStream, readFileSync } from 'node:fs';
import { InferenceSession } from 'onnxruntime-node';
import type { RunConfig } from '../core/config/run-config.js';
import { readDocuments } from '../core/corpus/document-reader.js';
import { harvestShard } from '../core/harvest/harvest-shard.js';
import type { InferenceModel } from '../core/harvest/inference-model.js';
import type { RunResources } from '../core/harvest/run-resources.js';
import { buildFeeds, planInputs } from '../core/model/inference-inputs.js';
import { decodeModel, extractHooks } from '../core/model/onnx-graph.js';
import { ObjectStore } from '../core/storage/object-store.js';
import { RunLayout } from '../core/storage/run-layout.js';
import { ContextPacker } from '../core/tokenize/context-packer.js';
import type { TextTokenizer } from '../core/tokenize/tokenizer.js';
import { median } from './bench-table.js';
import { ownCpuSeconds, processCpuSeconds } from './cpu-usage.js';

export interface Batch {
  ids: BigInt64Array;
  batch: number;
  seq: number;
}

/**
 * The batches harvestShard would submit for this shard: same reader, tokenizer, packer and
 * batching rule (a context of another length, i.e. the shard's last, goes alone).
 */
export async function pretokenize(file: string, config: RunConfig, tokenizer: TextTokenizer): Promise<{ batches: Batch[]; tokens: number; contexts: number }> {
  const bosId = config.tokenizer.bos === 'none' ? undefined : tokenizer.tokenId(config.tokenizer.bosToken!);
  const packer = new ContextPacker(config.contextLength, config.tokenizer.bos, bosId);
  const batches: Batch[] = [];
  let pending: Int32Array[] = [];
  let tokens = 0;
  let contexts = 0;
  const submit = () => {
    if (!pending.length) return;
    const seq = pending[0].length;
    const ids = new BigInt64Array(pending.length * seq);
    pending.forEach((c, i) => c.forEach((t, j) => (ids[i * seq + j] = BigInt(t))));
    batches.push({ ids, batch: pending.length, seq });
    pending = [];
  };
  const accept = (ids: Int32Array) => {
    contexts++;
    tokens += ids.length;
    if (pending.length && pending[0].length !== ids.length) submit();
    pending.push(ids);
    if (pending.length === config.batchSize) submit();
  };
  const docs = readDocuments(createReadStream(file, { highWaterMark: 1 << 20 }), {
    shardName: file,
    textField: config.corpus.textField,
    labelField: config.corpus.labelField,
    maxDocumentBytes: 1 << 20,
  });
  for await (const doc of docs) for (const ctx of packer.push(doc.index, tokenizer.encode(doc.text))) accept(ctx.ids);
  for (const ctx of packer.finish()) accept(ctx.ids);
  submit();
  return { batches, tokens, contexts };
}

/** Counts what an end-to-end run spent where. */
interface Probe {
  /** Inference thread busy time, as seen from here: from max(submit, previous reply) to reply. */
  modelMs: number;
  batches: number;
  lastReply: number;
  tokenizeMs: number;
  putMs: number;
  putBytes: number;
  puts: number;
}

const newProbe = (): Probe => ({ modelMs: 0, batches: 0, lastReply: 0, tokenizeMs: 0, putMs: 0, putBytes: 0, puts: 0 });

function timedModel(model: InferenceModel, probe: () => Probe): InferenceModel {
  return {
    widths: model.widths,
    run(ids, batch, seq) {
      const submitted = performance.now();
      return model.run(ids, batch, seq).then((out) => {
        const p = probe();
        const now = performance.now();
        p.modelMs += now - Math.max(submitted, p.lastReply);
        p.lastReply = now;
        p.batches++;
        return out;
      });
    },
    ...(model.recycle && { recycle: model.recycle.bind(model) }),
  };
}

function timedTokenizer(tok: TextTokenizer, probe: () => Probe): TextTokenizer {
  return {
    ...tok,
    encode(text) {
      const t = performance.now();
      const ids = tok.encode(text);
      probe().tokenizeMs += performance.now() - t;
      return ids;
    },
  };
}

/** The same client, with put() timed (sha256 of the body + the PUT round trip). */
class TimedStore extends ObjectStore {
  constructor(client: ObjectStore['client'], private readonly probe: () => Probe) {
    super(client);
  }
  override async put(bucket: string, key: string, body: Uint8Array, opts: { contentType?: string; signal?: AbortSignal } = {}): Promise<string> {
    const t = performance.now();
    try {
      return await super.put(bucket, key, body, opts);
    } finally {
      const p = this.probe();
      p.putMs += performance.now() - t;
      p.putBytes += body.byteLength;
      p.puts++;
    }
  }
}

export interface E2eCase {
  name: string;
  config: RunConfig;
}

export interface E2eRow {
  name: string;
  hooks: string[];
  tokens: number;
  contexts: number;
  batches: number;
  bareTokensPerSec: number;
  e2eTokensPerSec: number;
  ratio: number;
  /** Median of each round's e2e/bare (the two runs of a round are adjacent in time, so they share the machine's mood). */
  pairedRatio: number;
  // Medians over the repeats, for the diagnosis table.
  e2eSec: number;
  bareSec: number;
  modelSecInE2e: number;
  mainThreadElu: number;
  tokenizeSec: number;
  putSec: number;
  parquetMiB: number;
  parts: number;
  nodeCpuE2e: number;
  nodeCpuBare: number;
  s3CpuE2e: number;
}

export interface E2eOptions {
  store: ObjectStore;
  resources: RunResources;
  /** Local copy of the shard (pre-tokenized for the bare runs) and its S3 URI (read by harvestShard). */
  shardFile: string;
  shardUri: string;
  shardBytes: number;
  cases: E2eCase[];
  repeats: number;
  /** Pid of the S3 server, for its CPU time. */
  s3Pid?: number;
  log?: (msg: string) => void;
}

export async function benchEndToEnd(opts: E2eOptions): Promise<E2eRow[]> {
  const rows: E2eRow[] = [];
  for (const c of opts.cases) rows.push(await benchCase(opts, c));
  return rows;
}

async function benchCase(opts: E2eOptions, c: E2eCase): Promise<E2eRow> {
  const { config } = c;
  const log = opts.log ?? (() => undefined);
  const { model, modelSha256, tokenizer } = await opts.resources.forRun(config);
  const pre = await pretokenize(opts.shardFile, config, tokenizer);

  const modelBytes = readFileSync(config.model.path);
  const plan = planInputs(decodeModel(modelBytes).graph!, config.model.inputName);
  const session = await InferenceSession.create(extractHooks(modelBytes, config.hooks), {
    executionProviders: [config.model.executionProvider],
    ...(config.model.intraOpThreads ? { intraOpNumThreads: config.model.intraOpThreads } : {}),
  });

  let probe = newProbe();
  const current = () => probe;
  const deps = {
    store: new TimedStore(opts.store.client, current),
    model: timedModel(model, current),
    modelSha256,
    tokenizer: timedTokenizer(tokenizer, current),
  };

  interface E2eSample { sec: number; probe: Probe; elu: number; cpu: number; s3Cpu: number; tokens: number }
  interface BareSample { sec: number; cpu: number }
  const e2e: E2eSample[] = [];
  const bare: BareSample[] = [];

  const runE2e = async (tag: string): Promise<E2eSample> => {
    const layout = new RunLayout(config.output.path, `${config.runId}-${tag}`);
    probe = newProbe();
    global.gc?.();
    const elu0 = performance.eventLoopUtilization();
    const cpu0 = ownCpuSeconds();
    const s3Cpu0 = processCpuSeconds(opts.s3Pid);
    const t0 = performance.now();
    const manifest = await harvestShard(
      { config, layout, shard: { index: 0, uri: opts.shardUri, bytes: opts.shardBytes }, resumeFromPart: 0 },
      deps,
    );
    const sec = (performance.now() - t0) / 1000;
    const sample = {
      sec,
      probe,
      elu: performance.eventLoopUtilization(elu0).utilization,
      cpu: ownCpuSeconds() - cpu0,
      s3Cpu: processCpuSeconds(opts.s3Pid) - s3Cpu0,
      tokens: manifest.tokens,
    };
    if (manifest.tokens !== pre.tokens) throw new Error(`end-to-end run saw ${manifest.tokens} tokens, the pre-tokenized batches hold ${pre.tokens}`);
    // Not timed: keep the S3 server's disk from filling up over the repeats.
    for (const p of manifest.parts) await opts.store.delete(layout.bucket, p.key);
    await opts.store.delete(layout.bucket, layout.manifestKey(0));
    return sample;
  };

  const runBare = async (): Promise<BareSample> => {
    global.gc?.();
    const cpu0 = ownCpuSeconds();
    const t0 = performance.now();
    for (const b of pre.batches) await session.run(buildFeeds(plan, b.ids, b.batch, b.seq), config.hooks);
    return { sec: (performance.now() - t0) / 1000, cpu: ownCpuSeconds() - cpu0 };
  };

  try {
    // Round 0 warms both paths up (JIT, ORT arenas, S3 connections) and is not counted.
    for (let round = 0; round <= opts.repeats; round++) {
      const a = await runE2e(`r${round}`);
      const b = await runBare();
      log(`  ${c.name} round ${round}${round === 0 ? ' (warm-up)' : ''}: end-to-end ${(pre.tokens / a.sec).toFixed(0)} tokens/s, bare ${(pre.tokens / b.sec).toFixed(0)} tokens/s`);
      if (round > 0) {
        e2e.push(a);
        bare.push(b);
      }
    }
  } finally {
    await session.release();
  }

  const e2eSec = median(e2e.map((s) => s.sec));
  const bareSec = median(bare.map((s) => s.sec));
  return {
    name: c.name,
    hooks: config.hooks,
    tokens: pre.tokens,
    contexts: pre.contexts,
    batches: pre.batches.length,
    bareTokensPerSec: pre.tokens / bareSec,
    e2eTokensPerSec: pre.tokens / e2eSec,
    ratio: bareSec / e2eSec,
    pairedRatio: median(e2e.map((s, i) => bare[i].sec / s.sec)),
    e2eSec,
    bareSec,
    modelSecInE2e: median(e2e.map((s) => s.probe.modelMs / 1000)),
    mainThreadElu: median(e2e.map((s) => s.elu)),
    tokenizeSec: median(e2e.map((s) => s.probe.tokenizeMs / 1000)),
    putSec: median(e2e.map((s) => s.probe.putMs / 1000)),
    parquetMiB: e2e[0] ? e2e[0].probe.putBytes / 2 ** 20 : NaN,
    parts: e2e[0] ? e2e[0].probe.puts - 1 : NaN, // minus the manifest
    nodeCpuE2e: median(e2e.map((s) => s.cpu)),
    nodeCpuBare: median(bare.map((s) => s.cpu)),
    s3CpuE2e: median(e2e.map((s) => s.s3Cpu)),
  };
}
