/**
 * Offline demo corpus: documents of eight distinct genres, written as sharded JSONL so the
 * harvesting pipeline can be exercised end to end without any download.
 *
 * Document i of a seed is a pure function of (seed, i): every shard can be regenerated alone,
 * and the in-memory list for tokenizer training is the same stream the shards hold.
 */

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DEMO_GENRES, DEMO_MAX_CHARS, DEMO_MIN_CHARS, GENRE_GENERATORS, type DemoGenre } from './genre-generators.js';
import { SeededRandom } from '../random/seeded-random.js';

export { DEMO_GENRES, DEMO_MAX_CHARS, DEMO_MIN_CHARS, type DemoGenre };

export interface DemoDocument {
  text: string;
  genre: DemoGenre;
}

/**
 * Written between documents in the `txt` format. It is the demo tokenizer's special token,
 * so a reader splitting on it recovers the documents exactly.
 */
export const DEMO_TEXT_SEPARATOR = '<|endoftext|>';

export type DemoCorpusFormat = 'jsonl' | 'txt';

export interface DemoCorpusOptions {
  /** Folder to write shards into; created if missing. Existing shard files are overwritten. */
  outDir: string;
  /** Number of shard files. */
  shards: number;
  /** Documents per shard. */
  docsPerShard: number;
  /** Any safe integer; equal seeds give byte-identical shards. */
  seed: number;
  /** Gzip each shard (`.jsonl.gz`). Default false. */
  gzip?: boolean;
  /**
   * `jsonl` (default): one `{"text","genre"}` object per line.
   * `txt`: raw texts, each followed by DEMO_TEXT_SEPARATOR (genre is not recorded).
   */
  format?: DemoCorpusFormat;
}

export interface DemoCorpusSummary {
  /** Paths of the shard files, in shard order. */
  files: string[];
  docs: number;
  /** Bytes written to disk (after gzip when enabled). */
  bytes: number;
  /** UTF-8 bytes of the document texts alone. */
  textBytes: number;
  genreCounts: Record<DemoGenre, number>;
}

// Purpose tags keep the genre-order stream and the per-document streams independent.
const GENRE_ORDER_STREAM = 1;
const DOCUMENT_STREAM = 2;

/**
 * Genres come in blocks of eight, each block a fresh permutation: every genre is equally common
 * and all eight appear in any eight consecutive aligned documents, yet neighbours still vary.
 */
function genreOf(seed: number, index: number): DemoGenre {
  const block = Math.floor(index / DEMO_GENRES.length);
  const order = SeededRandom.derived(seed, GENRE_ORDER_STREAM, block).shuffle([...DEMO_GENRES]);
  return order[index % DEMO_GENRES.length];
}

/** Document number `index` of the stream for `seed`. */
export function generateDemoDocument(seed: number, index: number): DemoDocument {
  const genre = genreOf(seed, index);
  const rng = SeededRandom.derived(seed, DOCUMENT_STREAM, index);
  const targetChars = rng.int(DEMO_MIN_CHARS, DEMO_MAX_CHARS + 1);
  return { text: GENRE_GENERATORS[genre](rng, targetChars), genre };
}

/** Documents [startIndex, startIndex + count) of the stream for `seed`, in memory. */
export function generateDemoDocuments(options: { count: number; seed: number; startIndex?: number }): DemoDocument[] {
  const { count, seed, startIndex = 0 } = options;
  assertNonNegativeInteger('count', count);
  assertNonNegativeInteger('startIndex', startIndex);
  const docs: DemoDocument[] = [];
  for (let i = 0; i < count; i++) docs.push(generateDemoDocument(seed, startIndex + i));
  return docs;
}

export function demoShardFileName(shard: number, format: DemoCorpusFormat = 'jsonl', gzip = false): string {
  return `shard-${String(shard).padStart(5, '0')}.${format}${gzip ? '.gz' : ''}`;
}

function serialiseShard(docs: DemoDocument[], format: DemoCorpusFormat): string {
  if (format === 'txt') return docs.map((d) => d.text + DEMO_TEXT_SEPARATOR).join('');
  return docs.map((d) => JSON.stringify({ text: d.text, genre: d.genre }) + '\n').join('');
}

export async function generateDemoCorpus(options: DemoCorpusOptions): Promise<DemoCorpusSummary> {
  const { outDir, shards, docsPerShard, seed, gzip = false, format = 'jsonl' } = options;
  assertNonNegativeInteger('shards', shards);
  assertNonNegativeInteger('docsPerShard', docsPerShard);
  if (format !== 'jsonl' && format !== 'txt') throw new RangeError(`unknown corpus format: ${String(format)}`);
  await mkdir(outDir, { recursive: true });

  const genreCounts = Object.fromEntries(DEMO_GENRES.map((g) => [g, 0])) as Record<DemoGenre, number>;
  const files: string[] = [];
  let bytes = 0;
  let textBytes = 0;
  for (let shard = 0; shard < shards; shard++) {
    const docs = generateDemoDocuments({ count: docsPerShard, seed, startIndex: shard * docsPerShard });
    for (const doc of docs) {
      genreCounts[doc.genre]++;
      textBytes += Buffer.byteLength(doc.text);
    }
    const plain = Buffer.from(serialiseShard(docs, format), 'utf8');
    // gzipSync writes mtime 0 and no file name, so the compressed bytes are reproducible too.
    const payload = gzip ? gzipSync(plain, { level: 9 }) : plain;
    const path = join(outDir, demoShardFileName(shard, format, gzip));
    await writeFile(path, payload);
    files.push(path);
    bytes += payload.length;
  }
  return { files, docs: shards * docsPerShard, bytes, textBytes, genreCounts };
}

function assertNonNegativeInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
}
