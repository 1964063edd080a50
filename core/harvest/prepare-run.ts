import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { checkProviderForWorkers } from '../config/provider-check.js';
import { ConfigError, isS3Uri, parseRunConfig, parseS3Uri, type RunConfig } from '../config/run-config.js';
import { listCorpusShards } from '../corpus/shard-source.js';
import { resolveHooks } from '../model/onnx-graph.js';
import type { Logger } from '../logging.js';
import { resolveArtifact } from '../storage/artifact-cache.js';
import type { ObjectStore } from '../storage/object-store.js';
import { loadTokenizer } from '../tokenize/tokenizer.js';

export interface PreparedRun {
  config: RunConfig;
  shardCount: number;
}

/**
 * Everything that can be checked before a run starts is checked here, so a bad config, a missing
 * model, tokenizer, corpus or bucket, or a misspelt hook fails in the user's terminal, not in a
 * worker an hour later. The returned config is what workers will read: absolute local paths and
 * pinned sha256 of the model and tokenizer.
 */
export async function prepareRun(configFile: string, store: ObjectStore, cacheDir: string, log: Logger): Promise<PreparedRun> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(configFile, 'utf8'));
  } catch (err) {
    throw new ConfigError(`config ${configFile} cannot be read as JSON: ${(err as Error).message}`);
  }
  const parsed = parseRunConfig(raw, `config ${configFile}`);
  const base = path.dirname(path.resolve(configFile));
  const local = (p: string): string => (isS3Uri(p) ? p : path.resolve(base, p));
  const config: RunConfig = {
    ...parsed,
    runId: parsed.runId ?? defaultRunId(parsed.corpus.path),
    model: { ...parsed.model, path: local(parsed.model.path) },
    tokenizer: { ...parsed.tokenizer, path: local(parsed.tokenizer.path) },
    corpus: { ...parsed.corpus, path: local(parsed.corpus.path) },
  };

  await store.assertBucket(parseS3Uri(config.output.path).bucket).catch((err: Error) => {
    throw new ConfigError(`output.path ${config.output.path}: ${err.message}`);
  });

  const model = await resolveArtifact(config.model.path, 'model', store, cacheDir, config.model.sha256).catch(asConfigError('model.path'));
  resolveHooks(new Uint8Array(await readFile(model.path)), config.hooks);
  checkProviderForWorkers(config.model.executionProvider, 'model.executionProvider', log);
  if (config.train) checkProviderForWorkers(config.train.executionProvider, 'train.executionProvider', log);
  if (config.stats?.executionProvider) checkProviderForWorkers(config.stats.executionProvider, 'stats.executionProvider', log);

  const tokenizerFile = await resolveArtifact(config.tokenizer.path, 'tokenizer', store, cacheDir, config.tokenizer.sha256).catch(asConfigError('tokenizer.path'));
  const tokenizer = await loadTokenizer(tokenizerFile.path).catch(asConfigError('tokenizer.path'));
  if (config.tokenizer.bos !== 'none' && tokenizer.tokenId(config.tokenizer.bosToken!) === undefined) {
    throw new ConfigError(`tokenizer.bosToken "${config.tokenizer.bosToken}" is not in ${config.tokenizer.path}; set it to the model's BOS token or set tokenizer.bos to "none"`);
  }

  const shards = await listCorpusShards(config.corpus.path, store).catch(asConfigError('corpus.path'));
  config.model.sha256 = model.sha256;
  config.tokenizer.sha256 = tokenizerFile.sha256;
  return { config, shardCount: shards.length };
}

const asConfigError = (field: string) => (err: Error): never => {
  throw new ConfigError(`${field}: ${err.message}`);
};

function defaultRunId(corpus: string): string {
  const stem = path.basename(corpus.replace(/\/+$/, '')).replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 40) || 'run';
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${stem}-${stamp}`;
}
