import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createWriteStream } from 'node:fs';
import { isS3Uri, parseS3Uri } from '../config/run-config.js';
import type { ObjectStore } from './object-store.js';

export interface ResolvedArtifact {
  /** A local file holding the artifact. */
  path: string;
  sha256: string;
}

async function sha256OfFile(file: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(file), h);
  return h.digest('hex');
}

/**
 * Makes a model or tokenizer available as a local file. S3 objects are fetched once into the cache
 * folder (keyed by URI and ETag, so a replaced object is fetched again); every file's sha256 is
 * checked against `expectedSha256` when one is given.
 */
export async function resolveArtifact(
  uri: string,
  what: string,
  store: ObjectStore,
  cacheDir: string,
  expectedSha256?: string,
): Promise<ResolvedArtifact> {
  let resolved: ResolvedArtifact;
  if (isS3Uri(uri)) {
    const { bucket, key } = parseS3Uri(uri);
    const head = await store.head(bucket, key);
    if (!head) throw new Error(`${what} ${uri} does not exist`);
    const slot = path.join(cacheDir, createHash('sha256').update(uri).digest('hex').slice(0, 32));
    const file = path.join(slot, path.basename(key));
    const stampFile = `${file}.sha256`;
    const stamp = `${head.size}:${head.metadata.sha256 ?? ''}`;
    const cached = await readFile(stampFile, 'utf8').catch(() => undefined);
    if (cached?.startsWith(`${stamp} `)) {
      resolved = { path: file, sha256: cached.slice(stamp.length + 1).trim() };
    } else {
      await mkdir(slot, { recursive: true });
      const tmp = `${file}.${process.pid}.partial`;
      await pipeline(await store.getStream(bucket, key), createWriteStream(tmp));
      const sha256 = await sha256OfFile(tmp);
      await rename(tmp, file);
      await writeFile(stampFile, `${stamp} ${sha256}\n`);
      resolved = { path: file, sha256 };
    }
  } else {
    const info = await stat(uri).catch(() => undefined);
    if (!info?.isFile()) throw new Error(`${what} ${uri} does not exist or is not a file`);
    resolved = { path: uri, sha256: await sha256OfFile(uri) };
  }
  if (expectedSha256 && resolved.sha256 !== expectedSha256) {
    throw new Error(`${what} ${uri} has sha256 ${resolved.sha256}, but the config expects ${expectedSha256}`);
  }
  return resolved;
}
