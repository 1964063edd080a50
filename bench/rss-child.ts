// Child process of the RSS bench (harvest-rss.ts): harvests one shard with harvestShard() in a
// process of its own, so the resident set measured is the harvest's alone. RSS is sampled every
// `sampleMs`; the kernel's high-water mark (VmHWM) is read at the end. The result goes back to
// the parent as one IPC message.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { RunConfig } from '../core/config/run-config.js';
import { harvestShard } from '../core/harvest/harvest-shard.js';
import { RunResources } from '../core/harvest/run-resources.js';
import { RunLayout } from '../core/storage/run-layout.js';
import type { LocalStackEndpoints } from '../infra/local-stack.js';
import { storeFor } from './bench-stack.js';

export interface RssChildInput {
  endpoints: LocalStackEndpoints;
  config: RunConfig;
  shardFile: string;
  shardBytes: number;
  sampleMs: number;
}

export interface RssChildResult {
  /** Largest process.memoryUsage().rss sample during the harvest. */
  peakRssSampled: number;
  /** VmHWM from /proc/self/status at the end (kernel's peak resident set, all threads). */
  vmHwm: number;
  /** RSS once the model and tokenizer were loaded, before the first document. */
  rssAfterLoad: number;
  /** RSS samples at 10%, 20%, … 100% of the shard's bytes read (by tokens seen), to show the trend. */
  rssByDecile: number[];
  peakHeapUsed: number;
  peakArrayBuffers: number;
  tokens: number;
  rows: number;
  parts: number;
  parquetBytes: number;
  seconds: number;
}

function vmHwmBytes(): number {
  const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

async function main(input: RssChildInput): Promise<RssChildResult> {
  const store = storeFor(input.endpoints);
  const cacheDir = await mkdtemp(path.join(os.tmpdir(), 'thresher-rss-cache-'));
  const resources = new RunResources(store, cacheDir);
  let peak = 0;
  let peakHeap = 0;
  let peakAb = 0;
  const sample = () => {
    const m = process.memoryUsage();
    peak = Math.max(peak, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed);
    peakAb = Math.max(peakAb, m.arrayBuffers);
    return m.rss;
  };
  const timer = setInterval(sample, input.sampleMs);
  try {
    const { model, modelSha256, tokenizer } = await resources.forRun(input.config);
    const rssAfterLoad = sample();
    // Tokens expected ≈ bytes / (bytes per token); deciles are placed by the tokens seen so far
    // relative to the final count, so they are filled in after the run from a fine-grained trace.
    const trace: { tokens: number; rss: number }[] = [];
    const t0 = performance.now();
    const manifest = await harvestShard(
      {
        config: input.config,
        layout: new RunLayout(input.config.output.path, input.config.runId),
        shard: { index: 0, uri: input.shardFile, bytes: input.shardBytes },
        resumeFromPart: 0,
        onBatch: (tokens) => {
          if (!trace.length || tokens - trace[trace.length - 1].tokens >= 65536) trace.push({ tokens, rss: sample() });
        },
      },
      { store, model, modelSha256, tokenizer },
    );
    const seconds = (performance.now() - t0) / 1000;
    sample();
    const rssByDecile = Array.from({ length: 10 }, (_, d) => {
      const at = ((d + 1) / 10) * manifest.tokens;
      let best = trace[0];
      for (const t of trace) if (t.tokens <= at) best = t;
      return best?.rss ?? NaN;
    });
    return {
      peakRssSampled: peak,
      vmHwm: vmHwmBytes(),
      rssAfterLoad,
      rssByDecile,
      peakHeapUsed: peakHeap,
      peakArrayBuffers: peakAb,
      tokens: manifest.tokens,
      rows: manifest.rows,
      parts: new Set(manifest.parts.map((p) => p.part)).size,
      parquetBytes: manifest.bytes,
      seconds,
    };
  } finally {
    clearInterval(timer);
    await resources.close();
    store.client.destroy();
    await rm(cacheDir, { recursive: true, force: true });
  }
}

const input = JSON.parse(process.argv[2] ?? '{}') as RssChildInput;
main(input).then(
  (result) => process.send!({ ok: true, result }, () => process.exit(0)),
  (err: Error) => process.send!({ ok: false, error: err.stack ?? String(err) }, () => process.exit(1)),
);
