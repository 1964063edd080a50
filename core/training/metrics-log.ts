// Per-step training metrics in S3: JSON Lines objects under <dictionary>/metrics/, each holding
// consecutive steps and named by its first one. Chunks end at deterministic steps (multiples of
// metricsChunkSteps and of checkpointEverySteps, and the last step), and a resume starts right
// after a checkpoint step, so a retried stretch rewrites the same keys: every step appears exactly
// once however often a worker died. JSON has no NaN: an undefined FVU is written as null.
import type { ObjectStore } from '../storage/object-store.js';
import type { RunLayout } from '../storage/run-layout.js';
import type { StepMetrics } from '../sae/step-metrics.js';

/** One line of the metrics log. */
export interface StepRecord extends StepMetrics {
  /** Features resampled right after this step (0 on all but the resampling steps). */
  resampled: number;
  /** Batch tokens over the wall time since the previous step ended (data waits included). */
  tokensPerSecond: number;
  /** ISO time the step ended. */
  time: string;
  /** The step's learning rate and λ, recorded when the config schedules them. */
  lr?: number;
  l1Coefficient?: number;
}

export class MetricsLog {
  private records: StepRecord[] = [];

  constructor(private readonly store: ObjectStore, private readonly layout: RunLayout, private readonly trainingId: string) {}

  add(r: StepRecord): void {
    this.records.push(r);
  }

  /** Hands over the buffered records as one chunk (empty: undefined) and starts a new one. */
  takeChunk(): StepRecord[] | undefined {
    if (!this.records.length) return undefined;
    const chunk = this.records;
    this.records = [];
    return chunk;
  }

  async write(chunk: StepRecord[], signal?: AbortSignal): Promise<void> {
    const body = chunk.map((r) => JSON.stringify(r)).join('\n') + '\n';
    await this.store.put(this.layout.bucket, this.layout.metricsChunkKey(this.trainingId, chunk[0].step), new TextEncoder().encode(body), {
      contentType: 'application/x-ndjson',
      signal,
    });
  }
}

/** Every recorded step of a dictionary, in step order (a step found twice keeps its later chunk's copy). */
export async function readMetricRecords(store: ObjectStore, layout: RunLayout, trainingId: string, signal?: AbortSignal): Promise<StepRecord[]> {
  const byStep = new Map<number, StepRecord>();
  for await (const o of store.list(layout.bucket, layout.metricsPrefix(trainingId), signal)) {
    const text = new TextDecoder().decode(await store.getBytes(layout.bucket, o.key, signal));
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      const r = JSON.parse(line) as StepRecord;
      byStep.set(r.step, r);
    }
  }
  return [...byStep.values()].sort((a, b) => a.step - b.step);
}
