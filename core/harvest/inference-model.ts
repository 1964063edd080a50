/** What the harvest needs from a loaded model: one call per batch, fetching only the hooks. */
export interface InferenceModel {
  /** Width (last dimension) of each hook's tensor. */
  widths: Record<string, number>;
  /** `onComputed`, when the model can tell, hears the seconds spent computing this batch (queueing excluded). */
  run(ids: BigInt64Array, batch: number, seq: number, onComputed?: (seconds: number) => void): Promise<Record<string, { data: Float32Array; dims: number[] }>>;
  /** Optional: takes back a result the caller has finished with, to reuse its buffers (they are detached). */
  recycle?(outputs: Record<string, { data: Float32Array; dims: number[] }>): void;
}
