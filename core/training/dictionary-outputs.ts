// The finished dictionary in S3, in SAELens' layout plus what the statistics stage runs:
//   sae_weights.safetensors   W_enc, W_dec, b_enc, b_dec (SAELens names and orientation)
//   cfg.json                  SAELens keys + provenance (run, hook, normalisation scale) under "thresher"
//   encoder.onnx              x → feature_acts (+ sq_error), batch dimension symbolic
// Weights are stored with the input scale folded in (input-normalisation.ts), so all three take
// raw activations as the run stored them.
import type { RunConfig } from '../config/run-config.js';
import { dictionaryConfigJson, encodeDictionaryWeights } from '../sae/sae-dictionary-files.js';
import type { ResolvedSaeConfig } from '../sae/sae-config.js';
import { buildSaeEncoderModel } from '../sae/sae-encoder-model.js';
import type { SaeWeights } from '../sae/sae-weights.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { RunLayout } from '../storage/run-layout.js';
import { foldInputScale } from './input-normalisation.js';
import type { DictionaryConfig } from './training-config.js';

export interface DictionaryOutputKeys {
  weights: string;
  config: string;
  encoder: string;
}

export async function writeDictionaryOutputs(
  store: ObjectStore,
  layout: RunLayout,
  c: DictionaryConfig,
  sae: ResolvedSaeConfig,
  trained: SaeWeights,
  info: { scale: number; tokens: number; steps: number; resampleEvents: number; resampledFeatures: number },
  signal?: AbortSignal,
): Promise<DictionaryOutputKeys> {
  const weights = foldInputScale(trained, info.scale);
  // The harvest's config names the model and context length; a run written by other tools may lack it.
  const run = await store.getJsonIfExists<RunConfig>(layout.bucket, layout.configKey, signal);
  const cfg = dictionaryConfigJson(
    sae,
    {
      hookName: c.hook,
      ...(run && { modelName: run.model.path.split('/').pop()!.replace(/\.onnx$/, ''), contextSize: run.contextLength }),
      extra: {
        run_id: layout.runId,
        run_uri: layout.uri,
        ...(run?.model.sha256 && { model_sha256: run.model.sha256 }),
        sweep_id: c.sweepId,
        training_id: c.trainingId,
        steps: info.steps,
        seed: c.seed,
        normalisation: {
          enabled: c.normalise,
          scale: info.scale,
          folded: true,
          note: 'weights take raw activations: W_enc = s*W_enc_trained, W_dec = W_dec_trained/s, b_dec = b_dec_trained/s',
        },
        resample: { ...c.resample, events: info.resampleEvents, features: info.resampledFeatures },
        encoder_onnx: 'encoder.onnx',
      },
    },
    info.tokens,
  );
  const keys: DictionaryOutputKeys = {
    weights: layout.dictionaryWeightsKey(c.trainingId),
    config: layout.dictionaryConfigKey(c.trainingId),
    encoder: layout.dictionaryEncoderKey(c.trainingId),
  };
  await store.put(layout.bucket, keys.weights, encodeDictionaryWeights(weights), { contentType: 'application/octet-stream', signal });
  await store.put(layout.bucket, keys.config, new TextEncoder().encode(`${JSON.stringify(cfg, null, 2)}\n`), { contentType: 'application/json', signal });
  const encoder = buildSaeEncoderModel(weights, { arch: sae.arch, k: sae.k, withReconstructionError: true });
  await store.put(layout.bucket, keys.encoder, encoder, { contentType: 'application/octet-stream', signal });
  return keys;
}
