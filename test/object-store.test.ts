import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { resolveArtifact } from '../core/storage/artifact-cache.js';
import { createS3Client, ObjectStore, sha256Hex } from '../core/storage/object-store.js';
import { startTestStack, type TestStack } from '../infra/local-stack.js';

/**
 * A loopback proxy in front of the real S3 gateway that answers every `failEvery`-th request with
 * a 503 SlowDown, as S3 does under throttling, and forwards the rest.
 */
function flakyProxy(target: URL, failEvery: number): Promise<{ url: string; failed: () => number; close: () => Promise<void> }> {
  let n = 0;
  let failed = 0;
  const server = http.createServer((req, res) => {
    if (++n % failEvery === 0) {
      failed++;
      req.resume();
      res.writeHead(503, { 'content-type': 'application/xml' });
      res.end('<?xml version="1.0"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
      return;
    }
    const upstream = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      resolve({ url: `http://127.0.0.1:${port}`, failed: () => failed, close: () => new Promise((r) => server.close(() => r())) });
    }),
  );
}

describe('ObjectStore against a real S3 gateway', () => {
  let dir: string;
  let stack: TestStack;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'thresher-store-'));
    stack = await startTestStack(dir);
    process.env.AWS_ACCESS_KEY_ID = stack.endpoints.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = stack.endpoints.secretAccessKey;
  });
  after(async () => {
    await stack?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('puts, heads, lists after a key, and gets with the sha256 recorded', async () => {
    const store = new ObjectStore(createS3Client({ endpoint: stack.endpoints.s3Endpoint, region: 'us-east-1', forcePathStyle: true, maxAttempts: 3 }));
    const bucket = stack.endpoints.bucket;
    for (const i of [0, 1, 2, 3]) await store.put(bucket, `t/list/k-${i}.json`, new TextEncoder().encode(`{"i":${i}}`));
    const head = await store.head(bucket, 't/list/k-2.json');
    assert.equal(head?.metadata.sha256, sha256Hex(new TextEncoder().encode('{"i":2}')));
    assert.equal(await store.head(bucket, 't/list/nope'), undefined);
    const keys: string[] = [];
    for await (const o of store.list(bucket, 't/list/', undefined, 't/list/k-1.json')) keys.push(o.key);
    assert.deepEqual(keys, ['t/list/k-2.json', 't/list/k-3.json']);
    assert.deepEqual(await store.getJson(bucket, 't/list/k-3.json'), { i: 3 });
    assert.equal(await store.getJsonIfExists(bucket, 't/list/missing.json'), undefined);
    await assert.rejects(store.assertBucket('no-such-bucket-here'), /bucket s3:\/\/no-such-bucket-here does not exist/);
  });

  it('uploads large objects as multipart and reads them back intact', async () => {
    const store = new ObjectStore(createS3Client({ endpoint: stack.endpoints.s3Endpoint, region: 'us-east-1', forcePathStyle: true, maxAttempts: 3 }));
    const big = new Uint8Array(20 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big[i] = i % 251;
    const sha = await store.put(stack.endpoints.bucket, 't/big.bin', big);
    const back = await store.getBytes(stack.endpoints.bucket, 't/big.bin');
    assert.equal(back.byteLength, big.byteLength);
    assert.equal(sha256Hex(back), sha);
  });

  it('a reusing reader reads each object into one buffer, grown to the largest, intact', async () => {
    const store = new ObjectStore(createS3Client({ endpoint: stack.endpoints.s3Endpoint, region: 'us-east-1', forcePathStyle: true, maxAttempts: 3 }));
    const bucket = stack.endpoints.bucket;
    const objects = [3 << 20, 1000, 0, 5 << 20 | 7].map((size, k) => {
      const bytes = new Uint8Array(size);
      for (let i = 0; i < size; i += 997) bytes[i] = (i + k) % 251;
      return { key: `t/reuse/${k}.bin`, bytes };
    });
    for (const o of objects) await store.put(bucket, o.key, o.bytes);
    const read = store.reusingReader(bucket);
    const buffers: ArrayBufferLike[] = [];
    for (const o of objects) {
      const back = await read(o.key);
      assert.equal(back.byteLength, o.bytes.byteLength, o.key);
      assert.equal(sha256Hex(back), sha256Hex(o.bytes), o.key);
      buffers.push(back.buffer);
    }
    // The 1,000-byte and empty objects went into the first object's buffer; the larger last one needed a new one.
    assert.equal(buffers[1], buffers[0]);
    assert.equal(buffers[2], buffers[0]);
    assert.notEqual(buffers[3], buffers[0]);
    assert.equal((await read(objects[1].key)).buffer, buffers[3], 'and that one is kept');
    await assert.rejects(read('t/reuse/missing.bin'), (e: Error) => e.name === 'NoSuchKey');
  });

  it('retries S3 throttling (503 SlowDown) with backoff and loses nothing', async () => {
    const proxy = await flakyProxy(new URL(stack.endpoints.s3Endpoint), 3);
    try {
      const store = new ObjectStore(createS3Client({ endpoint: proxy.url, region: 'us-east-1', forcePathStyle: true, maxAttempts: 6 }));
      for (let i = 0; i < 6; i++) await store.putJson(stack.endpoints.bucket, `t/flaky/${i}.json`, { i });
      for (let i = 0; i < 6; i++) assert.deepEqual(await store.getJson(stack.endpoints.bucket, `t/flaky/${i}.json`), { i });
      assert.ok(proxy.failed() >= 3, `the proxy failed ${proxy.failed()} requests`);
    } finally {
      await proxy.close();
    }
  });

  it('fetches a model from S3 once into the cache and checks its hash', async () => {
    const store = new ObjectStore(createS3Client({ endpoint: stack.endpoints.s3Endpoint, region: 'us-east-1', forcePathStyle: true, maxAttempts: 3 }));
    const bytes = new TextEncoder().encode('pretend this is an onnx model');
    const uri = `s3://${stack.endpoints.bucket}/models/m.onnx`;
    await store.put(stack.endpoints.bucket, 'models/m.onnx', bytes);
    const cache = path.join(dir, 'cache');
    const first = await resolveArtifact(uri, 'model', store, cache, sha256Hex(bytes));
    assert.equal(first.sha256, sha256Hex(bytes));
    assert.deepEqual(new Uint8Array(await readFile(first.path)), bytes);
    const mtime = (await stat(first.path)).mtimeMs;
    const again = await resolveArtifact(uri, 'model', store, cache);
    assert.equal(again.path, first.path);
    assert.equal((await stat(again.path)).mtimeMs, mtime, 'a cached artifact is not downloaded again');
    await assert.rejects(resolveArtifact(uri, 'model', store, cache, '0'.repeat(64)), /model s3:\/\/.*m\.onnx has sha256 [0-9a-f]{64}, but the config expects 0{64}/);
    await assert.rejects(resolveArtifact(`s3://${stack.endpoints.bucket}/models/none.onnx`, 'model', store, cache), /model s3:\/\/.*none\.onnx does not exist/);
    // A replaced object is fetched again (its size and sha256 metadata changed).
    const v2 = new TextEncoder().encode('a retrained model, longer than before');
    await store.put(stack.endpoints.bucket, 'models/m.onnx', v2);
    assert.equal((await resolveArtifact(uri, 'model', store, cache)).sha256, sha256Hex(v2));
    const localFile = path.join(dir, 'local.onnx');
    await writeFile(localFile, bytes);
    assert.equal((await resolveArtifact(localFile, 'model', store, cache)).path, localFile);
  });
});
