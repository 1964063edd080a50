/**
 * Input that can never be harvested as it is (bad JSON, bad UTF-8, bad gzip). Retrying cannot help,
 * so the shard fails at once; the message names the shard and the line or byte.
 */
export class CorruptShardError extends Error {
  override name = 'CorruptShardError';
}
