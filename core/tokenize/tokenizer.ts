import { readFile } from 'node:fs/promises';
import { Tokenizer } from '@huggingface/tokenizers';
import { ByteLevelBpe, byteLevelBpeUnsupported } from './byte-level-bpe.js';

/** The slice of a Hugging Face tokenizer the harvest needs. */
export interface TextTokenizer {
  encode(text: string): number[];
  decode(ids: number[]): string;
  /** Id of a token given by its text, e.g. the BOS token; undefined when absent. */
  tokenId(token: string): number | undefined;
  vocabSize: number;
}

/** Which code encodes: our byte-level BPE encoder, or the @huggingface/tokenizers library. */
export type TokenizerImplementation = 'byte-level-bpe' | 'library';
/** `auto`: ours when the file qualifies, else the library; `library`: always the library. */
export type TokenizerChoice = 'auto' | 'library';

export interface LoadedTokenizer extends TextTokenizer {
  /** Who encodes (decode and tokenId always use the library). */
  implementation: TokenizerImplementation;
  /** Why the library encodes, when it does. */
  fallbackReason?: string;
}

/** Loads a `tokenizer.json` (offline: the file is read, never fetched). */
export async function loadTokenizer(file: string): Promise<LoadedTokenizer> {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new Error(`tokenizer ${file} cannot be read as JSON: ${(err as Error).message}`);
  }
  return tokenizerFromJson(json, `tokenizer ${file}`);
}

/**
 * A tokenizer from parsed tokenizer.json contents; `what` names it in errors.
 *
 * Byte-level BPE files (GPT-2 style) are encoded by ByteLevelBpe, which gives the library's ids
 * many times faster; every other file, or every file when `choice` (default: the
 * THRESHER_TOKENIZER environment variable) is `library`, is encoded by @huggingface/tokenizers.
 */
export function tokenizerFromJson(
  json: Record<string, unknown>,
  what = 'tokenizer',
  choice: TokenizerChoice = tokenizerChoiceFromEnv(),
): LoadedTokenizer {
  const model = json.model as { vocab?: Record<string, number> } | undefined;
  if (!model?.vocab) throw new Error(`${what} has no model.vocab: is it a Hugging Face tokenizer.json?`);
  // Always built: it decodes, answers tokenId, and rejects a malformed file the same way for both.
  const tok = new Tokenizer(json, {});
  const added = (json.added_tokens as { id: number }[] | undefined) ?? [];
  const maxId = Math.max(...Object.values(model.vocab), ...added.map((a) => a.id));
  const fallbackReason = choice === 'library' ? 'the library was chosen' : byteLevelBpeUnsupported(json);
  const ours = fallbackReason === undefined ? new ByteLevelBpe(json) : undefined;
  return {
    // No special tokens here: BOS placement is the packer's job, governed by the run config.
    encode: ours ? (text) => ours.encode(text) : (text) => tok.encode(text, { add_special_tokens: false }).ids,
    // Exact text back: the library's default clean-up would turn ' .' into '.'.
    decode: (ids) => tok.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false }),
    tokenId: (t) => tok.token_to_id(t),
    vocabSize: maxId + 1,
    implementation: ours ? 'byte-level-bpe' : 'library',
    ...(fallbackReason === undefined ? {} : { fallbackReason }),
  };
}

function tokenizerChoiceFromEnv(): TokenizerChoice {
  const v = process.env.THRESHER_TOKENIZER;
  if (v === undefined || v === '' || v === 'auto') return 'auto';
  if (v === 'library') return v;
  throw new Error(`THRESHER_TOKENIZER: expected auto or library, got "${v}"`);
}
