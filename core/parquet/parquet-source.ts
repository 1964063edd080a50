// Where a Parquet reader gets its bytes: a file in memory, or an S3 object read by byte range, so
// a reader that needs a few row groups of a large file (the feature browser's features.parquet
// and examples.parquet) fetches only those.
import type { AsyncBuffer } from 'hyparquet';
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
