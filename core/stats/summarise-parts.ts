// The statistics stage's inner loop, shared by the summarisePart activity and bench:stats: read
// activation parts → cut them into batches → send each batch to a summariser lane (a worker
// thread that encodes it with the dictionary's encoder and adds it to its own FeatureSummary,
// summariser-pool.ts). Pure of Temporal and S3: the caller says how a part's bytes are fetched and
// gets callbacks per batch and per part (heartbeats, metrics), and takes the merged summary from
// the pool afterwards.
//
// Pipelined, so no lane waits for this thread: each batch goes to the lane with the fewest
// outstanding, up to `perLane` in each (lane-dealer.ts), and the next part is fetched and decoded
// while the current one is being summarised. Progress is reported in send order, so it counts only
// rows before which every batch is finished. Bounded: this thread holds the current part and the
// next one (their vectors in two reused buffers), plus at most lanes × perLane batches of inputs
// ([batchRows × d_in] each); each lane holds one [batchRows × d_sae] activation buffer.
import { ConfigError } from '../config/run-config.js';
import type { SummariseMetrics } from '../metrics/stats-metrics.js';
import { readActivationPart, type ActivationColumns, type ActivationPartMeta } from '../parquet/activation-part.js';
import { dealToLanes } from './lane-dealer.js';
import type { BatchSummariser, LaneBatchResult } from './summariser-pool.js';

export interface SummarisePartsOptions {
  /** Part keys, summarised in this order. */
  partKeys: readonly string[];
  /**
   * The bytes of one part (S3 in the activity, memory in the bench). They are read (decoded) before
   * the next part is fetched, so an implementation may return the same buffer every time.
   */
  fetchPart(key: string, signal?: AbortSignal): Promise<Uint8Array>;
  /** The lanes (openSummariserPool): each batch is encoded and added in one of them. */
  summariser: BatchSummariser;
  /** The dictionary's d_in; every part must have this width. */
  dIn: number;
  /** The dictionary's d_sae, for the default batch size. */
  dSae: number;
  /** Rows per encoder call. Default defaultEncodeBatchRows(d_sae). */
  batchRows?: number;
  /** Pass the parts' labels on to the summary (per-label firing counts). Default true. */
  labels?: boolean;
  /** Batches outstanding per lane (sent and not finished). Default 2: a lane has the next batch at hand when it finishes one; 1 leaves it idle while this thread takes the result. */
  perLane?: number;
  signal?: AbortSignal;
  /** Prometheus recorder of this attempt (statsRecorder(registry).summarise): rows, parts, encode seconds. */
  metrics?: SummariseMetrics;
  /** After each batch is summarised, in order: its rows and the seconds the lane's encoder session computed it. */
  onBatch?(e: { rows: number; encodeSeconds: number }): void;
  /** After the last row of a part is summarised; totals so far. */
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
}

/**
 * 1,024: the fastest of 256–4,096 for the whole stage on the 2-core VM when one encoder thread fed
 * the main thread (bench:stats, d_sae 4,096, two runs each: 23.9k and 27.0k statistics rows/s,
 * against 20.8k and 21.1k with 4,096 rows, 19.7k and 22.4k with 2,048, 23.7k with 512, 18.9k with
 * 256).
 */
export const DEFAULT_ENCODE_BATCH_ROWS = 1024;
/**
 * Bytes of one batch's activations (rows × d_sae float32) that the default batch stays within;
 * each lane holds one such buffer: with 1,024 rows, a 131,072-feature dictionary would need
 * 512 MiB per lane.
 */
export const ENCODE_BATCH_BYTES = 64 * 2 ** 20;

/** Rows per encoder call when the caller does not say: 1,024, fewer for dictionaries wider than 16,384 features. */
export function defaultEncodeBatchRows(dSae: number): number {
  return Math.max(1, Math.min(DEFAULT_ENCODE_BATCH_ROWS, Math.floor(ENCODE_BATCH_BYTES / (4 * dSae))));
}
/** Batches outstanding per lane: while a lane works on one, the next is already waiting there. */
export const DEFAULT_PER_LANE = 2;

export async function summariseParts(o: SummarisePartsOptions): Promise<SummarisePartsResult> {
  const batchRows = o.batchRows ?? defaultEncodeBatchRows(o.dSae);
  const perLane = o.perLane ?? DEFAULT_PER_LANE;
  if (!Number.isInteger(batchRows) || batchRows < 1) throw new RangeError(`batchRows must be a positive integer, got ${batchRows}`);
  const { partKeys, dIn, summariser, signal } = o;

  // Part p decodes its vectors into vectorBuffers[p % 2]. Part p + 2 starts decoding only once
  // every batch of part p has been copied into a lane's input (each batch is copied when it is
  // sent, before the next is pulled, and the generator moves past part p only when asked for the
  // batch after its last), so two buffers serve every part: no fresh 64 MiB array, and its page
  // faults, per part.
  const vectorBuffers: Float32Array[] = [new Float32Array(0), new Float32Array(0)];
  const read = async (key: string, p: number) => {
    const part = await readActivationPart(await o.fetchPart(key, signal), { into: vectorBuffers[p % 2] });
    // Kept for the next part of this parity (a part too large for the buffer got its own array).
    if (part.cols.values.buffer !== vectorBuffers[p % 2].buffer) vectorBuffers[p % 2] = part.cols.values;
    return part;
  };
  /** Batches of every part in order; part p + 1 is fetched and decoded while part p is summarised. */
  async function* batches(): AsyncGenerator<Batch> {
    let next = partKeys.length ? read(partKeys[0], 0) : undefined;
    for (let p = 0; p < partKeys.length; p++) {
      const { meta, cols } = await next!;
      next = p + 1 < partKeys.length ? read(partKeys[p + 1], p + 1) : undefined;
      // Awaited in turn; until then a failure must not surface as an unhandled rejection.
      next?.catch(() => undefined);
      if (meta.width !== dIn) throw new ConfigError(`part ${partKeys[p]} has width ${meta.width}, dictionary has d_in ${dIn}`);
      const rows = cols.doc.length;
      if (rows === 0) yield { key: partKeys[p], meta, cols, start: 0, rows: 0, last: true };
      for (let start = 0; start < rows; start += batchRows) {
        const n = Math.min(batchRows, rows - start);
        yield { key: partKeys[p], meta, cols, start, rows: n, last: start + n === rows };
      }
    }
  }

  let partsDone = 0;
  let rowsDone = 0;
  await dealToLanes<Batch, LaneBatchResult>({
    lanes: summariser.lanes, perLane, items: batches(), signal,
    send(lane, b) {
      if (b.rows === 0) return undefined;
      const end = b.start + b.rows;
      const x = summariser.inputBuffer(b.rows * dIn);
      x.set(b.cols.values.subarray(b.start * dIn, end * dIn));
      return summariser.summarise(lane, x, b.rows, {
        shard: b.meta.shard,
        doc: b.cols.doc.subarray(b.start, end),
        context: b.cols.context.subarray(b.start, end),
        position: b.cols.position.subarray(b.start, end),
        token: b.cols.token.subarray(b.start, end),
        ...(b.cols.label && o.labels !== false && { label: b.cols.label.slice(b.start, end) }),
      });
    },
    onDone(b, result) {
      if (b.rows > 0) {
        rowsDone += b.rows;
        o.metrics?.batch(b.rows, result!.encodeSeconds);
        o.onBatch?.({ rows: b.rows, encodeSeconds: result!.encodeSeconds });
      }
      if (b.last) {
        partsDone++;
        o.metrics?.part();
        o.onPart?.({ key: b.key, rows: b.cols.doc.length, partsDone, rowsDone });
      }
    },
  });
  return { parts: partsDone, rows: rowsDone };
}
