import path from 'node:path';
import type { StorageSettings } from '../storage/object-store.js';
import { ConfigError } from './run-config.js';

/**
 * How this process reaches Temporal and S3, from the environment (documented in the README).
 * When neither a Temporal address nor an S3 endpoint is given, commands that need them start the
 * local stack (`thresher dev up`) and use it: the "embedded default".
 */
export interface ServiceSettings {
  temporal: {
    /** host:port; undefined means "use the local stack". Env TEMPORAL_ADDRESS. */
    address?: string;
    /** Env TEMPORAL_NAMESPACE, default 'default'. */
    namespace: string;
    /** mTLS client certificate and key files (env TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY); CA (TEMPORAL_TLS_CA) optional. */
    tls?: { certPath?: string; keyPath?: string; caPath?: string; serverName?: string };
    /** Temporal Cloud API key (env TEMPORAL_API_KEY); implies TLS. Never logged. */
    apiKey?: string;
  };
  storage: StorageSettings;
  /** True when S3 settings came from the environment rather than the local stack. */
  storageConfigured: boolean;
  /** Folder for the local stack's data, downloaded models and caches. Env THRESHER_HOME, default ./.thresher */
  home: string;
  /** Env THRESHER_CACHE_DIR, default <home>/cache. */
  cacheDir: string;
  /** Shards one harvest worker runs at once (env THRESHER_HARVEST_SLOTS, default 2: one computing, one reading/writing). */
  harvestSlots: number;
  /** Dictionaries one training worker trains at once (env THRESHER_TRAINING_SLOTS, default 1: one step saturates the machine). */
  trainingSlots: number;
}

function intFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new ConfigError(`environment variable ${name}=${raw} must be an integer ≥ ${min}`);
  return n;
}

export function serviceSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): ServiceSettings {
  const home = path.resolve(env.THRESHER_HOME || '.thresher');
  const endpoint = env.THRESHER_S3_ENDPOINT || env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
  const tlsSet = env.TEMPORAL_TLS_CERT || env.TEMPORAL_TLS_KEY || env.TEMPORAL_TLS_CA || env.TEMPORAL_TLS === 'true';
  if (Boolean(env.TEMPORAL_TLS_CERT) !== Boolean(env.TEMPORAL_TLS_KEY)) {
    throw new ConfigError('TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be set together');
  }
  return {
    temporal: {
      address: env.TEMPORAL_ADDRESS || undefined,
      namespace: env.TEMPORAL_NAMESPACE || 'default',
      tls: tlsSet
        ? { certPath: env.TEMPORAL_TLS_CERT, keyPath: env.TEMPORAL_TLS_KEY, caPath: env.TEMPORAL_TLS_CA, serverName: env.TEMPORAL_TLS_SERVER_NAME }
        : undefined,
      apiKey: env.TEMPORAL_API_KEY || undefined,
    },
    storage: {
      endpoint,
      region: env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1',
      // Custom endpoints (MinIO, SeaweedFS) want path-style; AWS wants virtual-hosted.
      forcePathStyle: env.THRESHER_S3_FORCE_PATH_STYLE ? env.THRESHER_S3_FORCE_PATH_STYLE === 'true' : endpoint !== undefined,
      maxAttempts: intFromEnv(env, 'THRESHER_S3_MAX_ATTEMPTS', 8, 1),
    },
    storageConfigured: endpoint !== undefined || Boolean(env.AWS_REGION || env.AWS_PROFILE || env.AWS_ACCESS_KEY_ID),
    home,
    cacheDir: env.THRESHER_CACHE_DIR ? path.resolve(env.THRESHER_CACHE_DIR) : path.join(home, 'cache'),
    harvestSlots: intFromEnv(env, 'THRESHER_HARVEST_SLOTS', 2, 1),
    trainingSlots: intFromEnv(env, 'THRESHER_TRAINING_SLOTS', 1, 1),
  };
}

