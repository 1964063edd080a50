// Corpus shards of a given size for the benches, streamed to disk from the demo document
// generator: documents are produced one at a time and written in ~1 MiB chunks with
// backpressure, so a 1 GiB shard never sits in memory. Files are cached by (format, size, seed).
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, stat, writeFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import { generateDemoDocument } from '../core/demo/corpus-generator.js';

export type BenchShardFormat = 'txt' | 'jsonl';

export interface BenchShard {
  path: string;
  bytes: number;
  documents: number;
  /** Seconds spent generating it now; 0 when reused from the cache. */
  generatedSeconds: number;
}

const CHUNK_BYTES = 1 << 20;

/**
 * Writes demo documents (seed `seed`, from document 0) until the file holds at least `bytes`.
 * `txt`: texts separated by a blank line (the plain-text corpus format);
 * `jsonl`: one {"text","genre"} object per line.
 */
export async function writeDemoShard(file: string, bytes: number, seed: number, format: BenchShardFormat): Promise<{ bytes: number; documents: number }> {
  await mkdir(path.dirname(file), { recursive: true });
  const out = createWriteStream(file);
  const failed = once(out, 'error').then(([e]) => Promise.reject(e as Error));
  failed.catch(() => undefined);
  let written = 0;
  let documents = 0;
  let chunk: string[] = [];
  let chunkBytes = 0;
  const flush = async () => {
    if (!chunk.length) return;
    const data = chunk.join('');
    chunk = [];
    chunkBytes = 0;
    if (!out.write(data)) await Promise.race([once(out, 'drain'), failed]);
  };
  while (written < bytes) {
    const doc = generateDemoDocument(seed, documents++);
    const piece = format === 'txt' ? `${doc.text}\n\n` : `${JSON.stringify({ text: doc.text, genre: doc.genre })}\n`;
    const n = Buffer.byteLength(piece);
    chunk.push(piece);
    chunkBytes += n;
    written += n;
    if (chunkBytes >= CHUNK_BYTES) await flush();
  }
  await flush();
  out.end();
  await Promise.race([once(out, 'finish'), failed]);
  return { bytes: written, documents };
}

/**
 * A shard of at least `bytes` in `dir`, generated unless an identical one (same format, size and
 * seed) was completed there before.
 */
export async function ensureDemoShard(dir: string, bytes: number, seed: number, format: BenchShardFormat): Promise<BenchShard> {
  const name = `demo-seed${seed}-${bytes}B.${format}`;
  const file = path.join(dir, name);
  const doneFile = `${file}.done.json`;
  const done = await readFile(doneFile, 'utf8').then((s) => JSON.parse(s) as { bytes: number; documents: number }, () => undefined);
  const size = await stat(file).then((s) => s.size, () => -1);
  if (done && done.bytes === size) return { path: file, ...done, generatedSeconds: 0 };
  const started = performance.now();
  const tmp = `${file}.${process.pid}.partial`;
  const result = await writeDemoShard(tmp, bytes, seed, format);
  await rename(tmp, file);
  await writeFile(doneFile, JSON.stringify(result));
  return { path: file, ...result, generatedSeconds: (performance.now() - started) / 1000 };
}
