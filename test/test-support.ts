// Shared helpers for the tests that run real harvests: a private local stack (Temporal dev server +
// SeaweedFS S3), one workflow bundle per test file, in-process workers, config files and the demo
// corpus in S3, and bounded condition polls. Not a test file itself (no `.test.` in its name).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, type WorkflowBundle } from '@temporalio/worker';
import type { Services } from '../cli/services.js';
import type { RunConfigInput } from '../core/config/run-config.js';
import { serviceSettingsFromEnv } from '../core/config/service-settings.js';
import { generateDemoCorpus } from '../core/demo/corpus-generator.js';
import type { ShardManifest } from '../core/harvest/shard-manifest.js';
import type { Logger } from '../core/logging.js';
import { createS3Client, ObjectStore } from '../core/storage/object-store.js';
import type { RunLayout } from '../core/storage/run-layout.js';
import type { HarvestResult } from '../workflows/harvest-types.js';
import { startTestStack, type LocalStackEndpoints, type TestStack } from '../infra/local-stack.js';
import { connectClient } from '../workers/temporal-connection.js';
import { createWorkerSet, workflowsPath, type WorkerRole } from '../workers/harvest-workers.js';
import { installTemporalRuntime } from '../workers/runtime.js';
import type { WorkerMetrics } from '../workers/worker-metrics.js';

/** The repository root (dist/test/ → ../..). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DEMO_MODEL = path.join(REPO_ROOT, 'assets/demo/model.onnx');
export const DEMO_TOKENIZER = path.join(REPO_ROOT, 'assets/demo/tokenizer.json');
export const THRESHER_CLI = path.join(REPO_ROOT, 'dist/cli/thresher.js');
export const MLP_HOOK = 'blocks.0.mlp.hook_post';
export const RESID_HOOK = 'blocks.0.hook_resid_post';
export const HOOK_WIDTHS: Record<string, number> = { [MLP_HOOK]: 512, [RESID_HOOK]: 128 };
/** Id of '<|endoftext|>' in the demo tokenizer. */
export const DEMO_BOS_ID = 0;

/** Logs only warnings and errors, so test output stays readable. */
export const quietLog: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (msg, fields) => process.stderr.write(`${JSON.stringify({ level: 'warn', msg, ...fields })}\n`),
  error: (msg, fields) => process.stderr.write(`${JSON.stringify({ level: 'error', msg, ...fields })}\n`),
};

export interface Harness {
  dir: string;
  stack: TestStack;
  endpoints: LocalStackEndpoints;
  bucket: string;
  store: ObjectStore;
  services: Services;
  client: Client;
  connection: NativeConnection;
  bundle: WorkflowBundle;
  /** Environment for a child `thresher worker` process pointed at this stack. */
  childEnv(home: string): NodeJS.ProcessEnv;
  /** Starts in-process workers; stopped by close() if the test does not stop them. */
  startWorkers(roles: WorkerRole[], opts?: { harvestSlots?: number; metrics?: WorkerMetrics }): Promise<RunningWorkers>;
  /** Terminates the given workflow at close() if it is still running (keeps after() quick on failure). */
  track(handle: WorkflowHandle): void;
  close(): Promise<void>;
}

export interface RunningWorkers {
  stop(): Promise<void>;
}

/**
 * Starts a private stack under a fresh temp dir, points the AWS SDK's default chain at it, bundles
 * the workflows once and connects a client. Call close() in after(); if opening fails half way,
 * what was started is stopped before the error is rethrown.
 */
/** A local stack for tests that need only S3: its store, bucket and a cleanup. */
export interface S3Stack {
  dir: string;
  stack: TestStack;
  store: ObjectStore;
  bucket: string;
  close(): Promise<void>;
}

export async function openS3Stack(name: string): Promise<S3Stack> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `thresher-${name}-`));
  const stack = await startTestStack(dir);
  const e = stack.endpoints;
  process.env.AWS_ACCESS_KEY_ID = e.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = e.secretAccessKey;
  const store = new ObjectStore(createS3Client({ endpoint: e.s3Endpoint, region: 'us-east-1', forcePathStyle: true, maxAttempts: 3 }));
  return {
    dir, stack, store, bucket: e.bucket,
    async close() {
      store.client.destroy();
      await stack.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function openHarness(name: string): Promise<Harness> {
  installTemporalRuntime();
  const dir = await mkdtemp(path.join(os.tmpdir(), `thresher-${name}-`));
  let stack: TestStack | undefined;
  let store: ObjectStore | undefined;
  let client: Client | undefined;
  let connection: NativeConnection | undefined;
  const tracked: WorkflowHandle[] = [];
  const running = new Set<RunningWorkers>();

  // Each step runs even when an earlier one failed; the first error is rethrown at the end.
  const close = async (): Promise<void> => {
    const errors: unknown[] = [];
    const step = async (fn: () => Promise<unknown> | unknown) => {
      try {
        await fn();
      } catch (err) {
        errors.push(err);
      }
    };
    // A still-running harvest would hold worker shutdown for its grace time: end it first.
    for (const h of tracked) {
      await step(async () => {
        const d = await h.describe();
        if (d.status.name === 'RUNNING') await h.terminate('test cleanup');
      });
    }
    for (const w of [...running]) await step(() => w.stop());
    await step(() => client?.connection.close());
    await step(() => connection?.close());
    await step(() => store?.client.destroy());
    await step(() => stack?.stop());
    await step(() => rm(dir, { recursive: true, force: true }));
    if (errors.length) throw errors[0];
  };

  try {
    stack = await startTestStack(path.join(dir, 'stack'));
    const endpoints = stack.endpoints;
    process.env.AWS_ACCESS_KEY_ID = endpoints.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = endpoints.secretAccessKey;
    const s3 = new ObjectStore(createS3Client({ endpoint: endpoints.s3Endpoint, region: endpoints.s3Region, forcePathStyle: true, maxAttempts: 3 }));
    store = s3;
    const home = path.join(dir, 'home');
    const settings = serviceSettingsFromEnv({
      THRESHER_HOME: home,
      TEMPORAL_ADDRESS: endpoints.temporalAddress,
      TEMPORAL_NAMESPACE: endpoints.namespace,
      THRESHER_S3_ENDPOINT: endpoints.s3Endpoint,
      AWS_REGION: endpoints.s3Region,
    });
    const services: Services = {
      settings: { ...settings, temporal: { ...settings.temporal, address: endpoints.temporalAddress } },
      store: s3,
      defaultOutput: `s3://${endpoints.bucket}/runs`,
    };
    const c = await connectClient(services.settings.temporal);
    client = c;
    const conn = await NativeConnection.connect({ address: endpoints.temporalAddress });
    connection = conn;
    const bundle = await bundleWorkflowCode({ workflowsPath: workflowsPath(), logger: new DefaultLogger('WARN') });

    return {
      dir,
      stack,
      endpoints,
      bucket: endpoints.bucket,
      store: s3,
      services,
      client: c,
      connection: conn,
      bundle,
      childEnv: (childHome) => ({
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        TEMPORAL_ADDRESS: endpoints.temporalAddress,
        TEMPORAL_NAMESPACE: endpoints.namespace,
        THRESHER_S3_ENDPOINT: endpoints.s3Endpoint,
        AWS_ACCESS_KEY_ID: endpoints.accessKeyId,
        AWS_SECRET_ACCESS_KEY: endpoints.secretAccessKey,
        AWS_REGION: endpoints.s3Region,
        THRESHER_HOME: childHome,
        THRESHER_LOG_LEVEL: 'warn',
        // Free ports: never collide with a developer's worker or another child on the defaults.
        THRESHER_METRICS_ADDRESS: '127.0.0.1:0',
        THRESHER_TEMPORAL_METRICS_ADDRESS: '127.0.0.1:0',
      }),
      async startWorkers(roles, opts = {}) {
        const set = await createWorkerSet({
          connection: conn,
          namespace: endpoints.namespace,
          store: s3,
          roles,
          cacheDir: path.join(home, 'cache'),
          harvestSlots: opts.harvestSlots ?? 2,
          workflowBundle: bundle,
          metrics: opts.metrics,
        });
        let failure: unknown;
        const done = set.run().catch((err) => void (failure = err));
        const handle: RunningWorkers = {
          async stop() {
            if (!running.delete(handle)) return;
            set.shutdown();
            await done;
            if (failure) throw failure;
          },
        };
        running.add(handle);
        return handle;
      },
      track: (h) => void tracked.push(h),
      close,
    };
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
}

/** Writes a run config as JSON under `dir` and returns its path. */
export async function writeConfig(dir: string, name: string, config: RunConfigInput | Record<string, unknown>): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  await writeFile(file, JSON.stringify(config, null, 2));
  return file;
}

/** A run config over the demo model and tokenizer; `over` replaces top-level fields. */
export function demoConfig(runId: string, corpusUri: string, outputUri: string, over: Partial<RunConfigInput> = {}): RunConfigInput {
  return {
    runId,
    model: { path: DEMO_MODEL },
    tokenizer: { path: DEMO_TOKENIZER },
    hooks: [MLP_HOOK, RESID_HOOK],
    corpus: { path: corpusUri, labelField: 'genre' },
    contextLength: 64,
    batchSize: 16,
    dtype: 'fp32',
    output: { path: outputUri, partMiB: 0.5 },
    concurrency: 4,
    ...over,
  };
}

export interface UploadedCorpus {
  uri: string;
  /** S3 keys in shard order (the order the plan numbers them). */
  keys: string[];
  /** Local copies, same order. */
  files: string[];
}

/**
 * Generates demo shards locally and uploads them under `s3://bucket/prefix/`. `gzipEvery` n>0
 * gzips every n-th shard (those whose number % n === n - 1). Names sort in shard order.
 */
export async function uploadDemoCorpus(
  h: Harness,
  prefix: string,
  opts: { shards: number; docsPerShard: number; seed?: number; gzipEvery?: number },
): Promise<UploadedCorpus> {
  const local = path.join(h.dir, 'corpora', prefix);
  const keys: string[] = [];
  const files: string[] = [];
  for (let s = 0; s < opts.shards; s++) {
    const gzip = opts.gzipEvery ? s % opts.gzipEvery === opts.gzipEvery - 1 : false;
    // Each shard is the first documents of its own seed's stream, so every shard differs.
    const out = await generateDemoCorpus({ outDir: path.join(local, String(s)), shards: 1, docsPerShard: opts.docsPerShard, seed: (opts.seed ?? 1) * 1000 + s, gzip });
    const file = out.files[0];
    const key = `${prefix}/shard-${String(s).padStart(4, '0')}.jsonl${gzip ? '.gz' : ''}`;
    await h.store.put(h.bucket, key, await readFile(file));
    keys.push(key);
    files.push(file);
  }
  return { uri: `s3://${h.bucket}/${prefix}`, keys, files };
}

/** LastModified (ms) of every object under a prefix. */
export async function lastModifiedUnder(store: ObjectStore, bucket: string, prefix: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  let token: string | undefined;
  do {
    const page = await store.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) out.set(o.Key!, o.LastModified!.getTime());
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}

/** Every key in the bucket (for "nothing was written" checks). */
export async function allKeys(store: ObjectStore, bucket: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of store.list(bucket, '')) keys.push(o.key);
  return keys.sort();
}

/** Thrown by a waitFor probe to stop waiting at once (e.g. the process being watched died). */
export class StopWaiting extends Error {
  override name = 'StopWaiting';
}

/**
 * Polls `probe` until it returns a value other than undefined/false, or fails after `timeoutMs`
 * with a message naming what was awaited and the last error seen. Errors from the probe count as
 * "not yet", except StopWaiting, which ends the wait with that error.
 */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v as T;
      lastError = undefined;
    } catch (err) {
      if (err instanceof StopWaiting) throw err;
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A promise's value, or an error naming `what` after `ms`. */
export async function withTimeout<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** IEEE half → number, written here so fp16 checks do not lean on the code under test. */
export function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

// ---------------------------------------------------------------------------- child workers

export interface ChildWorker {
  process: ChildProcess;
  /** The last lines it wrote, for failure messages. */
  tail(): string;
}

const liveChildren = new Set<ChildProcess>();

/**
 * A `thresher worker` in its own process, pointed at the harness's stack: the only way a test can
 * SIGKILL a worker mid-task. Call stopAllChildWorkers() in after().
 */
export function startChildWorker(h: Harness, name: string, roles: WorkerRole[], env: NodeJS.ProcessEnv = {}): ChildWorker {
  const home = path.join(h.dir, 'children', name);
  const child = spawn(process.execPath, [THRESHER_CLI, 'worker', '--roles', roles.join(',')], {
    env: { ...h.childEnv(home), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    lines.splice(0, Math.max(0, lines.length - 30));
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  return { process: child, tail: () => lines.join('\n') };
}

export async function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  await withTimeout(`worker pid ${child.pid} to exit after ${signal}`, 40_000, exited);
}

export async function stopAllChildWorkers(): Promise<void> {
  for (const child of [...liveChildren]) await stopChild(child, 'SIGKILL');
}

// ------------------------------------------------------------------------------- run outputs

export async function manifestsOf(h: Harness, layout: RunLayout): Promise<ShardManifest[]> {
  const out: ShardManifest[] = [];
  for await (const o of h.store.list(layout.bucket, layout.manifestPrefix)) out.push(await h.store.getJson<ShardManifest>(layout.bucket, o.key));
  return out.sort((a, b) => a.shard - b.shard);
}

/** A run's reported totals are the sums over the manifests of its complete shards. */
export function assertManifestCounts(result: HarvestResult, manifests: ShardManifest[]): void {
  const sum = (f: (m: ShardManifest) => number) => manifests.reduce((a, m) => a + f(m), 0);
  assert.equal(result.tokens, sum((m) => m.tokens), 'result tokens = sum of manifest tokens');
  assert.equal(result.rows, sum((m) => m.rows), 'result rows = sum of manifest rows');
  assert.equal(result.bytes, sum((m) => m.bytes), 'result bytes = sum of manifest bytes');
}
