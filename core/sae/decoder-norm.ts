// The unit-norm constraint on dictionary directions (rows of W_dec here, the paper's decoder
// columns). Without it the L1 penalty could be dodged by shrinking f and growing W_dec.
// Two halves, applied around each Adam step:
//   before: remove from each row's gradient its component along the row, so the step moves the
//           row (to first order) along the unit sphere rather than changing its length;
//   after:  divide each row by its norm, to undo the second-order drift (and Adam's rescaling).

/**
 * g_i ← g_i − (g_i·w_i) w_i for every row i of the [rows × cols] matrices. Assumes the rows of
 * `w` are unit norm, which the trainer keeps true; the ONNX step makes the same assumption so both
 * paths agree bit-for-bit in structure.
 */
export function removeParallelGradient(grad: Float32Array, w: Float32Array, rows: number, cols: number): void {
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    let dot = 0;
    for (let j = 0; j < cols; j++) dot += grad[o + j] * w[o + j];
    for (let j = 0; j < cols; j++) grad[o + j] -= dot * w[o + j];
  }
}

/** w_i ← w_i / ‖w_i‖ for every row; a zero row stays zero rather than becoming NaN. */
export function normaliseDecoderRows(w: Float32Array, rows: number, cols: number): void {
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    let n2 = 0;
    for (let j = 0; j < cols; j++) n2 += w[o + j] * w[o + j];
    if (n2 === 0) continue;
    const inv = 1 / Math.sqrt(n2);
    for (let j = 0; j < cols; j++) w[o + j] *= inv;
  }
}
