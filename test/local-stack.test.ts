// Exercises the real local stack (Temporal dev server + SeaweedFS) on private ports in a temp dir.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  devDown,
  devStatus,
  devUp,
  startTestStack,
  type LocalStackEndpoints,
  type TestStack,
} from '../infra/local-stack.js';

let dir: string;
let stack: TestStack | undefined;
let endpoints: LocalStackEndpoints;

const WORKFLOW_ID = 'local-stack-persistence-probe';

function s3For(e: LocalStackEndpoints): S3Client {
  return new S3Client({
    endpoint: e.s3Endpoint,
    region: e.s3Region,
    forcePathStyle: true,
    credentials: { accessKeyId: e.accessKeyId, secretAccessKey: e.secretAccessKey },
  });
}

async function withTemporal<T>(e: LocalStackEndpoints, fn: (client: Client, connection: Connection) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ address: e.temporalAddress, connectTimeout: 5_000 });
  try {
    return await fn(new Client({ connection, namespace: e.namespace }), connection);
  } finally {
    await connection.close();
  }
}

async function getText(s3: S3Client, bucket: string, key: string): Promise<string> {
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return res.Body!.transformToString();
}

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'thresher-local-stack-'));
  const started = Date.now();
  stack = await startTestStack(dir);
  endpoints = stack.endpoints;
  console.log(`test stack up in ${Date.now() - started} ms`);
});

after(async () => {
  // Runs even when a test failed, so no detached server outlives the suite.
  if (stack) await devDown(stack.options);
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('endpoints are loopback-only and credentials are set', () => {
  assert.match(endpoints.temporalAddress, /^127\.0\.0\.1:\d+$/);
  assert.match(endpoints.s3Endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(endpoints.bucket, 'thresher');
  assert.equal(endpoints.namespace, 'default');
  assert.ok(endpoints.accessKeyId && endpoints.secretAccessKey);
});

test('S3 put/get/list round trip in the bucket', async () => {
  const s3 = s3For(endpoints);
  try {
    const { bucket } = endpoints;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'roundtrip/a.txt', Body: 'alpha' }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'roundtrip/b/c.bin', Body: Buffer.from([1, 2, 3]) }));
    assert.equal(await getText(s3, bucket, 'roundtrip/a.txt'), 'alpha');

    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'roundtrip/' }));
    assert.deepEqual(listed.Contents?.map((o) => o.Key), ['roundtrip/a.txt', 'roundtrip/b/c.bin']);

    // Paging and delimiters are what shard listings rely on.
    const page1 = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'roundtrip/', MaxKeys: 1 }));
    assert.equal(page1.IsTruncated, true);
    const page2 = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: 'roundtrip/', MaxKeys: 1, ContinuationToken: page1.NextContinuationToken }),
    );
    assert.deepEqual(page2.Contents?.map((o) => o.Key), ['roundtrip/b/c.bin']);
    const dirs = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'roundtrip/', Delimiter: '/' }));
    assert.deepEqual(dirs.CommonPrefixes?.map((p) => p.Prefix), ['roundtrip/b/']);
  } finally {
    s3.destroy();
  }
});

test('S3 rejects wrong credentials', async () => {
  const s3 = s3For({ ...endpoints, secretAccessKey: 'not-the-secret' });
  try {
    await assert.rejects(s3.send(new GetObjectCommand({ Bucket: endpoints.bucket, Key: 'roundtrip/a.txt' })), (err: Error) =>
      ['SignatureDoesNotMatch', 'AccessDenied', 'InvalidAccessKeyId'].includes(err.name),
    );
  } finally {
    s3.destroy();
  }
});

test('Temporal namespace is reachable and accepts a workflow start', async () => {
  await withTemporal(endpoints, async (client, connection) => {
    const ns = await connection.workflowService.describeNamespace({ namespace: endpoints.namespace });
    assert.equal(ns.namespaceInfo?.name, endpoints.namespace);
    // No worker polls this queue: the run just stays open, which is what the restart test checks.
    await client.workflow.start('neverRuns', { taskQueue: 'local-stack-test-nobody', workflowId: WORKFLOW_ID });
  });
});

test('devStatus shows both services up with pids', async () => {
  const status = await devStatus(stack!.options);
  assert.equal(status.temporal.up, true, status.temporal.detail);
  assert.equal(status.s3.up, true, status.s3.detail);
  assert.ok(Number.isInteger(status.temporal.pid));
  assert.ok(Number.isInteger(status.s3.pid));
  assert.equal(status.temporal.address, endpoints.temporalAddress);
});

test('devUp again reuses the running services', async () => {
  const before = await devStatus(stack!.options);
  const again = await devUp(stack!.options);
  assert.deepEqual(again, endpoints);
  const afterwards = await devStatus(stack!.options);
  assert.equal(afterwards.temporal.pid, before.temporal.pid);
  assert.equal(afterwards.s3.pid, before.s3.pid);
});

test('devUp on a running server registers a namespace it lacks', async () => {
  const extra = await devUp({ ...stack!.options, namespace: 'thresher-extra' });
  assert.equal(extra.namespace, 'thresher-extra');
  await withTemporal(extra, async (_client, connection) => {
    const ns = await connection.workflowService.describeNamespace({ namespace: 'thresher-extra' });
    assert.equal(ns.namespaceInfo?.name, 'thresher-extra');
  });
});

test('stop then start on the same dataDir keeps objects, namespace and runs', async () => {
  const first = await devStatus(stack!.options);
  const stopped = await devDown(stack!.options);
  assert.deepEqual(stopped, { temporal: 'terminated', s3: 'terminated' });
  const down = await devStatus(stack!.options);
  assert.equal(down.temporal.up, false);
  assert.equal(down.s3.up, false);
  assert.ok(existsSync(path.join(dir, 'temporal.sqlite')));

  const started = Date.now();
  endpoints = await devUp(stack!.options);
  console.log(`restart took ${Date.now() - started} ms`);
  const second = await devStatus(stack!.options);
  assert.notEqual(second.temporal.pid, first.temporal.pid);
  assert.notEqual(second.s3.pid, first.s3.pid);

  const s3 = s3For(endpoints);
  try {
    assert.equal(await getText(s3, endpoints.bucket, 'roundtrip/a.txt'), 'alpha');
  } finally {
    s3.destroy();
  }
  await withTemporal(endpoints, async (client, connection) => {
    await connection.workflowService.describeNamespace({ namespace: 'thresher-extra' });
    const run = await client.workflow.getHandle(WORKFLOW_ID).describe();
    assert.equal(run.status.name, 'RUNNING');
  });
});

test('two processes bringing the stack up at the same moment share one set of services', async () => {
  // A worker started in one terminal and `thresher run start` in another both call devUp.
  await devDown(stack!.options);
  const script =
    "const { devUp } = await import(process.argv[1]); " +
    'const e = await devUp(JSON.parse(process.argv[2])); console.log(JSON.stringify(e));';
  const moduleUrl = new URL('../infra/local-stack.js', import.meta.url).href;
  const runs = await Promise.all([0, 1].map(() => new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, moduleUrl, JSON.stringify(stack!.options)]);
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => resolve({ code, out, err }));
  })));
  for (const r of runs) assert.equal(r.code, 0, r.err);
  const [a, b] = runs.map((r) => JSON.parse(r.out.trim().split('\n').at(-1)!) as LocalStackEndpoints);
  assert.deepEqual(a, b);
  // Exactly one of them started each service; the other waited and reused it.
  const started = runs.map((r) => r.err.split('\n').filter((l) => l.includes('"msg":"service starting"')).length);
  assert.deepEqual([...started].sort(), [0, 2]);
  const status = await devStatus(stack!.options);
  assert.equal(status.temporal.up, true, status.temporal.detail);
  assert.equal(status.s3.up, true, status.s3.detail);
  // The pid files still name the running servers, so devDown can stop them.
  assert.ok(Number.isInteger(status.temporal.pid) && Number.isInteger(status.s3.pid));
  endpoints = a;
  // Found through their pid files and stopped ('killed' when one outlives the stop grace, as a
  // freshly started SeaweedFS under load sometimes does; 'not-running' would mean a lost pid file).
  const stopped = await devDown(stack!.options);
  for (const service of ['temporal', 's3'] as const) assert.ok(['terminated', 'killed'].includes(stopped[service]), `${service}: ${stopped[service]}`);
  const down = await devStatus(stack!.options);
  assert.deepEqual([down.temporal.up, down.s3.up], [false, false]);
});
