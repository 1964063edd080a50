// Messages between openInferenceWorker (main thread) and inference-thread.ts, plus the error
// classes both sides need: errors cross the thread boundary as plain data and are rebuilt here so
// callers can use instanceof.
import { UnknownHookError, type HookInfo } from './onnx-graph.js';

export interface InferenceWorkerOptions {
  modelPath: string;
  hooks: string[];
  /** 'cpu' (default), 'cuda', or any other onnxruntime-node execution provider name. */
  executionProvider?: string;
  intraOpThreads?: number;
  inputName?: string;
}

export interface HookOutput {
  data: Float32Array;
  dims: number[];
}

export interface InferenceInfo {
  /** One per requested hook, in request order; shapes completed from ORT's own inference. */
  hooks: HookInfo[];
  /** Last dimension of each hook; null when it varies with sequence length (e.g. attention scores). */
  widths: Record<string, number | null>;
  /** Execution provider the session was created with. */
  executionProvider: string;
  modelSha256: string;
}

export type Ids = Int32Array | BigInt64Array;

export type ToThread =
  | { type: 'run'; id: number; ids: Ids; batch: number; seq: number }
  /** Result buffers the caller is done with, for the thread to run the next batches into. */
  | { type: 'recycle'; buffers: ArrayBuffer[] }
  | { type: 'close' };

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  unknown?: string[];
  suggestions?: Record<string, string[]>;
}

export type FromThread =
  | { type: 'ready'; info: InferenceInfo }
  | { type: 'open-error'; error: SerializedError }
  /** `seconds`: time the thread spent on this request (session.run and output conversion). */
  | { type: 'result'; id: number; outputs: Record<string, HookOutput>; seconds: number }
  | { type: 'run-error'; id: number; error: SerializedError };

/** The requested execution provider does not exist or its library is not installed. */
export class ExecutionProviderError extends Error {
  override name = 'ExecutionProviderError';
}

export function serializeError(e: unknown): SerializedError {
  if (e instanceof UnknownHookError) {
    return { name: e.name, message: e.message, unknown: e.unknown, suggestions: e.suggestions };
  }
  if (e instanceof Error) return { name: e.name, message: e.message, stack: e.stack };
  return { name: 'Error', message: String(e) };
}

export function deserializeError(e: SerializedError): Error {
  if (e.name === 'UnknownHookError') return new UnknownHookError(e.unknown ?? [], e.suggestions ?? {}, e.message);
  const err = e.name === 'ExecutionProviderError' ? new ExecutionProviderError(e.message) : new Error(e.message);
  if (err.name !== e.name) err.name = e.name;
  if (e.stack) err.stack = e.stack; // where it went wrong inside the thread is the useful part
  return err;
}
