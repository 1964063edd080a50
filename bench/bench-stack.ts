// The services a bench runs against: a private local stack (Temporal dev server + SeaweedFS S3 on
// free loopback ports, state in a temp folder that is removed afterwards) and an ObjectStore
// that reaches its S3 with its credentials.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createS3Client, ObjectStore } from '../core/storage/object-store.js';
import { startTestStack, type LocalStackEndpoints } from '../infra/local-stack.js';

export interface BenchStack {
  endpoints: LocalStackEndpoints;
  store: ObjectStore;
  /** Stops both services and deletes their data. */
  stop(): Promise<void>;
}

/**
 * An ObjectStore for the stack's S3, made the way workers make theirs (createS3Client, credentials
 * from the AWS default chain, here the environment), so the bench sees production client settings.
 * Also used by child processes, given the endpoints.
 */
export function storeFor(e: LocalStackEndpoints): ObjectStore {
  process.env.AWS_ACCESS_KEY_ID = e.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = e.secretAccessKey;
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
  return new ObjectStore(createS3Client({ endpoint: e.s3Endpoint, region: e.s3Region, forcePathStyle: true, maxAttempts: 8 }));
}

export async function startBenchStack(label: string): Promise<BenchStack> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `thresher-${label}-`));
  const started = performance.now();
  const stack = await startTestStack(dir).catch(async (err) => {
    await rm(dir, { recursive: true, force: true });
    throw err;
  });
  console.log(`local stack up in ${((performance.now() - started) / 1000).toFixed(1)} s (temporal ${stack.endpoints.temporalAddress}, s3 ${stack.endpoints.s3Endpoint}, data ${dir})`);
  const store = storeFor(stack.endpoints);
  let stopped = false;
  return {
    endpoints: stack.endpoints,
    store,
    async stop() {
      if (stopped) return;
      stopped = true;
      store.client.destroy();
      await stack.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Runs `stop` once on SIGINT/SIGTERM so an interrupted bench leaves no detached servers behind. */
export function stopOnSignal(stop: () => Promise<void>): void {
  const handler = (signal: NodeJS.Signals) => {
    console.error(`\n${signal}: stopping the local stack`);
    void stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
}
