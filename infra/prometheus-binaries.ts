// Finds `prometheus` and `promtool`, installing Debian's `prometheus` package (which ships both)
// when they are missing and this process may: root, with apt-get. See GUIDE §6.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { log } from './processes.js';
import { isExecutable } from './service-binaries.js';

const execFileAsync = promisify(execFile);

export interface PrometheusBinaries {
  prometheus: string;
  promtool: string;
}

export class PrometheusNotFoundError extends Error {
  constructor(readonly attempts: string[]) {
    super(`could not find or install Prometheus (prometheus and promtool). Tried:\n  - ${attempts.join('\n  - ')}`);
    this.name = 'PrometheusNotFoundError';
  }
}

// One lookup (and at most one apt run) per process.
let cached: Promise<PrometheusBinaries> | undefined;

/**
 * Absolute paths of working `prometheus` and `promtool`: $THRESHER_PROMETHEUS_BIN and
 * $THRESHER_PROMTOOL_BIN when set, else PATH; when missing and `install` is true, installs the
 * Debian package first. Throws PrometheusNotFoundError listing everything it tried.
 */
export function resolvePrometheusBinaries(opts: { install?: boolean } = {}): Promise<PrometheusBinaries> {
  if (!cached) {
    cached = locate(opts.install ?? true);
    cached.catch(() => (cached = undefined));
  }
  return cached;
}

async function locate(install: boolean): Promise<PrometheusBinaries> {
  const attempts: string[] = [];
  const found = await search(attempts);
  if (found) return found;
  if (!install) throw new PrometheusNotFoundError([...attempts, 'installing: not allowed here (install: false)']);
  await aptInstall(attempts);
  const after = await search(attempts);
  if (after) return after;
  throw new PrometheusNotFoundError(attempts);
}

async function search(attempts: string[]): Promise<PrometheusBinaries | null> {
  const prometheus = await findWorking('prometheus', 'THRESHER_PROMETHEUS_BIN', attempts);
  const promtool = await findWorking('promtool', 'THRESHER_PROMTOOL_BIN', attempts);
  return prometheus && promtool ? { prometheus, promtool } : null;
}

async function findWorking(name: string, envOverride: string, attempts: string[]): Promise<string | null> {
  const override = process.env[envOverride];
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  const candidates = override ? [override] : [...dirs.map((d) => path.join(d, name)), `/usr/bin/${name}`];
  for (const file of new Set(candidates)) {
    if (!(await isExecutable(file))) continue;
    try {
      await execFileAsync(file, ['--version'], { timeout: 15_000 });
      return file;
    } catch (err) {
      attempts.push(`${file} --version: failed (${(err as Error).message.split('\n')[0]})`);
    }
  }
  attempts.push(override ? `$${envOverride}=${override}: not a working executable` : `PATH and /usr/bin: no '${name}'`);
  return null;
}

async function aptInstall(attempts: string[]): Promise<void> {
  if (process.getuid?.() !== 0) {
    attempts.push('apt-get install prometheus: not run, this process is not root (run `sudo apt-get install -y prometheus`)');
    return;
  }
  if (!(await isExecutable('/usr/bin/apt-get'))) {
    attempts.push('apt-get install prometheus: no apt-get on this machine (install Prometheus from prometheus.io and put it on PATH)');
    return;
  }
  // The package's maintainer scripts would start a system-wide Prometheus on :9090 where an init
  // system exists; a policy-rc.d answering 101 keeps this install to the files only. An existing
  // policy (Docker images ship one) is left alone.
  const policy = '/usr/sbin/policy-rc.d';
  const ownPolicy = !existsSync(policy);
  if (ownPolicy) await writeFile(policy, '#!/bin/sh\n# temporary, written by thresher while installing prometheus\nexit 101\n', { mode: 0o755 });
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const run = async (args: string[]): Promise<boolean> => {
    const label = `apt-get ${args.join(' ')}`;
    log('info', 'installing prometheus', { command: label });
    try {
      await execFileAsync('apt-get', args, { env, timeout: 600_000, maxBuffer: 64 << 20 });
      attempts.push(`${label}: succeeded`);
      return true;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      attempts.push(`${label}: failed (${(e.stderr || e.message).trim().split('\n').pop()})`);
      return false;
    }
  };
  try {
    const install = ['install', '-y', '--no-install-recommends', 'prometheus'];
    // Package lists are often absent on fresh images: update once and try again.
    if (!(await run(install)) && (await run(['update']))) await run(install);
  } finally {
    if (ownPolicy) await rm(policy, { force: true });
  }
}
