// Trains one dictionary of a sweep, durably: stream batches from the run's Parquet parts (seeded,
// shuffled, resumable), step a trainer in its own thread, record every step, resample dead
// features on schedule, checkpoint every N steps, and finally write the dictionary. Knows nothing
// of Temporal: the activity (activities/training-activities.ts) adds heartbeats and retries.
//
// Why a resumed training equals an uninterrupted one: every source of randomness is a pure
// function of the seed and a counter that the checkpoint holds — the data order of (seed, epoch)
// and the stream position, the resampling draw of (seed, step), the weight init of the seed — and
// the checkpoint holds the trainer's whole state (weights, Adam moments and step, dead counters,
// tokens) bit for bit. The CPU step is deterministic for a given thread count.
import { ConfigError } from '../config/run-config.js';
import { resolveSaeConfig } from '../sae/sae-config.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { RunLayout } from '../storage/run-layout.js';
import type { DictionaryResult, FinalMetrics } from '../../workflows/training-types.js';
import { activationBatches, listHookParts, type StreamPosition } from './activation-stream.js';
import { BatchLookahead } from './batch-lookahead.js';
import { writeDictionaryOutputs } from './dictionary-outputs.js';
import { measureInputScale } from './input-normalisation.js';
import { MetricsLog, readMetricRecords, type StepRecord } from './metrics-log.js';
import { saeTrainerOptions, trainingFingerprint, type DictionaryConfig } from './training-config.js';
import { loadCheckpoint, readCheckpointPointer, writeCheckpoint, type CheckpointPointer } from './training-checkpoints.js';
import { openTrainerThread } from './trainer-client.js';
import { isScheduled, scheduledL1, scheduledLr } from './training-schedule.js';

/**
 * Steps the reported final metrics average over: the last 10% of training, at most 100 steps
 * (one batch is noisy; a long window would reach back to a worse dictionary).
 */
export const FINAL_WINDOW_STEPS = 100;
/**
 * How long a stopping training may spend, from the stop, finishing the writes under way and writing
 * its last checkpoint (weights and Adam state, about 6 × d_in × d_sae × 4 bytes).
 */
export const ABORT_CHECKPOINT_TIMEOUT_MS = 120_000;
export const finalWindow = (steps: number): number => Math.max(1, Math.min(FINAL_WINDOW_STEPS, Math.ceil(steps / 10)));

export interface TrainDictionaryOptions {
  store: ObjectStore;
  /** The harvest run's layout (dictionaries live under it). */
  layout: RunLayout;
  /** One dictionary's settings (training-config.ts dictionaryConfig()). */
  config: DictionaryConfig;
  /** Defaults to config.trainingId. */
  trainingId?: string;
  /** After every step (metrics, Prometheus, heartbeats). */
  onStep?: (record: StepRecord) => void;
  /** After a checkpoint's pointer is in S3 (including the one a stopped training writes). */
  onCheckpoint?: (pointer: CheckpointPointer) => void;
  /** The checkpoint a stopped training tries to write failed; it resumes from the previous one. */
  onAbortCheckpointError?: (err: Error) => void;
  /** Stops training at the next step boundary (the error thrown is the signal's reason). */
  signal?: AbortSignal;
  /** 'latest' (default): continue from the newest checkpoint if there is one. 'none': start over. */
  resumeFrom?: 'latest' | 'none' | CheckpointPointer;
}

export async function trainDictionary(o: TrainDictionaryOptions): Promise<DictionaryResult> {
  const { store, layout, config: c, signal } = o;
  const trainingId = o.trainingId ?? c.trainingId;
  const resultKey = layout.dictionaryResultKey(trainingId);
  // A finished dictionary is never trained again (a retried or restarted sweep skips it).
  const done = await store.getJsonIfExists<DictionaryResult>(layout.bucket, resultKey, signal);
  if (done) return done;

  const { parts, width } = await listHookParts(store, layout, c.hook);
  const saeOptions = saeTrainerOptions(c, width);
  const sae = resolveSaeConfig(saeOptions); // SaeConfigError before any thread starts
  const fingerprint = trainingFingerprint(c);
  let pointer = o.resumeFrom === 'none' ? undefined : typeof o.resumeFrom === 'object' ? o.resumeFrom : await readCheckpointPointer(store, layout, trainingId, signal);
  if (pointer && pointer.fingerprint !== fingerprint) {
    throw new ConfigError(`dictionary ${trainingId} has a checkpoint from other settings (${pointer.fingerprint}, now ${fingerprint}); delete ${layout.dictionaryPrefix(trainingId)} to start over`);
  }
  const resumedFromStep = pointer?.step ?? 0;
  const initialState = pointer ? await loadCheckpoint(store, layout, pointer, signal) : undefined;
  const scale = pointer?.scale ?? (c.normalise ? await measureInputScale(store, layout.bucket, parts, width, c.seed, signal) : 1);

  const trainer = await openTrainerThread({
    ...saeOptions,
    backend: 'onnx',
    onnx: { executionProvider: c.executionProvider, ...(c.intraOpThreads !== undefined && { intraOpThreads: c.intraOpThreads }) },
    ...(initialState && { initialState }),
  });
  let stream: BatchLookahead | undefined;
  const log = new MetricsLog(store, layout, trainingId);
  // S3 writes (metrics chunks, checkpoints) run in order behind the training; a failure ends
  // the training at the next step.
  let writes: Promise<void> = Promise.resolve();
  let writeError: unknown;
  // Those writes, and the checkpoint a stop writes, outlive the stop by a deadline: a metrics chunk
  // cut off mid-put by the stop would count as a write failure, and the stopped training would
  // then skip its last checkpoint.
  const writeSignal = outlive(signal, ABORT_CHECKPOINT_TIMEOUT_MS);
  const enqueue = (fn: () => Promise<void>) => {
    writes = writes.then(fn);
    writes.catch((err) => void (writeError ??= err));
  };

  let step = pointer?.step ?? 0;
  let tokens = pointer?.tokens ?? 0;
  let position: StreamPosition = pointer?.position ?? { epoch: 0, batchInEpoch: 0 };
  let resampleEvents = pointer?.resampleEvents ?? 0;
  let resampledFeatures = pointer?.resampledFeatures ?? 0;
  const recent: StepRecord[] = [];
  const resampleAt = new Set(c.resample.steps);
  const chunkEnds = (s: number) => s % c.metricsChunkSteps === 0 || s % c.checkpointEverySteps === 0 || s === c.steps;

  try {
    if (step < c.steps) {
      stream = new BatchLookahead(
        activationBatches(
          { store, bucket: layout.bucket, parts, width, batchSize: c.batchSize, bufferRows: c.bufferRows, seed: c.seed, scale, prefetch: c.prefetchParts, signal },
          position,
        ),
      );
    }
    const take = async () => {
      const item = await stream!.take();
      position = item.position;
      return item.batch;
    };
    // Resampling candidates come from the same stream: deterministic, and rows never repeat in an epoch.
    const drawSample = async (rows: number): Promise<Float32Array> => {
      const out = new Float32Array(rows * width);
      for (let filled = 0; filled < rows; ) {
        const batch = await take();
        const n = Math.min(c.batchSize, rows - filled);
        out.set(batch.subarray(0, n * width), filled * width);
        filled += n;
      }
      return out;
    };

    // This step's learning rate and λ when the config schedules them (a function of the step alone,
    // so a resumed training follows the same schedule); otherwise the trainer's own.
    const schedule = c.schedule;
    const stepOptions = (done: number) => isScheduled(schedule)
      ? { lr: scheduledLr(c.lr, done, c.steps, schedule), ...(c.arch === 'l1' && { l1Coefficient: scheduledL1(c.l1Coefficient, done, schedule) }) }
      : undefined;

    /** Takes the trainer's state and counters now; the returned write stores them (data, then pointer). */
    const checkpointAt = async (putSignal: AbortSignal | undefined): Promise<() => Promise<void>> => {
      const state = await trainer.state();
      const info = { step, tokens, position, seed: c.seed, scale, fingerprint, resampleEvents, resampledFeatures };
      return async () => {
        pointer = await writeCheckpoint(store, layout, trainingId, state, info, pointer, putSignal);
        o.onCheckpoint?.(pointer);
      };
    };
    /**
     * Run when the training is stopped (a worker shutting down, or the run cancelled): checkpoints
     * the steps since the last checkpoint, so the retry resumes here instead of up to
     * checkpointEverySteps steps back. The metrics up to this step go first and the pointer last, as
     * at every checkpoint. Its writes cannot use the aborted signal; they share writeSignal's deadline.
     */
    const checkpointOnAbort = async (): Promise<void> => {
      await writes.catch(() => undefined);
      if (writeError || step <= (pointer?.step ?? 0)) return;
      const chunk = log.takeChunk();
      if (chunk) await log.write(chunk, writeSignal);
      await (await checkpointAt(writeSignal))();
    };
    /** Stops between steps (never inside one, so the checkpoint is of a whole step and its resampling). */
    const stopHere = async (reason: unknown): Promise<never> => {
      await checkpointOnAbort().catch((err: Error) => o.onAbortCheckpointError?.(err));
      throw reason;
    };

    let last = performance.now();
    while (step < c.steps) {
      if (signal?.aborted) await stopHere(signal.reason ?? new Error('training aborted'));
      if (writeError) throw writeError;
      const scheduled = stepOptions(step);
      // A stop while the next batch is being fetched is still between steps.
      const batch = await take().catch((err: unknown) => (signal?.aborted ? stopHere(err) : Promise.reject(err)));
      const m = await trainer.step(batch, scheduled);
      step = m.step;
      tokens = m.tokens;
      let resampled = 0;
      if (resampleAt.has(step)) {
        const report = await trainer.resample({ inputs: await drawSample(c.resample.sampleRows) });
        resampled = report.resampled.length;
        resampleEvents++;
        resampledFeatures += resampled;
      }
      const now = performance.now();
      const record: StepRecord = { ...m, resampled, tokensPerSecond: c.batchSize / Math.max(1e-9, (now - last) / 1000), time: new Date().toISOString(), ...scheduled };
      last = now;
      log.add(record);
      recent.push(record);
      if (recent.length > finalWindow(c.steps)) recent.shift();
      o.onStep?.(record);

      if (chunkEnds(step)) {
        const chunk = log.takeChunk()!;
        enqueue(() => log.write(chunk, writeSignal));
      }
      if (step % c.checkpointEverySteps === 0 || step === c.steps) {
        // One checkpoint in flight at most: bounds memory to one extra copy of the state.
        await writes;
        if (writeError) throw writeError;
        enqueue(await checkpointAt(writeSignal));
      }
    }
    await writes;
    if (writeError) throw writeError;

    const keys = await writeDictionaryOutputs(store, layout, c, sae, await trainer.weights(), { scale, tokens, steps: step, resampleEvents, resampledFeatures }, signal);
    const result: DictionaryResult = {
      trainingId,
      hook: c.hook,
      arch: c.arch,
      dIn: width,
      dSae: c.dSae,
      l1Coefficient: c.l1Coefficient,
      k: c.k,
      steps: step,
      tokens,
      resampleEvents,
      resampledFeatures,
      scale,
      resumedFromStep,
      final: await finalMetrics(o, trainingId, recent, c.steps),
      keys: { ...keys, result: resultKey, metricsPrefix: layout.metricsPrefix(trainingId) },
    };
    // Last: its existence marks the dictionary complete.
    await store.putJson(layout.bucket, resultKey, result, signal);
    return result;
  } finally {
    await writes.catch(() => undefined);
    await stream?.close();
    await trainer.close();
  }
}

/** A signal that aborts `graceMs` after `stop` does (never, without `stop`). */
function outlive(stop: AbortSignal | undefined, graceMs: number): AbortSignal | undefined {
  if (!stop) return undefined;
  const c = new AbortController();
  const later = () => setTimeout(() => c.abort(stop.reason), graceMs).unref();
  if (stop.aborted) later();
  else stop.addEventListener('abort', later, { once: true });
  return c.signal;
}

/** Means over the last finalWindow(steps) steps; those before a resume are read back from S3. */
async function finalMetrics(o: TrainDictionaryOptions, trainingId: string, recent: StepRecord[], steps: number): Promise<FinalMetrics> {
  const want = finalWindow(steps);
  let window = recent;
  if (window.length < want) {
    const all = await readMetricRecords(o.store, o.layout, trainingId, o.signal);
    window = all.filter((r) => r.step > steps - want);
  }
  const mean = (f: (r: StepRecord) => number | null) => {
    const v = window.map(f).filter((x): x is number => x !== null && Number.isFinite(x));
    return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
  };
  return {
    mse: mean((r) => r.mse) ?? 0,
    fvu: mean((r) => r.fvu),
    l0: mean((r) => r.l0) ?? 0,
    l1: mean((r) => r.l1) ?? 0,
    deadFraction: window.at(-1)?.deadFraction ?? 0,
    denseFraction: mean((r) => r.denseFraction) ?? 0,
    windowSteps: window.length,
  };
}
