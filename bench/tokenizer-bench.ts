// Tokenizer benchmark: @huggingface/tokenizers vs our ByteLevelBpe on the same demo documents,
// in the same process, interleaved (the machine is noisy: compare the ratio).
//
//   npm run bench:tokenizer -- [--docs N] [--seed N] [--repeats N]
//
// Each round encodes every document once with each implementation (a fresh ByteLevelBpe per
// round, so its word cache starts cold as in a new worker), checks the ids are identical, and
// reports tokens/s; the table shows the medians and the ratio ours ÷ library.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Tokenizer } from '@huggingface/tokenizers';
import { generateDemoDocuments } from '../core/demo/corpus-generator.js';
import { ByteLevelBpe } from '../core/tokenize/byte-level-bpe.js';
import { fixed, int, intFlag, median, printTable } from './bench-table.js';

const { values: flags } = parseArgs({
  options: { docs: { type: 'string' }, seed: { type: 'string' }, repeats: { type: 'string' } },
});
const docCount = intFlag(flags.docs, 'docs', 4000);
const seed = intFlag(flags.seed, 'seed', 1);
const repeats = intFlag(flags.repeats, 'repeats', 5);

const json = JSON.parse(readFileSync(fileURLToPath(new URL('../../assets/demo/tokenizer.json', import.meta.url)), 'utf8'));
const texts = generateDemoDocuments({ count: docCount, seed }).map((d) => d.text);
const chars = texts.reduce((a, t) => a + t.length, 0);
const library = new Tokenizer(json, {});

console.log(`tokenizer bench: node ${process.version}, ${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? '?'}), ${docCount} demo documents (seed ${seed}), ${int(chars)} chars`);

function timeIt(encode: (text: string) => number[]): { tokensPerSec: number; ids: number[][] } {
  const ids: number[][] = [];
  let tokens = 0;
  const t = performance.now();
  for (const text of texts) {
    const out = encode(text);
    tokens += out.length;
    ids.push(out);
  }
  const sec = (performance.now() - t) / 1000;
  return { tokensPerSec: tokens / sec, ids };
}

const lib: number[] = [];
const ours: number[] = [];
const ratios: number[] = [];
let tokens = 0;
for (let round = 0; round <= repeats; round++) {
  const a = timeIt((text) => library.encode(text, { add_special_tokens: false }).ids);
  const bpe = new ByteLevelBpe(json);
  const b = timeIt((text) => bpe.encode(text));
  a.ids.forEach((ids, i) => {
    const other = b.ids[i];
    if (ids.length !== other.length || ids.some((id, k) => id !== other[k])) throw new Error(`document ${i}: ids differ between the library and ByteLevelBpe`);
  });
  tokens = a.ids.reduce((n, ids) => n + ids.length, 0);
  const label = round === 0 ? 'warm-up' : `round ${round}`;
  console.error(`  ${label}: library ${int(a.tokensPerSec)} tokens/s, ours ${int(b.tokensPerSec)} tokens/s (${fixed(b.tokensPerSec / a.tokensPerSec, 1)}x)`);
  if (round === 0) continue;
  lib.push(a.tokensPerSec);
  ours.push(b.tokensPerSec);
  ratios.push(b.tokensPerSec / a.tokensPerSec);
}

printTable(
  `encode(text) of ${docCount} demo documents (${int(tokens)} tokens, ids identical), median of ${repeats} interleaved rounds after a warm-up; ours starts each round with a cold word cache`,
  ['implementation', 'tokens/s', 'ratio'],
  [
    ['@huggingface/tokenizers', int(median(lib)), '1.00'],
    ['ByteLevelBpe (core/tokenize/byte-level-bpe.ts)', int(median(ours)), fixed(median(ratios), 2)],
  ],
);
