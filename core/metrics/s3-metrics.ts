// Prometheus metrics for S3 traffic, fed by a middleware on the client itself, so every request
// counts: ObjectStore calls, multipart uploads (lib-storage sends through the same client) and
// artifact downloads alike. Labels are the operation (PutObject, UploadPart, ...) and, for
// errors, the error name; both come from fixed sets.
import type { S3Client } from '@aws-sdk/client-s3';
import { Counter, Histogram, type Registry } from 'prom-client';

const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const MIDDLEWARE_NAME = 'thresherS3Metrics';

export interface S3Metrics {
  requests: Counter<'operation'>;
  errors: Counter<'operation' | 'code'>;
  retries: Counter<'operation'>;
  duration: Histogram<'operation'>;
}

export const S3_METRIC_NAMES = [
  'thresher_s3_requests_total',
  'thresher_s3_request_errors_total',
  'thresher_s3_request_retries_total',
  'thresher_s3_request_duration_seconds',
] as const;

export function createS3Metrics(registry: Registry): S3Metrics {
  const registers = [registry];
  return {
    requests: new Counter({ name: 'thresher_s3_requests_total', help: 'S3 requests made (one per SDK call; retries inside the SDK are not extra requests here).', labelNames: ['operation'], registers }),
    errors: new Counter({
      name: 'thresher_s3_request_errors_total',
      help: 'S3 requests that failed after the SDK gave up retrying, by error name. 404 answers (a missing key is an answer, not an error) are not counted.',
      labelNames: ['operation', 'code'],
      registers,
    }),
    retries: new Counter({ name: 'thresher_s3_request_retries_total', help: 'Extra attempts the AWS SDK made (throttling, 5xx, network errors), from $metadata.attempts - 1.', labelNames: ['operation'], registers }),
    duration: new Histogram({ name: 'thresher_s3_request_duration_seconds', help: 'Seconds per S3 request, retries and backoff included.', labelNames: ['operation'], buckets: DURATION_BUCKETS, registers }),
  };
}

interface SdkMetadata {
  $metadata?: { attempts?: number; httpStatusCode?: number };
}

/**
 * Adds the metrics middleware to a client. It sits in the initialize step, outside the SDK's
 * retry middleware, so it sees each call once with its final outcome and attempt count. Calling
 * it again on the same client replaces the middleware instead of counting twice.
 */
export function instrumentS3Client(client: S3Client, m: S3Metrics): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const operation = (context.commandName ?? 'Unknown').replace(/Command$/, '');
      const start = performance.now();
      m.requests.labels({ operation }).inc();
      try {
        const out = await next(args);
        countRetries(m, operation, (out.output as SdkMetadata).$metadata?.attempts);
        return out;
      } catch (err) {
        const meta = (err as SdkMetadata).$metadata;
        countRetries(m, operation, meta?.attempts);
        if (meta?.httpStatusCode !== 404) m.errors.labels({ operation, code: errorCode(err) }).inc();
        throw err;
      } finally {
        m.duration.labels({ operation }).observe((performance.now() - start) / 1000);
      }
    },
    { step: 'initialize', name: MIDDLEWARE_NAME, override: true },
  );
}

function countRetries(m: S3Metrics, operation: string, attempts: number | undefined): void {
  if (attempts !== undefined && attempts > 1) m.retries.labels({ operation }).inc(attempts - 1);
}

/** The error's class name (SlowDown, InternalError, TimeoutError, ...), kept short and label-safe. */
function errorCode(err: unknown): string {
  const name = (err as Error)?.name;
  return typeof name === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(name) ? name : 'Unknown';
}
