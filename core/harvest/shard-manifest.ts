import type { ActivationDtype } from '../parquet/activation-part.js';

export const MANIFEST_FORMAT = 'thresher.shard-manifest/v1';

export interface PartRecord {
  part: number;
  hook: string;
  key: string;
  rows: number;
  bytes: number;
  sha256: string;
}

/**
 * Written last, after every part of the shard is in S3: its existence is the only sign that a
 * shard is complete, and `run verify` audits the parts against it.
 */
export interface ShardManifest {
  format: typeof MANIFEST_FORMAT;
  runId: string;
  shard: number;
  source: string;
  modelSha256: string;
  dtype: ActivationDtype;
  hooks: Record<string, { width: number }>;
  documents: number;
  contexts: number;
  /** Token positions run through the model. */
  tokens: number;
  /** Rows per hook (sampled positions). */
  rows: number;
  /** Parquet bytes, all hooks. */
  bytes: number;
  parts: PartRecord[];
}

/** What a harvested shard reports to the workflow: counts only, never data. */
export interface ShardCounts {
  rows: number;
  tokens: number;
  bytes: number;
  parts: number;
}

export const countsOf = (m: ShardManifest): ShardCounts => ({ rows: m.rows, tokens: m.tokens, bytes: m.bytes, parts: m.parts.length });
