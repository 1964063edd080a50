import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  NotFound,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

/** Where a storage client connects. Credentials are never here: they come from the AWS default chain. */
export interface StorageSettings {
  /** Custom endpoint (SeaweedFS, MinIO); undefined means AWS S3. */
  endpoint?: string;
  /** AWS region; S3-compatible servers accept any. Default 'us-east-1'. */
  region: string;
  /** Path-style addressing, needed by most S3-compatible servers. */
  forcePathStyle: boolean;
  /** Attempts per request, with the SDK's adaptive backoff on throttling and 5xx. */
  maxAttempts: number;
}

export interface ObjectInfo {
  key: string;
  size: number;
}

export interface HeadInfo {
  size: number;
  metadata: Record<string, string>;
}

/** Objects above this size go up as a multipart upload, so a retry resends parts, not the whole. */
const MULTIPART_THRESHOLD = 16 * 1024 * 1024;

export function createS3Client(s: StorageSettings): S3Client {
  const cfg: S3ClientConfig = {
    region: s.region,
    forcePathStyle: s.forcePathStyle,
    maxAttempts: s.maxAttempts,
    retryMode: 'adaptive',
  };
  if (s.endpoint) cfg.endpoint = s.endpoint;
  return new S3Client(cfg);
}

export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

function isNotFound(err: unknown): boolean {
  if (err instanceof NoSuchKey || err instanceof NotFound) return true;
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NotFound' || e?.name === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404;
}

/** The one way the project talks to S3. Every write records the body's sha256 as object metadata. */
export class ObjectStore {
  constructor(readonly client: S3Client) {}

  async assertBucket(bucket: string): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: bucket }));
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      const why = status === 404 ? 'does not exist' : status === 403 ? 'is not accessible with these credentials' : `cannot be reached (${(err as Error).message})`;
      throw new Error(`bucket s3://${bucket} ${why}`);
    }
  }

  /** Writes a whole object; atomic for readers (S3 shows all or nothing). Returns its sha256. */
  async put(bucket: string, key: string, body: Uint8Array, opts: { contentType?: string; signal?: AbortSignal } = {}): Promise<string> {
    const sha256 = sha256Hex(body);
    const params = { Bucket: bucket, Key: key, Body: body, ContentType: opts.contentType, Metadata: { sha256 } };
    if (body.byteLength > MULTIPART_THRESHOLD) {
      const upload = new Upload({ client: this.client, params, queueSize: 2, partSize: 8 * 1024 * 1024, leavePartsOnError: false });
      opts.signal?.addEventListener('abort', () => void upload.abort(), { once: true });
      await upload.done();
    } else {
      await this.client.send(new PutObjectCommand(params), { abortSignal: opts.signal });
    }
    return sha256;
  }

  async putJson(bucket: string, key: string, value: unknown, signal?: AbortSignal): Promise<string> {
    return this.put(bucket, key, new TextEncoder().encode(JSON.stringify(value, null, 1)), { contentType: 'application/json', signal });
  }

  async getBytes(bucket: string, key: string, signal?: AbortSignal): Promise<Uint8Array> {
    const out = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
    return out.Body!.transformToByteArray();
  }

  /**
   * A reader of whole objects that reads each one into the same buffer (grown to the largest so
   * far): the bytes a call returns are valid only until the next call. For a reader of many large
   * objects one after another (the statistics stage's parts): getBytes gathers the body's chunks
   * and copies them into a new array, and on the dev VM a 64 MiB part cost this process 141–195 ms
   * of CPU that way against 90–129 ms read into a reused buffer (local SeaweedFS), most of the
   * difference the page faults of each fresh array.
   */
  reusingReader(bucket: string): (key: string, signal?: AbortSignal) => Promise<Uint8Array> {
    let buffer = new Uint8Array(0);
    return async (key, signal) => {
      const out = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
      const size = out.ContentLength;
      if (size === undefined) return out.Body!.transformToByteArray();
      if (size > buffer.length) buffer = new Uint8Array(size);
      const bytes = buffer.subarray(0, size);
      let at = 0;
      for await (const chunk of out.Body as AsyncIterable<Uint8Array>) {
        if (at + chunk.length > size) throw new Error(`s3://${bucket}/${key} sent more than its Content-Length of ${size} bytes`);
        bytes.set(chunk, at);
        at += chunk.length;
      }
      if (at !== size) throw new Error(`s3://${bucket}/${key} ended after ${at} of its ${size} bytes`);
      return bytes;
    };
  }

  /** Bytes [start, end) of an object (an HTTP range request). */
  async getRange(bucket: string, key: string, start: number, end: number, signal?: AbortSignal): Promise<Uint8Array> {
    if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start < end)) {
      throw new RangeError(`byte range [${start}, ${end}) of s3://${bucket}/${key} is not a non-empty range of whole bytes`);
    }
    const out = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${start}-${end - 1}` }), { abortSignal: signal });
    const bytes = await out.Body!.transformToByteArray();
    if (bytes.byteLength !== end - start) {
      throw new Error(`byte range [${start}, ${end}) of s3://${bucket}/${key} returned ${bytes.byteLength} bytes`);
    }
    return bytes;
  }

  async getJson<T>(bucket: string, key: string, signal?: AbortSignal): Promise<T> {
    return JSON.parse(new TextDecoder().decode(await this.getBytes(bucket, key, signal))) as T;
  }

  /** Like getJson, but undefined when the object does not exist. */
  async getJsonIfExists<T>(bucket: string, key: string, signal?: AbortSignal): Promise<T | undefined> {
    try {
      return await this.getJson<T>(bucket, key, signal);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async getStream(bucket: string, key: string, signal?: AbortSignal): Promise<Readable> {
    const out = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
    return out.Body as Readable;
  }

  async head(bucket: string, key: string, signal?: AbortSignal): Promise<HeadInfo | undefined> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
      return { size: Number(out.ContentLength ?? 0), metadata: out.Metadata ?? {} };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Keys under a prefix in lexical order, optionally only those after `startAfter`. */
  async *list(bucket: string, prefix: string, signal?: AbortSignal, startAfter?: string): AsyncGenerator<ObjectInfo> {
    let token: string | undefined;
    do {
      const out = await this.client.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token, StartAfter: token ? undefined : startAfter }),
        { abortSignal: signal },
      );
      for (const o of out.Contents ?? []) yield { key: o.Key!, size: Number(o.Size ?? 0) };
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
  }

  async delete(bucket: string, key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  }
}
