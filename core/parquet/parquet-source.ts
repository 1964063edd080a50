// Where a Parquet reader gets its bytes: a file in memory, or an S3 object read by byte range, so
// a reader that needs a few row groups of a large file (the feature browser's features.parquet
// and examples.parquet) fetches only those; and the footer check and group-at-a-time decoding
// both of those readers share.
import { parquetMetadataAsync, parquetReadObjects, type AsyncBuffer, type FileMetaData, type RowGroup } from 'hyparquet';
import type { ObjectStore } from '../storage/object-store.js';

/** A whole file in memory. */
export function bytesSource(bytes: Uint8Array): AsyncBuffer {
  return {
    byteLength: bytes.byteLength,
    slice: (start: number, end = bytes.byteLength) => bytes.buffer.slice(bytes.byteOffset + start, bytes.byteOffset + end) as ArrayBuffer,
  };
}

/**
 * An S3 object of `byteLength` bytes (from head()), one ranged GET per slice. hyparquet plans a
 * row group's column chunks as one contiguous read, so reading a row group costs one GET.
 */
export function objectSource(store: ObjectStore, bucket: string, key: string, byteLength: number, signal?: AbortSignal): AsyncBuffer {
  return {
    byteLength,
    async slice(start: number, end = byteLength) {
      const bytes = await store.getRange(bucket, key, start, end, signal);
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    },
  };
}

/** A row group's place in the file: rows [rowStart, rowEnd). */
export interface RowGroupSpan {
  rowStart: number;
  rowEnd: number;
  group: RowGroup;
}

/** A Parquet file of ours, opened by its footer, whose row groups are decoded one at a time. */
export interface RowGroupFile<T> {
  metadata: FileMetaData;
  /** The footer's key/value metadata. */
  kv: Map<string, string>;
  groups: RowGroupSpan[];
  /** Rows in the file. */
  rows: number;
  /** Row group `index`, decoded. The last one decoded is kept, so ascending reads decode each group once. */
  read(index: number): Promise<T[]>;
}

/**
 * Opens `source` (bytes, or e.g. objectSource) by its footer, checks that its `formatKey` footer
 * entry is `format` (else throws naming `what`), and decodes rows group by group with the decoder
 * `decoderFor` makes from the footer's key/value metadata.
 */
export async function openRowGroupFile<T>(
  source: Uint8Array | AsyncBuffer, formatKey: string, format: string, what: string,
  decoderFor: (kv: Map<string, string>) => (row: Record<string, unknown>) => T,
): Promise<RowGroupFile<T>> {
  const file = source instanceof Uint8Array ? bytesSource(source) : source;
  const metadata = await parquetMetadataAsync(file);
  const kv = new Map((metadata.key_value_metadata ?? []).map((e) => [e.key, e.value ?? '']));
  if (kv.get(formatKey) !== format) {
    throw new Error(`not ${what}: ${formatKey} is ${JSON.stringify(kv.get(formatKey))}, expected ${format}`);
  }
  const decode = decoderFor(kv);
  let rows = 0;
  const groups = metadata.row_groups.map((group): RowGroupSpan => {
    const span = { rowStart: rows, rowEnd: rows + Number(group.num_rows), group };
    rows = span.rowEnd;
    return span;
  });
  let cached: { index: number; rows: T[] } | undefined;
  return {
    metadata, kv, groups, rows,
    async read(index) {
      if (cached?.index !== index) {
        const { rowStart, rowEnd } = groups[index];
        cached = { index, rows: (await parquetReadObjects({ file, metadata, rowStart, rowEnd })).map(decode) };
      }
      return cached.rows;
    },
  };
}
