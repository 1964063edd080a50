// Encodes one activation part as a complete Parquet file in memory.

import { ByteWriter, parquetWrite, type ColumnSource, type SchemaElement } from 'hyparquet-writer'
import { float32ArrayToFloat16 } from './float16.js'
import { metaToKeyValues, validateMeta, ActivationPartError, type ActivationPartMeta } from './activation-meta.js'
import { COL, INT_COLUMNS, littleEndianBytes, validateColumns, vectorBytes, type ActivationColumns } from './activation-layout.js'

export interface EncodeActivationOptions {
  /**
   * Codec of the activation column. Default 'UNCOMPRESSED': dense float
   * vectors do not compress (Snappy 0%), and Snappy costs time for nothing.
   * Post-ReLU hooks with many exact zeros do compress (measured: half zeros
   * ~34% smaller, 90% zeros ~82% smaller) but the JavaScript Snappy then runs
   * at only ~25–70 MiB/s; choose 'SNAPPY' for such hooks when storage and
   * read bandwidth matter more than harvest throughput.
   */
  activationCodec?: 'UNCOMPRESSED' | 'SNAPPY'
  /** Rows per row group. Default: about ROW_GROUP_TARGET_BYTES of vectors, a multiple of 1024 rows. */
  rowGroupRows?: number
}

/**
 * Vector bytes per row group by default. A row group is the unit a reader
 * fetches and decodes at once: 32 MiB keeps a reader's memory small and lets
 * a shuffling loader pick groups at random, while footer and page-index
 * overhead stays under a few KiB per group. (16,384 rows at width 512 fp32.)
 */
export const ROW_GROUP_TARGET_BYTES = 32 * 2 ** 20

export function defaultRowGroupRows(rowBytes: number): number {
  return Math.max(1024, Math.floor(ROW_GROUP_TARGET_BYTES / rowBytes / 1024) * 1024)
}

/** Converts the float vectors to the stored little-endian byte layout. */
function vectorPayload(meta: ActivationPartMeta, values: Float32Array): Uint8Array {
  return meta.dtype === 'fp32' ? littleEndianBytes(values) : littleEndianBytes(float32ArrayToFloat16(values))
}

function schemaFor(meta: ActivationPartMeta, hasLabel: boolean): SchemaElement[] {
  const required = 'REQUIRED' as const
  const string = (name: string): SchemaElement =>
    ({ name, type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' }, repetition_type: required })
  const int32 = (name: string): SchemaElement => ({ name, type: 'INT32', repetition_type: required })
  const leaves: SchemaElement[] = [
    string(COL.run),
    int32(COL.shard),
    ...INT_COLUMNS.map(int32),
    ...(hasLabel ? [string(COL.label)] : []),
    // No logical type: Parquet has none for a float vector, and FLOAT16 would
    // mean one half per value. The footer's thresher.* keys say how to decode.
    { name: COL.activation, type: 'FIXED_LEN_BYTE_ARRAY', type_length: vectorBytes(meta), repetition_type: required },
  ]
  return [{ name: 'root', num_children: leaves.length }, ...leaves]
}

/**
 * Encodes one part as a complete Parquet file. All columns are REQUIRED.
 * NaN and ±Infinity are stored as given; with dtype 'fp16' values beyond
 * ±65504 become ±Infinity and tiny ones flush through subnormals to ±0.
 * The result may be a view into a slightly larger buffer (honour byteOffset/byteLength).
 */
export function encodeActivationPart(
  meta: ActivationPartMeta,
  cols: ActivationColumns,
  options: EncodeActivationOptions = {},
): Uint8Array {
  validateMeta(meta)
  const rows = validateColumns(cols, meta.width)
  const rowGroupRows = options.rowGroupRows ?? defaultRowGroupRows(vectorBytes(meta))
  if (!Number.isInteger(rowGroupRows) || rowGroupRows < 1) {
    throw new ActivationPartError(`options.rowGroupRows must be a positive integer, got ${rowGroupRows}`)
  }
  const activationCodec = options.activationCodec ?? 'UNCOMPRESSED'
  if (activationCodec !== 'UNCOMPRESSED' && activationCodec !== 'SNAPPY') {
    throw new ActivationPartError(`options.activationCodec must be 'UNCOMPRESSED' or 'SNAPPY', got ${JSON.stringify(activationCodec)}`)
  }

  const rowBytes = vectorBytes(meta)
  const payload = vectorPayload(meta, cols.values)
  // FIXED_LEN_BYTE_ARRAY values are passed as one view per row; no copy.
  const vectors = new Array<Uint8Array>(rows)
  for (let i = 0; i < rows; i++) vectors[i] = payload.subarray(i * rowBytes, (i + 1) * rowBytes)

  const hasLabel = cols.label !== undefined
  const columnData: ColumnSource[] = [
    // Constant columns: a one-entry dictionary and 0-bit indexes cost a few bytes per page.
    { name: COL.run, data: new Array<string>(rows).fill(meta.runId), encoding: 'RLE_DICTIONARY' },
    { name: COL.shard, data: new Int32Array(rows).fill(meta.shard), encoding: 'RLE_DICTIONARY' },
    // The int columns are <1% of the file: library defaults (dictionary when it pays, Snappy, min/max stats for pruning).
    ...INT_COLUMNS.map((name): ColumnSource => ({ name, data: cols[name] })),
    ...(hasLabel ? [{ name: COL.label, data: cols.label! }] : []),
    // PLAIN skips the dictionary probe; byte-wise min/max of float bytes is meaningless and would put 2 vectors per group in the footer.
    { name: COL.activation, data: vectors, encoding: 'PLAIN', codec: activationCodec, statistics: false },
  ]

  // Pre-size the output so the writer does not grow (and copy) it while encoding.
  let labelBytes = 0
  if (hasLabel) for (const label of cols.label!) labelBytes += 4 + label.length * 3
  const estimate = payload.length + rows * 24 + labelBytes + (payload.length >>> 6) + 2 ** 20
  const writer = new ByteWriter(estimate)
  parquetWrite({
    writer,
    columnData,
    schema: schemaFor(meta, hasLabel),
    codec: 'SNAPPY',
    rowGroupSize: rowGroupRows,
    kvMetadata: metaToKeyValues(meta),
    createdBy: 'thresher activation-part',
  })
  return writer.getBytes()
}
