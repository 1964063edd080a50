/**
 * The GPT-2 byte-level alphabet and pre-tokenizer split, as Hugging Face `ByteLevel`
 * (Rust and @huggingface/tokenizers) applies them. The trainer must split and map text
 * exactly as the runtime tokenizer will, or learned merges would never fire.
 */

/**
 * Each byte maps to one printable code point: printable Latin-1 bytes map to themselves and the
 * rest are shifted to U+0100 and up, so every token string is visible and contains no space.
 */
export const BYTE_TO_UNICODE: readonly string[] = (() => {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const table: string[] = new Array(256);
  let shifted = 0;
  for (let b = 0; b < 256; b++) {
    table[b] = String.fromCharCode(printable(b) ? b : 256 + shifted++);
  }
  return table;
})();

/** `use_regex: true` split used by ByteLevel; identical in the Rust and JS libraries. */
export const BYTE_LEVEL_SPLIT_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

const utf8 = new TextEncoder();

export function byteLevelEncode(piece: string): string {
  let out = '';
  for (const byte of utf8.encode(piece)) out += BYTE_TO_UNICODE[byte];
  return out;
}

/** Splits raw text into pre-tokens and maps each to the byte-level alphabet. */
export function byteLevelPreTokenize(text: string): string[] {
  return (text.match(BYTE_LEVEL_SPLIT_PATTERN) ?? []).map(byteLevelEncode);
}
