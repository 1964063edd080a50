// A trained dictionary on disk, in SAELens' folder layout: `sae_weights.safetensors` (W_enc,
// W_dec, b_enc, b_dec in SAELens orientation) beside `cfg.json`. SAELens-readable keys come
// first; what only Thresher knows (loss normalisation, optimiser settings) sits under "thresher".
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeSafetensors, encodeSafetensors, SafetensorsError } from './safetensors.js';
import { LOSS_NORMALISATION, type ResolvedSaeConfig } from './sae-config.js';
import { assertWeightShapes, paramShape, SAE_PARAM_NAMES, type SaeWeights } from './sae-weights.js';

export const SAE_WEIGHTS_FILE = 'sae_weights.safetensors';
export const SAE_CONFIG_FILE = 'cfg.json';

/** Describes where the activations came from; written into cfg.json under SAELens' names. */
export interface DictionaryProvenance {
  /** e.g. 'blocks.0.mlp.hook_post'. */
  hookName?: string;
  modelName?: string;
  contextSize?: number;
  /** Anything else to record (run id, dataset path), kept under "thresher". */
  extra?: Record<string, unknown>;
}

export function dictionaryConfigJson(cfg: ResolvedSaeConfig, provenance: DictionaryProvenance = {}, trainedTokens?: number): Record<string, unknown> {
  return {
    architecture: cfg.arch === 'topk' ? 'topk' : 'standard',
    d_in: cfg.dIn,
    d_sae: cfg.dSae,
    dtype: 'float32',
    device: 'cpu',
    apply_b_dec_to_input: true,
    normalize_activations: 'none',
    // Older SAELens read the activation from these; newer ones from architecture + k.
    activation_fn_str: cfg.arch === 'topk' ? 'topk' : 'relu',
    activation_fn_kwargs: cfg.arch === 'topk' ? { k: cfg.k } : {},
    ...(cfg.arch === 'topk' && { k: cfg.k }),
    ...(provenance.hookName !== undefined && { hook_name: provenance.hookName }),
    ...(provenance.modelName !== undefined && { model_name: provenance.modelName }),
    ...(provenance.contextSize !== undefined && { context_size: provenance.contextSize }),
    thresher: {
      config: cfg,
      loss: LOSS_NORMALISATION,
      ...(trainedTokens !== undefined && { trained_tokens: trainedTokens }),
      ...provenance.extra,
    },
  };
}

export function encodeDictionaryWeights(w: SaeWeights): Uint8Array {
  assertWeightShapes(w);
  const tensors = Object.fromEntries(SAE_PARAM_NAMES.map((n) => [n, { shape: paramShape(n, w.dIn, w.dSae), data: w[n] }]));
  return encodeSafetensors({ tensors, metadata: { format: 'pt' } });
}

export function decodeDictionaryWeights(bytes: Uint8Array): SaeWeights {
  const { tensors } = decodeSafetensors(bytes);
  for (const n of SAE_PARAM_NAMES) if (!tensors[n]) throw new SafetensorsError(`dictionary has no tensor ${n} (found ${Object.keys(tensors).join(', ')})`);
  const [dIn, dSae] = tensors.W_enc.shape;
  const w: SaeWeights = { dIn, dSae, W_enc: tensors.W_enc.data, W_dec: tensors.W_dec.data, b_enc: tensors.b_enc.data, b_dec: tensors.b_dec.data };
  for (const n of SAE_PARAM_NAMES) {
    if (JSON.stringify(tensors[n].shape) !== JSON.stringify(paramShape(n, dIn, dSae))) {
      throw new SafetensorsError(`tensor ${n} has shape ${JSON.stringify(tensors[n].shape)}; W_enc ${dIn}×${dSae} implies ${JSON.stringify(paramShape(n, dIn, dSae))}`);
    }
  }
  return w;
}

/** Writes both files into `dir` (created if missing); returns their paths. */
export async function writeSaeDictionary(
  dir: string, w: SaeWeights, cfg: ResolvedSaeConfig, provenance: DictionaryProvenance = {}, trainedTokens?: number,
): Promise<{ weightsPath: string; configPath: string }> {
  await mkdir(dir, { recursive: true });
  const weightsPath = join(dir, SAE_WEIGHTS_FILE);
  const configPath = join(dir, SAE_CONFIG_FILE);
  await writeFile(weightsPath, encodeDictionaryWeights(w));
  await writeFile(configPath, `${JSON.stringify(dictionaryConfigJson(cfg, provenance, trainedTokens), null, 2)}\n`);
  return { weightsPath, configPath };
}

export async function readSaeDictionary(dir: string): Promise<{ weights: SaeWeights; config: Record<string, unknown> }> {
  const [bytes, json] = await Promise.all([readFile(join(dir, SAE_WEIGHTS_FILE)), readFile(join(dir, SAE_CONFIG_FILE), 'utf8')]);
  return { weights: decodeDictionaryWeights(bytes), config: JSON.parse(json) as Record<string, unknown> };
}
