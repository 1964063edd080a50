// Result buffers a worker thread got back from the main thread (transferred, not copied), kept to
// be written into by later runs: without them every run allocates fresh result buffers, and the
// main thread spends its time collecting the old ones.

export class SpareBuffers {
  private readonly spare: ArrayBuffer[] = [];

  /** `max`: enough for the results in flight; more would only hold memory. */
  constructor(private readonly max: number) {}

  give(buffer: ArrayBuffer): void {
    if (this.spare.length < this.max) this.spare.push(buffer);
  }

  /** A Float32Array of `length` floats at offset 0 of a spare buffer that is large enough, or of a new one. */
  float32(length: number): Float32Array {
    const i = this.spare.findIndex((b) => b.byteLength >= length * 4);
    return new Float32Array(i >= 0 ? this.spare.splice(i, 1)[0] : new ArrayBuffer(length * 4), 0, length);
  }
}
