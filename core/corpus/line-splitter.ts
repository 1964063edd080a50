import { CorruptShardError } from './corrupt-shard-error.js';

export interface Line {
  /** 1-based line number in the (decompressed) shard. */
  number: number;
  /** Byte offset of the line's first byte in the decompressed shard. */
  offset: number;
  text: string;
  /** False when this is a piece of a line longer than maxLineBytes and more of it follows. */
  complete: boolean;
}

/**
 * Splits a byte stream into UTF-8 lines without ever holding more than one line (or maxLineBytes)
 * in memory, and fails on invalid UTF-8 naming the line, which readline's lenient decoding hides.
 */
export async function* splitLines(
  chunks: AsyncIterable<Uint8Array>,
  opts: { shardName: string; maxLineBytes: number; splitLongLines: boolean },
): AsyncGenerator<Line> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let lineNumber = 1;
  let lineOffset = 0;

  const decode = (bytes: Buffer): string => {
    try {
      return decoder.decode(bytes);
    } catch {
      throw new CorruptShardError(`${opts.shardName}: line ${lineNumber} (byte ${lineOffset}) is not valid UTF-8`);
    }
  };

  for await (const raw of chunks) {
    let chunk = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    let nl: number;
    while ((nl = chunk.indexOf(10)) !== -1) {
      pending.push(chunk.subarray(0, nl));
      const bytes = Buffer.concat(pending);
      const text = decode(bytes.at(-1) === 13 ? bytes.subarray(0, -1) : bytes);
      yield { number: lineNumber, offset: lineOffset, text, complete: true };
      lineOffset += pendingBytes + nl + 1;
      lineNumber++;
      pending = [];
      pendingBytes = 0;
      chunk = chunk.subarray(nl + 1);
    }
    if (chunk.length) {
      pending.push(Buffer.from(chunk)); // copy: the stream may reuse its buffer
      pendingBytes += chunk.length;
    }
    if (pendingBytes > opts.maxLineBytes) {
      if (!opts.splitLongLines) {
        throw new CorruptShardError(`${opts.shardName}: line ${lineNumber} (byte ${lineOffset}) is longer than ${opts.maxLineBytes} bytes`);
      }
      const bytes = Buffer.concat(pending);
      const cut = utf8Boundary(bytes, bytes.length);
      yield { number: lineNumber, offset: lineOffset, text: decode(bytes.subarray(0, cut)), complete: false };
      lineOffset += cut;
      pending = cut < bytes.length ? [bytes.subarray(cut)] : [];
      pendingBytes = bytes.length - cut;
    }
  }
  if (pendingBytes > 0) {
    const bytes = Buffer.concat(pending);
    yield { number: lineNumber, offset: lineOffset, text: decode(bytes.at(-1) === 13 ? bytes.subarray(0, -1) : bytes), complete: true };
  }
}

/** Largest index ≤ end that does not split a UTF-8 sequence. */
function utf8Boundary(bytes: Buffer, end: number): number {
  let i = end;
  while (i > 0 && i > end - 4 && (bytes[i - 1] & 0xc0) === 0x80) i--;
  // i-1 is now a lead byte (or ASCII); if the sequence it starts is incomplete, cut before it.
  if (i > 0) {
    const lead = bytes[i - 1];
    const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    if (end - (i - 1) < need) return i - 1;
  }
  return end;
}
