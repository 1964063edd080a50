import path from 'node:path';
import type { Client } from '@temporalio/client';
import { serviceSettingsFromEnv, type ServiceSettings } from '../core/config/service-settings.js';
import { createS3Client, ObjectStore } from '../core/storage/object-store.js';
import { devUp, type LocalStackEndpoints } from '../infra/local-stack.js';
import { connectClient } from '../workers/temporal-connection.js';

export interface Services {
  settings: ServiceSettings & { temporal: { address: string } };
  store: ObjectStore;
  /** Set when the local stack is in use (nothing was configured). */
  localStack?: LocalStackEndpoints;
  /** Default output location: the local stack's bucket, or $THRESHER_OUTPUT. */
  defaultOutput?: string;
}

export const localStackDir = (settings: ServiceSettings): string => path.join(settings.home, 'dev');

/**
 * Resolves where Temporal and S3 are. Without TEMPORAL_ADDRESS, starts (or reuses) the local stack
 * and points this process at it, and at its S3 too unless S3 is configured (then including the
 * local S3 credentials for the AWS SDK's default chain). A configured service is used as configured.
 */
export async function resolveServices(env: NodeJS.ProcessEnv = process.env): Promise<Services> {
  const settings = serviceSettingsFromEnv(env);
  let localStack: LocalStackEndpoints | undefined;
  if (!settings.temporal.address) {
    localStack = await devUp({ dataDir: localStackDir(settings) });
    settings.temporal.address ??= localStack.temporalAddress;
    if (!settings.storageConfigured) {
      settings.storage = { ...settings.storage, endpoint: localStack.s3Endpoint, region: localStack.s3Region, forcePathStyle: true };
      env.AWS_ACCESS_KEY_ID = localStack.accessKeyId;
      env.AWS_SECRET_ACCESS_KEY = localStack.secretAccessKey;
      env.THRESHER_S3_ENDPOINT = localStack.s3Endpoint;
      settings.storageConfigured = true;
    }
    env.TEMPORAL_ADDRESS = settings.temporal.address;
  }
  const store = new ObjectStore(createS3Client(settings.storage));
  const defaultOutput = env.THRESHER_OUTPUT || (localStack ? `s3://${localStack.bucket}/runs` : undefined);
  return { settings: settings as Services['settings'], store, localStack, defaultOutput };
}

export async function clientFor(services: Services): Promise<Client> {
  return connectClient(services.settings.temporal);
}
