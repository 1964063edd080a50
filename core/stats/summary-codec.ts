// Compact binary form of a FeatureSummary, so the statistics stage can keep partial summaries in
// S3 (never in Temporal payloads) and merge them in a tree on any worker.
//
// Layout (gzipped when stored, gzipSummary: most example slots and label counters are zero;
// summaries that only cross between threads are left raw, and decodeSummary reads both):
//   "THFS" · u32 version · u32 header length · header JSON (options, tokens, labels with token counts)
//   · padding to 8 bytes · the arrays, each padded to 8 bytes, in a fixed order (see ARRAYS below)
// Arrays are written in the host's byte order, which must be little-endian (checked both ways).
// decode(encode(s)) holds every count, sum, example and sample exactly, so merging decoded
// partials equals merging the originals.
import { endianness } from 'node:os';
import { promisify } from 'node:util';
import { constants as zlibConstants, gunzipSync, gzip } from 'node:zlib';
import type { ExampleSlots } from './example-slots.js';
import { FeatureSummary, type FeatureSummaryOptions } from './feature-summary.js';
import type { IntervalReservoir } from './interval-reservoir.js';

export const SUMMARY_CODEC_VERSION = 1;
const MAGIC = 'THFS';

interface Header {
  options: Required<FeatureSummaryOptions>;
  tokens: number;
  labels: { label: string; tokens: number }[];
}

type Typed = Float64Array | Int32Array | Uint32Array | Uint16Array | Uint8Array | Int16Array;

// The summary's private state, reached by a cast: the codec is the one place that needs it, and
// keeping it here leaves FeatureSummary's public surface unchanged.
interface SummaryInternals {
  firing: Float64Array;
  sum: Float64Array;
  max: Float64Array;
  histogram: Float64Array;
  top: ExampleSlots;
  topFill: Uint16Array;
  topFloor: Float64Array;
  reservoir: IntervalReservoir;
  labelTokens: Map<string, number>;
  labelFiring: Map<string, Float64Array>;
}
interface ReservoirInternals {
  slots: ExampleSlots;
  fill: Uint8Array;
  exp: Int16Array;
}

const slotArrays = (s: ExampleSlots): Typed[] => [s.act, s.shard, s.doc, s.context, s.position, s.token, s.key];

/** The arrays of a summary in codec order (label counters last, in label order). */
function arrays(summary: FeatureSummary, labels: string[]): Typed[] {
  const s = summary as unknown as SummaryInternals;
  const r = s.reservoir as unknown as ReservoirInternals;
  return [
    s.firing, s.sum, s.max, s.histogram,
    ...slotArrays(s.top), s.topFill, s.topFloor,
    ...slotArrays(r.slots), r.fill, r.exp,
    ...labels.map((l) => s.labelFiring.get(l)!),
  ];
}

function checkEndianness(): void {
  if (endianness() !== 'LE') throw new Error('the summary codec needs a little-endian host');
}

const pad8 = (n: number): number => (n + 7) & ~7;

/** The summary's raw (uncompressed) bytes; gzipSummary makes the stored form. */
export function encodeSummary(summary: FeatureSummary): Uint8Array {
  checkEndianness();
  const labelCounts = summary.labels();
  const header: Header = { options: summary.options, tokens: summary.tokens, labels: labelCounts.map((l) => ({ label: l.label, tokens: l.tokens })) };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const list = arrays(summary, labelCounts.map((l) => l.label));
  let size = pad8(12 + headerBytes.byteLength);
  for (const a of list) size += pad8(a.byteLength);
  const out = Buffer.alloc(size);
  out.write(MAGIC, 0, 'latin1');
  out.writeUInt32LE(SUMMARY_CODEC_VERSION, 4);
  out.writeUInt32LE(headerBytes.byteLength, 8);
  headerBytes.copy(out, 12);
  let offset = pad8(12 + headerBytes.byteLength);
  for (const a of list) {
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), offset);
    offset += pad8(a.byteLength);
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

const gzipAsync = promisify(gzip);

/** Raw bytes per gzip member (see gzipSummary). */
export const GZIP_PIECE_BYTES = 4 << 20;

/**
 * zlib options of the stored form. Level 1: in one piece, level 6 took 731 ms against 405 ms for
 * 11.1 against 11.6 MiB. Z_RLE (matches of one repeated byte only: the summary's redundancy is
 * runs of zeros, in empty slots and the high bytes of small numbers): a 4,096-feature summary
 * (25.9 MiB raw, members as below) took a median 135 ms against 208 ms with the default strategy,
 * for 8.53 against 8.41 MiB (10 alternating rounds on the 2-core dev VM).
 */
export const SUMMARY_GZIP_OPTIONS = { level: 1, strategy: zlibConstants.Z_RLE } as const;

/**
 * The stored form of raw summary bytes: gzip (SUMMARY_GZIP_OPTIONS), as consecutive members of
 * GZIP_PIECE_BYTES of input each, compressed at once on libuv's thread pool; gunzip reads the
 * members back as one stream. A summarise activity ends with this and each merge too, so it is on
 * the stage's critical path: a 4,096-feature summary took 385–433 ms in one piece and 229–251 ms
 * as members, side by side on the 2-core dev VM. The pieces are cut by size alone, so the same
 * summary always gives the same bytes. Off the calling thread, so an activity's heartbeats keep
 * going meanwhile.
 */
export async function gzipSummary(raw: Uint8Array, pieceBytes = GZIP_PIECE_BYTES): Promise<Uint8Array> {
  if (!Number.isInteger(pieceBytes) || pieceBytes < 1) throw new RangeError(`pieceBytes must be a positive integer, got ${pieceBytes}`);
  const pieces: Uint8Array[] = [];
  for (let at = 0; at < raw.byteLength || at === 0; at += pieceBytes) pieces.push(raw.subarray(at, Math.min(raw.byteLength, at + pieceBytes)));
  const members = await Promise.all(pieces.map((piece) => gzipAsync(piece, SUMMARY_GZIP_OPTIONS)));
  return new Uint8Array(Buffer.concat(members));
}

export function decodeSummary(bytes: Uint8Array): FeatureSummary {
  checkEndianness();
  let raw: Buffer;
  if (bytes.length >= 4 && Buffer.from(bytes.buffer, bytes.byteOffset, 4).toString('latin1') === MAGIC) {
    raw = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  } else {
    try {
      raw = gunzipSync(bytes);
    } catch (err) {
      throw new Error(`not a feature summary (neither gzip nor raw): ${(err as Error).message}`);
    }
  }
  if (raw.byteLength < 12 || raw.toString('latin1', 0, 4) !== MAGIC) throw new Error('not a feature summary (bad magic)');
  const version = raw.readUInt32LE(4);
  if (version !== SUMMARY_CODEC_VERSION) throw new Error(`feature summary version ${version} is not supported (expected ${SUMMARY_CODEC_VERSION})`);
  const headerLength = raw.readUInt32LE(8);
  const header = JSON.parse(raw.toString('utf8', 12, 12 + headerLength)) as Header;
  const summary = new FeatureSummary(header.options);
  const s = summary as unknown as SummaryInternals;
  summary.tokens = header.tokens;
  for (const l of header.labels) {
    s.labelTokens.set(l.label, l.tokens);
    s.labelFiring.set(l.label, new Float64Array(summary.dSae));
  }
  const list = arrays(summary, header.labels.map((l) => l.label));
  let offset = pad8(12 + headerLength);
  let need = offset;
  for (const a of list) need += pad8(a.byteLength);
  if (raw.byteLength !== need) throw new Error(`feature summary is ${raw.byteLength} bytes, its header implies ${need}`);
  for (const a of list) {
    new Uint8Array(a.buffer, a.byteOffset, a.byteLength).set(raw.subarray(offset, offset + a.byteLength));
    offset += pad8(a.byteLength);
  }
  s.reservoir.recomputeAdmission();
  return summary;
}
