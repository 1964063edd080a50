// The local stack: a Temporal dev server (SQLite-backed, so runs survive restarts) and a
// SeaweedFS `weed mini` S3 gateway, both on loopback, both detached so they outlive the CLI
// that started them, plus a Prometheus when asked (infra/prometheus-service.ts). Pids, logs and
// data live under one dataDir.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Connection, isGrpcServiceError } from '@temporalio/client';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListBucketsCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  findFreePortBlock,
  isPortOpen,
  log,
  readLivePid,
  removeFile,
  spawnDetached,
  stopProcess,
  tailFile,
  waitUntil,
} from './processes.js';
import { DEFAULT_PROMETHEUS_PORT, startPrometheus, stopPrometheus } from './prometheus-service.js';
import { resolveServiceBinary, type ServiceBinary } from './service-binaries.js';
import { withStackLock } from './stack-lock.js';

const execFileAsync = promisify(execFile);

/** Every service binds here; nothing in the local stack is reachable from other machines. */
const HOST = '127.0.0.1';
const S3_REGION = 'us-east-1';
/** Consecutive ports `weed mini` needs besides the S3 port; see seaweedPortBase. */
const SEAWEED_INTERNAL_PORTS = 8;
/**
 * SeaweedFS's convention for a gRPC port nobody configured. The mini's maintenance worker dials
 * the admin server at admin http port + this offset whatever -admin.port.grpc says, so the admin
 * gRPC port has to stay at that default.
 */
const SEAWEED_GRPC_OFFSET = 10_000;
const SEAWEED_ADMIN_OFFSET = 7;
const GRPC_NOT_FOUND = 5;

export interface LocalStackOptions {
  /** Directory holding all state: temporal.sqlite, seaweed/ data, *.pid and *.log files. Created if missing. */
  dataDir: string;
  /** Temporal frontend gRPC port on 127.0.0.1. Default 7233. */
  temporalPort?: number;
  /** Temporal Web UI port on 127.0.0.1. Default 8233. */
  temporalUiPort?: number;
  /** Temporal server Prometheus endpoint (/metrics) on 127.0.0.1. Default 8234. */
  temporalMetricsPort?: number;
  /** SeaweedFS S3 gateway port on 127.0.0.1. Default 8333. */
  s3Port?: number;
  /** Bucket created (idempotently) once S3 is up. Default 'thresher'. */
  bucket?: string;
  /** Temporal namespace created at launch, or registered on a reused server. Default 'default'. */
  namespace?: string;
  /**
   * First of 8 consecutive loopback ports SeaweedFS uses internally (S3 gRPC, master http/gRPC,
   * volume http/gRPC, filer http/gRPC, admin http), plus admin gRPC at (base + 7) + 10000.
   * Default s3Port + 1 (so 8334…8341 and 18341 by default); two stacks whose s3Ports are at
   * least 9 apart never collide.
   */
  seaweedPortBase?: number;
  /** Serve the Temporal Web UI (handy for watching runs). Default true; tests turn it off. */
  ui?: boolean;
  /** S3 access key the gateway accepts. Default $THRESHER_S3_ACCESS_KEY, else 'thresher-local'. */
  accessKeyId?: string;
  /** S3 secret for accessKeyId. Default $THRESHER_S3_SECRET_KEY, else 'thresher-local-secret'. */
  secretAccessKey?: string;
  /** How long devUp waits for each service to become ready, in ms. Default 60000. */
  readyTimeoutMs?: number;
  /** How long devDown waits after SIGTERM before SIGKILL, in ms. Default 15000. */
  stopGraceMs?: number;
  /**
   * Also start (or reload) a Prometheus scraping the Temporal server and these worker endpoints,
   * with the repository's alert rules. devUp without it leaves a running one alone; devDown
   * always stops it.
   */
  prometheus?: {
    /** Port on 127.0.0.1. Default 9090. */
    port?: number;
    /** Worker app metrics, host:port. Default 127.0.0.1:9464. */
    workerTargets?: string[];
    /** Worker Temporal SDK metrics, host:port. Default 127.0.0.1:9465. */
    temporalSdkTargets?: string[];
    /** Seconds between scrapes. Default 5. */
    scrapeIntervalSeconds?: number;
  };
}

export interface LocalStackEndpoints {
  /** host:port for @temporalio/client Connection.connect({ address }). */
  temporalAddress: string;
  /** Web UI URL, or '' when the stack runs with ui: false. */
  temporalUiUrl: string;
  /** host:port of the Temporal server's Prometheus endpoint (path /metrics). */
  temporalMetricsAddress: string;
  namespace: string;
  /** http://host:port; use with forcePathStyle: true. */
  s3Endpoint: string;
  s3Region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  dataDir: string;
  /** Prometheus UI and API, when this call started or reloaded it (options.prometheus). */
  prometheusUrl?: string;
}

export type ServiceName = 'temporal' | 's3';

export interface ServiceStatus {
  service: ServiceName;
  /** The service answers its readiness probe (Temporal: system info; S3: ListBuckets with our credentials). */
  up: boolean;
  /** Pid of the process this dataDir started, if still alive; null for none or a reused external service. */
  pid: number | null;
  address: string;
  logFile: string;
  /** Why it is not up, when something answers but fails the probe. */
  detail?: string;
}

export interface LocalStackStatus {
  dataDir: string;
  temporal: ServiceStatus;
  s3: ServiceStatus;
}

interface Resolved {
  dataDir: string;
  temporalPort: number;
  temporalUiPort: number;
  temporalMetricsPort: number;
  s3Port: number;
  seaweedPortBase: number;
  bucket: string;
  namespace: string;
  ui: boolean;
  accessKeyId: string;
  secretAccessKey: string;
  readyTimeoutMs: number;
  stopGraceMs: number;
}

function resolveOptions(opts: LocalStackOptions): Resolved {
  const s3Port = opts.s3Port ?? 8333;
  const seaweedPortBase = opts.seaweedPortBase ?? s3Port + 1;
  if (seaweedPortBase + SEAWEED_ADMIN_OFFSET + SEAWEED_GRPC_OFFSET > 65_535) {
    throw new Error(`seaweedPortBase ${seaweedPortBase} too high: the SeaweedFS admin gRPC port would pass 65535`);
  }
  return {
    dataDir: path.resolve(opts.dataDir),
    temporalPort: opts.temporalPort ?? 7233,
    temporalUiPort: opts.temporalUiPort ?? 8233,
    temporalMetricsPort: opts.temporalMetricsPort ?? 8234,
    s3Port,
    seaweedPortBase,
    bucket: opts.bucket ?? 'thresher',
    namespace: opts.namespace ?? 'default',
    ui: opts.ui ?? true,
    accessKeyId: opts.accessKeyId ?? process.env.THRESHER_S3_ACCESS_KEY ?? 'thresher-local',
    secretAccessKey: opts.secretAccessKey ?? process.env.THRESHER_S3_SECRET_KEY ?? 'thresher-local-secret',
    readyTimeoutMs: opts.readyTimeoutMs ?? 60_000,
    stopGraceMs: opts.stopGraceMs ?? 15_000,
  };
}

function endpointsOf(r: Resolved): LocalStackEndpoints {
  return {
    temporalAddress: `${HOST}:${r.temporalPort}`,
    temporalUiUrl: r.ui ? `http://${HOST}:${r.temporalUiPort}` : '',
    temporalMetricsAddress: `${HOST}:${r.temporalMetricsPort}`,
    namespace: r.namespace,
    s3Endpoint: `http://${HOST}:${r.s3Port}`,
    s3Region: S3_REGION,
    bucket: r.bucket,
    accessKeyId: r.accessKeyId,
    secretAccessKey: r.secretAccessKey,
    dataDir: r.dataDir,
  };
}

/** What devUp/devDown/devStatus need to know about one service. */
interface ServiceDef {
  name: ServiceName;
  binary: ServiceBinary;
  port: number;
  pidFile: string;
  logFile: string;
  /** Substring of /proc/<pid>/cmdline proving a pid belongs to this dataDir's service. */
  cmdlineMarker: string;
  args(): string[];
  /** Files the process needs before it starts. */
  prepare(): Promise<void>;
  /** One readiness attempt: resolves true when usable, throws with the reason otherwise. */
  probe(): Promise<boolean>;
  /** The probe failed because the service rejects our credentials. */
  isAuthError(err: unknown): boolean;
  /** Removes litter the process leaves outside dataDir once it has exited. */
  cleanup(): Promise<void>;
}

function temporalService(r: Resolved): ServiceDef {
  const dbFile = path.join(r.dataDir, 'temporal.sqlite');
  const address = `${HOST}:${r.temporalPort}`;
  return {
    name: 'temporal',
    binary: 'temporal',
    port: r.temporalPort,
    pidFile: path.join(r.dataDir, 'temporal.pid'),
    logFile: path.join(r.dataDir, 'temporal.log'),
    cmdlineMarker: `--db-filename\0${dbFile}\0`,
    args: () => [
      'server', 'start-dev',
      '--ip', HOST,
      '--port', String(r.temporalPort),
      '--ui-port', String(r.temporalUiPort),
      '--metrics-port', String(r.temporalMetricsPort), // for Prometheus; the default is a random port
      ...(r.ui ? ['--ui-disable-news-fetch'] : ['--headless']), // no internet for the news feed
      '--db-filename', dbFile,
      ...(r.namespace === 'default' ? [] : ['--namespace', r.namespace]), // 'default' always exists
      '--log-format', 'json',
      '--log-level', 'warn',
    ],
    prepare: async () => {},
    probe: async () => {
      if (!(await isPortOpen(HOST, r.temporalPort))) throw new Error(`nothing listening on ${address}`);
      // connect() itself calls GetSystemInfo, which only a Temporal frontend answers.
      const connection = await Connection.connect({ address, connectTimeout: 2_000 });
      await connection.close();
      return true;
    },
    isAuthError: () => false,
    cleanup: async () => {},
  };
}

function seaweedService(r: Resolved): ServiceDef {
  const seaweedDir = path.join(r.dataDir, 'seaweed');
  const identitiesFile = path.join(r.dataDir, 's3-identities.json');
  const p = (offset: number) => String(r.seaweedPortBase + offset);
  return {
    name: 's3',
    binary: 'weed',
    port: r.s3Port,
    pidFile: path.join(r.dataDir, 'seaweed.pid'),
    logFile: path.join(r.dataDir, 'seaweed.log'),
    cmdlineMarker: `-dir=${seaweedDir}\0`,
    // `mini` runs master, volume, filer and S3 in one process and stops in 2-4 s; `weed server
    // -s3` needs ~17 s because its filer waits 15 s for the S3 gateway's metadata stream.
    args: () => [
      'mini',
      `-dir=${seaweedDir}`,
      `-ip=${HOST}`,
      `-ip.bind=${HOST}`,
      `-s3.port=${r.s3Port}`,
      `-s3.port.grpc=${p(0)}`,
      `-master.port=${p(1)}`,
      `-master.port.grpc=${p(2)}`,
      `-volume.port=${p(3)}`,
      `-volume.port.grpc=${p(4)}`,
      `-filer.port=${p(5)}`,
      `-filer.port.grpc=${p(6)}`,
      `-admin.port=${p(SEAWEED_ADMIN_OFFSET)}`, // its gRPC port stays at the default +10000, see SEAWEED_GRPC_OFFSET
      '-admin.ui=false',
      '-webdav=false',
      '-s3.port.iceberg=0', // fixed default ports would collide between two stacks
      '-s3.port.lance=0',
      `-s3.config=${identitiesFile}`,
      '-master.telemetry=false', // no phoning home from a dev box
    ],
    prepare: async () => {
      await mkdir(seaweedDir, { recursive: true });
      const identities = {
        identities: [
          {
            name: 'thresher-local',
            credentials: [{ accessKey: r.accessKeyId, secretKey: r.secretAccessKey }],
            actions: ['Admin', 'Read', 'List', 'Tagging', 'Write'],
          },
        ],
      };
      await writeFile(identitiesFile, JSON.stringify(identities, null, 2) + '\n', { mode: 0o600 });
      await chmod(identitiesFile, 0o600); // mode above only applies when the file is created
    },
    probe: async () => {
      const s3 = s3ClientFor(r);
      try {
        await s3.send(new ListBucketsCommand({}));
        return true;
      } finally {
        s3.destroy();
      }
    },
    isAuthError: (err) => ['InvalidAccessKeyId', 'SignatureDoesNotMatch'].includes((err as Error)?.name),
    cleanup: () => removeSeaweedSockets(r),
  };
}

// weed binds Unix sockets named /tmp/seaweedfs-<component>-<port>.sock next to its TCP ports and
// leaves some behind on exit; test stacks pick fresh ports every run, so they would pile up.
// Only sockets nobody listens on go: weed may have moved a busy port, leaving the name to another.
async function removeSeaweedSockets(r: Resolved): Promise<void> {
  const ours = new Set([r.s3Port, SEAWEED_ADMIN_OFFSET + r.seaweedPortBase + SEAWEED_GRPC_OFFSET]);
  for (let i = 0; i < SEAWEED_INTERNAL_PORTS; i++) ours.add(r.seaweedPortBase + i);
  const dir = os.tmpdir();
  const names = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(
    names
      .filter((name) => {
        const m = /^seaweedfs-[a-z0-9-]+-(\d+)\.sock$/.exec(name);
        return m !== null && ours.has(Number(m[1]));
      })
      .map(async (name) => {
        const file = path.join(dir, name);
        if (await isStaleSocket(file)) await removeFile(file);
      }),
  );
}

function isStaleSocket(file: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ path: file });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

function s3ClientFor(r: Resolved): S3Client {
  return new S3Client({
    endpoint: `http://${HOST}:${r.s3Port}`,
    region: S3_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: r.accessKeyId, secretAccessKey: r.secretAccessKey },
    maxAttempts: 1, // the readiness loop does the retrying
    // Without throwOnRequestTimeout the SDK only warns and a stalled request stalls readiness.
    requestHandler: { connectionTimeout: 1_000, requestTimeout: 5_000, throwOnRequestTimeout: true },
  });
}

function servicesOf(r: Resolved): ServiceDef[] {
  return [temporalService(r), seaweedService(r)];
}

interface UpResult {
  pid: number | null;
  reused: boolean;
  ms: number;
}

/**
 * Starts (or reuses) Temporal and S3 for `opts.dataDir`, waits until both are usable, makes sure
 * the namespace and bucket exist, and returns how to reach them.
 */
export async function devUp(opts: LocalStackOptions): Promise<LocalStackEndpoints> {
  const r = resolveOptions(opts);
  await mkdir(r.dataDir, { recursive: true });
  return withStackLock(r.dataDir, lockWaitMs(r), () => devUpLocked(opts, r));
}

/** How long a second command waits for the first to start the stack: binaries may be installing. */
const lockWaitMs = (r: Resolved) => 10 * 60_000 + r.readyTimeoutMs;

async function devUpLocked(opts: LocalStackOptions, r: Resolved): Promise<LocalStackEndpoints> {
  const services = servicesOf(r);
  const results = await Promise.allSettled(services.map((svc) => ensureRunning(svc, r)));
  const started = services.flatMap((svc, i) => {
    const res = results[i];
    return res.status === 'fulfilled' && !res.value.reused && res.value.pid !== null ? [{ svc, pid: res.value.pid }] : [];
  });
  // Leave nothing half-up: on any failure stop what this call started, keep what it merely reused.
  const abandon = async (message: string): Promise<never> => {
    await Promise.all(
      started.map(async ({ svc, pid }) => {
        log('info', 'stopping service because the rest of the stack failed', { service: svc.name, pid });
        await stopProcess(pid, r.stopGraceMs);
        await removeFile(svc.pidFile);
        await svc.cleanup();
      }),
    );
    throw new Error(`local stack did not come up:\n${message}`);
  };
  const failures = results.flatMap((res) => (res.status === 'rejected' ? [(res.reason as Error).message] : []));
  if (failures.length > 0) return abandon(failures.join('\n'));
  try {
    await Promise.all([ensureNamespace(r), ensureBucket(r)]);
  } catch (err) {
    return abandon((err as Error).message);
  }

  const [t, s] = results.map((res) => (res as PromiseFulfilledResult<UpResult>).value);
  const endpoints = endpointsOf(r);
  if (opts.prometheus) {
    const p = opts.prometheus;
    const prom = await startPrometheus({
      dataDir: r.dataDir,
      port: p.port ?? DEFAULT_PROMETHEUS_PORT,
      targets: {
        workers: p.workerTargets ?? ['127.0.0.1:9464'],
        temporalSdk: p.temporalSdkTargets ?? ['127.0.0.1:9465'],
        temporalServer: [endpoints.temporalMetricsAddress],
      },
      scrapeIntervalSeconds: p.scrapeIntervalSeconds,
      readyTimeoutMs: r.readyTimeoutMs,
      stopGraceMs: r.stopGraceMs,
    });
    endpoints.prometheusUrl = prom.url;
  }
  log('info', 'local stack up', {
    dataDir: r.dataDir,
    temporal: { address: endpoints.temporalAddress, ui: endpoints.temporalUiUrl, metrics: endpoints.temporalMetricsAddress, pid: t.pid, reused: t.reused, readyMs: t.ms },
    s3: { endpoint: endpoints.s3Endpoint, bucket: r.bucket, pid: s.pid, reused: s.reused, readyMs: s.ms },
    ...(endpoints.prometheusUrl && { prometheus: endpoints.prometheusUrl }),
  });
  return endpoints;
}

async function ensureRunning(svc: ServiceDef, r: Resolved): Promise<UpResult> {
  const started = Date.now();
  const where = `${svc.name} on ${HOST}:${svc.port}`;
  const ownPid = await readLivePid(svc.pidFile, svc.cmdlineMarker);

  if (ownPid !== null || (await isPortOpen(HOST, svc.port))) {
    // Our own process gets the full timeout (it may still be starting); a stranger on the port
    // gets a few seconds to prove it is the right kind of service.
    const timeoutMs = ownPid !== null ? r.readyTimeoutMs : Math.min(r.readyTimeoutMs, 5_000);
    try {
      await waitForReady(svc, `${where} (already running${ownPid ? `, pid ${ownPid}` : ''})`, timeoutMs, true, () => null);
    } catch (err) {
      throw new Error(
        `${(err as Error).message}\n` +
          (ownPid !== null
            ? `It was started from this dataDir; see ${svc.logFile}, or run devDown and retry.`
            : `Port ${svc.port} is taken by a process this dataDir did not start; stop it or choose another port.`),
      );
    }
    if (ownPid === null) {
      log('warn', 'reusing a service this dataDir did not start; its data lives wherever it was started', {
        service: svc.name,
        address: `${HOST}:${svc.port}`,
      });
    }
    return { pid: ownPid, reused: true, ms: Date.now() - started };
  }

  await svc.prepare();
  const bin = await resolveServiceBinary(svc.binary);
  const child = await spawnDetached({ command: bin, args: svc.args(), cwd: r.dataDir, logFile: svc.logFile, pidFile: svc.pidFile });
  log('info', 'service starting', { service: svc.name, pid: child.pid, address: `${HOST}:${svc.port}`, log: svc.logFile });
  try {
    // Auth errors are retried here: a fresh gateway may answer before it has loaded identities.
    await waitForReady(svc, `${where} (pid ${child.pid})`, r.readyTimeoutMs, false, () => {
      const exit = child.exited();
      return exit ? `process exited (${exit}) before becoming ready` : null;
    });
  } catch (err) {
    // A half-started service would block the port for the next attempt; take it down.
    await stopProcess(child.pid, 2_000);
    await removeFile(svc.pidFile);
    await svc.cleanup();
    const tail = await tailFile(svc.logFile);
    throw new Error(`${(err as Error).message}\nSee ${svc.logFile}${tail ? `; last lines:\n${tail}` : ''}`);
  }
  const ms = Date.now() - started;
  log('info', 'service ready', { service: svc.name, pid: child.pid, readyMs: ms });
  return { pid: child.pid, reused: false, ms };
}

async function waitForReady(
  svc: ServiceDef,
  what: string,
  timeoutMs: number,
  authErrorsFatal: boolean,
  exited: () => string | null,
): Promise<void> {
  let fatal: string | null = null;
  await waitUntil({
    what,
    timeoutMs,
    abortReason: () => fatal ?? exited(),
    probe: async () => {
      try {
        return await svc.probe();
      } catch (err) {
        if (authErrorsFatal && svc.isAuthError(err)) {
          fatal =
            `rejects the configured S3 credentials (${(err as Error).name}); it was started with other keys — ` +
            'set THRESHER_S3_ACCESS_KEY/THRESHER_S3_SECRET_KEY to match, or devDown and devUp again';
        }
        throw err;
      }
    },
  });
}

async function ensureNamespace(r: Resolved): Promise<void> {
  const address = `${HOST}:${r.temporalPort}`;
  const connection = await Connection.connect({ address, connectTimeout: 5_000 });
  try {
    const describe = () => connection.workflowService.describeNamespace({ namespace: r.namespace });
    try {
      await describe();
      return;
    } catch (err) {
      if (!isGrpcServiceError(err) || err.code !== GRPC_NOT_FOUND) throw err;
    }
    // Only reached when reusing a server that was started without our namespace.
    log('info', 'registering namespace', { namespace: r.namespace, address });
    const bin = await resolveServiceBinary('temporal');
    await execFileAsync(bin, ['operator', 'namespace', 'create', '--address', address, '--namespace', r.namespace], {
      timeout: 30_000,
    });
    await waitUntil({ what: `namespace ${r.namespace} on ${address}`, timeoutMs: 15_000, probe: async () => !!(await describe()) });
  } finally {
    await connection.close();
  }
}

async function ensureBucket(r: Resolved): Promise<void> {
  const s3 = s3ClientFor(r);
  try {
    try {
      await s3.send(new CreateBucketCommand({ Bucket: r.bucket }));
      log('info', 'bucket created', { bucket: r.bucket });
    } catch (err) {
      const name = (err as Error).name;
      if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw err;
    }
    // ListBuckets only needs the filer. Until the volume server has registered with the master
    // (after a restart this sometimes takes ~4.5 s) reads of existing objects fail with
    // InternalError, so "ready" means an object can be written and read back. A successful write
    // implies registration, and registration reports every volume on disk at once.
    const Key = `.thresher-local-stack/ready-probe-${process.pid}-${Date.now()}`;
    await waitUntil({
      what: `S3 on ${HOST}:${r.s3Port} storing objects (see ${path.join(r.dataDir, 'seaweed.log')})`,
      timeoutMs: r.readyTimeoutMs,
      probe: async () => {
        await s3.send(new PutObjectCommand({ Bucket: r.bucket, Key, Body: 'ok' }));
        const got = await s3.send(new GetObjectCommand({ Bucket: r.bucket, Key }));
        return (await got.Body!.transformToString()) === 'ok';
      },
    });
    await s3.send(new DeleteObjectCommand({ Bucket: r.bucket, Key }));
  } finally {
    s3.destroy();
  }
}

type StopOutcome = 'terminated' | 'killed' | 'not-running';

/**
 * Stops the processes devUp started for this dataDir (SIGTERM, SIGKILL after the grace). Data
 * stays. `prometheus` is in the result only when one was running.
 */
export async function devDown(opts: LocalStackOptions): Promise<Record<ServiceName, StopOutcome> & { prometheus?: StopOutcome }> {
  const r = resolveOptions(opts);
  // Without a data dir nothing was started from it, and there is nowhere to put the lock.
  if (!existsSync(r.dataDir)) return { temporal: 'not-running', s3: 'not-running' };
  return withStackLock(r.dataDir, lockWaitMs(r), () => devDownLocked(r));
}

async function devDownLocked(r: Resolved): Promise<Record<ServiceName, StopOutcome> & { prometheus?: StopOutcome }> {
  const prometheus = await stopPrometheus(r.dataDir, r.stopGraceMs);
  const results = await Promise.all(
    servicesOf(r).map(async (svc) => {
      const pid = await readLivePid(svc.pidFile, svc.cmdlineMarker);
      const outcome = pid === null ? 'not-running' : await stopProcess(pid, r.stopGraceMs);
      await removeFile(svc.pidFile);
      if (pid !== null) await svc.cleanup();
      if (pid !== null) log(outcome === 'killed' ? 'warn' : 'info', 'service stopped', { service: svc.name, pid, outcome });
      return [svc.name, outcome] as const;
    }),
  );
  const stopped = Object.fromEntries(results) as Record<ServiceName, StopOutcome>;
  return prometheus === 'not-running' ? stopped : { ...stopped, prometheus };
}

/** Whether each service answers, which pid this dataDir started for it, and where it listens. */
export async function devStatus(opts: LocalStackOptions): Promise<LocalStackStatus> {
  const r = resolveOptions(opts);
  const [temporal, s3] = await Promise.all(
    servicesOf(r).map(async (svc): Promise<ServiceStatus> => {
      const pid = await readLivePid(svc.pidFile, svc.cmdlineMarker);
      const base = { service: svc.name, pid, address: `${HOST}:${svc.port}`, logFile: svc.logFile };
      try {
        return { ...base, up: await svc.probe() };
      } catch (err) {
        return { ...base, up: false, detail: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
      }
    }),
  );
  return { dataDir: r.dataDir, temporal, s3 };
}

export interface TestStack {
  endpoints: LocalStackEndpoints;
  /** The options used, so a test can devUp/devDown/devStatus the same stack again. */
  options: LocalStackOptions;
  stop(): Promise<void>;
}

/**
 * A private stack for a test suite: fresh loopback ports from one free block (so suites never
 * collide with a developer's stack or each other), no Web UI, state under `dir`.
 */
export async function startTestStack(dir: string): Promise<TestStack> {
  const base = await findFreePortBlock(4 + SEAWEED_INTERNAL_PORTS, {
    extra: (b) => [b + 4 + SEAWEED_ADMIN_OFFSET + SEAWEED_GRPC_OFFSET],
  });
  const options: LocalStackOptions = {
    dataDir: dir,
    temporalPort: base,
    temporalUiPort: base + 1,
    s3Port: base + 2,
    temporalMetricsPort: base + 3,
    seaweedPortBase: base + 4,
    ui: false,
    stopGraceMs: 10_000,
  };
  try {
    const endpoints = await devUp(options);
    return { endpoints, options, stop: async () => void (await devDown(options)) };
  } catch (err) {
    await devDown(options);
    throw err;
  }
}
