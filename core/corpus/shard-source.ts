import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { isS3Uri, parseS3Uri } from '../config/run-config.js';
import type { ObjectStore } from '../storage/object-store.js';
import { shardFormatOf } from './shard-format.js';

/** One corpus file = one shard. */
export interface ShardRef {
  index: number;
  /** `s3://bucket/key` or an absolute local path. */
  uri: string;
  bytes: number;
}

/**
 * Lists a corpus folder or S3 prefix, sorted by name so the same corpus always yields the same
 * shard numbers. Files of other types are ignored; an empty corpus is an error.
 */
export async function listCorpusShards(corpus: string, store: ObjectStore): Promise<ShardRef[]> {
  const files: { uri: string; bytes: number }[] = [];
  if (isS3Uri(corpus)) {
    const { bucket, key } = parseS3Uri(corpus);
    const prefix = key ? `${key}/` : '';
    await store.assertBucket(bucket);
    for await (const o of store.list(bucket, prefix)) {
      if (shardFormatOf(o.key)) files.push({ uri: `s3://${bucket}/${o.key}`, bytes: o.size });
    }
  } else {
    const root = path.resolve(corpus);
    const info = await stat(root).catch(() => undefined);
    if (!info?.isDirectory()) throw new Error(`corpus folder ${root} does not exist or is not a folder`);
    for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !shardFormatOf(entry.name)) continue;
      const full = path.join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name);
      files.push({ uri: full, bytes: (await stat(full)).size });
    }
  }
  if (!files.length) throw new Error(`corpus ${corpus} holds no .jsonl, .jsonl.gz, .txt or .txt.gz files`);
  files.sort((a, b) => (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0));
  return files.map((f, index) => ({ index, ...f }));
}

export async function openShard(uri: string, store: ObjectStore, signal?: AbortSignal): Promise<Readable> {
  if (isS3Uri(uri)) {
    const { bucket, key } = parseS3Uri(uri);
    return store.getStream(bucket, key, signal);
  }
  return createReadStream(uri, { highWaterMark: 1 << 20 });
}
