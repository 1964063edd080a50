// A shard's documents tokenized and packed into model contexts, exactly as the harvest does it.
// The harvest and the statistics stage's example windows (which re-create the contexts its
// examples came from) both read shards through this, so a context index means the same tokens
// in both places.
import type { RunConfig } from '../config/run-config.js';
import { readDocuments, type CorpusDocument } from '../corpus/document-reader.js';
import { openShard } from '../corpus/shard-source.js';
import type { ObjectStore } from '../storage/object-store.js';
import { ContextPacker, type PackedContext } from '../tokenize/context-packer.js';
import type { TextTokenizer } from '../tokenize/tokenizer.js';

/** Plain-text documents are cut at this size so a huge file never sits in memory whole. */
const MAX_DOCUMENT_BYTES = 1 << 20;

/** One document and the contexts it completed; the last step has no document (the final partial context). */
export interface PackedStep {
  document?: CorpusDocument;
  contexts: PackedContext[];
}

export async function* shardContexts(
  uri: string,
  config: RunConfig,
  tokenizer: TextTokenizer,
  store: ObjectStore,
  signal?: AbortSignal,
): AsyncGenerator<PackedStep> {
  const bosId = config.tokenizer.bos === 'none' ? undefined : tokenizer.tokenId(config.tokenizer.bosToken!);
  const packer = new ContextPacker(config.contextLength, config.tokenizer.bos, bosId);
  const source = await openShard(uri, store, signal);
  try {
    for await (const document of readDocuments(source, {
      shardName: uri,
      textField: config.corpus.textField,
      labelField: config.corpus.labelField,
      maxDocumentBytes: MAX_DOCUMENT_BYTES,
    })) {
      signal?.throwIfAborted();
      yield { document, contexts: [...packer.push(document.index, tokenizer.encode(document.text))] };
    }
    yield { contexts: [...packer.finish()] };
  } finally {
    source.destroy();
  }
}
