// Main-thread handle on a trainer thread (trainer-thread.ts): the SaeTrainer API, asynchronous,
// with batches and sample inputs transferred to the thread and states transferred back.
import { Worker } from 'node:worker_threads';
import { deserializeError } from '../model/inference-protocol.js';
import type { ResolvedSaeConfig } from '../sae/sae-config.js';
import type { CreateSaeTrainerOptions, ResampleOptions, ResampleReport, SaeTrainerState, StepOptions } from '../sae/sae-trainer.js';
import type { SaeBackendName } from '../sae/train-backends.js';
import type { SaeWeights } from '../sae/sae-weights.js';
import type { StepMetrics } from '../sae/step-metrics.js';
import { buffersOf, type FromTrainer, type ToTrainer } from './trainer-protocol.js';

export interface TrainerThread {
  readonly config: ResolvedSaeConfig;
  readonly backend: SaeBackendName;
  /** One update. `batch` is transferred: the caller must not use it afterwards. */
  step(batch: Float32Array, options?: StepOptions): Promise<StepMetrics>;
  weights(): Promise<SaeWeights>;
  state(): Promise<SaeTrainerState>;
  /** `state`'s buffers are transferred. */
  load(state: SaeTrainerState): Promise<void>;
  /** `options.inputs` is transferred. */
  resample(options: ResampleOptions): Promise<ResampleReport>;
  /** Releases the sessions and ends the thread; pending requests are rejected. Idempotent. */
  close(): Promise<void>;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** How long close() waits for the thread to release its sessions before terminating it. */
const CLOSE_GRACE_MS = 30_000;

/** Starts a thread and a trainer in it; `options.initialState` (if any) is transferred. */
export async function openTrainerThread(options: CreateSaeTrainerOptions): Promise<TrainerThread> {
  // Resolved relative to this compiled file, so it works from dist/ wherever the cwd is.
  const worker = new Worker(new URL('./trainer-thread.js', import.meta.url));
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let nextId = 0;
  let dead: Error | undefined;
  let closing: Promise<void> | undefined;
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));

  const fail = (error: Error) => {
    dead ??= error;
    for (const p of pending.values()) p.reject(dead);
    pending.clear();
  };
  worker.on('message', (msg: FromTrainer) => {
    const p = pending.get(msg.id);
    pending.delete(msg.id);
    if (msg.ok) p?.resolve(msg.value);
    else p?.reject(deserializeError(msg.error));
  });
  worker.on('error', (e) => fail(new Error(`trainer thread crashed: ${e.message}`, { cause: e })));
  worker.on('messageerror', (e) => fail(new Error(`trainer thread sent an unreadable message: ${e.message}`)));
  worker.on('exit', (code) => fail(new Error(closing ? 'trainer thread closed' : `trainer thread exited (code ${code})`)));

  const call = <T>(msg: DistributiveOmit<ToTrainer, 'id'>, transfer: ArrayBuffer[] = []): Promise<T> => {
    if (dead) return Promise.reject(dead);
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      worker.postMessage({ ...msg, id } as ToTrainer, transfer);
    });
  };

  let info: { config: ResolvedSaeConfig; backend: SaeBackendName };
  try {
    info = await call({ method: 'init', options }, buffersOf(options.initialState));
  } catch (err) {
    await worker.terminate();
    throw err;
  }
  return {
    config: info.config,
    backend: info.backend,
    step: (batch, stepOptions) => call({ method: 'step', batch, options: stepOptions }, buffersOf(batch)),
    weights: () => call({ method: 'weights' }),
    state: () => call({ method: 'state' }),
    load: (state) => call({ method: 'load', state }, buffersOf(state)),
    resample: (o) => call({ method: 'resample', options: o }, buffersOf(o.inputs)),
    close() {
      closing ??= (async () => {
        if (!dead) {
          const timer = setTimeout(() => void worker.terminate(), CLOSE_GRACE_MS);
          await call({ method: 'close' }).catch(() => undefined);
          await exited;
          clearTimeout(timer);
        }
        fail(new Error('trainer thread closed'));
      })();
      return closing;
    },
  };
}
