// The four parameter tensors of a sparse autoencoder, named and laid out as SAELens saves them,
// so a dictionary trained here loads in SAELens / SAEDashboard without renaming or transposing.
//
// Orientation. The paper (Towards Monosemanticity) writes column vectors: f = ReLU(W_e·x̄ + b_e)
// with W_e [d_sae × d_in], and x̂ = W_d·f + b_d with W_d [d_in × d_sae], whose COLUMNS are the
// dictionary directions. SAELens multiplies row vectors from the left instead (x̄ @ W_enc), so
//   W_enc = W_eᵀ  [d_in × d_sae]   — column i of W_enc is the paper's encoder row i;
//   W_dec = W_dᵀ  [d_sae × d_in]   — row i of W_dec is the paper's decoder column i (unit norm);
//   b_enc = b_e   [d_sae],  b_dec = b_d  [d_in].
// All matrices are row-major Float32Arrays. In this orientation a batch [B × d_in] times W_enc is
// a plain row-major GEMM, which is also what the ONNX graphs use.

export interface SaeWeights {
  dIn: number;
  dSae: number;
  /** [d_in × d_sae], row-major; W_enc[j·d_sae + i] is input dim j → feature i. */
  W_enc: Float32Array;
  /** [d_sae × d_in], row-major; row i is feature i's unit-norm dictionary direction. */
  W_dec: Float32Array;
  /** [d_sae]. */
  b_enc: Float32Array;
  /** [d_in]; also subtracted from the input before encoding (x̄ = x − b_dec). */
  b_dec: Float32Array;
}

/** Parameter names in a fixed order; optimizer state, graph inputs and files all follow it. */
export const SAE_PARAM_NAMES = ['W_enc', 'W_dec', 'b_enc', 'b_dec'] as const;
export type SaeParamName = (typeof SAE_PARAM_NAMES)[number];

/** Shape of each parameter, in SAELens orientation. */
export function paramShape(name: SaeParamName, dIn: number, dSae: number): number[] {
  switch (name) {
    case 'W_enc': return [dIn, dSae];
    case 'W_dec': return [dSae, dIn];
    case 'b_enc': return [dSae];
    case 'b_dec': return [dIn];
  }
}

export function zeroWeights(dIn: number, dSae: number): SaeWeights {
  return {
    dIn, dSae,
    W_enc: new Float32Array(dIn * dSae),
    W_dec: new Float32Array(dSae * dIn),
    b_enc: new Float32Array(dSae),
    b_dec: new Float32Array(dIn),
  };
}

export function cloneWeights(w: SaeWeights): SaeWeights {
  return {
    dIn: w.dIn, dSae: w.dSae,
    W_enc: w.W_enc.slice(), W_dec: w.W_dec.slice(), b_enc: w.b_enc.slice(), b_dec: w.b_dec.slice(),
  };
}

/** Throws unless every tensor has the length its shape implies (catches mixed-up dictionaries early). */
export function assertWeightShapes(w: SaeWeights): void {
  for (const name of SAE_PARAM_NAMES) {
    const expected = paramShape(name, w.dIn, w.dSae).reduce((a, b) => a * b, 1);
    if (w[name].length !== expected) {
      throw new RangeError(`SAE weight ${name} has ${w[name].length} values; d_in ${w.dIn}, d_sae ${w.dSae} need ${expected}`);
    }
  }
}
