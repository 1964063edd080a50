import { ConfigError, type RunConfig } from '../config/run-config.js';
import { openInferenceWorker, type InferenceWorker } from '../model/inference-worker.js';
import { resolveArtifact } from '../storage/artifact-cache.js';
import type { ObjectStore } from '../storage/object-store.js';
import { loadTokenizer, type TextTokenizer } from '../tokenize/tokenizer.js';
import type { InferenceModel } from './inference-model.js';

export interface LoadedRun {
  model: InferenceModel;
  modelSha256: string;
  tokenizer: TextTokenizer;
}

/**
 * Models and tokenizers a worker process has opened, shared by every shard it harvests: a model
 * is loaded once per (file, hooks, provider), not once per shard. One inference thread per model
 * keeps the accelerator (or the cores) busy with one batch at a time, which is what it does best.
 */
export class RunResources {
  private models = new Map<string, Promise<{ worker: InferenceWorker; model: InferenceModel; probed: Map<number, Promise<void>> }>>();
  private tokenizers = new Map<string, Promise<TextTokenizer>>();

  constructor(
    private readonly store: ObjectStore,
    private readonly cacheDir: string,
  ) {}

  async forRun(config: RunConfig): Promise<LoadedRun> {
    const [modelFile, tokenizerFile] = await Promise.all([
      resolveArtifact(config.model.path, 'model', this.store, this.cacheDir, config.model.sha256),
      resolveArtifact(config.tokenizer.path, 'tokenizer', this.store, this.cacheDir, config.tokenizer.sha256),
    ]);
    const tokenizer = await this.cached(this.tokenizers, tokenizerFile.sha256, () => loadTokenizer(tokenizerFile.path));
    const key = JSON.stringify([modelFile.sha256, config.hooks, config.model.executionProvider, config.model.intraOpThreads, config.model.inputName]);
    const { model, probed } = await this.cached(this.models, key, async () => {
      const worker = await openInferenceWorker({
        modelPath: modelFile.path,
        hooks: config.hooks,
        executionProvider: config.model.executionProvider,
        intraOpThreads: config.model.intraOpThreads || undefined,
        inputName: config.model.inputName,
      });
      return { worker, model: { widths: tokenWidths(worker, config.hooks), run: (ids, b, s, onComputed) => worker.run(ids, b, s, onComputed), recycle: (out) => worker.recycle(out) }, probed: new Map() };
    });
    await this.cached(probed, config.contextLength, () => probeContextLength(model, config.contextLength));
    return { model, modelSha256: modelFile.sha256, tokenizer };
  }

  async close(): Promise<void> {
    const models = [...this.models.values()];
    this.models.clear();
    await Promise.all(models.map(async (m) => (await m.catch(() => undefined))?.worker.close()));
  }

  /** Caches the promise so concurrent shards share one load; a failed load is not cached. */
  private cached<K, T>(map: Map<K, Promise<T>>, key: K, load: () => Promise<T>): Promise<T> {
    let p = map.get(key);
    if (!p) {
      p = load();
      map.set(key, p);
      p.catch(() => map.delete(key));
    }
    return p;
  }
}

/**
 * One context of token id 0 through the model: a model that cannot take contexts this long
 * (e.g. a positional table of 256 rows) fails here with a message that says so, once, instead of
 * as an opaque ORT error on every shard.
 */
async function probeContextLength(model: InferenceModel, contextLength: number): Promise<void> {
  try {
    await model.run(new BigInt64Array(contextLength), 1, contextLength);
  } catch (err) {
    throw new ConfigError(`contextLength ${contextLength}: the model cannot run a context this long (${(err as Error).message.split('\n')[0]})`);
  }
}

/** Harvested hooks must be per-token vectors: [batch, seq, width] with a fixed width. */
function tokenWidths(worker: InferenceWorker, hooks: string[]): Record<string, number> {
  const widths: Record<string, number> = {};
  for (const h of hooks) {
    const info = worker.info.hooks.find((x) => x.name === h);
    const w = worker.info.widths[h];
    if (w === null || w === undefined || (info?.shape && info.shape.length !== 3)) {
      void worker.close();
      throw new ConfigError(`hook ${h} is not a per-token vector [batch, seq, width] (shape ${JSON.stringify(info?.shape ?? null)}); pick a residual, MLP or attention-output tensor`);
    }
    widths[h] = w;
  }
  return widths;
}
