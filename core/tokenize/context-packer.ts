export type BosMode = 'context' | 'document' | 'none';

/** A model input row: `ids[i]` came from document `docs[i]` of the shard. */
export interface PackedContext {
  /** 0-based context number within the shard; stable across retries. */
  index: number;
  ids: Int32Array;
  docs: Int32Array;
}

/**
 * Packs a shard's documents into fixed-length contexts, in order, losing no token. Documents flow
 * across context boundaries (as in the paper's data); each token keeps its document number so the
 * boundaries stay recorded. Only the shard's last context may be shorter.
 */
export class ContextPacker {
  private ids: Int32Array;
  private docs: Int32Array;
  private fill = 0;
  private next = 0;
  private readonly bosId: number;

  constructor(
    private readonly contextLength: number,
    private readonly bos: BosMode,
    bosId: number | undefined,
  ) {
    if (bos !== 'none' && bosId === undefined) throw new Error(`BOS mode '${bos}' needs a BOS token id`);
    this.bosId = bosId ?? -1;
    this.ids = new Int32Array(contextLength);
    this.docs = new Int32Array(contextLength);
  }

  /** Adds one document's tokens; yields every context it completes. */
  *push(doc: number, tokens: ArrayLike<number>): Generator<PackedContext> {
    if (this.bos === 'document') yield* this.append(doc, [this.bosId]);
    yield* this.append(doc, tokens);
  }

  /** Yields the last, partial context if it holds any document token. */
  *finish(): Generator<PackedContext> {
    const minimum = this.bos === 'context' ? 1 : 0;
    if (this.fill > minimum) yield this.emit(this.fill);
    this.fill = 0;
  }

  private *append(doc: number, tokens: ArrayLike<number>): Generator<PackedContext> {
    for (let i = 0; i < tokens.length; i++) {
      if (this.fill === 0 && this.bos === 'context') {
        this.ids[0] = this.bosId;
        this.docs[0] = doc;
        this.fill = 1;
      }
      this.ids[this.fill] = tokens[i];
      this.docs[this.fill] = doc;
      if (++this.fill === this.contextLength) yield this.emit(this.contextLength);
    }
  }

  private emit(length: number): PackedContext {
    const ctx = { index: this.next++, ids: this.ids.slice(0, length), docs: this.docs.slice(0, length) };
    this.fill = 0;
    return ctx;
  }
}
