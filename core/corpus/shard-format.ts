/** The corpus file formats a shard may have, told by its name. */
export type ShardFormat = 'jsonl' | 'text';

const FORMATS: [suffix: string, format: ShardFormat, gzip: boolean][] = [
  ['.jsonl.gz', 'jsonl', true],
  ['.jsonl', 'jsonl', false],
  ['.txt.gz', 'text', true],
  ['.txt', 'text', false],
];

export const SUPPORTED_SUFFIXES = FORMATS.map(([s]) => s);

export function shardFormatOf(name: string): { format: ShardFormat; gzip: boolean } | undefined {
  const hit = FORMATS.find(([suffix]) => name.endsWith(suffix));
  return hit && { format: hit[1], gzip: hit[2] };
}
