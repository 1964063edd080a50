// `thresher train start CONFIG [--wait]` and `thresher train status ID`: dictionary training on a
// finished harvest run. Everything checkable is checked before a workflow starts (schema, bucket,
// the run finished, the hook was harvested, every (size, λ) is a valid SAE), as `run start` does.
import { readFile } from 'node:fs/promises';
import { WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import { ConfigError } from '../core/config/run-config.js';
import type { Logger } from '../core/logging.js';
import { resolveSaeConfig } from '../core/sae/sae-config.js';
import { RunLayout } from '../core/storage/run-layout.js';
import { listHookParts } from '../core/training/activation-stream.js';
import {
  defaultSweepId,
  dictionaryConfig,
  parseTrainingConfig,
  resolveTrainingConfig,
  saeTrainerOptions,
  sweepJobs,
  type ResolvedTrainingConfig,
} from '../core/training/training-config.js';
import { ORCHESTRATION_QUEUE } from '../workflows/harvest-types.js';
import type { trainDictionary } from '../workflows/train-dictionary.js';
import {
  trainWorkflowId,
  type DictionaryResult,
  type TrainingHeartbeat,
  type TrainSweepProgress,
  type TrainSweepResult,
} from '../workflows/training-types.js';
import { formatDuration } from './progress-bar.js';
import { clientFor, type Services } from './services.js';
import { causeMessage } from '../workflows/cause-message.js';

export interface StartedTraining {
  /** `<runId>/<sweepId>`: what `thresher train status` takes. */
  id: string;
  config: ResolvedTrainingConfig;
  handle: WorkflowHandle<typeof trainDictionary>;
}

/** Validates a training config against its run, stores the sweep config and starts TrainDictionary. */
export async function startTraining(services: Services, configFile: string, log: Logger, client?: Client): Promise<StartedTraining> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(configFile, 'utf8'));
  } catch (err) {
    throw new ConfigError(`config ${configFile} cannot be read as JSON: ${(err as Error).message}`);
  }
  const parsed = parseTrainingConfig(raw, `config ${configFile}`);
  const { runId, output } = parsed.harvest;
  const layout = new RunLayout(output, runId);
  await services.store.assertBucket(layout.bucket).catch((err: Error) => {
    throw new ConfigError(`harvest.output ${output}: ${err.message}`);
  });
  if (!(await services.store.head(layout.bucket, layout.summaryKey))) {
    throw new ConfigError(`harvest: run ${runId} has not finished at ${layout.uri} (no summary.json); train once \`thresher run status ${runId}\` says it completed`);
  }
  const { width } = await listHookParts(services.store, layout, parsed.hook).catch((err: Error) => {
    throw new ConfigError(`hook: ${err.message}`);
  });
  const config = resolveTrainingConfig(parsed, { runId, outputUri: output }, parsed.sweepId ?? defaultSweepId(parsed.arch));
  for (const job of sweepJobs(config)) {
    try {
      resolveSaeConfig(saeTrainerOptions(dictionaryConfig(config, job), width));
    } catch (err) {
      throw new ConfigError(`dictionary ${job.trainingId}: ${(err as Error).message}`);
    }
  }
  if (await services.store.head(layout.bucket, layout.sweepConfigKey(config.sweepId))) {
    throw new ConfigError(`sweep ${config.sweepId} already exists for run ${runId}; pick another sweepId, or see \`thresher train status ${runId}/${config.sweepId}\``);
  }
  await services.store.putJson(layout.bucket, layout.sweepConfigKey(config.sweepId), config);
  const c = client ?? (await clientFor(services));
  const handle = await c.workflow.start<typeof trainDictionary>('trainDictionary', {
    workflowId: trainWorkflowId(runId, config.sweepId),
    taskQueue: ORCHESTRATION_QUEUE,
    args: [{ runId, outputUri: output, sweepId: config.sweepId }],
    memo: { outputUri: output },
  });
  const id = `${runId}/${config.sweepId}`;
  log.info('training started', { id, dictionaries: config.sizes.length * config.l1Coefficients.length, steps: config.steps, workflowId: handle.workflowId });
  return { id, config, handle };
}

export interface TrainStatus {
  id: string;
  state: string;
  progress?: TrainSweepProgress;
  /** Per running dictionary, from its activity's last heartbeat. */
  live: TrainingHeartbeat[];
  result?: TrainSweepResult;
  failure?: string;
}

/** `ID` is `<runId>/<sweepId>` (as `train start` prints) or the workflow id itself. */
export function trainWorkflowIdOf(id: string): string {
  if (id.startsWith('thresher-train-')) return id;
  const slash = id.lastIndexOf('/');
  if (slash <= 0) throw new ConfigError(`training id "${id}" should look like <runId>/<sweepId> (as \`thresher train start\` prints it)`);
  return trainWorkflowId(id.slice(0, slash), id.slice(slash + 1));
}

export async function trainStatus(client: Client, id: string): Promise<TrainStatus> {
  const handle = client.workflow.getHandle<typeof trainDictionary>(trainWorkflowIdOf(id));
  let d;
  try {
    d = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new ConfigError(`no training named ${id} is known to this Temporal namespace`);
    throw err;
  }
  const state = d.status.name;
  if (state === 'RUNNING') {
    const live = (d.raw.pendingActivities ?? []).flatMap((p) => {
      const payload = p.heartbeatDetails?.payloads?.[0]?.data;
      return payload ? [JSON.parse(Buffer.from(payload).toString('utf8')) as TrainingHeartbeat] : [];
    });
    return { id, state, progress: await handle.query<TrainSweepProgress>('progress'), live };
  }
  if (state === 'COMPLETED') return { id, state, live: [], result: await handle.result() };
  const failure = await handle.result().then(() => undefined, (err: Error) => causeMessage(err));
  return { id, state, live: [], failure };
}

/** CLI entry for `thresher train …`. */
export async function trainCommand(services: Services, action: string, target: string, flags: { json: boolean; wait: boolean }, log: Logger): Promise<void> {
  const client = await clientFor(services);
  try {
    if (action === 'start') {
      const started = await startTraining(services, target, log, client);
      const n = started.config.sizes.length * started.config.l1Coefficients.length;
      console.log(flags.json ? JSON.stringify({ id: started.id, dictionaries: n, steps: started.config.steps, workflowId: started.handle.workflowId }) : `started training ${started.id} (${n} dictionaries × ${started.config.steps.toLocaleString('en-US')} steps)`);
      if (flags.wait) await watchTraining(client, started.id, flags.json);
      return;
    }
    if (action === 'status') return printTrainStatus(await trainStatus(client, target), flags.json);
    throw new ConfigError(`unknown train action "${action}" (start or status)`);
  } finally {
    await client.connection.close();
  }
}

/** Polls until the sweep closes, printing one status block (or JSON line) per change, then the results. */
export async function watchTraining(client: Client, id: string, json: boolean): Promise<TrainStatus> {
  let previous = '';
  for (;;) {
    const s = await trainStatus(client, id);
    if (s.state !== 'RUNNING') {
      printTrainStatus(s, json);
      if (s.state !== 'COMPLETED' || s.result?.status !== 'completed') process.exitCode = 1;
      return s;
    }
    const line = json ? JSON.stringify({ progress: s.progress, live: s.live }) : progressLines(s).join('\n');
    if (line !== previous) console.log(line);
    previous = line;
    await new Promise((r) => setTimeout(r, json ? 5000 : 2000));
  }
}

function printTrainStatus(s: TrainStatus, json: boolean): void {
  if (json) return void console.log(JSON.stringify(s, null, 2));
  if (s.progress) return void console.log(progressLines(s).join('\n'));
  if (s.result) {
    console.log(`training ${s.id}: ${s.result.status} (${s.result.dictionaries.length} dictionaries, ${s.result.failures.length} failed)`);
    for (const r of s.result.dictionaries) console.log(resultLine(r));
    for (const f of s.result.failures) console.log(`failed ${f.trainingId}: ${f.message}`);
    return;
  }
  console.log(`training ${s.id}: ${s.state}${s.failure ? ` — ${s.failure}` : ''}`);
}

function progressLines(s: TrainStatus): string[] {
  const p = s.progress!;
  const live = new Map(s.live.map((h) => [h.trainingId, h]));
  const elapsed = formatDuration((Date.now() - p.startedAt) / 1000);
  const counts = (st: string) => p.dictionaries.filter((d) => d.state === st).length;
  const lines = [`training ${s.id}: ${p.phase}, ${counts('done')}/${p.dictionaries.length} done, ${counts('running')} running, ${counts('failed')} failed, ${elapsed}`];
  for (const d of p.dictionaries.filter((x) => x.state === 'running')) {
    const h = live.get(d.trainingId);
    lines.push(`  ${d.trainingId}: step ${h ? `${h.step.toLocaleString('en-US')}/${p.steps.toLocaleString('en-US')}, checkpoint ${h.checkpointStep.toLocaleString('en-US')}` : 'starting'}`);
  }
  return lines;
}

export function resultLine(r: DictionaryResult): string {
  const f = r.final;
  const fvu = f.fvu === null ? 'n/a' : f.fvu.toFixed(4);
  return `  ${r.trainingId}: d_sae ${r.dSae}${r.arch === 'l1' ? `, λ ${r.l1Coefficient}` : `, k ${r.k}`}, ${r.steps.toLocaleString('en-US')} steps — L0 ${f.l0.toFixed(1)}, FVU ${fvu}, dead ${(f.deadFraction * 100).toFixed(1)}%, dense ${(f.denseFraction * 100).toFixed(1)}%`;
}
