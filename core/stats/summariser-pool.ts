// The statistics stage's encode-and-summarise lanes: worker threads (summariser-thread.ts), each
// with its own ORT session of the dictionary's encoder and its own FeatureSummary. A batch sent to
// a lane is encoded and added there, so the per-firing work runs on as many cores as there are
// lanes instead of all on the main thread, and the [rows × d_sae] activations never cross threads.
// finish() merges the lanes' summaries into one, in a tree of lanes ending in lane 0: a lane hands
// its summary to the lane that takes it in (summary-codec bytes, moved, not copied), and lane 0
// returns the merged summary encoded as it is stored. So the main thread never holds a summary, and a one-lane pool
// (the default for wide dictionaries) peaks at the summary plus its encoding, as a summary built
// on the main thread and encoded for S3 would.
//
// Why lanes: with one encoder thread and FeatureSummary.add on the main thread, the main thread
// needs ~12–14 µs of CPU per row at d_sae 4,096 (bench:stats "main µs/row"), which caps a worker
// process at ~70–80k rows/s however many cores or however fast a GPU it has. Lanes scale with cores.
//
// Which rows a lane sees changes nothing but the order of floating-point sums: summaries merge
// exactly (counts, maxima, histograms, examples) in any grouping. summariseParts gives each batch
// to the lane with the most room, which depends on timing, so with several lanes the last bits of
// a feature's activation sum (and mean) can differ between two runs over the same parts.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { ConfigError } from '../config/run-config.js';
import { normalizeProvider } from '../model/execution-provider.js';
import { ENCODER_INPUT, ENCODER_OUTPUTS } from '../sae/sae-encoder-model.js';
import { FeatureSummary, MAX_SUMMARY_LABELS, type FeatureSummaryOptions, type RowProvenance } from './feature-summary.js';
import { labelIdsOf } from './lane-labels.js';

export interface SummariserLaneOptions {
  /** encoder.onnx bytes (x [batch × d_in] → feature_acts [batch × d_sae]). */
  model: Uint8Array;
  dIn: number;
  inputName: string;
  outputName: string;
  /** The lane's FeatureSummary (all lanes alike, so their summaries merge). */
  summary: FeatureSummaryOptions;
  /** ORT intra-op threads of the lane's session; 0: onnxruntime's default (one per core). */
  intraOpThreads: number;
  /** onnxruntime execution provider: 'cpu' (default), 'cuda', … (checked when the session opens). */
  executionProvider?: string;
  /** Encode and skip the summary (bench:stats' baseline: the lanes' cost without the statistics). */
  encodeOnly?: boolean;
  /**
   * Rows per encoder call: a batch is encoded in calls of this many rows into one activation area,
   * each call's rows scanned for firings while they are still in cache (see ENCODER_CALL_ROWS).
   */
  callRows: number;
}

/**
 * Provenance as it crosses to a lane: copies of the batch's row columns, moved there, and its labels
 * as one byte per row into their distinct names (lane-labels.ts).
 */
export interface LaneProvenance {
  shard: number;
  doc: Int32Array;
  context: Int32Array;
  position: Int32Array;
  token: Int32Array;
  labelIds?: Uint8Array;
  labelNames?: string[];
}

export type LaneToThread =
  | { type: 'batch'; id: number; x: Float32Array; rows: number; provenance: LaneProvenance }
  /** Opens the lane: an encoder session and an empty summary (a thread serves one pool at a time). */
  | { type: 'open'; options: SummariserLaneOptions }
  /** Merge this raw summary (another lane's) into the lane's own; the lane stays open. */
  | { type: 'absorb'; bytes: Uint8Array }
  /** The pool's last message to a lane: encode its summary (gzipped or raw), send it, and go idle. */
  | { type: 'finish'; gzip: boolean }
  /** Ends the thread (after the message in hand). */
  | { type: 'close' };
export type LaneFromThread =
  | { type: 'ready' }
  | { type: 'open-error'; error: { name: string; message: string } }
  | { type: 'done'; id: number; encodeSeconds: number; addSeconds: number; x: Float32Array }
  | { type: 'error'; id: number; error: { name: string; message: string } }
  | { type: 'absorbed' }
  | { type: 'absorb-error'; error: { name: string; message: string } }
  | { type: 'summary'; bytes: Uint8Array; tokens: number }
  | { type: 'finish-error'; error: { name: string; message: string } };

export interface LaneBatchResult {
  /** Seconds session.run() took in the lane. */
  encodeSeconds: number;
  /** Seconds FeatureSummary.add took in the lane. */
  addSeconds: number;
}

/** What summariseParts needs of a pool (tests stand in for it without threads). */
export interface BatchSummariser {
  readonly lanes: number;
  /**
   * A Float32Array of at least `length` floats for a batch's inputs: a buffer a lane handed back,
   * or a new one. Pass it to summarise(), which takes it over.
   */
  inputBuffer(length: number): Float32Array;
  /**
   * Encodes x's first rows × d_in values in `lane` and adds them, with `provenance` (one entry per
   * row, copied), to that lane's summary. x is moved to the lane (detached here).
   */
  summarise(lane: number, x: Float32Array, rows: number, provenance: RowProvenance): Promise<LaneBatchResult>;
}

export interface SummariserPool extends BatchSummariser {
  /**
   * The lanes' summaries merged (in a fixed tree of lanes), gzipped as stored (gzipSummary;
   * decodeSummary reads it), and its token count; once, after the last batch has been summarised. The lanes' threads
   * are handed back (kept warm for the next pool) as they finish.
   */
  finish(): Promise<{ bytes: Uint8Array; tokens: number }>;
  close(): Promise<void>;
}

export interface SummariserPoolOptions {
  model: Uint8Array;
  dIn: number;
  summary: FeatureSummaryOptions;
  /** Lanes. Default defaultSummariserLanes(summary). */
  lanes?: number;
  /** ORT intra-op threads per lane. Default 1 with several lanes, onnxruntime's default (one per core) with one. */
  intraOpThreads?: number;
  executionProvider?: string;
  /**
   * Encode every batch and add nothing (the summary stays empty): for bench:stats, which measures
   * the statistics against exactly this, the same lanes doing only the encoding.
   */
  encodeOnly?: boolean;
  /** Rows per encoder call within a batch. Default defaultEncoderCallRows(executionProvider). */
  callRows?: number;
}

/**
 * Rows per encoder call on the CPU: a 1,024-row batch is encoded in 8 calls. Each call's output
 * (512 KiB at d_sae 1,024, 2 MiB at 4,096, 8 MiB at 16,384) is scanned while it is still in
 * cache, and it is written over by the next call instead of filling a batch-sized area. Measured
 * on the 2-core dev VM, two lanes, each batch encoded both ways in turn (scratch script, d_in 512,
 * L0 ≈ 65), per row: at d_sae 4,096 encoding took 35.4 and 38.0 µs in 128-row calls against 39.3
 * and 42.4 in 1,024-row calls, and the scan 1.5 against 2.0–2.1 µs; at d_sae 16,384, 158 and 162
 * against 189 and 187 µs, and 4.4–5.2 against 7.4–8.2 µs. Smaller calls were no faster at 4,096
 * (64 rows: 34.3 and 36.5 µs) and slower at 16,384 (64 rows: 182 and 186 µs).
 */
export const ENCODER_CALL_ROWS = 128;

/** ENCODER_CALL_ROWS on the CPU; whole batches on another provider (a GPU wants large calls). */
export function defaultEncoderCallRows(executionProvider = 'cpu'): number {
  return normalizeProvider(executionProvider) === 'cpu' ? ENCODER_CALL_ROWS : Number.MAX_SAFE_INTEGER;
}

/**
 * Memory the lanes' summaries may take together when the number of lanes is left to the default:
 * each lane holds a whole summary (about 6.8 KB per feature at the default settings, so 28 MB at
 * 4,096 features and 889 MB at 131,072), and one lane is always allowed.
 */
export const LANE_SUMMARIES_BYTES = 1 << 30;

/** Bytes of one summary with these options, labels aside (they add 8 bytes per feature per label). */
export function summaryBytes(options: FeatureSummaryOptions): number {
  return new FeatureSummary({ ...options, dSae: 1 }).byteLength * options.dSae;
}

/** One lane per core, as many as LANE_SUMMARIES_BYTES of summaries allow (at least one). */
export function defaultSummariserLanes(summary: FeatureSummaryOptions): number {
  return Math.max(1, Math.min(availableParallelism(), Math.floor(LANE_SUMMARIES_BYTES / summaryBytes(summary))));
}

const rebuild = (e: { name: string; message: string }): Error => Object.assign(new Error(e.message), { name: e.name });

/**
 * Lane threads a finished pool handed back, kept for the next pool for IDLE_LANE_MS: a fresh
 * thread compiles FeatureSummary.add anew, which costs a lane ~0.25 s of its first ~10k rows (add
 * ran at ~30 µs/row before settling near 10), and a worker runs one summarise activity after
 * another. Idle threads hold no session and no summary, only their scanner's memory (one batch of
 * activations: at most 64 MiB at the default batch size), and do not keep the process alive.
 */
const idleThreads = new Map<Worker, { timer: NodeJS.Timeout; onExit: () => void }>();
// An idle thread that exits or fails is simply forgotten (onExit); 'error' on a worker with no
// listener would throw in this thread.
export const IDLE_LANE_MS = 30_000;

function takeThread(): Worker {
  for (const [worker, idle] of idleThreads) {
    idleThreads.delete(worker);
    clearTimeout(idle.timer);
    worker.off('exit', idle.onExit);
    worker.off('error', idle.onExit);
    worker.ref();
    return worker;
  }
  return new Worker(new URL('./summariser-thread.js', import.meta.url));
}

function giveBack(worker: Worker): void {
  if (idleThreads.size >= availableParallelism()) {
    worker.postMessage({ type: 'close' } satisfies LaneToThread);
    return;
  }
  const onExit = () => idleThreads.delete(worker);
  const timer = setTimeout(() => {
    idleThreads.delete(worker);
    worker.postMessage({ type: 'close' } satisfies LaneToThread);
  }, IDLE_LANE_MS);
  timer.unref();
  worker.once('exit', onExit);
  worker.once('error', onExit);
  worker.unref();
  idleThreads.set(worker, { timer, onExit });
}

/** Idle lane threads kept warm now (for tests and diagnostics). */
export function idleSummariserThreads(): number {
  return idleThreads.size;
}

interface Lane {
  worker: Worker;
  /** Resolves when the thread exits while this pool holds it. */
  exited: Promise<void>;
  /** Removes this pool's listeners from the thread. */
  detach(): void;
  /** Handed back after its summary (no longer this pool's). */
  returned: boolean;
}

export async function openSummariserPool(o: SummariserPoolOptions): Promise<SummariserPool> {
  const lanes = o.lanes ?? defaultSummariserLanes(o.summary);
  if (!Number.isInteger(lanes) || lanes < 1) throw new RangeError(`lanes must be a positive integer, got ${lanes}`);
  const laneOptions: SummariserLaneOptions = {
    model: o.model, dIn: o.dIn, inputName: ENCODER_INPUT, outputName: ENCODER_OUTPUTS.acts, summary: o.summary,
    intraOpThreads: o.intraOpThreads ?? (lanes > 1 ? 1 : 0),
    ...(o.executionProvider !== undefined && { executionProvider: o.executionProvider }),
    ...(o.encodeOnly && { encodeOnly: true }),
    callRows: o.callRows ?? defaultEncoderCallRows(o.executionProvider),
  };
  if (!Number.isInteger(laneOptions.callRows) || laneOptions.callRows < 1) throw new RangeError(`callRows must be a positive integer, got ${o.callRows}`);
  const pending = new Map<number, { resolve(r: LaneBatchResult): void; reject(e: Error): void }>();
  /** Per lane, the finish-time request in progress (an absorb or the finish: one at a time). */
  const requests = new Map<number, { resolve(r?: { bytes: Uint8Array; tokens: number }): void; reject(e: Error): void }>();
  let finishing = false;
  const spare: ArrayBuffer[] = [];
  let nextId = 0;
  let dead: Error | undefined;
  let closing: Promise<void> | undefined;
  const failAll = (e: Error) => {
    dead ??= e;
    for (const p of pending.values()) p.reject(dead);
    pending.clear();
  };

  const held: Lane[] = [];
  const open = (index: number) => new Promise<Lane>((resolve, reject) => {
    const worker = takeThread();
    let exitedNow: () => void = () => undefined;
    const lane: Lane = {
      worker, returned: false, exited: new Promise<void>((r) => (exitedNow = r)),
      detach: () => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      },
    };
    held.push(lane);
    const crashed = (e: Error) => {
      reject(e);
      failAll(e);
    };
    function onMessage(msg: LaneFromThread) {
      if (msg.type === 'ready') resolve(lane);
      else if (msg.type === 'open-error') reject(rebuild(msg.error));
      else if (msg.type === 'summary') {
        // Idle again (session released, summary dropped): warm for the next pool.
        lane.detach();
        lane.returned = true;
        giveBack(worker);
        requests.get(index)?.resolve({ bytes: msg.bytes, tokens: msg.tokens });
      } else if (msg.type === 'absorbed') {
        requests.get(index)?.resolve();
      } else if (msg.type === 'finish-error' || msg.type === 'absorb-error') {
        requests.get(index)?.reject(rebuild(msg.error));
      } else {
        const p = pending.get(msg.id);
        pending.delete(msg.id);
        if (msg.type === 'done') {
          if (spare.length < 2 * lanes) spare.push(msg.x.buffer as ArrayBuffer);
          p?.resolve({ encodeSeconds: msg.encodeSeconds, addSeconds: msg.addSeconds });
        } else p?.reject(rebuild(msg.error));
      }
    }
    function onError(e: Error) {
      crashed(new Error(`summariser lane ${index} crashed: ${e.message}`, { cause: e }));
    }
    function onExit(code: number) {
      exitedNow();
      crashed(new Error(closing ? 'summariser pool closed' : `summariser lane ${index} exited (code ${code})`));
    }
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    worker.postMessage({ type: 'open', options: laneOptions } satisfies LaneToThread);
  });

  const close = () => {
    closing ??= (async () => {
      failAll(new Error('summariser pool closed'));
      // Lanes still held (an error, an abort, no finish): ended, after the batch in hand.
      const ending = held.filter((l) => !l.returned);
      for (const { worker } of ending) worker.postMessage({ type: 'close' } satisfies LaneToThread);
      const timer = setTimeout(() => ending.forEach(({ worker }) => void worker.terminate()), 30_000);
      await Promise.all(ending.map((l) => l.exited));
      clearTimeout(timer);
    })();
    return closing;
  };

  let threads: Lane[];
  try {
    threads = await Promise.all(Array.from({ length: lanes }, (_, i) => open(i)));
  } catch (e) {
    await close();
    throw e;
  }

  return {
    lanes,
    inputBuffer(length) {
      const i = spare.findIndex((b) => b.byteLength >= length * 4);
      return new Float32Array(i >= 0 ? spare.splice(i, 1)[0] : new ArrayBuffer(length * 4));
    },
    summarise(lane, x, rows, provenance) {
      if (dead) return Promise.reject(dead);
      if (closing) return Promise.reject(new Error('summariser pool closed'));
      if (finishing) return Promise.reject(new Error('summariser pool finished: no batch can follow finish()'));
      if (!(Number.isInteger(lane) && lane >= 0 && lane < lanes)) return Promise.reject(new RangeError(`lane ${lane} is outside [0, ${lanes})`));
      if (x.length < rows * o.dIn) return Promise.reject(new RangeError(`x has ${x.length} values, ${rows} rows × d_in ${o.dIn} need ${rows * o.dIn}`));
      const labels = provenance.label && labelIdsOf(provenance.label);
      if (labels === undefined && provenance.label) {
        return Promise.reject(new ConfigError(
          `a batch of ${rows} rows has more than 256 distinct labels, and a summary counts firings for at most ${MAX_SUMMARY_LABELS}: `
          + 'label the run by a field with fewer values (corpus.labelField), or run the statistics with the setting "labels": false',
        ));
      }
      const id = nextId++;
      return new Promise<LaneBatchResult>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        // Copies, moved: the caller's columns (often views of a whole part) stay as they are.
        const own32 = (c: ArrayLike<number>) => (c instanceof Int32Array ? c.slice() : Int32Array.from(c));
        const [doc, context, position, token] = [provenance.doc, provenance.context, provenance.position, provenance.token].map(own32);
        const own: LaneProvenance = { shard: provenance.shard, doc, context, position, token };
        const transfer = [x.buffer as ArrayBuffer, doc.buffer, context.buffer, position.buffer, token.buffer];
        if (labels) {
          own.labelIds = labels.ids;
          own.labelNames = labels.names;
          transfer.push(labels.ids.buffer as ArrayBuffer);
        }
        threads[lane].worker.postMessage({ type: 'batch', id, x, rows, provenance: own } satisfies LaneToThread, transfer);
      });
    },
    async finish() {
      if (dead) throw dead;
      if (closing) throw new Error('summariser pool closed');
      if (finishing) throw new Error('summariser pool finished: finish() is called once');
      finishing = true;
      /** Sends lane i an absorb or its finish and resolves with its answer (the summary, for a finish). */
      const request = (i: number, msg: Extract<LaneToThread, { type: 'absorb' | 'finish' }>) =>
        new Promise<{ bytes: Uint8Array; tokens: number } | undefined>((resolve, reject) => {
          requests.set(i, { resolve, reject });
          // A lane that dies before it answers rejects here.
          threads[i].exited.then(() => reject(dead ?? new Error(`summariser lane ${i} exited before answering its ${msg.type}`)));
          threads[i].worker.postMessage(msg, msg.type === 'absorb' ? [msg.bytes.buffer as ArrayBuffer] : []);
        });
      // The lanes' summaries merge in a binomial tree: lane i takes in lanes i + 1, i + 2, i + 4, …
      // while i is a multiple of twice the step (a lane's parent is its index with the lowest set
      // bit cleared). All subtrees work at once and each child is taken in as soon as it is ready,
      // smallest first (the order they become ready), so with L lanes the finish takes about
      // log2(L) merges end to end rather than L − 1 in lane 0. The order is fixed by L alone, so a
      // given number of lanes still always gives the same bytes.
      const finishLane = async (i: number): Promise<{ bytes: Uint8Array; tokens: number }> => {
        const children: number[] = [];
        for (let step = 1; i % (2 * step) === 0 && i + step < lanes; step *= 2) children.push(i + step);
        const results = children.map(finishLane);
        // Awaited in order below; if one fails, the others must not surface as unhandled rejections.
        for (const r of results) r.catch(() => undefined);
        for (const r of results) await request(i, { type: 'absorb', bytes: (await r).bytes });
        // Raw between lanes; gzipped, as stored, at the root.
        return (await request(i, { type: 'finish', gzip: i === 0 }))!;
      };
      return finishLane(0);
    },
    close,
  };
}
