import type { ActivationColumns } from '../parquet/activation-part.js';

/**
 * Collects the rows of one part for every hook. All hooks share the same rows (the same sampled
 * positions), so the id columns are kept once. Buffers grow by doubling; a part is bounded by
 * the configured part size, which bounds memory.
 */
export class PartBuilder {
  rows = 0;
  private doc: Int32Array;
  private context: Int32Array;
  private position: Int32Array;
  private token: Int32Array;
  private labels: string[] | undefined;
  private values: Map<string, Float32Array>;

  constructor(
    readonly part: number,
    private readonly widths: Record<string, number>,
    withLabels: boolean,
    capacity = 1024,
  ) {
    this.doc = new Int32Array(capacity);
    this.context = new Int32Array(capacity);
    this.position = new Int32Array(capacity);
    this.token = new Int32Array(capacity);
    this.labels = withLabels ? [] : undefined;
    this.values = new Map(Object.entries(widths).map(([h, w]) => [h, new Float32Array(capacity * w)]));
  }

  /**
   * Appends the chosen positions of context row `row` of a model output whose tensors are
   * [batch, seq, width].
   */
  add(
    ctx: { index: number; ids: Int32Array; docs: Int32Array },
    row: number,
    positions: Int32Array,
    outputs: Record<string, { data: Float32Array; dims: number[] }>,
    labelOf: (doc: number) => string | undefined,
  ): void {
    this.reserve(this.rows + positions.length);
    const seq = ctx.ids.length;
    for (const [hook, width] of Object.entries(this.widths)) {
      const src = outputs[hook].data;
      const dst = this.values.get(hook)!;
      for (let i = 0; i < positions.length; i++) {
        const from = (row * seq + positions[i]) * width;
        dst.set(src.subarray(from, from + width), (this.rows + i) * width);
      }
    }
    for (let i = 0; i < positions.length; i++) {
      const p = positions[i];
      const r = this.rows + i;
      this.doc[r] = ctx.docs[p];
      this.context[r] = ctx.index;
      this.position[r] = p;
      this.token[r] = ctx.ids[p];
      this.labels?.push(labelOf(ctx.docs[p]) ?? '');
    }
    this.rows += positions.length;
  }

  columns(hook: string): ActivationColumns {
    const n = this.rows;
    return {
      doc: this.doc.subarray(0, n),
      context: this.context.subarray(0, n),
      position: this.position.subarray(0, n),
      token: this.token.subarray(0, n),
      label: this.labels,
      values: this.values.get(hook)!.subarray(0, n * this.widths[hook]),
    };
  }

  private reserve(rows: number): void {
    if (rows <= this.doc.length) return;
    let cap = this.doc.length;
    while (cap < rows) cap *= 2;
    const grow = (a: Int32Array): Int32Array => {
      const b = new Int32Array(cap);
      b.set(a);
      return b;
    };
    this.doc = grow(this.doc);
    this.context = grow(this.context);
    this.position = grow(this.position);
    this.token = grow(this.token);
    for (const [hook, v] of this.values) {
      const b = new Float32Array(cap * this.widths[hook]);
      b.set(v);
      this.values.set(hook, b);
    }
  }
}
