// The feature browser's examples: each top and interval example of features.parquet, with ±N
// tokens of context around it and the feature's activation on every one of those tokens (the
// paper highlights each token of an example by how strongly the feature fires on it).
//
// Stored as stats/<trainingId>/examples.parquet, one row per (feature, example), so notebooks can
// read it without Thresher. Windows are ragged and only read whole: JSON strings.
import { parquetMetadata, parquetReadObjects, type KeyValue } from 'hyparquet';
import { ByteWriter, parquetWrite, type ColumnSource, type SchemaElement } from 'hyparquet-writer';

export const EXAMPLE_WINDOWS_FORMAT = 'example-windows/v1';

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

/** Rows in feature order, then kind ('top' first), then group. */
export function encodeExampleWindows(file: ExampleWindowsFile, kvMetadata: Record<string, string> = {}): Uint8Array {
  const rows = [...file.rows].sort((a, b) => a.feature - b.feature || (a.kind === b.kind ? 0 : a.kind === 'top' ? -1 : 1) || a.group - b.group);
  const int = (pick: (r: ExampleWindow) => number) => Int32Array.from(rows, pick);
  const str = (pick: (r: ExampleWindow) => string) => rows.map(pick);
  const required = 'REQUIRED' as const;
  const leaf = (name: string, type: 'INT32' | 'DOUBLE'): SchemaElement => ({ name, type, repetition_type: required });
  const text = (name: string, repetition: 'REQUIRED' | 'OPTIONAL' = required): SchemaElement =>
    ({ name, type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' }, repetition_type: repetition });
  const leaves: SchemaElement[] = [
    leaf('feature', 'INT32'), text('kind'), leaf('group', 'INT32'), leaf('act', 'DOUBLE'),
    leaf('shard', 'INT32'), leaf('doc', 'INT32'), leaf('context', 'INT32'), leaf('position', 'INT32'),
    text('label', 'OPTIONAL'), leaf('center', 'INT32'), text('tokens'), text('texts'), text('acts'),
  ];
  const columnData: ColumnSource[] = [
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
  const kv: KeyValue[] = [
    { key: META.format, value: EXAMPLE_WINDOWS_FORMAT },
    { key: META.radius, value: String(file.radius) },
    ...Object.entries(kvMetadata).map(([key, value]) => ({ key, value })),
  ];
  const writer = new ByteWriter();
  parquetWrite({
    writer, columnData, schema: [{ name: 'root', num_children: leaves.length }, ...leaves],
    codec: 'SNAPPY', kvMetadata: kv, createdBy: 'thresher example-windows',
  });
  return writer.getBytes();
}

export async function readExampleWindows(bytes: Uint8Array): Promise<ExampleWindowsFile> {
  const file = {
    byteLength: bytes.byteLength,
    slice: (start: number, end = bytes.byteLength) => bytes.buffer.slice(bytes.byteOffset + start, bytes.byteOffset + end) as ArrayBuffer,
  };
  const metadata = parquetMetadata(file.slice(0));
  const kv = new Map((metadata.key_value_metadata ?? []).map((e) => [e.key, e.value ?? '']));
  if (kv.get(META.format) !== EXAMPLE_WINDOWS_FORMAT) {
    throw new Error(`not an example-windows file: ${META.format} is ${JSON.stringify(kv.get(META.format))}, expected ${EXAMPLE_WINDOWS_FORMAT}`);
  }
  const objects = await parquetReadObjects({ file, metadata });
  const rows = objects.map((o): ExampleWindow => ({
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
  }));
  return { radius: Number(kv.get(META.radius)), rows };
}

/** Six significant digits: plenty for a highlight, and a third of the JSON. */
const round6 = (x: number): number => (Number.isFinite(x) ? Number(x.toPrecision(6)) : 0);
