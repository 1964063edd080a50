/**
 * Byte-level BPE training that emits a Hugging Face `tokenizer.json`.
 *
 * Ids: special tokens first (so `<|endoftext|>` is 0), then the 256 byte symbols in byte order,
 * then one id per merge. Each step merges the most frequent adjacent pair; equal counts go to
 * the pair whose left token, then right token, sorts first by UTF-16 code units. Nothing depends
 * on Map iteration order or timing, so equal input gives an identical file.
 */

import { BYTE_TO_UNICODE, byteLevelPreTokenize } from './byte-level.js';

export const DEMO_SPECIAL_TOKEN = '<|endoftext|>';

export interface BpeTrainingOptions {
  /** Final vocabulary size including special tokens and the 256 bytes. Default 2048. */
  vocabSize?: number;
  /** Added as special tokens with ids 0, 1, …. Default [DEMO_SPECIAL_TOKEN]. */
  specialTokens?: string[];
  /** Pairs seen fewer times than this are never merged; training stops early instead. Default 2. */
  minPairFrequency?: number;
}

/** The parts of tokenizer.json this trainer writes; field order matches what the Rust library saves. */
export interface HfTokenizerJson {
  version: '1.0';
  truncation: null;
  padding: null;
  added_tokens: HfAddedToken[];
  normalizer: null;
  pre_tokenizer: { type: 'ByteLevel'; add_prefix_space: false; trim_offsets: true; use_regex: true };
  post_processor: null;
  decoder: { type: 'ByteLevel'; add_prefix_space: true; trim_offsets: true; use_regex: true };
  model: {
    type: 'BPE';
    dropout: null;
    unk_token: null;
    continuing_subword_prefix: null;
    end_of_word_suffix: null;
    fuse_unk: false;
    byte_fallback: false;
    ignore_merges: false;
    vocab: Record<string, number>;
    /** "left right": both libraries accept it, and byte-level tokens never contain a space. */
    merges: string[];
  };
}

export interface HfAddedToken {
  id: number;
  content: string;
  single_word: false;
  lstrip: false;
  rstrip: false;
  normalized: false;
  special: true;
}

export interface BpeTrainingResult {
  tokenizer: HfTokenizerJson;
  vocabSize: number;
  mergeCount: number;
  /** Distinct pre-tokens seen, and their total count. */
  distinctWords: number;
  totalWords: number;
}

interface Word {
  symbols: number[];
  count: number;
}

// Vocab ids stay below 2^16 for any sensible demo size, so a pair fits one safe integer key.
const PAIR_SHIFT = 65536;
const pairKey = (left: number, right: number) => left * PAIR_SHIFT + right;

export function trainByteLevelBpe(texts: Iterable<string>, options: BpeTrainingOptions = {}): BpeTrainingResult {
  const { vocabSize = 2048, specialTokens = [DEMO_SPECIAL_TOKEN], minPairFrequency = 2 } = options;
  const baseSize = specialTokens.length + 256;
  if (!Number.isInteger(vocabSize) || vocabSize < baseSize || vocabSize > PAIR_SHIFT) {
    throw new RangeError(`vocabSize must be an integer in [${baseSize}, ${PAIR_SHIFT}], got ${vocabSize}`);
  }

  const tokens: string[] = [...specialTokens, ...BYTE_TO_UNICODE];
  const tokenIds = new Map<string, number>(tokens.map((t, id) => [t, id]));
  const byteSymbol = new Map<string, number>(BYTE_TO_UNICODE.map((ch, b) => [ch, specialTokens.length + b]));

  const wordCounts = new Map<string, number>();
  let totalWords = 0;
  for (const text of texts) {
    for (const piece of byteLevelPreTokenize(text)) {
      wordCounts.set(piece, (wordCounts.get(piece) ?? 0) + 1);
      totalWords++;
    }
  }
  const words: Word[] = [];
  for (const [piece, count] of wordCounts) {
    words.push({ symbols: Array.from(piece, (ch) => byteSymbol.get(ch)!), count });
  }

  const pairCounts = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const addPairs = (wordIndex: number, sign: 1 | -1) => {
    const { symbols, count } = words[wordIndex];
    for (let i = 0; i + 1 < symbols.length; i++) {
      const key = pairKey(symbols[i], symbols[i + 1]);
      const next = (pairCounts.get(key) ?? 0) + sign * count;
      if (next === 0) pairCounts.delete(key);
      else pairCounts.set(key, next);
      if (sign === 1) {
        let set = pairWords.get(key);
        if (!set) pairWords.set(key, (set = new Set()));
        set.add(wordIndex);
      }
      // Stale word indices are left in place when a count drops: a merge visiting such a word
      // simply finds no occurrence, which is cheaper than keeping the index exact.
    }
  };
  for (let w = 0; w < words.length; w++) addPairs(w, 1);

  const merges: string[] = [];
  while (tokens.length < vocabSize) {
    const best = bestPair(pairCounts, tokens);
    if (best === undefined || (pairCounts.get(best) ?? 0) < minPairFrequency) break;
    const left = Math.floor(best / PAIR_SHIFT);
    const right = best % PAIR_SHIFT;
    const mergedText = tokens[left] + tokens[right];
    // Two merge paths can spell the same string ("ab c", "a bc"); they share one id, as in the Rust trainer.
    let merged = tokenIds.get(mergedText);
    if (merged === undefined) {
      merged = tokens.length;
      tokens.push(mergedText);
      tokenIds.set(mergedText, merged);
    }
    merges.push(`${tokens[left]} ${tokens[right]}`);

    const affected = [...(pairWords.get(best) ?? [])].sort((a, b) => a - b);
    pairWords.delete(best);
    for (const w of affected) {
      const symbols = words[w].symbols;
      if (!containsPair(symbols, left, right)) continue;
      addPairs(w, -1);
      words[w].symbols = mergeInWord(symbols, left, right, merged);
      addPairs(w, 1);
    }
  }

  const vocab: Record<string, number> = {};
  tokens.forEach((token, id) => {
    vocab[token] = id;
  });
  if (Object.keys(vocab).length !== tokens.length) {
    throw new Error('BPE produced a duplicate token string; vocab would be ambiguous');
  }

  const tokenizer: HfTokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specialTokens.map((content, id) => ({
      id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
    })),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
  return { tokenizer, vocabSize: tokens.length, mergeCount: merges.length, distinctWords: words.length, totalWords };
}

/**
 * The tokenizer_config.json that goes with the trained tokenizer. The JS library reads
 * clean_up_tokenization_spaces from here and defaults it to true, which would rewrite " ." to "."
 * on decode and break exact round trips.
 */
export function demoTokenizerConfig(modelMaxLength: number): Record<string, unknown> {
  return {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: DEMO_SPECIAL_TOKEN,
    eos_token: DEMO_SPECIAL_TOKEN,
    unk_token: null,
    pad_token: null,
    add_prefix_space: false,
    clean_up_tokenization_spaces: false,
    model_max_length: modelMaxLength,
  };
}

function bestPair(pairCounts: Map<number, number>, tokens: string[]): number | undefined {
  let bestKey: number | undefined;
  let bestCount = -1;
  for (const [key, count] of pairCounts) {
    if (count > bestCount || (count === bestCount && comparePairs(key, bestKey!, tokens) < 0)) {
      bestKey = key;
      bestCount = count;
    }
  }
  return bestKey;
}

function comparePairs(a: number, b: number, tokens: string[]): number {
  const byLeft = compareStrings(tokens[Math.floor(a / PAIR_SHIFT)], tokens[Math.floor(b / PAIR_SHIFT)]);
  return byLeft !== 0 ? byLeft : compareStrings(tokens[a % PAIR_SHIFT], tokens[b % PAIR_SHIFT]);
}

// Plain code-unit order; localeCompare would make the result depend on the ICU build.
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function containsPair(symbols: number[], left: number, right: number): boolean {
  for (let i = 0; i + 1 < symbols.length; i++) {
    if (symbols[i] === left && symbols[i + 1] === right) return true;
  }
  return false;
}

/** Left-to-right, non-overlapping, as the runtime applies a single merge rank. */
function mergeInWord(symbols: number[], left: number, right: number, merged: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < symbols.length; i++) {
    if (i + 1 < symbols.length && symbols[i] === left && symbols[i + 1] === right) {
      out.push(merged);
      i++;
    } else {
      out.push(symbols[i]);
    }
  }
  return out;
}
