/**
 * The recipe for the committed demo assets and the pure function that turns it into file bytes.
 * The build script writes these bytes; the tests rebuild them and compare hashes, so the recipe
 * and the code are the single source of truth for what is in assets/demo/.
 */

import { createHash } from 'node:crypto';
import type { BosMode } from '../tokenize/context-packer.js';
import { demoTokenizerConfig, DEMO_SPECIAL_TOKEN, trainByteLevelBpe } from './bpe-trainer.js';
import { DEMO_GENRES, generateDemoDocuments } from './corpus-generator.js';
import {
  buildDemoTransformerBytes, demoTransformerHooks, DEMO_IR_VERSION, DEMO_OPSET, resolveDemoTransformerConfig,
  type ResolvedDemoTransformerConfig,
} from './transformer-builder.js';

export interface DemoAssetRecipe {
  corpusSeed: number;
  /** Documents generated (from index 0 of corpusSeed) to train the tokenizer on. */
  tokenizerTrainingDocs: number;
  vocabSize: number;
  /**
   * Seed and count of the documents the transformer is trained on (scripts/export-demo-training-tokens.ts,
   * then scripts/train-demo-transformer.py); the demo corpus (seeds 1 and 2) and the tokenizer's
   * documents (corpusSeed) never overlap them.
   */
  trainingCorpusSeed: number;
  trainingDocs: number;
  dModel: number;
  nHeads: number;
  dHead: number;
  dMlp: number;
  nLayers: number;
  maxPositions: number;
}

export const DEFAULT_DEMO_ASSET_RECIPE: Readonly<DemoAssetRecipe> = Object.freeze({
  corpusSeed: 1337,
  tokenizerTrainingDocs: 6000,
  vocabSize: 2048,
  trainingCorpusSeed: 2024,
  trainingDocs: 60000,
  dModel: 128,
  nHeads: 4,
  dHead: 32,
  dMlp: 512,
  nLayers: 1,
  maxPositions: 256,
});

/**
 * How the demo packs documents into contexts, in training and in the harvest alike: the separator
 * token before every document, so the model (like GPT-2) sees where one ends and the next begins.
 */
export const DEMO_BOS_MODE: BosMode = 'document';

/** Files in assets/demo/: the first two are built here, the trained weights and their log are inputs. */
export const DEMO_ASSET_FILES = {
  tokenizer: 'tokenizer.json',
  tokenizerConfig: 'tokenizer_config.json',
  model: 'model.onnx',
  recipe: 'recipe.json',
  trainedWeights: 'trained-weights.bin',
  trainingLog: 'training-log.json',
} as const;

/** What scripts/train-demo-transformer.py wrote: the weights file and its training log, as bytes. */
export interface TrainedDemoWeights {
  weights: Uint8Array;
  trainingLog: Uint8Array;
}

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
  /** The training script's outputs this model was built from. */
  inputs: Record<string, { sha256: string; bytes: number; description: string }>;
}

export type DemoAssetLog = (event: string, fields: Record<string, unknown>) => void;

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function demoModelConfig(recipe: DemoAssetRecipe): ResolvedDemoTransformerConfig {
  const { vocabSize, dModel, nHeads, dHead, dMlp, nLayers, maxPositions } = recipe;
  return resolveDemoTransformerConfig({ vocabSize, dModel, nHeads, dHead, dMlp, nLayers, maxPositions });
}

const encodeJson = (value: unknown) => new TextEncoder().encode(JSON.stringify(value, null, 2) + '\n');

/** The tokenizer files alone: the training tokens are exported with them before any model exists. */
export function buildDemoTokenizerFiles(recipe: DemoAssetRecipe = DEFAULT_DEMO_ASSET_RECIPE, log: DemoAssetLog = () => {}): {
  files: DemoAssetFile[];
  corpus: DemoRecipeJson['corpus'];
  tokenizer: DemoRecipeJson['tokenizer'];
} {
  let started = performance.now();
  const docs = generateDemoDocuments({ count: recipe.tokenizerTrainingDocs, seed: recipe.corpusSeed });
  const texts = docs.map((d) => d.text);
  const textBytes = texts.reduce((sum, t) => sum + Buffer.byteLength(t), 0);
  log('corpus_generated', { docs: texts.length, textBytes, ms: Math.round(performance.now() - started) });

  started = performance.now();
  const trained = trainByteLevelBpe(texts, { vocabSize: recipe.vocabSize, specialTokens: [DEMO_SPECIAL_TOKEN] });
  if (trained.vocabSize !== recipe.vocabSize) {
    throw new Error(`tokenizer stopped at ${trained.vocabSize} tokens, recipe wants ${recipe.vocabSize}: train on more text`);
  }
  log('tokenizer_trained', { vocabSize: trained.vocabSize, merges: trained.mergeCount, distinctWords: trained.distinctWords, ms: Math.round(performance.now() - started) });
  return {
    files: [
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
    ],
    corpus: { seed: recipe.corpusSeed, docs: texts.length, textBytes, genres: DEMO_GENRES },
    tokenizer: { type: 'ByteLevel BPE', vocabSize: trained.vocabSize, merges: trained.mergeCount, specialTokens: { [DEMO_SPECIAL_TOKEN]: 0 }, bosTokenId: 0 },
  };
}

/** The weights file as float32 values (the training script writes little-endian, as every platform Node runs on is). */
function demoWeightValues(bytes: Uint8Array): Float32Array {
  if (bytes.length % 4 !== 0) throw new RangeError(`${DEMO_ASSET_FILES.trainedWeights} has ${bytes.length} bytes, not a whole number of float32 values`);
  return new Float32Array(bytes.slice().buffer);
}

export function buildDemoAssets(trained: TrainedDemoWeights, recipe: DemoAssetRecipe = DEFAULT_DEMO_ASSET_RECIPE, log: DemoAssetLog = () => {}): BuiltDemoAssets {
  const { files, corpus, tokenizer } = buildDemoTokenizerFiles(recipe, log);
  const modelConfig = demoModelConfig(recipe);
  const started = performance.now();
  const modelBytes = buildDemoTransformerBytes(modelConfig, demoWeightValues(trained.weights));
  log('model_built', { bytes: modelBytes.length, ms: Math.round(performance.now() - started) });
  files.push({
    name: DEMO_ASSET_FILES.model,
    bytes: modelBytes,
    description: `ONNX (opset ${DEMO_OPSET}) ${recipe.nLayers}-block transformer trained on the demo corpus (${DEMO_ASSET_FILES.trainingLog}); input input_ids int64 [batch, seq<=${recipe.maxPositions}], output logits float32 [batch, seq, ${recipe.vocabSize}]; TransformerLens hook names.`,
  });

  const describe = (f: { bytes: Uint8Array; description: string }) => ({ sha256: sha256Hex(f.bytes), bytes: f.bytes.length, description: f.description });
  const recipeJson: DemoRecipeJson = {
    name: 'thresher-demo',
    description: 'Offline demo assets: a synthetic 8-genre corpus recipe, a tokenizer trained on it, and a small transformer trained on it by next-token prediction. See README "Demo assets" for how to rebuild them.',
    builtBy: 'scripts/build-demo-assets.ts',
    recipe: { ...recipe },
    corpus,
    tokenizer,
    model: {
      config: modelConfig,
      opset: DEMO_OPSET,
      irVersion: DEMO_IR_VERSION,
      inputs: [{ name: 'input_ids', type: 'int64', shape: ['batch', 'seq'] }],
      outputs: [{ name: 'logits', type: 'float32', shape: ['batch', 'seq', recipe.vocabSize] }],
      hooks: demoTransformerHooks(modelConfig),
    },
    files: Object.fromEntries(files.map((f) => [f.name, describe(f)])),
    inputs: {
      [DEMO_ASSET_FILES.trainedWeights]: describe({ bytes: trained.weights, description: 'float32 weights from scripts/train-demo-transformer.py, in the builder\'s weight order.' }),
      [DEMO_ASSET_FILES.trainingLog]: describe({ bytes: trained.trainingLog, description: 'How those weights were trained: data, optimiser, loss curve, and a check context.' }),
    },
  };
  files.push({ name: DEMO_ASSET_FILES.recipe, bytes: encodeJson(recipeJson), description: 'This recipe: seeds, sizes and hashes of the other files.' });
  return { files, recipeJson };
}
