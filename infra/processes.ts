// Process plumbing for the local stack: structured logging, detached spawning with pid files,
// graceful stop, port probes and readiness polling. Nothing here knows about Temporal or S3.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { readFile, writeFile, rm, open } from 'node:fs/promises';
import net from 'node:net';

type Level = 'debug' | 'info' | 'warn' | 'error';

/** One JSON line to stderr; callers must never put credentials in `fields`. */
export function log(level: Level, msg: string, fields: Record<string, unknown> = {}): void {
  process.stderr.write(JSON.stringify({ ts: new Date().toISOString(), level, component: 'local-stack', msg, ...fields }) + '\n');
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** True if a process with this pid exists, may be signalled, and has not already exited. */
export function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isFullyExitedZombie(pid);
}

// A detached server outlives its parent and is re-parented to pid 1, which in some containers
// never reaps children: the exited server then lingers as a zombie that kill(pid, 0) still sees.
// While a multi-threaded process is exiting, its leader already shows Z with other threads still
// holding ports and files, so only a zombie with a single thread left counts as gone.
function isFullyExitedZombie(pid: number): boolean {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const state = /^State:\s+(\S)/m.exec(status)?.[1];
    const threads = Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? '1');
    return state === 'Z' && threads <= 1;
  } catch {
    return false; // no procfs (macOS) or the process just vanished; kill() already said it existed
  }
}

// Pids are recycled, so a stale pid file could point at an unrelated process. On Linux we
// confirm the command line mentions our marker (the data dir); elsewhere we trust the file.
async function pidLooksLikeOurs(pid: number, marker: string): Promise<boolean> {
  try {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes(marker);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ENOENT' || process.platform !== 'linux';
  }
}

/** The pid recorded in `pidFile` if that process is still alive and still ours, else null. */
export async function readLivePid(pidFile: string, marker: string): Promise<number | null> {
  let text: string;
  try {
    text = await readFile(pidFile, 'utf8');
  } catch {
    return null;
  }
  const pid = Number.parseInt(text.trim(), 10);
  if (!Number.isInteger(pid) || pid <= 0) return null;
  if (!isPidAlive(pid) || !(await pidLooksLikeOurs(pid, marker))) return null;
  return pid;
}

export interface DetachedProcess {
  pid: number;
  /** Exit code/signal once the child has exited while this Node process was watching, else null. */
  exited(): string | null;
}

/**
 * Starts `command` in its own session so it outlives the calling CLI; stdout/stderr append to
 * `logFile` and the pid goes to `pidFile`.
 */
export async function spawnDetached(opts: {
  command: string;
  args: string[];
  cwd: string;
  logFile: string;
  pidFile: string;
  env?: NodeJS.ProcessEnv;
}): Promise<DetachedProcess> {
  const header = `\n==== ${new Date().toISOString()} starting ${opts.command} ${opts.args.join(' ')}\n`;
  await writeFile(opts.logFile, header, { flag: 'a' });
  const fd = openSync(opts.logFile, 'a');
  let exitInfo: string | null = null;
  try {
    const child = spawn(opts.command, opts.args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('spawn', () => resolve(child.pid!));
    });
    child.on('exit', (code, signal) => {
      exitInfo = signal ? `signal ${signal}` : `exit code ${code}`;
    });
    child.unref();
    await writeFile(opts.pidFile, `${pid}\n`);
    return { pid, exited: () => exitInfo };
  } finally {
    closeSync(fd); // the child holds its own copy of the descriptor
  }
}

/** SIGTERM to the process group, then SIGKILL if it is still alive after `graceMs`. */
export async function stopProcess(pid: number, graceMs: number): Promise<'terminated' | 'killed' | 'not-running'> {
  if (!isPidAlive(pid)) return 'not-running';
  signalGroup(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isPidAlive(pid)) return 'terminated';
    await sleep(50);
  }
  signalGroup(pid, 'SIGKILL');
  for (let i = 0; i < 100 && isPidAlive(pid); i++) await sleep(20);
  return 'killed';
}

// spawnDetached made the child a group leader, so signalling the group also reaches any helper
// processes it forked; fall back to the pid alone if the group is gone.
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

export async function removeFile(file: string): Promise<void> {
  await rm(file, { force: true });
}

/** True if something accepts TCP connections on host:port within `timeoutMs`. */
export function isPortOpen(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * First port of `count` consecutive free loopback ports, chosen at random in [low, high), such
 * that the ports `extra(base)` names are free too. The default range stays below Linux's
 * ephemeral range (32768+) even with a +10000 gRPC offset, so the block does not collide with
 * ports the OS hands out for outgoing connections or for servers binding port 0 (the Temporal
 * dev server does, for its internal services).
 */
export async function findFreePortBlock(
  count: number,
  opts: { host?: string; low?: number; high?: number; extra?: (base: number) => number[] } = {},
): Promise<number> {
  const { host = '127.0.0.1', low = 10_000, high = 22_000, extra = () => [] } = opts;
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = low + Math.floor(Math.random() * (high - low - count));
    const ports = [...Array.from({ length: count }, (_, i) => base + i), ...extra(base)];
    let free = true;
    for (const port of ports) {
      free = await canBind(host, port);
      if (!free) break;
    }
    if (free) return base;
  }
  throw new Error(`no block of ${count} free ports on ${host} between ${low} and ${high}`);
}

/** Last `lines` lines of a log file, for error messages; empty if unreadable. */
export async function tailFile(file: string, lines = 15): Promise<string> {
  try {
    const handle = await open(file, 'r');
    try {
      const { size } = await handle.stat();
      const length = Math.min(size, 16 * 1024);
      const buf = Buffer.alloc(length);
      await handle.read(buf, 0, length, size - length);
      return buf.toString('utf8').split('\n').slice(-lines - 1).join('\n').trimEnd();
    } finally {
      await handle.close();
    }
  } catch {
    return '';
  }
}

/**
 * Polls `probe` until it returns true. Throws with the last probe error once `timeoutMs` passes,
 * or early when `abortReason` reports something fatal (e.g. the process exited).
 */
export async function waitUntil(opts: {
  what: string;
  timeoutMs: number;
  probe: () => Promise<boolean>;
  abortReason?: () => string | null;
  intervalMs?: number;
}): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastError = 'not ready';
  for (;;) {
    const fatal = opts.abortReason?.();
    if (fatal) throw new Error(`${opts.what}: ${fatal}`);
    try {
      if (await opts.probe()) return;
    } catch (err) {
      lastError = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    }
    if (Date.now() >= deadline) {
      throw new Error(`${opts.what}: not ready after ${opts.timeoutMs} ms (last error: ${lastError})`);
    }
    await sleep(opts.intervalMs ?? 150);
  }
}
