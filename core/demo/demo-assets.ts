/**
 * The recipe for the committed demo assets and the pure function that turns it into file bytes.
 * The build script writes these bytes; the tests rebuild them and compare hashes, so the recipe
 * and the code are the single source of truth for what is in assets/demo/.
 */

import { createHash } from 'node:crypto';
import { demoTokenizerConfig, DEMO_SPECIAL_TOKEN, trainByteLevelBpe, type HfTokenizerJson } from './bpe-trainer.js';
import { tokenizerFromJson } from '../tokenize/tokenizer.js';
import { DEMO_GENRES, generateDemoDocuments, type DemoGenre } from './corpus-generator.js';
import {
  buildDemoTransformerBytes, demoTransformerHooks, DEMO_IR_VERSION, DEMO_OPSET, resolveDemoTransformerConfig, type TokenGroupEmbedding,
  type ResolvedDemoTransformerConfig,
} from './transformer-builder.js';

export interface DemoAssetRecipe {
  corpusSeed: number;
  /** Documents generated (from index 0 of corpusSeed) to train the tokenizer on. */
  tokenizerTrainingDocs: number;
  vocabSize: number;
  modelSeed: number;
  dModel: number;
  nHeads: number;
  dHead: number;
  dMlp: number;
  maxPositions: number;
  /**
   * Weight of the genre directions in the token embeddings (see genreEmbedding); 0 leaves the
   * embeddings purely random.
   */
  genreEmbeddingScale: number;
  /** Per-head recency slopes of the attention scores (transformer-builder.ts, DemoModelShaping); empty for none. */
  attentionRecencySlopes: number[];
  /** Scale of the attention output weights (transformer-builder.ts, DemoModelShaping); 1 is plain random. */
  attentionOutputScale: number;
}

export const DEFAULT_DEMO_ASSET_RECIPE: Readonly<DemoAssetRecipe> = Object.freeze({
  corpusSeed: 1337,
  tokenizerTrainingDocs: 6000,
  vocabSize: 2048,
  modelSeed: 2023,
  dModel: 128,
  nHeads: 4,
  dHead: 32,
  dMlp: 512,
  maxPositions: 256,
  genreEmbeddingScale: 2,
  attentionRecencySlopes: [2, 1, 0.5, 0.25],
  attentionOutputScale: 4,
});

export const DEMO_ASSET_FILES = {
  tokenizer: 'tokenizer.json',
  tokenizerConfig: 'tokenizer_config.json',
  model: 'model.onnx',
  recipe: 'recipe.json',
} as const;

export interface DemoAssetFile {
  name: string;
  bytes: Uint8Array;
  description: string;
}

export interface BuiltDemoAssets {
  /** Artifacts in write order; recipe.json last, since it records the others' hashes. */
  files: DemoAssetFile[];
  recipeJson: DemoRecipeJson;
}

export interface DemoRecipeJson {
  name: string;
  description: string;
  builtBy: string;
  recipe: DemoAssetRecipe;
  corpus: { seed: number; docs: number; textBytes: number; genres: readonly string[] };
  tokenizer: { type: string; vocabSize: number; merges: number; specialTokens: Record<string, number>; bosTokenId: number };
  model: {
    config: ResolvedDemoTransformerConfig;
    opset: number;
    irVersion: number;
    inputs: { name: string; type: string; shape: (number | string)[] }[];
    outputs: { name: string; type: string; shape: (number | string)[] }[];
    hooks: { name: string; shape: (number | string)[] }[];
  };
  files: Record<string, { sha256: string; bytes: number; description: string }>;
}

export type DemoAssetLog = (event: string, fields: Record<string, unknown>) => void;

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function demoModelConfig(recipe: DemoAssetRecipe): ResolvedDemoTransformerConfig {
  const { vocabSize, modelSeed: seed, dModel, nHeads, dHead, dMlp, maxPositions } = recipe;
  return resolveDemoTransformerConfig({ vocabSize, seed, dModel, nHeads, dHead, dMlp, maxPositions });
}

/**
 * The demo model is not trained. A trained model's embeddings put tokens of the same kind of text
 * close together; this stands in for that: each token's embedding adds the genre directions in
 * proportion to how often the token occurs in each genre of the tokenizer's training documents
 * (transformer-builder.ts, TokenGroupEmbedding). Nothing downstream is told about it: the
 * dictionary and the statistics must find the genres on their own.
 */
function genreEmbedding(recipe: DemoAssetRecipe, tokenizerJson: HfTokenizerJson, docs: { text: string; genre: string }[]): TokenGroupEmbedding | undefined {
  if (!recipe.genreEmbeddingScale) return undefined;
  const tokenizer = tokenizerFromJson(tokenizerJson as unknown as Record<string, unknown>, 'the demo tokenizer');
  const groups = DEMO_GENRES.length;
  const mix = new Float32Array(recipe.vocabSize * groups);
  for (const d of docs) {
    const g = DEMO_GENRES.indexOf(d.genre as DemoGenre);
    for (const id of tokenizer.encode(d.text)) mix[id * groups + g]++;
  }
  for (let t = 0; t < recipe.vocabSize; t++) {
    let total = 0;
    for (let g = 0; g < groups; g++) total += mix[t * groups + g];
    if (total > 0) for (let g = 0; g < groups; g++) mix[t * groups + g] /= total;
  }
  return { groups, mix, scale: recipe.genreEmbeddingScale };
}

const encodeJson = (value: unknown) => new TextEncoder().encode(JSON.stringify(value, null, 2) + '\n');

export function buildDemoAssets(recipe: DemoAssetRecipe = DEFAULT_DEMO_ASSET_RECIPE, log: DemoAssetLog = () => {}): BuiltDemoAssets {
  let started = performance.now();
  const lap = () => {
    const ms = Math.round(performance.now() - started);
    started = performance.now();
    return ms;
  };

  const docs = generateDemoDocuments({ count: recipe.tokenizerTrainingDocs, seed: recipe.corpusSeed });
  const texts = docs.map((d) => d.text);
  const textBytes = texts.reduce((sum, t) => sum + Buffer.byteLength(t), 0);
  log('corpus_generated', { docs: texts.length, textBytes, ms: lap() });

  const trained = trainByteLevelBpe(texts, { vocabSize: recipe.vocabSize, specialTokens: [DEMO_SPECIAL_TOKEN] });
  if (trained.vocabSize !== recipe.vocabSize) {
    throw new Error(`tokenizer stopped at ${trained.vocabSize} tokens, recipe wants ${recipe.vocabSize}: train on more text`);
  }
  log('tokenizer_trained', { vocabSize: trained.vocabSize, merges: trained.mergeCount, distinctWords: trained.distinctWords, ms: lap() });

  const modelConfig = demoModelConfig(recipe);
  const tokenGroups = genreEmbedding(recipe, trained.tokenizer, docs);
  const modelBytes = buildDemoTransformerBytes(modelConfig, {
    ...(tokenGroups && { tokenGroups }),
    ...(recipe.attentionRecencySlopes.length > 0 && { recencySlopes: recipe.attentionRecencySlopes }),
    attentionOutputScale: recipe.attentionOutputScale,
  });
  log('model_built', { bytes: modelBytes.length, ms: lap() });

  const files: DemoAssetFile[] = [
    {
      name: DEMO_ASSET_FILES.tokenizer,
      bytes: encodeJson(trained.tokenizer),
      description: `Hugging Face tokenizer.json: byte-level BPE, ${trained.vocabSize} tokens, ${DEMO_SPECIAL_TOKEN} = id 0 (BOS and document separator).`,
    },
    {
      name: DEMO_ASSET_FILES.tokenizerConfig,
      bytes: encodeJson(demoTokenizerConfig(recipe.maxPositions)),
      description: 'tokenizer_config.json for @huggingface/tokenizers / transformers; turns off clean_up_tokenization_spaces so decode is exact.',
    },
    {
      name: DEMO_ASSET_FILES.model,
      bytes: modelBytes,
      description: `ONNX (opset ${DEMO_OPSET}) one-layer transformer with random weights (token embeddings carry genre directions, see recipe.genreEmbeddingScale); input input_ids int64 [batch, seq<=${recipe.maxPositions}], output logits float32 [batch, seq, ${recipe.vocabSize}]; TransformerLens hook names.`,
    },
  ];

  const recipeJson: DemoRecipeJson = {
    name: 'thresher-demo',
    description: 'Offline demo assets: a synthetic 8-genre corpus recipe, a tokenizer trained on it, and an untrained one-layer transformer whose token embeddings carry genre directions (standing in for what training teaches). Rebuild with `node dist/scripts/build-demo-assets.js`.',
    builtBy: 'scripts/build-demo-assets.ts',
    recipe: { ...recipe },
    corpus: { seed: recipe.corpusSeed, docs: texts.length, textBytes, genres: DEMO_GENRES },
    tokenizer: {
      type: 'ByteLevel BPE',
      vocabSize: trained.vocabSize,
      merges: trained.mergeCount,
      specialTokens: { [DEMO_SPECIAL_TOKEN]: 0 },
      bosTokenId: 0,
    },
    model: {
      config: modelConfig,
      opset: DEMO_OPSET,
      irVersion: DEMO_IR_VERSION,
      inputs: [{ name: 'input_ids', type: 'int64', shape: ['batch', 'seq'] }],
      outputs: [{ name: 'logits', type: 'float32', shape: ['batch', 'seq', recipe.vocabSize] }],
      hooks: demoTransformerHooks(modelConfig),
    },
    files: Object.fromEntries(files.map((f) => [f.name, { sha256: sha256Hex(f.bytes), bytes: f.bytes.length, description: f.description }])),
  };
  files.push({ name: DEMO_ASSET_FILES.recipe, bytes: encodeJson(recipeJson), description: 'This recipe: seeds, sizes and hashes of the other files.' });
  return { files, recipeJson };
}
