/** What the harvest needs from a loaded model: one call per batch, fetching only the hooks. */
export interface InferenceModel {
  /** Width (last dimension) of each hook's tensor. */
  widths: Record<string, number>;
  run(ids: BigInt64Array, batch: number, seq: number): Promise<Record<string, { data: Float32Array; dims: number[] }>>;
}
