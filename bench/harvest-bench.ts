// Harvest benchmarks, measured side by side in one run (the machine is noisy: compare ratios).
//
//   npm run bench:harvest -- [flags]
//
//   (a) end-to-end harvestShard() tokens/s ÷ bare session.run() tokens/s on the same batches,
//       for one hook and for two hooks, per model (bench-models.ts: the demo model, and a model of
//       GPT-2 small's shape whose compute per stored byte is like a real harvest's); target >= 0.85.
//   (b) Parquet write MiB/s ÷ raw file write MiB/s (benchParquetWrite from parquet-write.ts).
//   (c) peak RSS of harvestShard() over plain-text shards of several sizes, each in a child
//       process; target < 1 GiB and independent of shard size.
//
// Flags (all optional):
//   --only e2e,parquet,rss     sections to run (default all three)
//   --repeats N                interleaved repeats of (a), after one warm-up round (default 5)
//   --models A,B,…             models for (a): demo, gpt2-small-shape, or FILE.onnx (default demo,gpt2-small-shape)
//   --tokenizer FILE           tokenizer.json of a FILE.onnx model
//   --hooks A[,B]              one or two hooks of a FILE.onnx model (the built-in models name their own)
//   --shard-mib N              size of the JSONL demo shard for (a) with the demo model (default 1)
//   --large-shard-mib N        the same for the other models (default 0.0625: ~17k tokens, ~10 s each way)
//   --batch-size N             contexts per model call in (a) (default 32)
//   --context-length N         tokens per context in (a) (default 128; the demo model takes <= 256)
//   --positions N|all          positionsPerContext in (a) (default 64, as the demo run)
//   --dtype fp32|fp16          stored activation dtype in (a) and (c) (default fp32)
//   --part-mib N               Parquet part size in (a) (default 64, the config default)
//   --threads N                ORT intra-op threads, the same for both sides (default: all cores)
//   --parquet-rows N           rows for (b) (default 65536)
//   --parquet-repeats N        repeats for (b) (default 3)
//   --rss-sizes A,B,…          shard sizes in MiB for (c) (default 16,64; add 1024 for the 1 GB case)
//   --rss-hook NAME            hook for (c) (default hook_embed: ORT computes only the embedding Gather)
//   --rss-positions N          positionsPerContext for (c) (default 4)
//   --rss-context-length N     contextLength for (c) (default 256)
//   --rss-part-mib N           part size for (c) (default 16, so even the smallest shard fills several parts)
//   --rss-sample-ms N          RSS sampling interval in the child (default 50)
//   --shard-dir DIR            where generated shards are cached (default $TMPDIR/thresher-bench-shards)
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseRunConfig, type RunConfig, type RunConfigInput } from '../core/config/run-config.js';
import { RunResources } from '../core/harvest/run-resources.js';
import { benchParquetWrite } from './parquet-write.js';
import { fixed, int, intFlag, mib, numberList, printTable, verdict } from './bench-table.js';
import { startBenchStack, stopOnSignal } from './bench-stack.js';
import { stackPid } from './cpu-usage.js';
import { resolveBenchModel, BUILT_IN_MODELS } from './bench-models.js';
import { benchEndToEnd, type E2eCase, type E2eRow } from './harvest-e2e.js';
import { benchRss } from './harvest-rss.js';
import { ensureDemoShard } from './shard-files.js';

const ASSETS = fileURLToPath(new URL('../../assets/demo/', import.meta.url));
const E2E_TARGET = 0.85;
const RSS_TARGET_BYTES = 2 ** 30;
const SECTIONS = ['e2e', 'parquet', 'rss'] as const;

const { values: flags } = parseArgs({
  options: {
    only: { type: 'string' },
    repeats: { type: 'string' },
    models: { type: 'string' },
    tokenizer: { type: 'string' },
    hooks: { type: 'string' },
    'shard-mib': { type: 'string' },
    'large-shard-mib': { type: 'string' },
    'batch-size': { type: 'string' },
    'context-length': { type: 'string' },
    positions: { type: 'string' },
    dtype: { type: 'string' },
    'part-mib': { type: 'string' },
    threads: { type: 'string' },
    'parquet-rows': { type: 'string' },
    'parquet-repeats': { type: 'string' },
    'rss-sizes': { type: 'string' },
    'rss-hook': { type: 'string' },
    'rss-positions': { type: 'string' },
    'rss-context-length': { type: 'string' },
    'rss-part-mib': { type: 'string' },
    'rss-sample-ms': { type: 'string' },
    'shard-dir': { type: 'string' },
  },
});

const only = new Set((flags.only ?? SECTIONS.join(',')).split(',').map((s) => s.trim()));
for (const s of only) if (!(SECTIONS as readonly string[]).includes(s)) throw new Error(`--only: unknown section "${s}" (use ${SECTIONS.join(', ')})`);
const dtype = flags.dtype ?? 'fp32';
if (dtype !== 'fp32' && dtype !== 'fp16') throw new Error(`--dtype: fp32 or fp16, got "${dtype}"`);
const threads = intFlag(flags.threads, 'threads', os.availableParallelism());
const repeats = intFlag(flags.repeats, 'repeats', 5);
const shardDir = flags['shard-dir'] ?? path.join(os.tmpdir(), 'thresher-bench-shards');
const positions = flags.positions === 'all' ? undefined : intFlag(flags.positions, 'positions', 64);
const log = (msg: string) => console.error(msg);
const models = (flags.models ?? BUILT_IN_MODELS.join(',')).split(',').map((m) => m.trim()).filter(Boolean);
const hookFlag = flags.hooks?.split(',').map((h) => h.trim()).filter(Boolean);
// Resolved (and the GPT-2-shaped model built, once) before any service starts, so a bad flag fails first.
const benchModels = [];
if (only.has('e2e')) {
  if (!models.length) throw new Error('--models: name at least one model (demo, gpt2-small-shape or FILE.onnx)');
  for (const spec of models) benchModels.push(await resolveBenchModel(spec, { demoAssets: ASSETS, cacheDir: shardDir, tokenizer: flags.tokenizer, hooks: hookFlag }));
}

type ConfigInput = Omit<RunConfigInput, 'model' | 'tokenizer' | 'corpus'> & { corpus?: string; modelPath?: string; tokenizerPath?: string };

function runConfig(runId: string, input: ConfigInput): RunConfig {
  const { corpus, modelPath, tokenizerPath, ...rest } = input;
  return {
    ...parseRunConfig({
      ...rest,
      model: { path: modelPath ?? path.join(ASSETS, 'model.onnx'), intraOpThreads: threads },
      tokenizer: { path: tokenizerPath ?? path.join(ASSETS, 'tokenizer.json') },
      corpus: { path: corpus ?? 's3://thresher/unused' },
    }),
    runId,
  };
}

console.log(
  `harvest bench: node ${process.version}, ${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? '?'}), ` +
    `ORT intra-op threads ${threads}, sections ${[...only].join(',')}`,
);
const started = performance.now();

// (b) first: it needs no services, and the stack's servers are not yet using the cores.
if (only.has('parquet')) {
  const rows = intFlag(flags['parquet-rows'], 'parquet-rows', 65536);
  const reps = intFlag(flags['parquet-repeats'], 'parquet-repeats', 3);
  log('(b) Parquet write…');
  const result = await benchParquetWrite({ rows, width: 512, repeats: reps });
  printTable(
    `(b) Parquet write vs raw file write, ${rows} rows x 512 fp32 (${((rows * 512 * 4) / 2 ** 20).toFixed(0)} MiB payload), median of ${reps} interleaved repeats (benchParquetWrite)`,
    ['library', 'MiB/s', 'vs raw', 'file/payload', 'median ms'],
    result.map((r) => [r.library, fixed(r.mibPerSec, 0), fixed(r.ratioVsRaw, 3), fixed(r.sizeVsPayload, 3), fixed(r.medianMs, 0)]),
  );
  const candidates = result.filter((r) => !r.library.startsWith('raw'));
  const fastest = candidates.reduce((a, b) => (b.mibPerSec > a.mibPerSec ? b : a));
  const ours = result.find((r) => r.library.startsWith('thresher fp32'))!;
  console.log(
    `chosen library: hyparquet-writer, one FIXED_LEN_BYTE_ARRAY column per vector (core/parquet, the "thresher" rows): ` +
      `fp32 at ${fixed(ours.ratioVsRaw, 3)}x raw write; fastest Parquet row this run: ${fastest.library} (${fixed(fastest.ratioVsRaw, 3)}x raw)`,
  );
}

if (only.has('e2e') || only.has('rss')) {
  const stack = await startBenchStack('harvest-bench');
  stopOnSignal(stack.stop);
  const s3Pid = stackPid(stack.endpoints.dataDir, 'seaweed.pid');
  const cacheDir = await mkdtemp(path.join(os.tmpdir(), 'thresher-bench-cache-'));
  const resources = new RunResources(stack.store, cacheDir);
  const bucket = stack.endpoints.bucket;
  try {
    if (only.has('e2e')) {
      const shardMiBFlag = (name: 'shard-mib' | 'large-shard-mib', fallback: number): number => {
        const v = Number(flags[name] ?? fallback);
        if (!(v > 0)) throw new Error(`--${name}: expected a positive number, got "${flags[name]}"`);
        return v;
      };
      const demoShardMiB = shardMiBFlag('shard-mib', 1);
      const largeShardMiB = shardMiBFlag('large-shard-mib', 0.0625);
      const rows: { model: string; shardBytes: number; row: E2eRow }[] = [];
      let c0: RunConfig | undefined;
      for (const bm of benchModels) {
        const shard = await ensureDemoShard(shardDir, Math.round((bm.name === 'demo' ? demoShardMiB : largeShardMiB) * 2 ** 20), 1, 'jsonl');
        const shardKey = `corpora/bench-${bm.name}/shard-00000.jsonl`;
        await stack.store.put(bucket, shardKey, await readFile(shard.path));
        const common = {
          contextLength: intFlag(flags['context-length'], 'context-length', 128),
          positionsPerContext: positions,
          batchSize: intFlag(flags['batch-size'], 'batch-size', 32),
          dtype,
          output: { path: `s3://${bucket}/bench`, partMiB: Number(flags['part-mib'] ?? 64) },
          corpus: `s3://${bucket}/corpora/bench-${bm.name}`,
          modelPath: bm.modelPath,
          tokenizerPath: bm.tokenizerPath,
        } as const;
        const hookSets = bm.hooks.length > 1 ? [bm.hooks.slice(0, 1), bm.hooks] : [bm.hooks];
        const cases: E2eCase[] = hookSets.map((hooks) => ({
          name: hooks.join(' + '),
          config: runConfig(`e2e-${bm.name}-${hooks.length}hook`, { ...common, hooks }),
        }));
        c0 ??= cases[0].config;
        log(`(a) ${bm.name}: end to end vs bare session.run: ${shard.documents} documents, ${mib(shard.bytes)} MiB JSONL, ${repeats} repeats…`);
        const measured = await benchEndToEnd({
          store: stack.store, resources, shardFile: shard.path, shardUri: `s3://${bucket}/${shardKey}`, shardBytes: shard.bytes, cases, repeats, s3Pid, log,
        });
        rows.push(...measured.map((row) => ({ model: bm.name, shardBytes: shard.bytes, row })));
      }
      printTable(
        `(a) end-to-end harvestShard vs bare session.run, same batches: JSONL demo-corpus shard per model, context ${c0!.contextLength}, ` +
          `batch ${c0!.batchSize}, ${c0!.positionsPerContext ?? 'all'} positions/context, ${c0!.dtype}, ${threads} intra-op threads; median of ${repeats} (A B interleaved)`,
        ['model', 'hooks', 'shard MiB', 'tokens', 'batches', 'bare tokens/s', 'e2e tokens/s', 'stored B/token', 'e2e/bare', 'per-round e2e/bare', 'target'],
        rows.map(({ model, shardBytes, row: r }) => [
          model,
          r.name,
          fixed(shardBytes / 2 ** 20, 3),
          int(r.tokens),
          int(r.batches),
          int(r.bareTokensPerSec),
          int(r.e2eTokensPerSec),
          int((r.parquetMiB * 2 ** 20) / r.tokens),
          fixed(r.ratio, 3),
          fixed(r.pairedRatio, 3),
          verdict(r.ratio, E2E_TARGET, 'higher'),
        ]),
      );
      printTable(
        '(a) where the end-to-end time goes (medians; "model" = inference thread busy, seen from the main thread; main ELU = main-thread event-loop utilisation; put = sha256 + S3 PUT)',
        ['model', 'hooks', 'e2e s', 'bare s', 'model s', 'model/bare', 'model idle', 'main ELU', 'tokenize s', 'put s', 'parquet MiB', 'part files', 'node CPU e2e', 'node CPU bare', 's3 CPU'],
        rows.map(({ model, row: r }) => [
          model,
          r.name,
          fixed(r.e2eSec),
          fixed(r.bareSec),
          fixed(r.modelSecInE2e),
          fixed(r.modelSecInE2e / r.bareSec),
          `${fixed(100 * (1 - r.modelSecInE2e / r.e2eSec), 0)}%`,
          fixed(r.mainThreadElu),
          fixed(r.tokenizeSec),
          fixed(r.putSec),
          fixed(r.parquetMiB, 0),
          int(r.parts),
          fixed(r.nodeCpuE2e),
          fixed(r.nodeCpuBare),
          fixed(r.s3CpuE2e),
        ]),
      );
    }

    if (only.has('rss')) {
      const sizes = numberList(flags['rss-sizes'] ?? '16,64', 'rss-sizes');
      const hook = flags['rss-hook'] ?? 'hook_embed';
      const config = runConfig('rss', {
        hooks: [hook],
        contextLength: intFlag(flags['rss-context-length'], 'rss-context-length', 256),
        positionsPerContext: intFlag(flags['rss-positions'], 'rss-positions', 4),
        batchSize: 32,
        dtype,
        output: { path: `s3://${bucket}/bench`, partMiB: Number(flags['rss-part-mib'] ?? 16) },
      });
      log(`(c) peak RSS over ${sizes.join(', ')} MiB plain-text shards…`);
      const rows = await benchRss({
        endpoints: stack.endpoints,
        store: stack.store,
        sizesMiB: sizes,
        config,
        shardDir,
        sampleMs: intFlag(flags['rss-sample-ms'], 'rss-sample-ms', 50),
        log,
      });
      const M = (b: number) => fixed(b / 2 ** 20, 0);
      printTable(
        `(c) peak RSS of harvestShard in a child process: plain-text shards, hook ${hook}, context ${config.contextLength}, ` +
          `${config.positionsPerContext} positions/context, ${config.dtype}, parts of ${config.output.partMiB} MiB, ${threads} intra-op threads`,
        ['shard MiB', 'documents', 'tokens', 'parts', 'parquet MiB', 'seconds', 'tokens/s', 'RSS loaded MiB', 'peak RSS MiB (50ms)', 'VmHWM MiB', 'peak heap MiB', 'target'],
        rows.map((r) => [
          fixed(r.shardMiB, 0),
          int(r.documents),
          int(r.tokens),
          int(r.parts),
          M(r.parquetBytes),
          fixed(r.seconds, 0),
          int(r.tokens / r.seconds),
          M(r.rssAfterLoad),
          M(r.peakRssSampled),
          M(r.vmHwm),
          M(r.peakHeapUsed),
          verdict(r.vmHwm / 2 ** 20, RSS_TARGET_BYTES / 2 ** 20, 'lower'),
        ]),
      );
      for (const r of rows) console.log(`RSS MiB at 10%…100% of ${fixed(r.shardMiB, 0)} MiB: ${r.rssByDecile.map((b) => M(b)).join(' ')}`);
      const small = rows.reduce((a, b) => (b.shardMiB < a.shardMiB ? b : a));
      const large = rows.reduce((a, b) => (b.shardMiB > a.shardMiB ? b : a));
      console.log(
        `peak RSS ${fixed(large.shardMiB, 0)} MiB shard ÷ ${fixed(small.shardMiB, 0)} MiB shard (VmHWM): ${fixed(large.vmHwm / small.vmHwm, 3)} ` +
          `for ${fixed(large.shardMiB / small.shardMiB, 0)}x the text`,
      );
      if (large.shardMiB < 1024) {
        const rate = large.tokens / large.seconds;
        const tokensPerMiB = large.tokens / large.shardMiB;
        const generated = rows.filter((r) => r.generatedSeconds > 0);
        const genMiBps = generated.length ? generated.reduce((a, r) => a + r.shardMiB, 0) / generated.reduce((a, r) => a + r.generatedSeconds, 0) : NaN;
        console.log(
          `1 GiB case not run: at ${int(rate)} tokens/s and ${int(tokensPerMiB)} tokens/MiB it would take about ${fixed((1024 * tokensPerMiB) / rate / 60, 0)} min` +
            (Number.isFinite(genMiBps) ? `, plus about ${fixed(1024 / genMiBps / 60, 0)} min to generate the shard once (cached in --shard-dir)` : '') +
            '; run it with --rss-sizes 16,64,1024',
        );
      }
    }
  } finally {
    await resources.close();
    await stack.stop();
    await rm(cacheDir, { recursive: true, force: true });
  }
}
console.log(`\ntotal ${((performance.now() - started) / 1000).toFixed(0)} s`);
