// Run-level progress gauges, exported by orchestration workers. Harvest workers only see the
// shards they run; what a run planned and how far it got lives in its HarvestRun workflow. So on
// each scrape these gauges are filled from the workflows' own "progress" query (through `source`),
// which is exactly what `thresher run status` shows. Runs that are no longer running drop out.
import { Counter, Gauge, type Registry } from 'prom-client';

/** The part of a run's progress the gauges show (HarvestProgress satisfies it). */
export interface RunProgressSample {
  runId: string;
  paused: boolean;
  shards: { total: number; done: number; failed: number; running: number; skipped: number };
  tokens: number;
  rows: number;
  bytes: number;
  /** Epoch ms. */
  startedAt: number;
}

export const RUN_METRIC_NAMES = [
  'thresher_run_shards',
  'thresher_run_tokens',
  'thresher_run_rows',
  'thresher_run_written_bytes',
  'thresher_run_paused',
  'thresher_run_start_time_seconds',
  'thresher_run_progress_errors_total',
] as const;

/** Shard states of thresher_run_shards; `planned` is the run's shard count. */
export const RUN_SHARD_STATES = ['planned', 'done', 'failed', 'running', 'skipped'] as const;

export interface RunMetricsOptions {
  /** Current progress of every running harvest run; a failure is counted and the gauges left empty. */
  source: () => Promise<RunProgressSample[]>;
  /** Scrapes within this many ms share one call to `source`. Default 1000. */
  cacheMs?: number;
}

export function createRunMetrics(registry: Registry, opts: RunMetricsOptions): void {
  const registers = [registry];
  let inflight: Promise<void> | undefined;
  let doneAt = -Infinity;
  // A scrape collects every family at once: the first collect() starts the fetch, the others
  // await the same one, and scrapes within cacheMs of it reuse its result.
  const refresh = (): Promise<void> => {
    if (inflight) return inflight;
    if (Date.now() - doneAt < (opts.cacheMs ?? 1000)) return Promise.resolve();
    inflight = opts
      .source()
      .then(fill, () => {
        errors.inc();
        fill([]);
      })
      .finally(() => {
        inflight = undefined;
        doneAt = Date.now();
      });
    return inflight;
  };
  // Collected like the gauges, so a scrape shows the failure of its own fetch.
  const errors = new Counter({ name: 'thresher_run_progress_errors_total', help: 'Failed attempts to read run progress from Temporal (list or query).', registers, collect: refresh });
  const gauge = <L extends string>(name: string, help: string, labelNames: L[]) =>
    new Gauge<L>({ name, help, labelNames, registers, collect: refresh });

  const shards = gauge('thresher_run_shards', 'Shards of a running harvest run by state: planned (all), done (skipped included), failed, running, skipped (complete before this start).', ['run', 'state']);
  const tokens = gauge('thresher_run_tokens', 'Tokens harvested so far by a running run (completed shards).', ['run']);
  const rows = gauge('thresher_run_rows', 'Activation rows (per hook) harvested so far by a running run.', ['run']);
  const bytes = gauge('thresher_run_written_bytes', 'Bytes of Parquet of completed shards of a running run.', ['run']);
  const paused = gauge('thresher_run_paused', '1 while a running run is paused.', ['run']);
  const started = gauge('thresher_run_start_time_seconds', 'When the run first started, in Unix seconds.', ['run']);

  function fill(samples: RunProgressSample[]): void {
    for (const g of [shards, tokens, rows, bytes, paused, started]) g.reset();
    for (const p of samples) {
      const run = p.runId;
      const s = { planned: p.shards.total, done: p.shards.done, failed: p.shards.failed, running: p.shards.running, skipped: p.shards.skipped };
      for (const state of RUN_SHARD_STATES) shards.set({ run, state }, s[state]);
      tokens.set({ run }, p.tokens);
      rows.set({ run }, p.rows);
      bytes.set({ run }, p.bytes);
      paused.set({ run }, p.paused ? 1 : 0);
      started.set({ run }, p.startedAt / 1000);
    }
  }
}
