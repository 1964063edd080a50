// The feature browser's examples: each top and interval example of features.parquet, with ±N
// tokens of context around it and the feature's activation on every one of those tokens (the
// paper highlights each token of an example by how strongly the feature fires on it).
//
// Stored as stats/<trainingId>/examples.parquet, one row per (feature, example), so notebooks can
// read it without Thresher. Windows are ragged and only read whole: JSON strings.
import type { AsyncBuffer, KeyValue } from 'hyparquet';
import { ByteWriter, ParquetWriter, type ColumnSource, type SchemaElement } from 'hyparquet-writer';
import { openRowGroupFile } from '../parquet/parquet-source.js';

export const EXAMPLE_WINDOWS_FORMAT = 'example-windows/v1';
/** Features per row group of examples.parquet as the statistics stage gathers it (~64 windows each). */
export const FEATURES_PER_ROW_GROUP = 1024;

export type ExampleKind = 'top' | 'interval';

export interface ExampleWindow {
  feature: number;
  kind: ExampleKind;
  /** Rank in the feature's top list (0 = strongest), or the interval index (0 = lowest). */
  group: number;
  /** The feature's activation on the centre token, as the statistics recorded it. */
  act: number;
  shard: number;
  doc: number;
  context: number;
  position: number;
  /** Ground-truth label of the centre token's document, when the corpus carries labels. */
  label: string | null;
  /** Index of the example's own token in `tokens`. */
  center: number;
  /** Token ids of the window, in order; the window stays inside the example's context. */
  tokens: number[];
  /** Each token's text as the tokenizer decodes it alone. */
  texts: string[];
  /** The feature's activation on each window token (recomputed through the model and encoder). */
  acts: number[];
}

export interface ExampleWindowsFile {
  /** Tokens on each side of the centre the windows were cut with. */
  radius: number;
  rows: ExampleWindow[];
}

const META = { format: 'thresher.format', radius: 'thresher.window_radius' } as const;

/** Row order of examples.parquet: feature, then kind ('top' first), then group. */
function byFeature(a: ExampleWindow, b: ExampleWindow): number {
  return a.feature - b.feature || (a.kind === b.kind ? 0 : a.kind === 'top' ? -1 : 1) || a.group - b.group;
}

const required = 'REQUIRED' as const;
const leaf = (name: string, type: 'INT32' | 'DOUBLE'): SchemaElement => ({ name, type, repetition_type: required });
const text = (name: string, repetition: 'REQUIRED' | 'OPTIONAL' = required): SchemaElement =>
  ({ name, type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' }, repetition_type: repetition });
const LEAVES: SchemaElement[] = [
  leaf('feature', 'INT32'), text('kind'), leaf('group', 'INT32'), leaf('act', 'DOUBLE'),
  leaf('shard', 'INT32'), leaf('doc', 'INT32'), leaf('context', 'INT32'), leaf('position', 'INT32'),
  text('label', 'OPTIONAL'), leaf('center', 'INT32'), text('tokens'), text('texts'), text('acts'),
];

function columnsOf(rows: readonly ExampleWindow[]): ColumnSource[] {
  const int = (pick: (r: ExampleWindow) => number) => Int32Array.from(rows, pick);
  const str = (pick: (r: ExampleWindow) => string) => rows.map(pick);
  return [
    { name: 'feature', data: int((r) => r.feature) },
    { name: 'kind', data: str((r) => r.kind) },
    { name: 'group', data: int((r) => r.group) },
    { name: 'act', data: Float64Array.from(rows, (r) => r.act) },
    { name: 'shard', data: int((r) => r.shard) },
    { name: 'doc', data: int((r) => r.doc) },
    { name: 'context', data: int((r) => r.context) },
    { name: 'position', data: int((r) => r.position) },
    { name: 'label', data: rows.map((r) => r.label) },
    { name: 'center', data: int((r) => r.center) },
    { name: 'tokens', data: str((r) => JSON.stringify(r.tokens)), statistics: false },
    { name: 'texts', data: str((r) => JSON.stringify(r.texts)), statistics: false },
    { name: 'acts', data: str((r) => JSON.stringify(r.acts.map(round6))), statistics: false },
  ];
}

/**
 * Writes examples.parquet one row group at a time, so a large dictionary's windows never need to
 * be in memory at once: the caller passes them in feature ranges, ascending (each row group's
 * feature statistics then tell a reader which row groups hold a feature). Rows within a call are
 * sorted here.
 */
export class ExampleWindowsWriter {
  private readonly bytes = new ByteWriter();
  private readonly parquet: ParquetWriter;
  private lastFeature = -1;
  rows = 0;

  constructor(radius: number, kvMetadata: Record<string, string> = {}) {
    const kv: KeyValue[] = [
      { key: META.format, value: EXAMPLE_WINDOWS_FORMAT },
      { key: META.radius, value: String(radius) },
      ...Object.entries(kvMetadata).map(([key, value]) => ({ key, value })),
    ];
    this.parquet = new ParquetWriter({
      writer: this.bytes, schema: [{ name: 'root', num_children: LEAVES.length }, ...LEAVES],
      codec: 'SNAPPY', kvMetadata: kv, createdBy: 'thresher example-windows',
    });
  }

  /** Appends `rows` as one row group; their features must not precede the previous group's. */
  writeRowGroup(rows: readonly ExampleWindow[]): void {
    if (!rows.length) return;
    const sorted = [...rows].sort(byFeature);
    if (sorted[0].feature < this.lastFeature) {
      throw new RangeError(`example windows must come in feature order: feature ${sorted[0].feature} after ${this.lastFeature}`);
    }
    this.lastFeature = sorted[sorted.length - 1].feature;
    void this.parquet.write({ columnData: columnsOf(sorted), rowGroupSize: sorted.length });
    this.rows += sorted.length;
  }

  finish(): Uint8Array {
    void this.parquet.finish();
    return this.bytes.getBytes();
  }
}

/** The whole file at once (one row group), rows in feature order. */
export function encodeExampleWindows(file: ExampleWindowsFile, kvMetadata: Record<string, string> = {}): Uint8Array {
  const writer = new ExampleWindowsWriter(file.radius, kvMetadata);
  writer.writeRowGroup(file.rows);
  return writer.finish();
}

export async function readExampleWindows(bytes: Uint8Array): Promise<ExampleWindowsFile> {
  const reader = await openExampleWindows(bytes);
  return { radius: reader.radius, rows: await reader.windowsOf(0, Infinity) };
}

/** Reads examples.parquet by feature range, decoding only the row groups that hold the range. */
export interface ExampleWindowsReader {
  radius: number;
  /** Windows of features [from, to), in file order (feature order). */
  windowsOf(from: number, to: number): Promise<ExampleWindow[]>;
}

/**
 * Each row group's feature statistics (ExampleWindowsWriter writes them) say which groups a range
 * needs; a file without them is read whole. The last group decoded is kept, so reading ranges in
 * ascending order decodes each group once.
 */
export async function openExampleWindows(source: Uint8Array | AsyncBuffer): Promise<ExampleWindowsReader> {
  const file = await openRowGroupFile(source, META.format, EXAMPLE_WINDOWS_FORMAT, 'an example-windows file', () => windowOf);
  const featureColumn = file.metadata.schema.slice(1).findIndex((e) => e.name === 'feature');
  const ranges = file.groups.map(({ group }) => {
    const stats = group.columns[featureColumn]?.meta_data?.statistics;
    return {
      min: typeof stats?.min_value === 'number' ? stats.min_value : -Infinity,
      max: typeof stats?.max_value === 'number' ? stats.max_value : Infinity,
    };
  });
  return {
    radius: Number(file.kv.get(META.radius)),
    async windowsOf(from, to) {
      const out: ExampleWindow[] = [];
      for (const [index, g] of file.groups.entries()) {
        if (ranges[index].max < from || ranges[index].min >= to || g.rowEnd === g.rowStart) continue;
        for (const w of await file.read(index)) if (w.feature >= from && w.feature < to) out.push(w);
      }
      return out;
    },
  };
}

function windowOf(o: Record<string, unknown>): ExampleWindow {
  return {
    feature: Number(o.feature),
    kind: String(o.kind) as ExampleKind,
    group: Number(o.group),
    act: Number(o.act),
    shard: Number(o.shard),
    doc: Number(o.doc),
    context: Number(o.context),
    position: Number(o.position),
    label: o.label === null || o.label === undefined ? null : String(o.label),
    center: Number(o.center),
    tokens: JSON.parse(String(o.tokens)) as number[],
    texts: JSON.parse(String(o.texts)) as string[],
    acts: JSON.parse(String(o.acts)) as number[],
  };
}

/** Six significant digits: plenty for a highlight, and a third of the JSON. */
const round6 = (x: number): number => (Number.isFinite(x) ? Number(x.toPrecision(6)) : 0);
