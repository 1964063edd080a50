import * as hf from '@huggingface/tokenizers';

/**
 * Our own encoder for byte-level BPE tokenizer.json files (GPT-2 style), giving exactly the ids
 * of @huggingface/tokenizers' `encode(text, { add_special_tokens: false })`, many times
 * faster: pre-tokenized words repeat, so each word's ids are cached, and BPE runs on integer
 * symbols instead of strings.
 *
 * It takes only the configurations whose every step it mirrors (`byteLevelBpeUnsupported` says
 * why a file does not qualify); everything else stays with the library. What it mirrors, step by
 * step, is the library's own code (Tokenizer.encode_text, DictionarySplitter, the ByteLevel and
 * Split pre-tokenizers, BPE.bpe/encode), including its quirks:
 *   - added tokens are cut out of the text first, longest match from left to right over UTF-16
 *     code units; `lstrip`/`rstrip` trim the neighbouring sections; `single_word` is ignored;
 *   - a ByteLevel `add_prefix_space` prepends a space to every section (and every Split piece)
 *     that does not start with one;
 *   - a merge written "a b c" is the pair (a, b); of repeated merges the last one's rank counts;
 *   - BPE always merges the adjacent pair of lowest rank, the leftmost one on ties;
 *   - a resulting token that is not in the vocabulary becomes `unk_token`, or is dropped if there
 *     is none; an added token's id wins over the vocabulary's for the same text.
 */

/** The library's Split pre-tokenizer (exported by it, but its .d.ts re-exports do not resolve under NodeNext). */
interface SplitStep {
  pattern: RegExp | null;
  pre_tokenize_text(text: string): string[];
}
const SplitPreTokenizer = (hf as unknown as { SplitPreTokenizer: new (config: unknown) => SplitStep }).SplitPreTokenizer;

/**
 * The GPT-2 pre-tokenization pattern the ByteLevel pre-tokenizer uses when `use_regex` is true.
 * gpt2WordEnd scans text exactly as this pattern matches it (tests hold it to that).
 */
export const GPT2_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** Words (pre-tokens) of up to this many UTF-16 code units are cached. */
const MAX_CACHED_WORD = 256;
/** By default the word cache is emptied when it reaches this many entries. */
const CACHE_ENTRIES = 1 << 16;
/** Words of up to this many bytes use the quadratic scan; longer ones use a heap. */
const DEFAULT_SCAN_LIMIT = 64;

// Classes of code points for the GPT-2 pattern: \p{L}, \p{N}, \s (Unicode mode), anything else.
const OTHER = 0;
const LETTER = 1;
const NUMBER = 2;
const SPACE = 3;

const classOfString = (ch: string): number => (/^\p{L}$/u.test(ch) ? LETTER : /^\p{N}$/u.test(ch) ? NUMBER : /^\s$/u.test(ch) ? SPACE : OTHER);

let bmp: Uint8Array | undefined;
/** The class of every BMP code point, decided by the pattern's own regex classes; surrogates are OTHER. */
function bmpClasses(): Uint8Array {
  if (!bmp) {
    bmp = new Uint8Array(65536);
    for (let c = 0; c < 65536; c++) if (c < 0xd800 || c > 0xdfff) bmp[c] = classOfString(String.fromCharCode(c));
  }
  return bmp;
}

const astral = new Map<number, number>();
function astralClass(cp: number): number {
  let k = astral.get(cp);
  if (k === undefined) astral.set(cp, (k = classOfString(String.fromCodePoint(cp))));
  return k;
}

/** The class of the code point at text[i] (a surrogate pair is one code point, a lone surrogate is OTHER). */
function classAt(text: string, i: number, table: Uint8Array): number {
  const c = text.charCodeAt(i);
  if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
    const d = text.charCodeAt(i + 1);
    if (d >= 0xdc00 && d <= 0xdfff) return astralClass(0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00));
  }
  return table[c];
}

/** End of the run of code points of class `k` from i. */
function runEnd(text: string, i: number, k: number, table: Uint8Array): number {
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        if (astralClass(0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00)) !== k) return i;
        i += 2;
        continue;
      }
    }
    if (table[c] !== k) return i;
    i++;
  }
  return i;
}

/**
 * End (exclusive) of the GPT-2 pre-token that starts at text[i], i < text.length: the match
 * GPT2_PATTERN finds there, its alternatives tried in order.
 */
export function gpt2WordEnd(text: string, i: number, table: Uint8Array = bmpClasses()): number {
  const n = text.length;
  const c = text.charCodeAt(i);
  // 's|'t|'re|'ve|'m|'ll|'d
  if (c === 0x27 && i + 1 < n) {
    const d = text.charCodeAt(i + 1);
    if (d === 0x73 || d === 0x74 || d === 0x6d || d === 0x64) return i + 2;
    if (i + 2 < n) {
      const e = text.charCodeAt(i + 2);
      if ((d === 0x72 || d === 0x76) && e === 0x65) return i + 3;
      if (d === 0x6c && e === 0x6c) return i + 3;
    }
  }
  // ' ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+': a space joins a following run of any of the three.
  const k = table[c];
  if (c === 0x20 && i + 1 < n) {
    const next = classAt(text, i + 1, table);
    if (next !== SPACE) return runEnd(text, i + 1, next, table);
  } else if (k !== SPACE) {
    return runEnd(text, i, classAt(text, i, table), table);
  }
  // \s+(?!\S)|\s+: a run of whitespace (all BMP) keeps its last character for the next word,
  // unless it ends the text or is that one character.
  let j = i + 1;
  while (j < n && table[text.charCodeAt(j)] === SPACE) j++;
  return j === n || j - i < 2 ? j : j - 1;
}

const NO_RANK = 0x7fffffff;

/** GPT-2's reversible byte → printable character table (the same as the library's BYTES_TO_UNICODE). */
export function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n++;
    }
  }
  const table = new Array<string>(256);
  bs.forEach((b, i) => (table[b] = String.fromCharCode(cs[i])));
  return table;
}

type Json = Record<string, unknown>;

interface AddedTokenInfo {
  content: string;
  id: number;
  lstrip: boolean;
  rstrip: boolean;
}

interface ByteLevelSettings {
  addPrefixSpace: boolean;
  useRegex: boolean;
  /** Split pre-tokenizer configs applied before ByteLevel, in order. */
  splits: Json[];
}

const isObject = (x: unknown): x is Json => typeof x === 'object' && x !== null && !Array.isArray(x);
const isNullish = (x: unknown) => x === null || x === undefined;
/** Ids are kept in Int32Arrays, with -1 for "not in the vocabulary". */
const isTokenId = (x: unknown) => Number.isInteger(x) && (x as number) >= 0 && (x as number) <= 0x7fffffff;
/** The library tests these options for truthiness: '' and false are the same as absent. */
const isOff = (x: unknown) => x === null || x === undefined || x === false || x === '';

/** Reads the pre-tokenizer: ByteLevel alone, or a Sequence of Split steps ending in ByteLevel. */
function byteLevelSettings(pre: unknown): ByteLevelSettings | string {
  if (!isObject(pre)) return 'pre_tokenizer is not ByteLevel';
  let steps: unknown[];
  if (pre.type === 'ByteLevel') steps = [pre];
  else if (pre.type === 'Sequence' && Array.isArray(pre.pretokenizers)) steps = pre.pretokenizers.filter((s) => s !== null);
  else return `pre_tokenizer ${JSON.stringify(pre.type)} is not ByteLevel or a Sequence ending in ByteLevel`;
  const last = steps[steps.length - 1];
  if (!isObject(last) || last.type !== 'ByteLevel') return 'pre_tokenizer Sequence does not end in ByteLevel';
  const splits: Json[] = [];
  for (const step of steps.slice(0, -1)) {
    if (!isObject(step) || step.type !== 'Split') return `pre_tokenizer step ${JSON.stringify(isObject(step) ? step.type : step)} is neither Split nor a final ByteLevel`;
    if (new SplitPreTokenizer(step).pattern === null) return 'pre_tokenizer Split has a pattern the library cannot compile';
    splits.push(step);
  }
  return {
    // The library: `add_prefix_space ?? false` and `use_regex ?? true`, then truthiness.
    addPrefixSpace: Boolean(last.add_prefix_space ?? false),
    useRegex: Boolean(last.use_regex ?? true),
    splits,
  };
}

/** A post-processor that, with add_special_tokens false and no pair, returns the tokens unchanged. */
function postProcessorUnsupported(pp: unknown): string | undefined {
  if (pp === null) return undefined;
  if (!isObject(pp)) return 'post_processor is not an object';
  switch (pp.type) {
    case 'ByteLevel':
    case 'BertProcessing':
    case 'RobertaProcessing':
      return undefined;
    case 'TemplateProcessing': {
      // Without special tokens the template keeps only its Sequence items: exactly one, "A".
      const single = pp.single;
      if (!Array.isArray(single)) return 'post_processor TemplateProcessing has no single template';
      const sequences = single.filter((item) => isObject(item) && !('SpecialToken' in item) && 'Sequence' in item);
      const ok =
        single.every(isObject) &&
        sequences.length === 1 &&
        isObject(sequences[0].Sequence) &&
        (sequences[0].Sequence as Json).id === 'A';
      return ok ? undefined : 'post_processor TemplateProcessing single template is not one sequence A and special tokens';
    }
    case 'Sequence': {
      if (!Array.isArray(pp.processors)) return 'post_processor Sequence has no processors';
      for (const p of pp.processors) {
        const why = p === null ? 'post_processor Sequence has a null processor' : postProcessorUnsupported(p);
        if (why) return why;
      }
      return undefined;
    }
    default:
      return `post_processor ${JSON.stringify(pp.type)} is not known to keep tokens unchanged`;
  }
}

/**
 * Why this tokenizer.json cannot be encoded by ByteLevelBpe with the library's exact ids, or
 * undefined when it can.
 */
export function byteLevelBpeUnsupported(json: Json): string | undefined {
  const model = json.model;
  if (!isObject(model)) return 'no model';
  if (model.type !== 'BPE') return `model type ${JSON.stringify(model.type)} is not BPE`;
  if (!isObject(model.vocab)) return 'model.vocab is not an object';
  for (const id of Object.values(model.vocab)) if (!isTokenId(id)) return 'model.vocab has an id that is not an integer in [0, 2^31)';
  if (!Array.isArray(model.merges)) return 'model.merges is not an array';
  const arrays = Array.isArray(model.merges[0]);
  if (!arrays && !model.merges.every((m) => typeof m === 'string')) return 'model.merges mixes strings with other entries';
  if (!isNullish(model.dropout)) return 'model.dropout is set';
  if (!isOff(model.byte_fallback)) return 'model.byte_fallback is set';
  if (!isOff(model.ignore_merges)) return 'model.ignore_merges is set';
  if (!isOff(model.fuse_unk)) return 'model.fuse_unk is set';
  for (const key of ['continuing_subword_prefix', 'continuing_subword_suffix', 'end_of_word_suffix'] as const) {
    if (!isOff(model[key])) return `model.${key} is set`;
  }
  if (json.normalizer !== null) return 'a normalizer is set';
  const pre = byteLevelSettings(json.pre_tokenizer);
  if (typeof pre === 'string') return pre;
  const why = postProcessorUnsupported(json.post_processor);
  if (why) return why;
  if (!isObject(json.decoder) || json.decoder.type !== 'ByteLevel') return 'decoder is not ByteLevel';
  if (!Array.isArray(json.added_tokens)) return 'added_tokens is not an array';
  for (const t of json.added_tokens) {
    if (!isObject(t) || typeof t.content !== 'string' || !isTokenId(t.id)) return 'an added token has no string content or no integer id in [0, 2^31)';
  }
  if (!isNullish(model.unk_token)) {
    if (typeof model.unk_token !== 'string') return 'model.unk_token is not a string';
    const known = model.unk_token in model.vocab || json.added_tokens.some((t) => (t as Json).content === model.unk_token);
    if (!known) return 'model.unk_token is neither in the vocabulary nor an added token';
  }
  return undefined;
}

/** A trie over UTF-16 code units, as the library's DictionarySplitter builds. */
interface TrieNode {
  children: Map<number, TrieNode>;
  end?: string;
}

export interface ByteLevelBpeOptions {
  /**
   * Words of up to this many bytes are merged by scanning all pairs each step; longer ones use
   * a heap. Both give the same result; tests move the limit to exercise each path.
   */
  scanLimit?: number;
  /** The word cache is emptied when it reaches this many entries (default 65,536). */
  cacheEntries?: number;
}

export class ByteLevelBpe {
  /** Symbol (interned string) of each byte's printable character. */
  private readonly byteSymbol = new Int32Array(256);
  /** Final id of each symbol, or -1 when it is neither in the vocabulary nor an added token. */
  private readonly symbolId: Int32Array;
  private readonly symbolCount: number;
  /** left * symbolCount + right → rank of the merge. */
  private readonly pairRank = new Map<number, number>();
  /** rank → symbol of the merged pair. */
  private readonly mergeSymbol: Int32Array;
  private readonly unkId: number | undefined;

  private readonly added = new Map<string, AddedTokenInfo>();
  private readonly trie: TrieNode = { children: new Map() };
  /** 1 at each UTF-16 code unit that starts some added token. */
  private readonly tokenStart = new Uint8Array(65536);
  private readonly hasAdded: boolean;

  private readonly addPrefixSpace: boolean;
  private readonly useRegex: boolean;
  private readonly classes = bmpClasses();
  private readonly splits: SplitStep[];
  private readonly scanLimit: number;

  private readonly cache: WordCache;
  // Scratch space for one word, grown on demand.
  private syms = new Int32Array(1024);
  private ranks = new Int32Array(1024);
  private prev = new Int32Array(0);
  private next = new Int32Array(0);
  private alive = new Uint8Array(0);
  private heapRank = new Int32Array(0);
  private heapPos = new Int32Array(0);

  constructor(json: Json, options: ByteLevelBpeOptions = {}) {
    const why = byteLevelBpeUnsupported(json);
    if (why) throw new Error(`ByteLevelBpe cannot encode this tokenizer: ${why}`);
    const model = json.model as { vocab: Record<string, number>; merges: unknown[]; unk_token?: string | null };
    const addedTokens = json.added_tokens as { content: string; id: number; lstrip?: boolean; rstrip?: boolean }[];
    const pre = byteLevelSettings(json.pre_tokenizer) as ByteLevelSettings;
    this.addPrefixSpace = pre.addPrefixSpace;
    this.useRegex = pre.useRegex;
    this.splits = pre.splits.map((s) => new SplitPreTokenizer(s));
    this.scanLimit = options.scanLimit ?? DEFAULT_SCAN_LIMIT;
    this.cache = new WordCache(options.cacheEntries ?? CACHE_ENTRIES);

    // Final ids: the vocabulary, then the added tokens over it (the library sets them into its
    // tokens_to_ids in order, so the last of equal contents wins).
    const ids = new Map<string, number>(Object.entries(model.vocab));
    for (const t of addedTokens) ids.set(t.content, t.id);
    this.unkId = isNullish(model.unk_token) ? undefined : ids.get(model.unk_token!);

    // Merge pairs as the library reads them: arrays when the first entry is one, else "a b"
    // strings cut at the first two spaces; any other entry never matches a pair of strings.
    const pairs: ([string, string] | null)[] = model.merges.map((m) => {
      if (Array.isArray(model.merges[0])) {
        return Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string' ? [m[0], m[1]] : null;
      }
      const parts = (m as string).split(' ', 2);
      return parts.length === 2 ? [parts[0], parts[1]] : null;
    });

    const symbols = new Map<string, number>();
    const texts: string[] = [];
    const intern = (s: string): number => {
      let k = symbols.get(s);
      if (k === undefined) {
        k = texts.length;
        symbols.set(s, k);
        texts.push(s);
      }
      return k;
    };
    const table = bytesToUnicode();
    for (let b = 0; b < 256; b++) this.byteSymbol[b] = intern(table[b]);
    const interned = pairs.map((p) => (p ? [intern(p[0]), intern(p[1]), intern(p[0] + p[1])] : null));
    this.symbolCount = texts.length;
    this.mergeSymbol = new Int32Array(pairs.length);
    interned.forEach((p, rank) => {
      if (!p) return;
      this.pairRank.set(p[0] * this.symbolCount + p[1], rank); // a repeated pair keeps the last rank
      this.mergeSymbol[rank] = p[2];
    });
    this.symbolId = new Int32Array(this.symbolCount);
    texts.forEach((s, k) => (this.symbolId[k] = ids.get(s) ?? -1));

    for (const t of addedTokens) {
      this.added.set(t.content, { content: t.content, id: t.id, lstrip: Boolean(t.lstrip ?? false), rstrip: Boolean(t.rstrip ?? false) });
      let node = this.trie;
      for (let i = 0; i < t.content.length; i++) {
        const c = t.content.charCodeAt(i);
        let child = node.children.get(c);
        if (!child) node.children.set(c, (child = { children: new Map() }));
        node = child;
      }
      node.end = t.content;
      if (t.content.length) this.tokenStart[t.content.charCodeAt(0)] = 1;
    }
    this.hasAdded = addedTokens.some((t) => t.content.length > 0);
  }

  /** Token ids of `text`, without special tokens around it. */
  encode(text: string): number[] {
    const out: number[] = [];
    if (text.length === 0) return out;
    const sections = this.hasAdded ? this.splitAdded(text) : [text];
    if (sections.length === 1 && !this.added.has(sections[0])) {
      this.encodeSection(sections[0], out);
      return out;
    }
    // The library's Tokenizer.encode_text: strip next to lstrip/rstrip tokens, then each
    // section is an added token, or text to pre-tokenize.
    for (let i = 0; i < sections.length; i++) {
      const token = this.added.get(sections[i]);
      if (!token) continue;
      if (token.lstrip && i > 0) sections[i - 1] = sections[i - 1].trimEnd();
      if (token.rstrip && i < sections.length - 1) sections[i + 1] = sections[i + 1].trimStart();
    }
    for (const section of sections) {
      if (section.length === 0) continue;
      const token = this.added.get(section);
      if (token) out.push(token.id);
      else this.encodeSection(section, out);
    }
    return out;
  }

  /** The library's DictionarySplitter.split: longest added token at each position, left to right. */
  private splitAdded(text: string): string[] {
    const result: string[] = [];
    const n = text.length;
    let start = 0;
    let i = 0;
    while (i < n) {
      if (this.tokenStart[text.charCodeAt(i)] === 0) {
        i++;
        continue;
      }
      let node: TrieNode | undefined = this.trie;
      let match: string | undefined;
      for (let j = i; j < n && (node = node.children.get(text.charCodeAt(j))); j++) {
        if (node.end) match = node.end;
      }
      if (match) {
        if (i > start) result.push(text.slice(start, i));
        result.push(match);
        i += match.length;
        start = i;
      } else {
        i++;
      }
    }
    if (start < n) result.push(text.slice(start));
    return result;
  }

  /** Pre-tokenizes one section of text (no added token in it) and appends its ids. */
  private encodeSection(section: string, out: number[]): void {
    let pieces = [section];
    for (const split of this.splits) pieces = pieces.flatMap((p) => split.pre_tokenize_text(p));
    for (let piece of pieces) {
      if (this.addPrefixSpace && !piece.startsWith(' ')) piece = ' ' + piece;
      if (!this.useRegex) {
        this.encodeWord(piece, 0, piece.length, out);
        continue;
      }
      for (let i = 0, n = piece.length; i < n; ) {
        const end = gpt2WordEnd(piece, i, this.classes);
        this.encodeWord(piece, i, end, out);
        i = end;
      }
    }
  }

  /** Appends the ids of the word text[start, end), from the cache when it is there. */
  private encodeWord(text: string, start: number, end: number, out: number[]): void {
    if (start === end) return;
    const cache = this.cache;
    const cacheable = end - start <= MAX_CACHED_WORD;
    let hash = 0;
    if (cacheable) {
      hash = wordHash(text, start, end);
      const slot = cache.find(text, start, end, hash);
      if (slot >= 0) {
        const ids = cache.ids;
        for (let k = cache.idStart[slot], last = k + cache.idCount[slot]; k < last; k++) out.push(ids[k]);
        return;
      }
    }
    const n = this.bpe(text, start, end);
    const ids = this.syms;
    for (let k = 0; k < n; k++) out.push(ids[k]);
    if (cacheable) cache.insert(text, start, end, hash, ids, n);
  }

  /**
   * BPE of one pre-token, text[start, end): its UTF-8 bytes as symbols, merged by rank, mapped
   * to ids. The ids are left in this.syms[0, count); returns count.
   */
  private bpe(text: string, start: number, end: number): number {
    if (this.syms.length < (end - start) * 3) {
      const size = Math.max((end - start) * 3, this.syms.length * 2);
      this.syms = new Int32Array(size);
      this.ranks = new Int32Array(size);
    }
    const syms = this.syms;
    const byteSymbol = this.byteSymbol;
    // UTF-8, with a lone surrogate as U+FFFD (as TextEncoder writes it).
    let n = 0;
    for (let i = start; i < end; i++) {
      let c = text.charCodeAt(i);
      if (c < 0x80) {
        syms[n++] = byteSymbol[c];
      } else if (c < 0x800) {
        syms[n++] = byteSymbol[0xc0 | (c >> 6)];
        syms[n++] = byteSymbol[0x80 | (c & 0x3f)];
      } else if (c >= 0xd800 && c <= 0xdfff) {
        const d = i + 1 < end ? text.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
          syms[n++] = byteSymbol[0xf0 | (c >> 18)];
          syms[n++] = byteSymbol[0x80 | ((c >> 12) & 0x3f)];
          syms[n++] = byteSymbol[0x80 | ((c >> 6) & 0x3f)];
          syms[n++] = byteSymbol[0x80 | (c & 0x3f)];
        } else {
          syms[n++] = byteSymbol[0xef];
          syms[n++] = byteSymbol[0xbf];
          syms[n++] = byteSymbol[0xbd];
        }
      } else {
        syms[n++] = byteSymbol[0xe0 | (c >> 12)];
        syms[n++] = byteSymbol[0x80 | ((c >> 6) & 0x3f)];
        syms[n++] = byteSymbol[0x80 | (c & 0x3f)];
      }
    }
    n = n <= this.scanLimit ? this.mergeByScan(n) : this.mergeByHeap(n);
    return this.idsOf(n);
  }

  private rank(left: number, right: number): number {
    const r = this.pairRank.get(left * this.symbolCount + right);
    return r === undefined ? NO_RANK : r;
  }

  /** Merges syms[0, n) in place by repeatedly merging the leftmost lowest-rank pair; returns the new length. */
  private mergeByScan(n: number): number {
    const syms = this.syms;
    const ranks = this.ranks;
    for (let i = 0; i + 1 < n; i++) ranks[i] = this.rank(syms[i], syms[i + 1]);
    while (n > 1) {
      let best = NO_RANK;
      let at = -1;
      for (let i = 0; i + 1 < n; i++) {
        if (ranks[i] < best) {
          best = ranks[i];
          at = i;
        }
      }
      if (at < 0) break;
      syms[at] = this.mergeSymbol[best];
      for (let i = at + 1; i + 1 < n; i++) syms[i] = syms[i + 1];
      for (let i = at + 1; i + 2 < n; i++) ranks[i] = ranks[i + 1];
      n--;
      if (at > 0) ranks[at - 1] = this.rank(syms[at - 1], syms[at]);
      if (at + 1 < n) ranks[at] = this.rank(syms[at], syms[at + 1]);
    }
    return n;
  }

  /** The same merges as mergeByScan, in O(n log n): a linked list and a heap of (rank, position). */
  private mergeByHeap(n: number): number {
    if (this.prev.length < n) {
      this.prev = new Int32Array(n);
      this.next = new Int32Array(n);
      this.alive = new Uint8Array(n);
      this.heapRank = new Int32Array(2 * n);
      this.heapPos = new Int32Array(2 * n);
    }
    const { syms, prev, next, alive } = this;
    let size = 0;
    const push = (rank: number, pos: number) => {
      if (size === this.heapRank.length) this.growHeap();
      const hr = this.heapRank;
      const hp = this.heapPos;
      let k = size++;
      hr[k] = rank;
      hp[k] = pos;
      while (k > 0) {
        const parent = (k - 1) >> 1;
        if (!heapLess(hr, hp, k, parent)) break;
        heapSwap(hr, hp, k, parent);
        k = parent;
      }
    };
    for (let i = 0; i < n; i++) {
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
      alive[i] = 1;
    }
    for (let i = 0; i + 1 < n; i++) {
      const r = this.rank(syms[i], syms[i + 1]);
      if (r !== NO_RANK) push(r, i);
    }
    while (size > 0) {
      const hr = this.heapRank;
      const hp = this.heapPos;
      const r = hr[0];
      const i = hp[0];
      size--;
      if (size > 0) {
        hr[0] = hr[size];
        hp[0] = hp[size];
        let k = 0;
        for (;;) {
          const l = 2 * k + 1;
          if (l >= size) break;
          const c = l + 1 < size && heapLess(hr, hp, l + 1, l) ? l + 1 : l;
          if (!heapLess(hr, hp, c, k)) break;
          heapSwap(hr, hp, c, k);
          k = c;
        }
      }
      // A stale entry: its node is gone, or its pair has changed since.
      if (!alive[i]) continue;
      const j = next[i];
      if (j < 0 || this.rank(syms[i], syms[j]) !== r) continue;
      syms[i] = this.mergeSymbol[r];
      alive[j] = 0;
      const after = next[j];
      next[i] = after;
      if (after >= 0) prev[after] = i;
      const before = prev[i];
      if (before >= 0) {
        const rb = this.rank(syms[before], syms[i]);
        if (rb !== NO_RANK) push(rb, before);
      }
      if (after >= 0) {
        const ra = this.rank(syms[i], syms[after]);
        if (ra !== NO_RANK) push(ra, i);
      }
    }
    // Compact the surviving symbols to the front, in order.
    let m = 0;
    for (let i = 0; i >= 0; i = next[i]) syms[m++] = syms[i];
    return m;
  }

  private growHeap(): void {
    const r = new Int32Array(Math.max(16, this.heapRank.length * 2));
    r.set(this.heapRank);
    const p = new Int32Array(r.length);
    p.set(this.heapPos);
    this.heapRank = r;
    this.heapPos = p;
  }

  /** Replaces syms[0, n) by their ids (an unknown symbol becomes unk_token, or is dropped without one); returns the count. */
  private idsOf(n: number): number {
    const syms = this.syms;
    let count = 0;
    for (let i = 0; i < n; i++) {
      const id = this.symbolId[syms[i]];
      if (id >= 0) syms[count++] = id;
      else if (this.unkId !== undefined) syms[count++] = this.unkId;
    }
    return count;
  }
}

/** FNV-1a over the UTF-16 code units of text[start, end). */
function wordHash(text: string, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h;
}

/**
 * Word → ids, without a string or array per entry: an open-addressing table over flat pools of
 * key code units and ids, looked up by a slice of the text being encoded. Emptied when full.
 */
class WordCache {
  private readonly mask: number;
  private readonly hashes: Int32Array;
  private readonly keyStart: Int32Array;
  /** 0 marks an empty slot (no word is empty). */
  private readonly keyLength: Int32Array;
  readonly idStart: Int32Array;
  readonly idCount: Int32Array;
  private keys = new Uint16Array(1 << 16);
  ids = new Int32Array(1 << 16);
  private keysUsed = 0;
  private idsUsed = 0;
  private size = 0;

  constructor(private readonly maxEntries: number) {
    let slots = 4;
    while (slots < 2 * maxEntries) slots *= 2;
    this.mask = slots - 1;
    this.hashes = new Int32Array(slots);
    this.keyStart = new Int32Array(slots);
    this.keyLength = new Int32Array(slots);
    this.idStart = new Int32Array(slots);
    this.idCount = new Int32Array(slots);
  }

  /** The slot holding text[start, end), or -1. */
  find(text: string, start: number, end: number, hash: number): number {
    const length = end - start;
    const keys = this.keys;
    for (let slot = hash & this.mask; ; slot = (slot + 1) & this.mask) {
      const l = this.keyLength[slot];
      if (l === 0) return -1;
      if (l === length && this.hashes[slot] === hash) {
        let k = this.keyStart[slot];
        let i = start;
        while (i < end && keys[k] === text.charCodeAt(i)) {
          i++;
          k++;
        }
        if (i === end) return slot;
      }
    }
  }

  /** Stores text[start, end) → ids[0, count); the word must not be present. */
  insert(text: string, start: number, end: number, hash: number, ids: Int32Array, count: number): void {
    if (this.size >= this.maxEntries) this.clear();
    const length = end - start;
    if (this.keysUsed + length > this.keys.length) this.keys = grown(this.keys, this.keysUsed + length);
    if (this.idsUsed + count > this.ids.length) this.ids = grown(this.ids, this.idsUsed + count);
    let slot = hash & this.mask;
    while (this.keyLength[slot] !== 0) slot = (slot + 1) & this.mask;
    this.hashes[slot] = hash;
    this.keyStart[slot] = this.keysUsed;
    this.keyLength[slot] = length;
    this.idStart[slot] = this.idsUsed;
    this.idCount[slot] = count;
    for (let i = start; i < end; i++) this.keys[this.keysUsed++] = text.charCodeAt(i);
    this.ids.set(ids.subarray(0, count), this.idsUsed);
    this.idsUsed += count;
    this.size++;
  }

  private clear(): void {
    this.keyLength.fill(0);
    this.keysUsed = 0;
    this.idsUsed = 0;
    this.size = 0;
  }
}

function grown<T extends Uint16Array | Int32Array>(a: T, needed: number): T {
  let size = a.length * 2;
  while (size < needed) size *= 2;
  const b = new (a.constructor as new (n: number) => T)(size);
  b.set(a);
  return b;
}

/** Heap order: lower rank first, then the leftmost position. */
function heapLess(hr: Int32Array, hp: Int32Array, a: number, b: number): boolean {
  return hr[a] < hr[b] || (hr[a] === hr[b] && hp[a] < hp[b]);
}

function heapSwap(hr: Int32Array, hp: Int32Array, a: number, b: number): void {
  const r = hr[a];
  hr[a] = hr[b];
  hr[b] = r;
  const p = hp[a];
  hp[a] = hp[b];
  hp[b] = p;
}
