import type { SeededRandom } from '../random/seeded-random.js';

/**
 * A fixed-capacity pool of activation rows from which batches are drawn uniformly at random and
 * without replacement. Parts stream in one after another; because every draw picks any row in the
 * pool, a batch mixes rows of every part still resident (many contexts and shards), as the paper's
 * shuffled 10B-token pool did, while memory stays capacity × width floats whatever the dataset size.
 */
export class ShuffleBuffer {
  private readonly data: Float32Array;
  private rows = 0;

  constructor(
    private readonly width: number,
    readonly capacity: number,
    private readonly rng: SeededRandom,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`shuffle buffer capacity must be a positive integer, got ${capacity}`);
    this.data = new Float32Array(capacity * width);
  }

  get size(): number {
    return this.rows;
  }

  get free(): number {
    return this.capacity - this.rows;
  }

  /** Copies rows [from, from + count) of a row-major block in; count must fit. */
  push(block: Float32Array, from: number, count: number): void {
    if (count > this.free) throw new RangeError(`shuffle buffer has room for ${this.free} rows, asked to take ${count}`);
    this.data.set(block.subarray(from * this.width, (from + count) * this.width), this.rows * this.width);
    this.rows += count;
  }

  /**
   * Removes `count` uniformly chosen rows, writing them to `out` when given (a fast-forward after
   * a restart passes none: the draw sequence is replayed without copying).
   */
  take(count: number, out?: Float32Array): void {
    if (count > this.rows) throw new RangeError(`shuffle buffer holds ${this.rows} rows, asked for ${count}`);
    const w = this.width;
    for (let i = 0; i < count; i++) {
      const pick = this.rng.int(0, this.rows);
      const last = this.rows - 1;
      if (out) out.set(this.data.subarray(pick * w, pick * w + w), i * w);
      // Swap-remove keeps the pool dense, so the next draw is again uniform over what is left.
      if (pick !== last) this.data.copyWithin(pick * w, last * w, last * w + w);
      this.rows--;
    }
  }
}
