/**
 * Writes the token stream the demo transformer is trained on (scripts/train-demo-transformer.py):
 * documents of a seed the demo corpus never uses, tokenized with the committed tokenizer and packed
 * into contexts exactly as the demo's harvest packs them (`bos: "document"`: the separator token
 * before every document, documents flowing across contexts, as GPT-2 was trained), so the model
 * trains on the distribution it is later harvested on and can tell where a document starts.
 *
 *   node dist/scripts/export-demo-training-tokens.js [--out .thresher/demo-training]
 *
 * Output: tokens.u16 (little-endian uint16, contexts × contextLength) and tokens.json (shape, seed,
 * the genre share of the documents, and the model config to train). Progress goes to stderr as
 * structured log lines.
 */

import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { generateDemoDocuments } from '../core/demo/corpus-generator.js';
import { DEMO_SPECIAL_TOKEN } from '../core/demo/bpe-trainer.js';
import { DEFAULT_DEMO_ASSET_RECIPE, DEMO_BOS_MODE, demoModelConfig } from '../core/demo/demo-assets.js';
import { ContextPacker } from '../core/tokenize/context-packer.js';
import { loadTokenizer } from '../core/tokenize/tokenizer.js';
import { createLogger } from '../core/logging.js';

const logger = createLogger('export-demo-training-tokens');

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string', default: '.thresher/demo-training' },
      assets: { type: 'string', default: 'assets/demo' },
    },
  });
  const recipe = DEFAULT_DEMO_ASSET_RECIPE;
  const docs = recipe.trainingDocs;
  const contextLength = recipe.maxPositions;
  const tokenizer = await loadTokenizer(join(resolve(values.assets!), 'tokenizer.json'));
  const bosId = tokenizer.tokenId(DEMO_SPECIAL_TOKEN);
  const packer = new ContextPacker(contextLength, DEMO_BOS_MODE, bosId);

  const contexts: Int32Array[] = [];
  const genreDocs: Record<string, number> = {};
  let next = performance.now();
  const documents = generateDemoDocuments({ count: docs, seed: recipe.trainingCorpusSeed });
  for (const [i, doc] of documents.entries()) {
    genreDocs[doc.genre] = (genreDocs[doc.genre] ?? 0) + 1;
    for (const ctx of packer.push(i, tokenizer.encode(doc.text))) contexts.push(ctx.ids);
    if (performance.now() > next) {
      logger.info('progress', { docs: i + 1, of: docs, contexts: contexts.length });
      next = performance.now() + 5000;
    }
  }
  // The last partial context is dropped: training batches want full rows.
  const tokens = new Uint16Array(contexts.length * contextLength);
  contexts.forEach((ids, c) => tokens.set(ids, c * contextLength));

  const outDir = resolve(values.out!);
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, 'tokens.u16'), new Uint8Array(tokens.buffer));
  const meta = { contexts: contexts.length, contextLength, vocabSize: recipe.vocabSize, seed: recipe.trainingCorpusSeed, docs, bosId, bosMode: DEMO_BOS_MODE, genreDocs, model: demoModelConfig(recipe) };
  await writeFile(join(outDir, 'tokens.json'), JSON.stringify(meta, null, 2) + '\n');
  logger.info('done', { outDir, tokens: tokens.length, ...meta });
}

main().catch((error: unknown) => {
  logger.error('failed', { error: error instanceof Error ? error.stack ?? error.message : String(error) });
  process.exitCode = 1;
});
