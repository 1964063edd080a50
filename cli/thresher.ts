import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ConfigError } from '../core/config/run-config.js';
import { serviceSettingsFromEnv } from '../core/config/service-settings.js';
import { createLogger } from '../core/logging.js';
import { listHooks, UnknownHookError } from '../core/model/onnx-graph.js';
import { devDown, devStatus, devUp } from '../infra/local-stack.js';
import { prometheusPid } from '../infra/prometheus-service.js';
import { harvestWorkflowId, type HarvestProgress } from '../workflows/harvest-types.js';
import { connectWorker } from '../workers/temporal-connection.js';
import { createWorkerSet, WORKER_ROLES, type WorkerRole } from '../workers/harvest-workers.js';
import { installTemporalRuntime } from '../workers/runtime.js';
import { runDemo } from './demo.js';
import { describeReport, writeRunReport } from './report-commands.js';
import { describeStats, describeStatsStatus, readStatsSettings, startStats, statsStatus, watchStats } from './stats-commands.js';
import { localWorkerTargets, startWorkerMonitoring } from './monitoring.js';
import { formatBytes, ProgressBar, progressLine } from './progress-bar.js';
import { resumeRun, runRef, runStatus, startRun, verify } from './run-commands.js';
import { trainCommand } from './train-commands.js';
import { clientFor, localStackDir, resolveServices } from './services.js';

const USAGE = `thresher — harvest transformer activations at scale

  thresher demo [--shards N] [--docs N]     local stack + workers + a harvest over the demo corpus
  thresher hooks MODEL [--json]             tensors of an ONNX model that can be harvested
  thresher run start CONFIG [--wait]        validate CONFIG and start a harvest run
  thresher run status RUN [--json] [--watch]
  thresher run pause|unpause|cancel RUN
  thresher run resume RUN                   re-run only the failed or missing shards
  thresher run verify RUN [--json]          audit outputs against the shard manifests
  thresher train start CONFIG [--wait]      validate CONFIG and train dictionaries on a finished run
  thresher train status RUN/SWEEP [--json]
  thresher stats start RUN TRAINING_ID [--config FILE] [--wait]
                                            feature statistics of a trained dictionary (FILE: settings, README)
  thresher stats status RUN TRAINING_ID [--json]
  thresher report RUN [TRAINING_ID] [--out DIR]  write the feature browser (static site) to S3 (and DIR)
  thresher worker [--roles orchestration,harvest,training]
  thresher dev up [--prometheus [--prometheus-port N]]
  thresher dev down|status                  local Temporal + S3 (+ Prometheus) on loopback

Services come from the environment (TEMPORAL_ADDRESS, THRESHER_S3_ENDPOINT, AWS_*; see README);
without TEMPORAL_ADDRESS the local stack is started and used. Workers serve Prometheus metrics on
THRESHER_METRICS_ADDRESS (default 127.0.0.1:9464) and Temporal SDK metrics on
THRESHER_TEMPORAL_METRICS_ADDRESS (default 127.0.0.1:9465); "off" turns either off.`;

const log = createLogger('cli');

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      wait: { type: 'boolean', default: false },
      watch: { type: 'boolean', default: false },
      roles: { type: 'string', default: 'orchestration,harvest,training' },
      shards: { type: 'string', default: '24' },
      docs: { type: 'string', default: '120' },
      prometheus: { type: 'boolean', default: false },
      'prometheus-port': { type: 'string', default: '9090' },
      out: { type: 'string' },
      config: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, sub, arg] = positionals;
  if (values.help || !command) return void console.log(USAGE);
  installRuntime(command);

  switch (command) {
    case 'hooks':
      return hooksCommand(need(sub, 'MODEL'), values.json);
    case 'dev':
      return devCommand(need(sub, 'up|down|status'), values.json, values.prometheus ? positiveInt(values['prometheus-port'], '--prometheus-port') : undefined);
    case 'demo':
      return runDemo(await resolveServices(), { shards: positiveInt(values.shards, '--shards'), docsPerShard: positiveInt(values.docs, '--docs') }, log);
    case 'worker':
      return workerCommand(values.roles);
    case 'train':
      return trainCommand(await resolveServices(), need(sub, 'start|status'), need(arg, sub === 'start' ? 'CONFIG' : 'RUN/SWEEP'), values, log);
    case 'stats':
      return statsCommand(need(sub, 'start|status'), need(arg, 'RUN'), need(positionals[3], 'TRAINING_ID'), values);
    case 'report':
      if (positionals.length > 3) throw new ConfigError(`report takes RUN and at most one TRAINING_ID\n\n${USAGE}`);
      return reportCommand(need(sub, 'RUN'), arg, values.out);
    case 'run':
      return runCommand(need(sub, 'start|status|pause|unpause|cancel|resume|verify'), need(arg, sub === 'start' ? 'CONFIG' : 'RUN'), values);
    default:
      throw new ConfigError(`unknown command "${command}"\n\n${USAGE}`);
  }
}

/**
 * The Temporal runtime, once, before anything connects. Only processes that run workers serve SDK
 * metrics: a CLI call next to a running worker must not fight it for the port. The demo carries
 * on without them when the port is taken; a worker stops with the reason.
 */
function installRuntime(command: string): void {
  if (command !== 'worker' && command !== 'demo') return void installTemporalRuntime();
  try {
    const { metricsAddress } = installTemporalRuntime({ metrics: true });
    if (metricsAddress) log.info('temporal sdk metrics serving', { url: `http://${metricsAddress}/metrics` });
  } catch (err) {
    if (command === 'worker') throw err;
    log.warn('temporal sdk metrics not served', { reason: (err as Error).message });
    installTemporalRuntime();
  }
}

async function statsCommand(action: string, runId: string, trainingId: string, flags: { wait: boolean; json: boolean; config?: string }): Promise<void> {
  if (action !== 'start' && action !== 'status') throw new ConfigError(`unknown stats action "${action}" (start or status)`);
  if (flags.config !== undefined && action !== 'start') throw new ConfigError('--config is for `stats start`');
  // Checked before any service is touched.
  const settings = flags.config !== undefined ? await readStatsSettings(flags.config) : {};
  const services = await resolveServices();
  const client = await clientFor(services);
  try {
    if (action === 'status') {
      const status = await statsStatus(client, runId, trainingId);
      return void console.log(flags.json ? JSON.stringify(status, null, 2) : describeStatsStatus(status));
    }
    const handle = await startStats(services, client, runId, trainingId, log, settings);
    console.log(`started feature statistics for ${runId}/${trainingId} (workflow ${handle.workflowId})`);
    if (flags.wait) console.log(describeStats(await watchStats(client, runId, trainingId)));
  } finally {
    await client.connection.close();
  }
}

async function reportCommand(runId: string, trainingId: string | undefined, outDir: string | undefined): Promise<void> {
  const services = await resolveServices();
  const client = await clientFor(services);
  try {
    console.log(describeReport(await writeRunReport(services, client, runId, trainingId, outDir, log)));
  } finally {
    await client.connection.close();
  }
}

async function hooksCommand(model: string, json: boolean): Promise<void> {
  const bytes = await readFile(model).catch((err: Error) => {
    throw new ConfigError(`model ${model} cannot be read: ${err.message}`);
  });
  const hooks = listHooks(new Uint8Array(bytes));
  if (json) return void console.log(JSON.stringify(hooks, null, 2));
  const rows = hooks.map((h) => [h.name, h.shape ? `[${h.shape.map((d) => d ?? '?').join(', ')}]` : '?', h.op, h.dtype]);
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i].length), 5));
  console.log(['name', 'shape', 'op'].map((h, i) => h.padEnd(widths[i])).join('  '));
  for (const r of rows) console.log(r.slice(0, 3).map((c, i) => c.padEnd(widths[i])).join('  '));
}

async function devCommand(action: string, json: boolean, prometheusPort?: number): Promise<void> {
  const opts = { dataDir: localStackDir(serviceSettingsFromEnv()) };
  if (action === 'up') {
    const prometheus = prometheusPort === undefined ? undefined : { port: prometheusPort, ...localWorkerTargets() };
    const e = await devUp({ ...opts, prometheus });
    const { secretAccessKey: _secret, ...shown } = e;
    console.log(json ? JSON.stringify(shown, null, 2) : Object.entries(shown).map(([k, v]) => `${k.padEnd(23)} ${v}`).join('\n'));
  } else if (action === 'down') {
    console.log(JSON.stringify(await devDown(opts)));
  } else if (action === 'status') {
    const s = await devStatus(opts);
    const prometheus = await prometheusPid(opts.dataDir);
    if (json) return void console.log(JSON.stringify({ ...s, prometheus: { pid: prometheus } }, null, 2));
    console.log([s.temporal, s.s3].map((x) => `${x.service.padEnd(9)} ${x.up ? 'up  ' : 'down'} ${x.address} pid=${x.pid ?? '-'}${x.detail ? ` (${x.detail})` : ''}`).join('\n'));
    console.log(`${'prometheus'.padEnd(9)} ${prometheus === null ? 'not running' : `pid=${prometheus}`}`);
  } else throw new ConfigError(`unknown dev action "${action}" (up, down or status)`);
}

async function workerCommand(rolesArg: string): Promise<void> {
  const roles = rolesArg.split(',').map((r) => r.trim()) as WorkerRole[];
  for (const r of roles) if (!WORKER_ROLES.includes(r)) throw new ConfigError(`--roles: unknown role "${r}" (${WORKER_ROLES.join(', ')})`);
  const services = await resolveServices();
  const monitoring = await startWorkerMonitoring(log, { required: true });
  const connection = await connectWorker(services.settings.temporal);
  const workers = await createWorkerSet({
    connection,
    namespace: services.settings.temporal.namespace,
    store: services.store,
    roles,
    cacheDir: services.settings.cacheDir,
    harvestSlots: services.settings.harvestSlots,
    trainingSlots: services.settings.trainingSlots,
    metrics: monitoring.metrics,
  });
  const stop = (): void => {
    log.info('stopping workers: finishing in-flight parts');
    workers.shutdown();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  log.info('workers running', { roles, temporal: services.settings.temporal.address, namespace: services.settings.temporal.namespace });
  await workers.run();
  await connection.close();
  await monitoring.close();
}

async function runCommand(action: string, target: string, flags: { json: boolean; wait: boolean; watch: boolean }): Promise<void> {
  const services = await resolveServices();
  const client = await clientFor(services);
  try {
    const handle = () => client.workflow.getHandle(harvestWorkflowId(target));
    switch (action) {
      case 'start': {
        const started = await startRun(services, target, log, client);
        console.log(flags.json ? JSON.stringify({ runId: started.config.runId, shards: started.shardCount, workflowId: started.handle.workflowId }) : `started run ${started.config.runId} (${started.shardCount} shards)`);
        if (flags.wait) await watch(services, client, started.config.runId, flags.json);
        return;
      }
      case 'status':
        return await (flags.watch ? watch(services, client, target, flags.json) : printStatus(services, client, target, flags.json));
      case 'pause':
      case 'unpause':
        await runRef(client, target);
        await handle().signal(action === 'pause' ? 'pause' : 'resume');
        return void console.log(`${action}d ${target}`);
      case 'cancel':
        await runRef(client, target);
        await handle().cancel();
        return void console.log(`cancel requested for ${target}; in-flight shards stop at their next heartbeat`);
      case 'resume':
        await resumeRun(client, target, log);
        console.log(`resumed ${target}: only shards without a manifest will run`);
        if (flags.wait) await watch(services, client, target, flags.json);
        return;
      case 'verify': {
        const report = await verify(services, client, target);
        if (flags.json) console.log(JSON.stringify(report, null, 2));
        else {
          console.log(`run ${report.runId}: ${report.complete}/${report.shards} shards complete, ${report.partsChecked} parts, ${report.rows.toLocaleString('en-US')} rows`);
          if (report.missingShards.length) console.log(`missing shards: ${report.missingShards.slice(0, 50).join(', ')}${report.missingShards.length > 50 ? ', …' : ''}`);
          for (const p of report.problems.slice(0, 100)) console.log(`problem: ${p}`);
          console.log(report.problems.length ? `${report.problems.length} problems` : 'no problems found');
        }
        if (report.problems.length || report.missingShards.length) process.exitCode = 1;
        return;
      }
      default:
        throw new ConfigError(`unknown run action "${action}"`);
    }
  } finally {
    await client.connection.close();
  }
}

async function printStatus(services: Awaited<ReturnType<typeof resolveServices>>, client: Awaited<ReturnType<typeof clientFor>>, runId: string, json: boolean): Promise<void> {
  const s = await runStatus(services, client, runId);
  if (json) return void console.log(JSON.stringify(s, null, 2));
  if (s.progress) console.log(progressLine(s.progress));
  else if (s.result) console.log(`${s.result.status}: ${s.result.shards} shards, ${s.result.failedShards} failed, ${s.result.tokens.toLocaleString('en-US')} tokens, ${formatBytes(s.result.bytes)}`);
  else console.log(`run ${runId}: ${s.state}`);
  for (const f of s.failures.slice(0, 20)) console.log(`failed shard ${f.shard} (${f.uri}): ${f.message}`);
}

/** Live progress until the run closes; a bar on a terminal, JSON lines otherwise. */
async function watch(services: Awaited<ReturnType<typeof resolveServices>>, client: Awaited<ReturnType<typeof clientFor>>, runId: string, json: boolean): Promise<void> {
  const h = client.workflow.getHandle(harvestWorkflowId(runId));
  const bar = new ProgressBar();
  const tty = process.stdout.isTTY && !json;
  for (;;) {
    const d = await h.describe();
    if (d.status.name !== 'RUNNING' && d.status.name !== 'CONTINUED_AS_NEW') break;
    const p = await h.query<HarvestProgress>('progress').catch(() => undefined);
    if (p) (tty ? bar.update(p) : console.log(JSON.stringify(p)));
    await new Promise((r) => setTimeout(r, tty ? 500 : 5000));
  }
  bar.done();
  await printStatus(services, client, runId, json);
}

function need(v: string | undefined, what: string): string {
  if (!v) throw new ConfigError(`missing ${what}\n\n${USAGE}`);
  return v;
}

function positiveInt(v: string | undefined, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(`${flag} must be a positive integer, got "${v}"`);
  return n;
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError || err instanceof UnknownHookError) {
    console.error(`error: ${err.message}`);
    process.exitCode = 2;
  } else {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exitCode = 1;
  }
});
