// Synthetic "activations" with known structure — each vector a sparse non-negative mix of fixed
// random unit directions plus an offset — for tests and demos of SAE training, where real
// harvested activations are not at hand. Deterministic for a given seed.
import { SeededRandom } from '../random/seeded-random.js';

export interface SyntheticActivationOptions {
  dIn: number;
  /** How many ground-truth directions exist. */
  nDirections: number;
  /** Probability that a direction is present in a vector. Default 0.05. */
  density?: number;
  /** Constant added to every vector, so b_dec has something to learn. Default 0.5. */
  offset?: number;
  /** Gaussian-ish noise scale. Default 0.01. */
  noise?: number;
  seed: number;
}

export interface SyntheticActivations {
  /** Fills `rows` new vectors, [rows × d_in] row-major. */
  batch(rows: number): Float32Array;
  /** The ground-truth unit directions, [nDirections × d_in]. */
  directions: Float32Array;
}

export function syntheticActivations(o: SyntheticActivationOptions): SyntheticActivations {
  const { dIn, nDirections } = o;
  const density = o.density ?? 0.05;
  const offset = o.offset ?? 0.5;
  const noise = o.noise ?? 0.01;
  const dirRng = SeededRandom.derived(o.seed, 1);
  const directions = new Float32Array(nDirections * dIn);
  for (let d = 0; d < nDirections; d++) {
    let n2 = 0;
    for (let j = 0; j < dIn; j++) {
      const v = dirRng.uniform(-1, 1);
      directions[d * dIn + j] = v;
      n2 += v * v;
    }
    const inv = 1 / Math.sqrt(n2);
    for (let j = 0; j < dIn; j++) directions[d * dIn + j] *= inv;
  }
  const rng = SeededRandom.derived(o.seed, 2);
  return {
    directions,
    batch(rows: number): Float32Array {
      const out = new Float32Array(rows * dIn);
      for (let r = 0; r < rows; r++) {
        const row = out.subarray(r * dIn, (r + 1) * dIn);
        // Sum of 3 uniforms: cheap, bounded, roughly bell-shaped.
        for (let j = 0; j < dIn; j++) row[j] = offset + noise * (rng.next() + rng.next() + rng.next() - 1.5);
        for (let d = 0; d < nDirections; d++) {
          if (!rng.chance(density)) continue;
          const magnitude = rng.uniform(0.5, 2);
          for (let j = 0; j < dIn; j++) row[j] += magnitude * directions[d * dIn + j];
        }
      }
      return out;
    },
  };
}
