import { readFile } from 'node:fs/promises';
import { Tokenizer } from '@huggingface/tokenizers';

/** The slice of a Hugging Face tokenizer the harvest needs. */
export interface TextTokenizer {
  encode(text: string): number[];
  decode(ids: number[]): string;
  /** Id of a token given by its text, e.g. the BOS token; undefined when absent. */
  tokenId(token: string): number | undefined;
  vocabSize: number;
}

/** Loads a `tokenizer.json` (offline: the file is read, never fetched). */
export async function loadTokenizer(file: string): Promise<TextTokenizer> {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new Error(`tokenizer ${file} cannot be read as JSON: ${(err as Error).message}`);
  }
  return tokenizerFromJson(json, `tokenizer ${file}`);
}

/** A tokenizer from parsed tokenizer.json contents; `what` names it in errors. */
export function tokenizerFromJson(json: Record<string, unknown>, what = 'tokenizer'): TextTokenizer {
  const model = json.model as { vocab?: Record<string, number> } | undefined;
  if (!model?.vocab) throw new Error(`${what} has no model.vocab: is it a Hugging Face tokenizer.json?`);
  const tok = new Tokenizer(json, {});
  const added = (json.added_tokens as { id: number }[] | undefined) ?? [];
  const maxId = Math.max(...Object.values(model.vocab), ...added.map((a) => a.id));
  return {
    // No special tokens here: BOS placement is the packer's job, governed by the run config.
    encode: (text) => tok.encode(text, { add_special_tokens: false }).ids,
    // Exact text back: the library's default clean-up would turn ' .' into '.'.
    decode: (ids) => tok.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false }),
    tokenId: (t) => tok.token_to_id(t),
    vocabSize: maxId + 1,
  };
}
