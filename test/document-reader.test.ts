import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { CorruptShardError } from '../core/corpus/corrupt-shard-error.js';
import { readDocuments, type CorpusDocument } from '../core/corpus/document-reader.js';

async function read(name: string, bytes: Uint8Array, chunk = 7, maxDocumentBytes = 1 << 20, labelField?: string): Promise<CorpusDocument[]> {
  // Small chunks make lines straddle chunk boundaries, as real streams do.
  const pieces: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunk) pieces.push(Buffer.from(bytes.subarray(i, i + chunk)));
  const docs: CorpusDocument[] = [];
  for await (const d of readDocuments(Readable.from(pieces), { shardName: name, textField: 'text', labelField, maxDocumentBytes })) docs.push(d);
  return docs;
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('readDocuments', () => {
  it('reads JSONL with labels, CRLF and blank lines, across chunk boundaries', async () => {
    const text = '{"text":"héllo wörld","genre":"english"}\r\n\n{"text":"שלום","genre":"hebrew"}\n{"text":"x"}';
    const docs = await read('s.jsonl', enc(text), 3, 1 << 20, 'genre');
    assert.deepEqual(docs, [
      { index: 0, text: 'héllo wörld', label: 'english' },
      { index: 1, text: 'שלום', label: 'hebrew' },
      { index: 2, text: 'x', label: undefined },
    ]);
  });

  it('reads gzipped JSONL', async () => {
    const docs = await read('s.jsonl.gz', gzipSync(enc('{"text":"a"}\n{"text":"b"}\n')), 5);
    assert.deepEqual(docs.map((d) => d.text), ['a', 'b']);
  });

  it('reads plain text as blank-line separated documents and cuts huge ones', async () => {
    const docs = await read('s.txt', enc('one\ntwo\n\n\nthree\n'));
    assert.deepEqual(docs.map((d) => d.text), ['one\ntwo', 'three']);
    const long = await read('big.txt', enc('a'.repeat(100)), 16, 32);
    assert.ok(long.length >= 3);
    assert.equal(long.map((d) => d.text).join(''), 'a'.repeat(100));
  });

  it('names the shard and line of invalid JSON', async () => {
    await assert.rejects(read('s3://b/c/shard-3.jsonl', enc('{"text":"ok"}\n{"text": nope}\n')), (err: Error) => {
      assert.ok(err instanceof CorruptShardError);
      assert.match(err.message, /s3:\/\/b\/c\/shard-3\.jsonl: line 2 is not valid JSON/);
      return true;
    });
  });

  it('names the line of invalid UTF-8 and of a missing text field', async () => {
    const bad = new Uint8Array([...enc('{"text":"a"}\n{"text":"'), 0xff, 0xfe, ...enc('"}\n')]);
    await assert.rejects(read('u.jsonl', bad), /u\.jsonl: line 2 \(byte 13\) is not valid UTF-8/);
    await assert.rejects(read('f.jsonl', enc('{"body":"a"}\n')), /f\.jsonl: line 1 has no string field "text"/);
  });

  it('names the shard and byte of corrupt gzip', async () => {
    const gz = gzipSync(enc('{"text":"a"}\n'.repeat(2000)));
    await assert.rejects(read('t.jsonl.gz', gz.subarray(0, gz.length - 40)), (err: Error) => {
      assert.ok(err instanceof CorruptShardError);
      assert.match(err.message, /t\.jsonl\.gz: gzip data is corrupt near compressed byte \d+/);
      return true;
    });
  });

  it('rejects unsupported file types', async () => {
    await assert.rejects(read('s.csv', enc('a')), /unsupported file type/);
  });
});
