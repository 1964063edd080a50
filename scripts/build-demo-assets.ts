/**
 * Rebuilds assets/demo/ (tokenizer, tokenizer config, ONNX model, recipe) from fixed seeds and the
 * trained weights in the same folder (trained-weights.bin, training-log.json).
 *
 *   node dist/scripts/build-demo-assets.js [--out assets/demo] [--tokenizer-only]
 *
 * The whole chain, from nothing: this script with --tokenizer-only, then
 * export-demo-training-tokens.js, then scripts/train-demo-transformer.py (Python with torch),
 * then this script again. Without --tokenizer-only a missing weights file is an error.
 *
 * Progress goes to stderr as structured log lines (core/logging.ts). Before writing anything the
 * script checks that the tokenizer loads and round-trips every genre and that the model runs, so
 * a broken build never replaces good committed assets.
 */

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Tokenizer } from '@huggingface/tokenizers';
import ort from 'onnxruntime-node';
import { generateDemoDocuments, DEMO_GENRES } from '../core/demo/corpus-generator.js';
import {
  buildDemoAssets, buildDemoTokenizerFiles, DEMO_ASSET_FILES, sha256Hex, type BuiltDemoAssets, type DemoAssetFile,
} from '../core/demo/demo-assets.js';
import { createLogger } from '../core/logging.js';

const logger = createLogger('build-demo-assets');
/** Also handed to buildDemoAssets as its progress callback. */
const log = (event: string, fields: Record<string, unknown> = {}) => logger.info(event, fields);

function fileBytes(assets: BuiltDemoAssets, name: string): Uint8Array {
  const file = assets.files.find((f) => f.name === name);
  if (!file) throw new Error(`asset ${name} was not built`);
  return file.bytes;
}

async function smokeCheck(assets: BuiltDemoAssets): Promise<void> {
  const parse = (name: string) => JSON.parse(new TextDecoder().decode(fileBytes(assets, name))) as object;
  const tokenizer = new Tokenizer(parse(DEMO_ASSET_FILES.tokenizer), parse(DEMO_ASSET_FILES.tokenizerConfig));
  const { vocabSize, maxPositions } = assets.recipeJson.model.config;
  // A seed the tokenizer never trained on, so the check exercises unseen text.
  const samples = generateDemoDocuments({ count: DEMO_GENRES.length * 4, seed: 424242 });
  let firstIds: number[] = [];
  for (const doc of samples) {
    // The package's .d.ts uses extensionless imports that NodeNext cannot follow, so its types arrive as any.
    const ids: number[] = tokenizer.encode(doc.text).ids;
    if (tokenizer.decode(ids) !== doc.text) throw new Error(`tokenizer round trip failed for a ${doc.genre} document`);
    if (ids.some((id) => id < 0 || id >= vocabSize)) throw new Error('tokenizer produced an id outside the vocabulary');
    if (firstIds.length === 0) firstIds = ids;
  }

  const session = await ort.InferenceSession.create(fileBytes(assets, DEMO_ASSET_FILES.model));
  const seq = Math.min(maxPositions, firstIds.length + 1);
  const ids = BigInt64Array.from([0, ...firstIds].slice(0, seq), BigInt);
  const out = await session.run({ input_ids: new ort.Tensor('int64', ids, [1, seq]) });
  const logits = out.logits;
  if (logits.dims.join() !== [1, seq, vocabSize].join()) throw new Error(`unexpected logits shape ${logits.dims.join('x')}`);
  if (!(logits.data as Float32Array).every(Number.isFinite)) throw new Error('model produced non-finite logits');
  await session.release();
  log('smoke_check_passed', { roundTrippedDocs: samples.length, modelSeq: seq });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string', default: 'assets/demo' }, 'tokenizer-only': { type: 'boolean', default: false } } });
  const outDir = resolve(values.out ?? 'assets/demo');
  const started = performance.now();
  log('start', { outDir, tokenizerOnly: values['tokenizer-only'] });

  let files: DemoAssetFile[];
  if (values['tokenizer-only']) {
    files = buildDemoTokenizerFiles(undefined, log).files;
  } else {
    const read = async (name: string) => {
      try {
        return new Uint8Array(await readFile(join(outDir, name)));
      } catch (error) {
        throw new Error(`${join(outDir, name)} cannot be read (${(error as Error).message}); it comes from scripts/train-demo-transformer.py, see this script's header`);
      }
    };
    const assets = buildDemoAssets({ weights: await read(DEMO_ASSET_FILES.trainedWeights), trainingLog: await read(DEMO_ASSET_FILES.trainingLog) }, undefined, log);
    await smokeCheck(assets);
    files = assets.files;
  }

  await mkdir(outDir, { recursive: true });
  for (const file of files) {
    await writeFile(join(outDir, file.name), file.bytes);
    log('wrote', { file: file.name, bytes: file.bytes.length, sha256: sha256Hex(file.bytes) });
  }
  log('done', { outDir, totalMs: Math.round(performance.now() - started) });
}

main().catch((error: unknown) => {
  logger.error('failed', { error: error instanceof Error ? error.stack ?? error.message : String(error) });
  process.exitCode = 1;
});
