import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Tokenizer } from '@huggingface/tokenizers';
import { DEMO_GENRES, DEMO_TEXT_SEPARATOR, generateDemoDocuments } from '../core/demo/corpus-generator.js';
import { ByteLevelBpe, byteLevelBpeUnsupported, bytesToUnicode, GPT2_PATTERN, gpt2WordEnd, type ByteLevelBpeOptions } from '../core/tokenize/byte-level-bpe.js';
import { tokenizerFromJson } from '../core/tokenize/tokenizer.js';

type Json = Record<string, any>;

// Compiled to dist/test/, so the repository root is two levels up.
const demoJson = (): Json => JSON.parse(readFileSync(fileURLToPath(new URL('../../assets/demo/tokenizer.json', import.meta.url)), 'utf8'));

/** The library's ids, as tokenizerFromJson used them before ByteLevelBpe. */
const libraryIds = (json: Json) => {
  const tok = new Tokenizer(json, {});
  return (text: string) => tok.encode(text, { add_special_tokens: false }).ids;
};

/** Asserts ByteLevelBpe (with each merge path, and with a tiny cache) gives the library's ids for every text. */
function assertSameIds(json: Json, texts: string[], label: string): void {
  const lib = libraryIds(json);
  const variants: [string, ByteLevelBpeOptions][] = [
    ['default', {}],
    ['heap only', { scanLimit: 0 }],
    ['scan only', { scanLimit: Infinity }],
    ['cache of 8 words', { cacheEntries: 8 }],
  ];
  for (const [name, options] of variants) {
    const ours = new ByteLevelBpe(json, options);
    // Twice: the second pass reads the word cache the first one filled.
    for (const pass of [1, 2]) {
      texts.forEach((text, i) => {
        assert.deepEqual(ours.encode(text), lib(text), `${label} [${name}, pass ${pass}] text ${i}: ${JSON.stringify(text.slice(0, 200))}`);
      });
    }
  }
}

const EDGE_CASES: string[] = [
  '',
  ' ',
  '  ',
  '     ',
  'a',
  ' a',
  'a ',
  'a  ',
  'hello world',
  'hello  world',
  'hello   world   ',
  '   leading spaces',
  '\n',
  '\n\n\n',
  'line one\nline two\n',
  'a\n\nb',
  ' \n \n ',
  '\t',
  'tab\tseparated\tvalues\t\t',
  '\r\n',
  'windows\r\nline\r\nends\r\n',
  'mixed \t\n  whitespace \u00a0 nbsp\u2003em space\u3000ideographic',
  "it's he'll they've I'm we'd you're don't",
  "'s 'S 'll 'LL '' ''s 'x",
  "o'clock rock'n'roll 'quoted'",
  'שלום עולם, מה שלומך?',
  'עברית עם ניקוד: בְּרֵאשִׁית בָּרָא',
  'emoji 😀👍🏽 family 👨‍👩‍👧‍👦 flag 🇮🇱',
  'combining: e\u0301 a\u0308 n\u0303 \u0301alone',
  'CJK 中文字符 日本語のテキスト 한국어',
  'digits 0 12 345 6789 3.14159 1,000,000 ١٢٣ ½ ²',
  'x=1+2*3/4-5; y=[1,2,3]; z={"a":1}',
  '!!! ??? ... --- *** ### $$$',
  '<|endoftext|>',
  '<|endoftext|>text after',
  'text before<|endoftext|>',
  'in the <|endoftext|> middle',
  '<|endoftext|><|endoftext|>',
  ' <|endoftext|> ',
  'a<|endoftext|>b<|endoftext|>c',
  '<|endoftext|',
  '<|endoftext||>',
  '<<|endoftext|>>',
  '<|end<|endoftext|>oftext|>',
  'lone surrogates \ud800 and \udc00 and reversed \udc00\ud800 end\ud83d',
  '\u0000\u0001\u007f\u0080\u00ff control bytes',
  'a'.repeat(300),
  'ab'.repeat(1000),
  ' ' + 'x'.repeat(5000),
  '9'.repeat(700),
  'QUJD'.repeat(400) + '==',
  '😀'.repeat(200),
  'ש'.repeat(400),
  ' '.repeat(600) + 'end',
  '\n'.repeat(300),
  'word '.repeat(500),
];

/** Deterministic random strings over an alphabet of awkward pieces. */
function fuzzTexts(count: number, seed: number): string[] {
  const pieces = [
    ' ', ' ', '  ', '\n', '\t', '\r', "'", "'s", "'ll", 'a', 'e', 's', 't', 'the', 'The', 'ing', 'tion',
    '0', '7', '42', '.', ',', '!', '"', '{', '}', '<', '>', '|', '<|', '|>', 'endoftext', '<|endoftext|>',
    'ש', 'לום', 'é', '\u0301', '中', '😀', '\ud800', '\u00a0', 'ACGT', 'Zm9v', '==', '/', '-',
  ];
  let state = seed >>> 0;
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const len = Math.floor(next() * 40);
    let s = '';
    for (let k = 0; k < len; k++) s += pieces[Math.floor(next() * pieces.length)];
    out.push(s);
  }
  return out;
}

/**
 * A second, small tokenizer.json: the demo file's byte alphabet and first `merges` merges, with
 * its own ids, settings and added tokens.
 */
function smallTokenizer(settings: { merges: number; pairs: boolean; preTokenizer: Json; addedTokens: Json[]; unk?: string | null; extraMerges?: unknown[] }): Json {
  const demo = demoJson();
  const byteChars = bytesToUnicode();
  const merges: string[] = demo.model.merges.slice(0, settings.merges);
  const vocab: Record<string, number> = {};
  const add = (t: string) => {
    if (!(t in vocab)) vocab[t] = Object.keys(vocab).length + 10; // ids 0..9 left for added tokens
  };
  byteChars.forEach(add);
  for (const m of merges) add(m.split(' ').join(''));
  if (settings.unk) add(settings.unk);
  const listed: unknown[] = settings.pairs ? merges.map((m) => m.split(' ')) : merges;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: settings.addedTokens,
    normalizer: null,
    pre_tokenizer: settings.preTokenizer,
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: settings.unk ?? null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: [...listed, ...(settings.extraMerges ?? [])],
    },
  };
}

const added = (id: number, content: string, extra: Json = {}): Json => ({
  id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true, ...extra,
});

/** Llama 3's pre-tokenizer regex (Oniguruma syntax: the library rewrites it for JS). */
const LLAMA3_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** Words of `text` as GPT2_PATTERN matches them, and as gpt2WordEnd scans them. */
function regexWords(text: string): string[] {
  return text.match(new RegExp(GPT2_PATTERN.source, GPT2_PATTERN.flags)) ?? [];
}
function scannedWords(text: string): string[] {
  const words: string[] = [];
  for (let i = 0; i < text.length; ) {
    const end = gpt2WordEnd(text, i);
    assert.ok(end > i);
    words.push(text.slice(i, end));
    i = end;
  }
  return words;
}

describe('gpt2WordEnd', () => {
  it('splits text exactly as the GPT-2 pattern does', () => {
    for (const text of [...EDGE_CASES, ...fuzzTexts(3000, 5)]) assert.deepEqual(scannedWords(text), regexWords(text), JSON.stringify(text));
  });

  it('classifies every BMP code point and some astral ones as the pattern does', () => {
    const astral = [0x1f600, 0x1f3fd, 0x20000, 0x1d7ce, 0x10140, 0x1e900, 0x10ffff, 0xe0001, 0x1f1ee];
    const codePoints = [...Array.from({ length: 0x10000 }, (_, c) => c), ...astral];
    for (let from = 0; from < codePoints.length; from += 1024) {
      let text = '';
      for (const c of codePoints.slice(from, from + 1024)) {
        const ch = String.fromCodePoint(c);
        text += `x${ch}x ${ch} ${ch}${ch}1'${ch}\t${ch}\n `;
      }
      assert.deepEqual(scannedWords(text), regexWords(text), `code points from ${codePoints[from].toString(16)}`);
    }
  });
});

describe('ByteLevelBpe', () => {
  const demoTexts = generateDemoDocuments({ count: 480, seed: 20261129 });

  it('gives the library’s ids on every genre of the demo corpus (demo tokenizer.json)', () => {
    const json = demoJson();
    assert.equal(byteLevelBpeUnsupported(json), undefined);
    for (const genre of DEMO_GENRES) {
      const docs = demoTexts.filter((d) => d.genre === genre).map((d) => d.text);
      assert.ok(docs.length >= 40, `${genre}: ${docs.length} documents`);
      assertSameIds(json, docs, `demo corpus, genre ${genre}`);
    }
    // A txt shard's worth: documents joined by the special token.
    const joined = demoTexts.slice(0, 64).map((d) => d.text + DEMO_TEXT_SEPARATOR).join('');
    assertSameIds(json, [joined, DEMO_TEXT_SEPARATOR + joined], 'demo corpus, txt format');
  });

  it('gives the library’s ids on edge cases and fuzzed text (demo tokenizer.json)', () => {
    const json = demoJson();
    assertSameIds(json, EDGE_CASES, 'edge cases');
    assertSameIds(json, fuzzTexts(3000, 1), 'fuzz');
  });

  it('the comparison can fail: a changed merge order changes the ids', () => {
    const json = demoJson();
    const reordered = structuredClone(json);
    reordered.model.merges.splice(0, 300, ...reordered.model.merges.slice(0, 300).reverse());
    const text = demoTexts.map((d) => d.text).join(' ');
    assert.notDeepEqual(new ByteLevelBpe(reordered).encode(text), libraryIds(json)(text));
  });

  it('gives the library’s ids for a small file: [a, b] merges, add_prefix_space, lstrip/rstrip and nested added tokens', () => {
    const json = smallTokenizer({
      merges: 300,
      pairs: true,
      preTokenizer: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      addedTokens: [
        added(0, '<|endoftext|>'),
        added(1, '<sep>', { lstrip: true }),
        added(2, '[X]', { rstrip: true }),
        added(3, '<a>'),
        added(4, '<ab>'),
        added(5, 'the', { special: false }), // also produced by BPE: the added id must win
        added(6, '<pad> ', { lstrip: true, rstrip: true }),
      ],
    });
    assert.equal(byteLevelBpeUnsupported(json), undefined);
    const texts = [
      ...EDGE_CASES,
      'one <sep> two [X]   three',
      '  <sep>[X]  <sep>  ',
      '<a><ab><abc <a',
      'the theme then the',
      'x <pad>  <pad> <sep> y',
      '[X] <sep>',
      ...fuzzTexts(1500, 2).map((t) => t.replaceAll('endoftext', '<sep>').replaceAll('ACGT', '[X]').replaceAll('==', '<ab>')),
      ...demoTexts.slice(0, 120).map((d) => d.text),
    ];
    assertSameIds(json, texts, 'small file');
  });

  it('gives the library’s ids with a Split pre-tokenizer (Llama 3 pattern) before ByteLevel without regex', () => {
    const json = smallTokenizer({
      merges: 500,
      pairs: true,
      preTokenizer: {
        type: 'Sequence',
        pretokenizers: [
          { type: 'Split', pattern: { Regex: LLAMA3_SPLIT }, behavior: 'Isolated', invert: false },
          { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
        ],
      },
      addedTokens: [added(0, '<|endoftext|>')],
    });
    assert.equal(byteLevelBpeUnsupported(json), undefined);
    assertSameIds(json, [...EDGE_CASES, ...fuzzTexts(1500, 3), ...demoTexts.slice(0, 120).map((d) => d.text)], 'Split + ByteLevel');
  });

  it('gives the library’s ids for "a b" merges with repeats, odd entries, merges outside the vocabulary, and unk_token', () => {
    for (const unk of [null, '<unk>']) {
      const json = smallTokenizer({
        merges: 200,
        pairs: false,
        preTokenizer: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
        addedTokens: [added(0, '<|endoftext|>'), ...(unk ? [added(1, unk)] : [])],
        unk,
        // A repeated merge (its last rank counts), "a b c" (read as a b), a merge without a
        // space, and merges whose results are not in the vocabulary ("q u" early on).
        extraMerges: ['Ġ t', 'e r x', 'nospace', 'q u', 'Ġ q', 'Ġq u', 'x y', 'Ġ x'],
      });
      json.model.merges.unshift('q u', 'Ġ z');
      assert.equal(byteLevelBpeUnsupported(json), undefined);
      const texts = [...EDGE_CASES, 'quick quiet queue zebra xylophone xyz', ...fuzzTexts(800, 4), ...demoTexts.slice(0, 80).map((d) => d.text)];
      assertSameIds(json, texts, `"a b" merges, unk ${unk}`);
    }
  });

  it('tokenizerFromJson uses it for a qualifying file, and the library for anything else', () => {
    const demo = demoJson();
    const ours = tokenizerFromJson(demo);
    assert.equal(ours.implementation, 'byte-level-bpe');
    assert.equal(ours.fallbackReason, undefined);
    const text = demoTexts.slice(0, 50).map((d) => d.text).join(DEMO_TEXT_SEPARATOR);
    assert.deepEqual(ours.encode(text), libraryIds(demo)(text));
    assert.equal(ours.tokenId('<|endoftext|>'), 0);
    assert.equal(ours.decode(ours.encode(text)), text);

    const forced = tokenizerFromJson(demo, 'tokenizer', 'library');
    assert.equal(forced.implementation, 'library');
    assert.deepEqual(forced.encode(text), ours.encode(text));

    const variants: [string, (j: Json) => void, RegExp][] = [
      ['NFC normalizer', (j) => (j.normalizer = { type: 'NFC' }), /normalizer/],
      ['byte_fallback', (j) => (j.model.byte_fallback = true), /byte_fallback/],
      ['dropout', (j) => (j.model.dropout = 0.1), /dropout/],
      ['ignore_merges', (j) => (j.model.ignore_merges = true), /ignore_merges/],
      ['continuing_subword_prefix', (j) => (j.model.continuing_subword_prefix = '##'), /continuing_subword_prefix/],
      ['end_of_word_suffix', (j) => (j.model.end_of_word_suffix = '</w>'), /end_of_word_suffix/],
      ['Metaspace pre-tokenizer', (j) => (j.pre_tokenizer = { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true }), /pre_tokenizer/],
      ['Digits before ByteLevel', (j) => (j.pre_tokenizer = { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, j.pre_tokenizer] }), /Digits/],
      ['ByteLevel before Split', (j) => (j.pre_tokenizer = { type: 'Sequence', pretokenizers: [j.pre_tokenizer, { type: 'Split', pattern: { String: ' ' }, behavior: 'Isolated', invert: false }] }), /ByteLevel/],
      ['template with BOS twice the sequence', (j) => (j.post_processor = { type: 'TemplateProcessing', single: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }], pair: [], special_tokens: {} }), /TemplateProcessing/],
      ['Metaspace decoder', (j) => (j.decoder = { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true }), /decoder/],
      ['post-processor Sequence with a null entry', (j) => (j.post_processor = { type: 'Sequence', processors: [null] }), /null processor/],
      ['negative vocabulary id', (j) => (j.model.vocab['negative'] = -1), /vocab/],
      ['unk_token missing from the vocabulary', (j) => (j.model.unk_token = '<missing>'), /unk_token/],
      ['WordPiece-style BPE (no type)', (j) => delete j.model.type, /model type/],
    ];
    for (const [name, change, reason] of variants) {
      const json = demoJson();
      change(json);
      const tok = tokenizerFromJson(json);
      assert.equal(tok.implementation, 'library', name);
      assert.match(tok.fallbackReason ?? '', reason, name);
      assert.throws(() => new ByteLevelBpe(json), /cannot encode/, name);
    }
  });

  it('accepts the post-processors that keep tokens unchanged without special tokens', () => {
    const json = demoJson();
    json.post_processor = {
      type: 'Sequence',
      processors: [
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
        {
          type: 'TemplateProcessing',
          single: [{ SpecialToken: { id: '<|endoftext|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
          pair: [{ SpecialToken: { id: '<|endoftext|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
          special_tokens: { '<|endoftext|>': { id: '<|endoftext|>', ids: [0], tokens: ['<|endoftext|>'] } },
        },
      ],
    };
    assert.equal(tokenizerFromJson(json).implementation, 'byte-level-bpe');
    assertSameIds(json, [...EDGE_CASES.slice(0, 30), ...demoTexts.slice(0, 40).map((d) => d.text)], 'Sequence post-processor');
  });
});
