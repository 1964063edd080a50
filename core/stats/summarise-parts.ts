// The statistics stage's inner loop, shared by the summarisePart activity and bench:stats: read
// activation parts → encode their rows with the dictionary's encoder (ORT in a worker thread) →
// FeatureSummary.add on this thread. Pure of Temporal and S3: the caller says how a part's bytes
// are fetched and gets callbacks per batch and per part (heartbeats, metrics).
//
// Pipelined, so neither side waits for the other: the encoder thread computes batch k+1 while
// this thread adds batch k (batch k+1 is submitted before batch k is added), and the next part is
// fetched and decoded while the current one is being encoded. Bounded: at most `maxInFlight`
// batches are submitted and not yet added (the one being added included), so memory holds at most
// that many [batchRows × d_sae] activation buffers, plus the current part and the next one.
import { ConfigError } from '../config/run-config.js';
import type { SummariseMetrics } from '../metrics/stats-metrics.js';
import { readActivationPart, type ActivationColumns, type ActivationPartMeta } from '../parquet/activation-part.js';
import type { EncodedBatch, EncoderWorker } from './encoder-worker.js';
import type { FeatureSummary } from './feature-summary.js';

export interface SummarisePartsOptions {
  /** Part keys, summarised in this order. */
  partKeys: readonly string[];
  /** The bytes of one part (S3 in the activity, memory in the bench). */
  fetchPart(key: string, signal?: AbortSignal): Promise<Uint8Array>;
  /**
   * The dictionary's encoder (openEncoderWorker): encodeTimed, and recycle (when it has one) for
   * each result once added. With load/encodeLoaded/dropLoaded (openEncoderWorker has them) each
   * decoded part is moved to the encoder thread whole and its batches encoded there in place,
   * instead of encodeTimed copying every batch out of it on this thread.
   */
  encoder: {
    encodeTimed(x: Float32Array, rows: number): Promise<EncodedBatch>;
    recycle?(acts: Float32Array): void;
  } & Partial<Pick<EncoderWorker, 'load' | 'encodeLoaded' | 'dropLoaded'>>;
  /** Receives every row. */
  summary: FeatureSummary;
  /** The dictionary's d_in; every part must have this width. */
  dIn: number;
  /** Rows per encoder call. Default defaultEncodeBatchRows(d_sae). */
  batchRows?: number;
  /** Batches submitted to the encoder and not yet added, the one being added included. Default 2; 1 is the serial loop. */
  maxInFlight?: number;
  signal?: AbortSignal;
  /** Prometheus recorder of this attempt (statsRecorder(registry).summarise): rows, parts, encode seconds. */
  metrics?: SummariseMetrics;
  /** After each batch is added: its rows and the seconds the encoder session computed it. */
  onBatch?(e: { rows: number; encodeSeconds: number }): void;
  /** After the last row of a part is added; totals so far. */
  onPart?(e: { key: string; rows: number; partsDone: number; rowsDone: number }): void;
}

export interface SummarisePartsResult {
  parts: number;
  rows: number;
}

interface Batch {
  key: string;
  meta: ActivationPartMeta;
  cols: ActivationColumns;
  start: number;
  rows: number;
  /** The part's last batch. */
  last: boolean;
  /** The part's id in the encoder thread when it was loaded there (cols.values is then detached). */
  loaded?: number;
}

interface Submitted {
  batch: Batch;
  result: Promise<EncodedBatch>;
}

/**
 * 1,024: the fastest of 256–4,096 for the whole stage on the 2-core VM (bench:stats, d_sae 4,096,
 * three batches in flight, two runs each: 23.9k and 27.0k statistics rows/s, against 20.8k and 21.1k with 4,096 rows,
 * 19.7k and 22.4k with 2,048, 23.7k with 512, 18.9k with 256). The encoder alone gains more from
 * smaller batches (33.7k and 38.9k rows/s against 27.5k and 29.6k with 4,096).
 */
export const DEFAULT_ENCODE_BATCH_ROWS = 1024;
/**
 * Bytes of one batch's activations (rows × d_sae float32) that the default batch stays within. Up
 * to maxInFlight of them are held, plus the buffers handed back for reuse: with 1,024 rows, a
 * 131,072-feature dictionary would hold 512 MiB per batch.
 */
export const ENCODE_BATCH_BYTES = 64 * 2 ** 20;

/** Rows per encoder call when the caller does not say: 1,024, fewer for dictionaries wider than 16,384 features. */
export function defaultEncodeBatchRows(dSae: number): number {
  return Math.max(1, Math.min(DEFAULT_ENCODE_BATCH_ROWS, Math.floor(ENCODE_BATCH_BYTES / (4 * dSae))));
}
/**
 * 2: the encoder computes the next batch while this thread adds one. 3 kept the encoder thread a
 * little busier (bench:stats "busy" 0.94–0.95 against 0.92–0.93) but the stage no faster: 25.0k,
 * 25.2k and 26.1k statistics rows/s against 23.4k, 25.5k and 26.5k with 2 (three paired runs at
 * 1,024-row batches), for one more batch of activations in memory.
 */
export const DEFAULT_MAX_IN_FLIGHT = 2;

export async function summariseParts(o: SummarisePartsOptions): Promise<SummarisePartsResult> {
  const batchRows = o.batchRows ?? defaultEncodeBatchRows(o.summary.dSae);
  const maxInFlight = o.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
  if (!Number.isInteger(batchRows) || batchRows < 1) throw new RangeError(`batchRows must be a positive integer, got ${batchRows}`);
  if (!Number.isInteger(maxInFlight) || maxInFlight < 1) throw new RangeError(`maxInFlight must be a positive integer, got ${maxInFlight}`);
  const { partKeys, dIn, summary, signal } = o;

  const read = (key: string) => o.fetchPart(key, signal).then(readActivationPart);
  /** Parts loaded into the encoder thread and not yet dropped (dropped in `finally` on an early exit). */
  const notDropped = new Set<number>();
  /** Batches of every part in order; part p + 1 is fetched and decoded while part p is encoded. */
  async function* batches(): AsyncGenerator<Batch> {
    let next = partKeys.length ? read(partKeys[0]) : undefined;
    for (let p = 0; p < partKeys.length; p++) {
      const { meta, cols } = await next!;
      next = p + 1 < partKeys.length ? read(partKeys[p + 1]) : undefined;
      // Awaited in turn; until then a failure must not surface as an unhandled rejection.
      next?.catch(() => undefined);
      if (meta.width !== dIn) throw new ConfigError(`part ${partKeys[p]} has width ${meta.width}, dictionary has d_in ${dIn}`);
      const rows = cols.doc.length;
      if (rows === 0) yield { key: partKeys[p], meta, cols, start: 0, rows: 0, last: true };
      // The part's values are ours (readActivationPart made them) and only the encoder needs them:
      // move them to its thread (no copy per batch, no 4 KiB of fresh memory per row and batch for
      // the GC to track). Only a Float32Array spanning its own buffer can be moved whole.
      const v = cols.values;
      const movable = o.encoder.load && o.encoder.encodeLoaded && o.encoder.dropLoaded && rows > 0
        && v.buffer instanceof ArrayBuffer && v.byteOffset === 0 && v.byteLength === v.buffer.byteLength;
      const loaded = movable ? o.encoder.load!(v) : undefined;
      if (loaded !== undefined) notDropped.add(loaded);
      for (let start = 0; start < rows; start += batchRows) {
        const n = Math.min(batchRows, rows - start);
        yield { key: partKeys[p], meta, cols, start, rows: n, last: start + n === rows, ...(loaded !== undefined && { loaded }) };
      }
    }
  }

  const source = batches();
  const inFlight: Submitted[] = [];
  let exhausted = false;
  /** Submits batches until `maxInFlight` are outstanding or there are no more. */
  const fill = async () => {
    while (!exhausted && inFlight.length < maxInFlight) {
      signal?.throwIfAborted();
      const r = await source.next();
      if (r.done) {
        exhausted = true;
        break;
      }
      const b = r.value;
      const result = b.rows === 0
        ? Promise.resolve({ acts: new Float32Array(0), seconds: 0 })
        : b.loaded !== undefined
          ? o.encoder.encodeLoaded!(b.loaded, b.start, b.rows)
          : o.encoder.encodeTimed(b.cols.values.subarray(b.start * dIn, (b.start + b.rows) * dIn), b.rows);
      // The thread frees the part after this, its last batch (drop is queued behind it there).
      if (b.last && b.loaded !== undefined) {
        o.encoder.dropLoaded!(b.loaded);
        notDropped.delete(b.loaded);
      }
      // Awaited in order below; if we stop early (error, abort) the rest must not be unhandled.
      result.catch(() => undefined);
      inFlight.push({ batch: b, result });
    }
  };

  let partsDone = 0;
  let rowsDone = 0;
  try {
    await fill();
    while (inFlight.length) {
      const { batch: b, result } = inFlight[0];
      const { acts, seconds } = await result;
      signal?.throwIfAborted();
      // The batch after this one is already with the encoder (maxInFlight ≥ 2) while we add.
      if (b.rows > 0) {
        const end = b.start + b.rows;
        summary.add(acts, {
          shard: b.meta.shard,
          doc: b.cols.doc.subarray(b.start, end),
          context: b.cols.context.subarray(b.start, end),
          position: b.cols.position.subarray(b.start, end),
          token: b.cols.token.subarray(b.start, end),
          ...(b.cols.label && { label: b.cols.label.slice(b.start, end) }),
        });
        // The summary keeps nothing of acts: its buffer can go back to the encoder for a later batch.
        o.encoder.recycle?.(acts);
        rowsDone += b.rows;
        o.metrics?.batch(b.rows, seconds);
        o.onBatch?.({ rows: b.rows, encodeSeconds: seconds });
      }
      inFlight.shift();
      if (b.last) {
        partsDone++;
        o.metrics?.part();
        o.onPart?.({ key: b.key, rows: b.cols.doc.length, partsDone, rowsDone });
      }
      await fill();
    }
  } finally {
    // Stops the prefetch on an early exit; its pending part (if any) was given a catch above.
    if (!exhausted) await source.return(undefined).catch(() => undefined);
    for (const part of notDropped) o.encoder.dropLoaded!(part);
  }
  return { parts: partsDone, rows: rowsDone };
}
