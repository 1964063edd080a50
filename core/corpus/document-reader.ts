import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { CorruptShardError } from './corrupt-shard-error.js';
import { splitLines } from './line-splitter.js';
import { shardFormatOf } from './shard-format.js';

export interface CorpusDocument {
  /** 0-based document number within the shard; stable across retries. */
  index: number;
  text: string;
  label?: string;
}

export interface DocumentReaderOptions {
  /** Shown in errors: the shard's URI or path. */
  shardName: string;
  textField: string;
  labelField?: string;
  /**
   * Plain-text documents (blocks separated by blank lines) longer than this are cut into several
   * documents, so one huge file never sits in memory whole. JSONL lines longer than this fail.
   */
  maxDocumentBytes: number;
}

/**
 * Streams documents from one shard's raw bytes. JSONL: one object per line with a text field.
 * Plain text: documents are separated by one or more blank lines.
 */
export async function* readDocuments(raw: Readable, opts: DocumentReaderOptions): AsyncGenerator<CorpusDocument> {
  const kind = shardFormatOf(opts.shardName);
  if (!kind) throw new CorruptShardError(`${opts.shardName}: unsupported file type (use .jsonl, .jsonl.gz, .txt or .txt.gz)`);
  const bytes = kind.gzip ? gunzipNamed(raw, opts.shardName) : raw;
  const lines = splitLines(bytes, {
    shardName: opts.shardName,
    maxLineBytes: opts.maxDocumentBytes,
    splitLongLines: kind.format === 'text',
  });
  yield* kind.format === 'jsonl' ? jsonlDocuments(lines, opts) : textDocuments(lines, opts.maxDocumentBytes);
}

async function* jsonlDocuments(lines: ReturnType<typeof splitLines>, opts: DocumentReaderOptions): AsyncGenerator<CorpusDocument> {
  let index = 0;
  for await (const line of lines) {
    if (line.text.trim() === '') continue;
    const where = `${opts.shardName}: line ${line.number}`;
    let obj: unknown;
    try {
      obj = JSON.parse(line.text);
    } catch (err) {
      throw new CorruptShardError(`${where} is not valid JSON (${(err as Error).message})`);
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new CorruptShardError(`${where} is not a JSON object`);
    const text = (obj as Record<string, unknown>)[opts.textField];
    if (typeof text !== 'string') throw new CorruptShardError(`${where} has no string field "${opts.textField}"`);
    let label: string | undefined;
    if (opts.labelField) {
      const v = (obj as Record<string, unknown>)[opts.labelField];
      if (v !== undefined && typeof v !== 'string') throw new CorruptShardError(`${where}: field "${opts.labelField}" must be a string`);
      label = v as string | undefined;
    }
    yield { index: index++, text, label };
  }
}

async function* textDocuments(lines: ReturnType<typeof splitLines>, maxBytes: number): AsyncGenerator<CorpusDocument> {
  let index = 0;
  let parts: string[] = [];
  let size = 0;
  const flush = (): CorpusDocument | undefined => {
    if (!parts.length) return undefined;
    const doc = { index: index++, text: parts.join('\n') };
    parts = [];
    size = 0;
    return doc;
  };
  for await (const line of lines) {
    if (line.complete && line.text.trim() === '' ) {
      const doc = flush();
      if (doc) yield doc;
      continue;
    }
    parts.push(line.text);
    size += line.text.length;
    if (size >= maxBytes) {
      const doc = flush();
      if (doc) yield doc;
    }
  }
  const last = flush();
  if (last) yield last;
}

/** Gunzips, turning zlib's anonymous errors into one that names the shard and the byte reached. */
async function* gunzipNamed(raw: Readable, shardName: string): AsyncGenerator<Uint8Array> {
  const gunzip = createGunzip();
  let consumed = 0;
  raw.on('data', (c: Buffer) => (consumed += c.length));
  raw.on('error', (e) => gunzip.destroy(e));
  raw.pipe(gunzip);
  try {
    for await (const chunk of gunzip) yield chunk as Uint8Array;
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    if (code.startsWith('Z_') || /unexpected end of file|incorrect header/i.test((err as Error).message)) {
      throw new CorruptShardError(`${shardName}: gzip data is corrupt near compressed byte ${consumed} (${(err as Error).message})`);
    }
    throw err;
  }
}
