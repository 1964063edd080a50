// Keeps one request for the next batch in flight while the caller trains on the current one, so
// the shuffle-buffer draw and the Parquet decoding of the next parts (main thread) run while the
// training step computes (trainer thread): data loading overlaps compute. Parts are fetched
// further ahead inside the stream (its `prefetch`).
import type { StreamPosition } from './activation-stream.js';

export interface PositionedBatch {
  batch: Float32Array;
  position: StreamPosition;
}

export class BatchLookahead {
  private next: Promise<IteratorResult<PositionedBatch>>;

  constructor(private readonly source: AsyncGenerator<PositionedBatch>) {
    this.next = this.request();
  }

  private request(): Promise<IteratorResult<PositionedBatch>> {
    const p = this.source.next();
    p.catch(() => undefined); // surfaced by take(); never an unhandled rejection meanwhile
    return p;
  }

  /** The next batch (its buffer is the caller's), and a request for the one after it. */
  async take(): Promise<PositionedBatch> {
    const r = await this.next;
    if (r.done) throw new Error('activation stream ended unexpectedly');
    this.next = this.request();
    return r.value;
  }

  /** Ends the stream (after the request in flight settles); never throws. */
  async close(): Promise<void> {
    await this.next.catch(() => undefined);
    await this.source.return(undefined).catch(() => undefined);
  }
}
